package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/batchwire/batchwire/daemon"
)

// decoder strict-decodes manifests into the Kubernetes API types (and the
// Prometheus Operator's): an unknown or duplicated field is an error.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// objects are the decoded manifests, by kind.
type objects struct {
	all             []runtime.Object
	deployments     []*appsv1.Deployment
	configMaps      []*corev1.ConfigMap
	services        []*corev1.Service
	serviceAccounts []*corev1.ServiceAccount
	budgets         []*policyv1.PodDisruptionBudget
	policies        []*networkingv1.NetworkPolicy
	monitors        []*monitoringv1.ServiceMonitor
	rules           []*monitoringv1.PrometheusRule
	claims          []*corev1.PersistentVolumeClaim
}

// decodeManifests splits a multi-document YAML stream and strict-decodes
// each non-empty document.
func decodeManifests(t *testing.T, name string, stream []byte) *objects {
	t.Helper()
	out := &objects{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, name)
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		require.NoError(t, err, "%s: strict decoding:\n%s", name, doc)
		out.add(t, obj)
	}
	return out
}

func (o *objects) add(t *testing.T, obj runtime.Object) {
	o.all = append(o.all, obj)
	switch v := obj.(type) {
	case *appsv1.Deployment:
		o.deployments = append(o.deployments, v)
	case *corev1.ConfigMap:
		o.configMaps = append(o.configMaps, v)
	case *corev1.Service:
		o.services = append(o.services, v)
	case *corev1.ServiceAccount:
		o.serviceAccounts = append(o.serviceAccounts, v)
	case *policyv1.PodDisruptionBudget:
		o.budgets = append(o.budgets, v)
	case *networkingv1.NetworkPolicy:
		o.policies = append(o.policies, v)
	case *monitoringv1.ServiceMonitor:
		o.monitors = append(o.monitors, v)
	case *monitoringv1.PrometheusRule:
		o.rules = append(o.rules, v)
	case *corev1.PersistentVolumeClaim:
		o.claims = append(o.claims, v)
	default:
		t.Fatalf("unexpected kind %T", obj)
	}
}

func stripComments(doc []byte) []byte {
	var kept [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			kept = append(kept, line)
		}
	}
	return bytes.Join(kept, []byte("\n"))
}

// checkBatchwire holds what every way of running batchwire on Kubernetes
// must satisfy: exactly one Deployment with one replica and Recreate, a pod
// admitted by Pod Security "restricted", a pinned image, resources, probes,
// a Service, a PodDisruptionBudget and a NetworkPolicy that select the pod,
// and a configuration batchwire's own loader accepts.
func checkBatchwire(t *testing.T, objs *objects) *appsv1.Deployment {
	t.Helper()
	require.Len(t, objs.deployments, 1)
	dep := objs.deployments[0]
	require.NotNil(t, dep.Spec.Replicas)
	require.EqualValues(t, 1, *dep.Spec.Replicas, "one replica: guard state lives in process memory")
	require.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type)

	pod := dep.Spec.Template
	checkRestricted(t, &pod.ObjectMeta, &pod.Spec)
	require.NotNil(t, pod.Spec.AutomountServiceAccountToken)
	require.False(t, *pod.Spec.AutomountServiceAccountToken)
	require.NotEmpty(t, pod.Spec.ServiceAccountName)

	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	checkImagePinned(t, c.Image)
	require.False(t, c.Resources.Requests.Cpu().IsZero(), "cpu request")
	require.False(t, c.Resources.Requests.Memory().IsZero(), "memory request")
	require.False(t, c.Resources.Limits.Memory().IsZero(), "memory limit")
	require.NotNil(t, c.ReadinessProbe)
	require.Equal(t, "/-/ready", c.ReadinessProbe.HTTPGet.Path)
	require.NotNil(t, c.LivenessProbe)
	require.Equal(t, "/-/healthy", c.LivenessProbe.HTTPGet.Path)

	podLabels := labels.Set(pod.Labels)
	require.True(t, labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).Matches(podLabels))
	require.Len(t, objs.services, 1)
	require.True(t, labels.SelectorFromSet(objs.services[0].Spec.Selector).Matches(podLabels), "the Service selects the pod")
	require.Equal(t, "http", objs.services[0].Spec.Ports[0].TargetPort.String())
	require.Len(t, objs.budgets, 1)
	require.True(t, labels.SelectorFromSet(objs.budgets[0].Spec.Selector.MatchLabels).Matches(podLabels), "the budget covers the pod")
	require.Len(t, objs.policies, 1)
	require.True(t, labels.SelectorFromSet(objs.policies[0].Spec.PodSelector.MatchLabels).Matches(podLabels), "the policy covers the pod")

	checkConfigMounted(t, objs, dep)
	return dep
}

