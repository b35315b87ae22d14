package deploy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// loadCompose is `docker compose config` through compose-go, the loader
// the docker compose CLI uses: schema validation, interpolation,
// normalisation and the consistency checks (a depends_on on a service that
// does not exist, for one). No Docker engine is needed.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose/docker-compose.yaml"},
		cli.WithWorkingDirectory("compose"), cli.WithEnv(nil), cli.WithResolvedPaths(true), cli.WithConsistency(true))
	require.NoError(t, err)
	project, err := cli.ProjectFromOptions(context.Background(), opts)
	require.NoError(t, err)
	return project
}

// oneShot are the services that run once and exit.
var oneShot = map[string]bool{"seed": true}

// noProbe are the long-running services without a health endpoint.
var noProbe = map[string]bool{"worker": true}

func TestComposeStack(t *testing.T) {
	project := loadCompose(t)
	require.ElementsMatch(t, []string{"temporal", "nats", "batchwire", "worker", "seed", "prometheus", "grafana"}, project.ServiceNames())

	for name, svc := range project.Services {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, svc.Image)
			require.False(t, strings.HasSuffix(svc.Image, ":latest") || !strings.Contains(svc.Image, ":"), "image %s is pinned", svc.Image)
			if oneShot[name] {
				require.Equal(t, "on-failure", svc.Restart)
			} else {
				require.Equal(t, "unless-stopped", svc.Restart)
			}
			if !oneShot[name] && !noProbe[name] {
				require.NotNil(t, svc.HealthCheck, "%s has no healthcheck", name)
				require.NotEmpty(t, svc.HealthCheck.Test)
				require.False(t, svc.HealthCheck.Disable)
			}
			for _, port := range svc.Ports {
				require.Equal(t, "127.0.0.1", port.HostIP, "%s publishes %d beyond loopback", name, port.Target)
			}
			for dep, cond := range svc.DependsOn {
				require.NotEqual(t, types.ServiceConditionCompletedSuccessfully, cond.Condition, "%s waits for %s to exit", name, dep)
				if cond.Condition == types.ServiceConditionHealthy {
					require.NotNil(t, project.Services[dep].HealthCheck, "%s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			}
			for _, v := range svc.Volumes {
				if v.Type != types.VolumeTypeBind {
					continue
				}
				_, err := os.Stat(v.Source)
				require.NoError(t, err, "%s mounts %s", name, v.Source)
			}
			if svc.Build != nil {
				_, err := os.Stat(filepath.Join(svc.Build.Context, svc.Build.Dockerfile))
				require.NoError(t, err, "%s builds from %s", name, svc.Build.Dockerfile)
			}
		})
	}

	// batchwire dials Temporal and NATS once at start: it waits until both are healthy.
	bw := project.Services["batchwire"]
	require.Equal(t, types.ServiceConditionHealthy, bw.DependsOn["temporal"].Condition)
	require.Equal(t, types.ServiceConditionHealthy, bw.DependsOn["nats"].Condition)
	require.Equal(t, []string{"/batchwire", "healthcheck", "--url", "http://127.0.0.1:9464/-/ready"}, []string(bw.HealthCheck.Test[1:]))
	require.True(t, bw.ReadOnly)
	require.Contains(t, strings.Join(project.Services["nats"].Command, " "), "--jetstream")
}

// The configuration, scrape targets and provisioning the stack mounts agree
// with each other: batchwire listens where Prometheus scrapes, Prometheus
// loads the shipped rules, Grafana's provider reads the directory the
// dashboard is mounted into, and its datasource is the Prometheus service.
func TestComposeWiring(t *testing.T) {
	project := loadCompose(t)
	mounts := func(service string) map[string]string {
		out := map[string]string{}
		for _, v := range project.Services[service].Volumes {
			if v.Type == types.VolumeTypeBind {
				out[v.Target] = v.Source
			}
		}
		return out
	}

	var bwConfig struct {
		NATS struct{ URL string }    `yaml:"nats"`
		HTTP struct{ Listen string } `yaml:"http"`
	}
	readYAML(t, mounts("batchwire")["/etc/batchwire/batchwire.yaml"], &bwConfig)
	require.Equal(t, "nats://nats:4222", bwConfig.NATS.URL)
	require.Equal(t, "0.0.0.0:9464", bwConfig.HTTP.Listen)

	promMounts := mounts("prometheus")
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, promMounts["/etc/prometheus/prometheus.yml"], &prom)
	require.Equal(t, []string{"/etc/prometheus/batchwire-alerts.yaml"}, prom.RuleFiles)
	alerts, err := filepath.Abs("prometheus/batchwire-alerts.yaml")
	require.NoError(t, err)
	require.Equal(t, alerts, promMounts["/etc/prometheus/batchwire-alerts.yaml"])
	require.Equal(t, "batchwire", prom.ScrapeConfigs[0].JobName, "the alert rules select job=\"batchwire\"")
	require.Equal(t, []string{"batchwire:9464"}, prom.ScrapeConfigs[0].StaticConfigs[0].Targets)

	grafana := mounts("grafana")
	dashboard, err := filepath.Abs("grafana/batchwire-dashboard.json")
	require.NoError(t, err)
	require.Equal(t, dashboard, grafana["/var/lib/grafana/dashboards/batchwire-dashboard.json"])
	var provider struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(grafana["/etc/grafana/provisioning"], "dashboards", "batchwire.yaml"), &provider)
	require.Equal(t, "/var/lib/grafana/dashboards", provider.Providers[0].Options.Path)
	var datasources struct {
		Datasources []struct {
			Type, URL string
			IsDefault bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(grafana["/etc/grafana/provisioning"], "datasources", "prometheus.yaml"), &datasources)
	require.Equal(t, "prometheus", datasources.Datasources[0].Type)
	require.Equal(t, "http://prometheus:9090", datasources.Datasources[0].URL)
	require.True(t, datasources.Datasources[0].IsDefault, "the dashboard's datasource variable picks the default")

	var dash struct {
		Templating struct {
			List []struct{ Type, Query string } `json:"list"`
		} `json:"templating"`
	}
	raw, err := os.ReadFile(dashboard)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "prometheus", dash.Templating.List[0].Query)
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	require.NotEmpty(t, path)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, into), path)
}
