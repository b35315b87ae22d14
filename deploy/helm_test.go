package deploy

import (
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
)

const chartDir = "helm/batchwire"

// render is `helm template batchwire deploy/helm/batchwire -n batchwire
// [-f valuesFile] [--set ...]` through Helm's own loader and engine.
func render(t *testing.T, valuesFile string, set map[string]any) (string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	require.NoError(t, err)
	vals := chartutil.Values{}
	if valuesFile != "" {
		vals, err = chartutil.ReadValuesFile(valuesFile)
		require.NoError(t, err)
	}
	for key, v := range set {
		setValue(vals, strings.Split(key, "."), v)
	}
	opts := chartutil.ReleaseOptions{Name: "batchwire", Namespace: "batchwire", IsInstall: true}
	top, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities.Copy())
	require.NoError(t, err)
	files, err := engine.Render(ch, top)
	if err != nil {
		return "", err
	}
	return joinManifests(ch, files), nil
}

func setValue(vals map[string]any, keys []string, v any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := vals[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			vals[k] = next
		}
		vals = next
	}
	vals[keys[len(keys)-1]] = v
}

// joinManifests orders the rendered templates by name, as helm template
// prints them, leaving out NOTES.txt and partials.
func joinManifests(ch *chart.Chart, files map[string]string) string {
	var names []string
	for name := range files {
		if strings.HasSuffix(name, ".yaml") && !strings.HasPrefix(path.Base(name), "_") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString("---\n# Source: " + name + "\n" + files[name] + "\n")
	}
	return b.String()
}

func TestHelmLint(t *testing.T) {
	for _, valuesFile := range []string{"", "helm/production-values.yaml"} {
		vals := map[string]any{}
		if valuesFile != "" {
			v, err := chartutil.ReadValuesFile(valuesFile)
			require.NoError(t, err)
			vals = v
		}
		linter := lint.All(chartDir, vals, "batchwire", false)
		for _, msg := range linter.Messages {
			require.Less(t, msg.Severity, support.WarningSev, "helm lint (values %q): %s", valuesFile, msg)
		}
		require.Less(t, linter.HighestSeverity, support.WarningSev)
	}
}

// With its default values the chart installs as is: no Secret, no CRD,
// nothing optional referenced, and the pod passes Pod Security restricted.
func TestHelmDefaultValues(t *testing.T) {
	out, err := render(t, "", nil)
	require.NoError(t, err)
	objs := decodeManifests(t, "helm template (default values)", []byte(out))
	dep := checkBatchwire(t, objs)
	require.Empty(t, objs.monitors)
	require.Empty(t, objs.rules)
	require.Empty(t, dep.Spec.Template.Spec.Containers[0].Env, "no Secret is referenced unless one is configured")
	for _, v := range dep.Spec.Template.Spec.Volumes {
		require.Nil(t, v.Secret, "volume %s", v.Name)
	}
	require.Equal(t, "ghcr.io/batchwire/batchwire:0.1.0", dep.Spec.Template.Spec.Containers[0].Image)
	require.Len(t, objs.serviceAccounts, 1)
	require.False(t, *objs.serviceAccounts[0].AutomountServiceAccountToken)
}

// The production values use every secret the chart knows (mTLS, NATS
// credentials, webhook secrets; the API key in the next test) and the
// Prometheus Operator objects; the configuration they render passes
// batchwire's loader with every named file mounted.
func TestHelmProductionValues(t *testing.T) {
	out, err := render(t, "helm/production-values.yaml", nil)
	require.NoError(t, err)
	objs := decodeManifests(t, "helm template -f production-values.yaml", []byte(out))
	dep := checkBatchwire(t, objs)

	cm := objs.configMaps[0].Data["batchwire.yaml"]
	for _, want := range []string{
		"cert_file: /var/run/secrets/batchwire/temporal-tls/tls.crt",
		"key_file: /var/run/secrets/batchwire/temporal-tls/tls.key",
		"credentials_file: /var/run/secrets/batchwire/nats/nats.creds",
		"secret_file: /var/run/secrets/batchwire/webhooks/flipt",
	} {
		require.Contains(t, cm, want)
	}
	secrets := map[string]string{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secrets[v.Name] = v.Secret.SecretName
		}
	}
	require.Equal(t, map[string]string{"temporal-tls": "temporal-client", "nats-credentials": "batchwire-nats",
		"webhook-secrets": "batchwire-webhooks"}, secrets)

	require.Len(t, objs.monitors, 1)
	require.Equal(t, "app.kubernetes.io/name", objs.monitors[0].Spec.JobLabel)
	require.Equal(t, "http", objs.monitors[0].Spec.Endpoints[0].Port)
	require.Len(t, objs.rules, 1)
	alerts := alertNames(t, "prometheus/batchwire-alerts.yaml")
	var got []string
	for _, g := range objs.rules[0].Spec.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			require.NotEmpty(t, r.Expr.String(), r.Alert)
		}
	}
	require.Equal(t, alerts, got, "the PrometheusRule carries the shipped alert rules")
}

func TestHelmAPIKeySecret(t *testing.T) {
	out, err := render(t, "", map[string]any{"temporal.apiKey.existingSecret": "temporal-cloud"})
	require.NoError(t, err)
	objs := decodeManifests(t, "helm template --set temporal.apiKey.existingSecret", []byte(out))
	dep := checkBatchwire(t, objs)
	require.Equal(t, []corev1.EnvVar{{Name: "TEMPORAL_API_KEY", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "temporal-cloud"}, Key: "api-key"},
	}}}, dep.Spec.Template.Spec.Containers[0].Env)
	require.NotContains(t, objs.configMaps[0].Data["batchwire.yaml"], "api-key")
}

func TestHelmRefusesLatest(t *testing.T) {
	_, err := render(t, "", map[string]any{"image.tag": "latest"})
	require.ErrorContains(t, err, "pin a version, not latest")
}

// The chart's copy of the alert rules is the shipped file.
func TestHelmAlertRulesAreTheShippedOnes(t *testing.T) {
	shipped, err := os.ReadFile("prometheus/batchwire-alerts.yaml")
	require.NoError(t, err)
	copied, err := os.ReadFile(chartDir + "/files/batchwire-alerts.yaml")
	require.NoError(t, err)
	require.Equal(t, string(shipped), string(copied),
		"copy deploy/prometheus/batchwire-alerts.yaml to deploy/helm/batchwire/files/")
}