// checkRestricted runs the Pod Security admission's own checks at level
// restricted, latest version, and spells out the fields the issue names.
func checkRestricted(t *testing.T, meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
	t.Helper()
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	require.NoError(t, err)
	results := evaluator.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, meta, spec)
	agg := psapolicy.AggregateCheckResults(results)
	require.True(t, agg.Allowed, "Pod Security restricted refuses the pod: %s", agg.ForbiddenReason())

	sc := spec.SecurityContext
	require.NotNil(t, sc)
	require.Equal(t, int64(65532), *sc.RunAsUser, "distroless nonroot's numeric uid")
	require.Equal(t, int64(65532), *sc.RunAsGroup)
	require.True(t, *sc.RunAsNonRoot)
	require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
	for _, c := range spec.Containers {
		csc := c.SecurityContext
		require.NotNil(t, csc, c.Name)
		require.False(t, *csc.AllowPrivilegeEscalation)
		require.True(t, *csc.ReadOnlyRootFilesystem)
		require.Equal(t, []corev1.Capability{"ALL"}, csc.Capabilities.Drop)
		require.Empty(t, csc.Capabilities.Add)
	}
}

func checkImagePinned(t *testing.T, image string) {
	t.Helper()
	if _, digest, ok := strings.Cut(image, "@"); ok {
		require.True(t, strings.HasPrefix(digest, "sha256:"), image)
		return
	}
	slash := strings.LastIndex(image, "/")
	_, tag, ok := strings.Cut(image[slash+1:], ":")
	require.True(t, ok, "image %s has no tag", image)
	require.NotEqual(t, "latest", tag, "image %s", image)
}

// checkConfigMounted finds the ConfigMap the container reads --config from,
// runs its batchwire.yaml through batchwire's own loader (as `batchwire run`
// would, with stand-ins for the secret files that exist only in the pod),
// and makes sure every file it names is on a volume the container mounts.
func checkConfigMounted(t *testing.T, objs *objects, dep *appsv1.Deployment) {
	t.Helper()
	c := dep.Spec.Template.Spec.Containers[0]
	configPath := argAfter(t, c.Args, "--config")
	require.Len(t, objs.configMaps, 1)
	raw, ok := objs.configMaps[0].Data[filepath.Base(configPath)]
	require.True(t, ok, "the ConfigMap holds %s", filepath.Base(configPath))

	secretFiles := secretFile.FindAllString(raw, -1)
	local := t.TempDir()
	for _, f := range secretFiles {
		stand := filepath.Join(local, strings.TrimPrefix(f, secretsRoot))
		require.NoError(t, os.MkdirAll(filepath.Dir(stand), 0o700))
		require.NoError(t, os.WriteFile(stand, []byte("stand-in secret\n"), 0o600))
	}
	file := filepath.Join(t.TempDir(), "batchwire.yaml")
	require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(raw, secretsRoot, local+"/")), 0o600))
	loaded, problems := daemon.Load(file, slog.New(slog.DiscardHandler))
	require.Empty(t, problems.Errors(), "batchwire's loader refuses the shipped configuration:\n%s", raw)
	cfg := loaded.Config

	mounted := func(path string) bool {
		for _, m := range c.VolumeMounts {
			if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
				return true
			}
		}
		return false
	}
	require.True(t, mounted(configPath), "--config %s is mounted", configPath)
	require.True(t, mounted(cfg.DataDir+"/jetstream"), "data_dir %s is on a volume (the root filesystem is read-only)", cfg.DataDir)
	for _, f := range secretFiles {
		require.True(t, mounted(f), "%s is mounted", f)
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0", host, "http.listen must be reachable from the Service and the kubelet")
	require.Len(t, c.Ports, 1)
	require.Equal(t, strconv.Itoa(int(c.Ports[0].ContainerPort)), port, "http.listen serves the container port")
	require.Empty(t, cfg.Temporal.APIKeyFile, "the API key comes from the optional Secret as TEMPORAL_API_KEY, never a file that may be missing")
}

// secretsRoot is where the manifests mount Secrets; secretFile finds the
// paths under it that a configuration names.
const secretsRoot = "/var/run/secrets/batchwire/"

var secretFile = regexp.MustCompile(regexp.QuoteMeta(secretsRoot) + `[A-Za-z0-9._/-]+`)

func argAfter(t *testing.T, args []string, flag string) string {
	t.Helper()
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("no %s in %v", flag, args)
	return ""
}
