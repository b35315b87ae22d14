package deploy

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The shipped manifest decodes strictly, runs under Pod Security
// "restricted", and starts without the optional API-key Secret: the key is
// an optional secretKeyRef, never a file the configuration requires.
func TestKubernetesManifest(t *testing.T) {
	raw, err := os.ReadFile("kubernetes/batchwire.yaml")
	require.NoError(t, err)
	objs := decodeManifests(t, "kubernetes/batchwire.yaml", raw)
	dep := checkBatchwire(t, objs)

	require.Len(t, objs.serviceAccounts, 1)
	require.False(t, *objs.serviceAccounts[0].AutomountServiceAccountToken)
	require.Equal(t, objs.serviceAccounts[0].Name, dep.Spec.Template.Spec.ServiceAccountName)

	c := dep.Spec.Template.Spec.Containers[0]
	var keyFromSecret bool
	for _, env := range c.Env {
		ref := env.ValueFrom
		if ref == nil || ref.SecretKeyRef == nil {
			continue
		}
		require.NotNil(t, ref.SecretKeyRef.Optional, "%s: a Secret the manifest does not create must be optional", env.Name)
		require.True(t, *ref.SecretKeyRef.Optional, env.Name)
		keyFromSecret = keyFromSecret || env.Name == "TEMPORAL_API_KEY"
	}
	require.True(t, keyFromSecret, "the API key can come from a Secret")
	for _, v := range dep.Spec.Template.Spec.Volumes {
		require.Nil(t, v.Secret, "volume %s: a required Secret volume the manifest does not create blocks the pod", v.Name)
	}
}
