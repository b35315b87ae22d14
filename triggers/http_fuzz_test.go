package triggers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"
)

// FuzzHTTPDecode feeds arbitrary bodies to every format's decoder: each must
// either refuse the body with a *DecodeError or return only valid events,
// and never panic. Seeds are the real payloads.
func FuzzHTTPDecode(f *testing.F) {
	seeds := []struct{ sub, name string }{
		{"alertmanager", amFiringFixture},
		{"alertmanager", amMixedFixture + ".json"},
		{"cloudevents", "sdkgo_batch_triple.json"},
		{"events", "flipt_docs_audit_webhook_flag_updated.body.json"},
		{"events", "unleash_docs_feature-strategy-add.json"},
	}
	for _, seed := range seeds {
		f.Add(readFixture(f, seed.sub, seed.name))
	}
	hook, err := newWebhook(&fliptMapping)
	require.NoError(f, err)
	decoders := map[string]struct {
		decode      decodeRequest
		contentType string
	}{
		"alertmanager": {decodeAlertmanager(1000), "application/json"},
		"batch":        {decodeCloudEvents(100), event.ApplicationCloudEventsBatchJSON},
		"structured":   {decodeCloudEvents(100), event.ApplicationCloudEventsJSON},
		"webhook":      {hook.decode, "application/json"},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, d := range decoders {
			req := httptest.NewRequest(http.MethodPost, "/", nil)
			req.Header.Set("Content-Type", d.contentType)
			events, err := d.decode(req, body)
			if err != nil {
				var decodeErr *DecodeError
				require.True(t, errors.As(err, &decodeErr), "%s: error %v is not a *DecodeError", name, err)
				continue
			}
			require.NotEmpty(t, events, name)
			for _, ev := range events {
				require.NoError(t, ev.Validate(), name)
			}
		}
	})
}
