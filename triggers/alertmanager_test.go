package triggers

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

const (
	amFiringFixture = "am-main-68fb2d5_01_firing_group_3_alerts.json"
	amMixedFixture  = "am-main-68fb2d5_03_mixed_2_firing_1_resolved"
	amStartsAt      = "2026-11-25T18:39:39.404Z"
)

// wantAlert is what one alert's event must carry.
type wantAlert struct {
	id, typ, instance string
	time              string
}

// requireAlertEvents checks the events of the fixtures' three alerts, which
// share their group, alertname and Alertmanager.
func requireAlertEvents(t *testing.T, handled []Delivery, want []wantAlert) {
	t.Helper()
	require.Len(t, handled, len(want))
	for i, w := range want {
		ev := handled[i].Event
		require.Equal(t, w.id, ev.ID())
		require.Equal(t, w.typ, ev.Type())
		require.Equal(t, "http://127.0.0.1:19093/webhook", ev.Source())
		require.Equal(t, "HighRequestLatency", ev.Subject())
		require.Equal(t, "application/json", ev.DataContentType())
		wantTime, err := time.Parse(time.RFC3339Nano, w.time)
		require.NoError(t, err)
		require.True(t, ev.Time().Equal(wantTime), "time %s, want %s", ev.Time(), w.time)
		var data struct {
			Alert map[string]any `json:"alert"`
			Group map[string]any `json:"group"`
		}
		require.NoError(t, json.Unmarshal(ev.Data(), &data))
		require.Equal(t, w.instance, data.Alert["labels"].(map[string]any)["instance"])
		require.Equal(t, "webhook", data.Group["receiver"])
		require.Equal(t, "firing", data.Group["status"])
		require.Equal(t, `{}:{alertname="HighRequestLatency"}`, data.Group["groupKey"])
		require.Equal(t, map[string]any{"alertname": "HighRequestLatency"}, data.Group["groupLabels"])
		require.NotContains(t, data.Group, "alerts", "the group holds the shared fields only")
	}
}

func TestAlertmanagerFiringGroup(t *testing.T) {
	rec := &recorder{}
	src := startSource(t, httpTrigger("alerts", "alertmanager", nil), rec)
	rr := post(src, "application/json", readFixture(t, "alertmanager", amFiringFixture), nil)

	require.Equal(t, http.StatusAccepted, rr.Code, rr.Body.String())
	require.Equal(t, httpReply{Accepted: 3}, decodeReply(t, rr.Body))
	requireAlertEvents(t, rec.handled(), []wantAlert{
		{"541dd5a2a323fbd9-firing-" + amStartsAt, AlertFiringType, "api-1:8080", amStartsAt},
		{"66b7a7776819a8c9-firing-" + amStartsAt, AlertFiringType, "api-2:8080", amStartsAt},
		{"1852016fda6cc1a2-firing-" + amStartsAt, AlertFiringType, "api-3:8080", amStartsAt},
	})
	var data map[string]map[string]any
	require.NoError(t, json.Unmarshal(rec.handled()[0].Event.Data(), &data))
	require.Equal(t, "first notification", data["group"]["notification_reason"])
	require.Equal(t, "541dd5a2a323fbd9", data["alert"]["fingerprint"], "the alert is kept as sent")
	require.Contains(t, data["alert"], "generatorURL")
}

// The mixed notification is replayed with its captured request line and
// headers; the resolved alert gets its own id, so it is not taken for a
// re-send of the firing one.
func TestAlertmanagerMixedGroup(t *testing.T) {
	fixture := readRequestFixture(t, "alertmanager", amMixedFixture+".http")
	require.JSONEq(t, string(readFixture(t, "alertmanager", amMixedFixture+".json")), string(fixture.body))
	rec := &recorder{}
	src := startSource(t, httpTrigger("alerts", "alertmanager", func(h *config.HTTPTrigger) { h.Path = fixture.path }), rec)
	resp := fixture.send(t, serve(t, src).URL)

	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, httpReply{Accepted: 3}, decodeReply(t, resp.Body))
	requireAlertEvents(t, rec.handled(), []wantAlert{
		{"541dd5a2a323fbd9-firing-" + amStartsAt, AlertFiringType, "api-1:8080", amStartsAt},
		{"66b7a7776819a8c9-resolved-" + amStartsAt, AlertResolvedType, "api-2:8080", "2026-11-25T18:39:43.441Z"},
		{"1852016fda6cc1a2-firing-" + amStartsAt, AlertFiringType, "api-3:8080", amStartsAt},
	})
}

// Older Alertmanagers send less: before 0.34 no routeLabels, before 0.32 no
// notification_reason, before 0.19 no fingerprint.
func TestAlertmanagerOlderVersions(t *testing.T) {
	raw := readFixture(t, "alertmanager", amFiringFixture)
	tests := []struct {
		name string
		edit func(map[string]any)
	}{
		{"before 0.34: no routeLabels", func(m map[string]any) { delete(m, "routeLabels") }},
		{"before 0.32: no notification_reason either", func(m map[string]any) {
			delete(m, "routeLabels")
			delete(m, "notification_reason")
		}},
		{"before 0.19: no fingerprint", func(m map[string]any) {
			for _, alert := range m["alerts"].([]any) {
				delete(alert.(map[string]any), "fingerprint")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, httpTrigger("alerts", "alertmanager", nil), rec)
			rr := post(src, "application/json", editJSON(t, raw, tt.edit), nil)

			require.Equal(t, http.StatusAccepted, rr.Code, rr.Body.String())
			// A computed fingerprint is Alertmanager's own, so ids do not
			// change when an Alertmanager is upgraded.
			requireAlertEvents(t, rec.handled(), []wantAlert{
				{"541dd5a2a323fbd9-firing-" + amStartsAt, AlertFiringType, "api-1:8080", amStartsAt},
				{"66b7a7776819a8c9-firing-" + amStartsAt, AlertFiringType, "api-2:8080", amStartsAt},
				{"1852016fda6cc1a2-firing-" + amStartsAt, AlertFiringType, "api-3:8080", amStartsAt},
			})
		})
	}
}

func TestAlertmanagerRejects(t *testing.T) {
	raw := readFixture(t, "alertmanager", amFiringFixture)
	setAlert := func(key string, value any) func(map[string]any) {
		return func(m map[string]any) { m["alerts"].([]any)[1].(map[string]any)[key] = value }
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"version 3", editJSON(t, raw, func(m map[string]any) { m["version"] = "3" }),
			`unsupported Alertmanager webhook version "3" (want "4")`},
		{"no version", editJSON(t, raw, func(m map[string]any) { delete(m, "version") }),
			`missing Alertmanager webhook version (want "4")`},
		{"not JSON", raw[:len(raw)/2], "body is not JSON"},
		{"not an object", []byte(`["firing"]`), "body is not an Alertmanager webhook message: want a JSON object, got array"},
		{"alerts not a list", editJSON(t, raw, func(m map[string]any) { m["alerts"] = "none" }),
			"body is not an Alertmanager webhook message: field alerts: unexpected JSON string"},
		{"labels not an object", editJSON(t, raw, setAlert("labels", []any{"a"})), "alerts[1]: decode alert: field labels: unexpected JSON array"},
		{"no alerts", editJSON(t, raw, func(m map[string]any) { m["alerts"] = []any{} }), "no alerts"},
		{"unknown alert status", editJSON(t, raw, setAlert("status", "pending")),
			`alerts[1]: status: want firing or resolved, got "pending"`},
		{"bad startsAt", editJSON(t, raw, setAlert("startsAt", "yesterday")), "alerts[1]: decode alert"},
		{"no startsAt", editJSON(t, raw, func(m map[string]any) {
			delete(m["alerts"].([]any)[2].(map[string]any), "startsAt")
		}), "alerts[2]: startsAt: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, httpTrigger("alerts", "alertmanager", nil), rec)
			requireRejected(t, post(src, "application/json", tt.body, nil), rec, http.StatusBadRequest, tt.want)
		})
	}
}
