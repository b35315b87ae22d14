package triggers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/common/model"
)

// Event types of alerts, one per alert status.
const (
	AlertFiringType   = "alertmanager.alert.firing"
	AlertResolvedType = "alertmanager.alert.resolved"
)

// alertmanagerVersion is the webhook payload version this decoder reads;
// Alertmanager has sent "4" since 0.7 and bumps it on incompatible changes.
const alertmanagerVersion = "4"

// amGroup is the part of an Alertmanager webhook body shared by all its
// alerts. Every event of one notification carries it as data.group, and
// none carries the other alerts.
// NotificationReason (Alertmanager 0.32+) and RouteLabels (0.34+) are left
// out when the sender does not have them.
type amGroup struct {
	Receiver           string            `json:"receiver"`
	Status             string            `json:"status"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	ExternalURL        string            `json:"externalURL"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    uint64            `json:"truncatedAlerts"`
	NotificationReason string            `json:"notification_reason,omitempty"`
	RouteLabels        map[string]string `json:"routeLabels,omitempty"`
}

// amMessage is an Alertmanager webhook body, version 4. Alerts are kept as
// sent, so data.alert holds every field, including ones added later.
type amMessage struct {
	Version string            `json:"version"`
	Alerts  []json.RawMessage `json:"alerts"`
	amGroup
}

// amAlert holds the alert fields an event is built from.
type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// groupBytesPerAlert is what the group part of each alert's event may take
// beyond the body's share: receiver, externalURL, groupKey and status, which
// an alert does not carry itself.
const groupBytesPerAlert = 1 << 10

// decodeAlertmanager turns a webhook body of at most maxAlerts alerts into
// one event per alert:
//
//   - type: alertmanager.alert.firing or alertmanager.alert.resolved;
//   - source: externalURL + "/" + receiver ("alertmanager" stands in for a
//     missing externalURL);
//   - id: fingerprint + "-" + status + "-" + startsAt (RFC 3339, UTC);
//   - subject: the alertname label; time: startsAt when firing, endsAt when
//     resolved;
//   - data: {"alert": the alert as sent, "group": the shared fields}, never
//     the other alerts.
//
// The id names one state of one alert: Alertmanager re-sends a firing alert
// every repeat_interval, and re-sends the whole group when any alert in it
// changes, with the same fingerprint and startsAt each time, so those
// re-sends get the same id and the daemon treats them as duplicates; the
// resolution gets a new id, and so does the alert firing again later (a new
// startsAt).
//
// The group's fields are repeated in every alert's event, so a sender could
// make a small body into a large load (few bytes per alert, a large
// commonAnnotations). Alertmanager's common labels and annotations are
// those every alert carries itself, so repeating them costs at most the
// body again; a message whose group takes more (beyond groupBytesPerAlert
// per alert) is refused, as is one with more than maxAlerts alerts.
func decodeAlertmanager(maxAlerts int) decodeRequest {
	return func(r *http.Request, body []byte) ([]*cloudevents.Event, error) {
		if err := requireJSON(r.Header); err != nil {
			return nil, err
		}
		msg, err := parseAlertmanager(body)
		if err != nil {
			return nil, err
		}
		if len(msg.Alerts) > maxAlerts {
			return nil, &DecodeError{Status: http.StatusRequestEntityTooLarge,
				Reason: fmt.Sprintf("%d alerts in one message, more than http.max_alerts (%d)", len(msg.Alerts), maxAlerts)}
		}
		group, err := encodeGroup(&msg.amGroup, len(msg.Alerts), len(body))
		if err != nil {
			return nil, err
		}
		return alertEvents(msg, group)
	}
}

func alertEvents(msg *amMessage, group []byte) ([]*cloudevents.Event, error) {
	events := make([]*cloudevents.Event, 0, len(msg.Alerts))
	for i, raw := range msg.Alerts {
		ev, err := alertEvent(raw, &msg.amGroup, group)
		if err != nil {
			return nil, &DecodeError{Reason: fmt.Sprintf("alerts[%d]: %s", i, err.Error())}
		}
		if err := ev.Validate(); err != nil {
			return nil, &DecodeError{Reason: fmt.Sprintf("alerts[%d]: %s", i, validationReason(ev, err)), Err: err}
		}
		events = append(events, ev)
	}
	return events, nil
}

// encodeGroup encodes the shared fields once, for every alert's event, and
// refuses a group whose repetition would outgrow the body (see
// decodeAlertmanager).
func encodeGroup(group *amGroup, alerts, bodyBytes int) ([]byte, error) {
	encoded, err := json.Marshal(group)
	if err != nil {
		return nil, &DecodeError{Reason: "encode the group's fields", Err: err}
	}
	if repeated, budget := len(encoded)*alerts, bodyBytes+alerts*groupBytesPerAlert; repeated > budget {
		return nil, &DecodeError{Status: http.StatusRequestEntityTooLarge, Reason: fmt.Sprintf(
			"the group's common fields take %d bytes, %d repeated in the events of %d alerts, more than the %d "+
				"the body allows; Alertmanager's common labels and annotations are ones every alert carries itself",
			len(encoded), repeated, alerts, budget)}
	}
	return encoded, nil
}

func parseAlertmanager(body []byte) (*amMessage, error) {
	if !json.Valid(body) {
		return nil, &DecodeError{Reason: "body is not JSON"}
	}
	var msg amMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, &DecodeError{Reason: "body is not an Alertmanager webhook message: " + jsonTypeReason(err)}
	}
	switch {
	case msg.Version == "":
		return nil, &DecodeError{Reason: fmt.Sprintf("missing Alertmanager webhook version (want %q)", alertmanagerVersion)}
	case msg.Version != alertmanagerVersion:
		return nil, &DecodeError{Reason: fmt.Sprintf("unsupported Alertmanager webhook version %q (want %q)",
			msg.Version, alertmanagerVersion)}
	case len(msg.Alerts) == 0:
		return nil, &DecodeError{Reason: "no alerts in the message"}
	}
	return &msg, nil
}

// jsonTypeReason names the field of a type mismatch in JSON terms rather
// than the Go types it was decoded into.
func jsonTypeReason(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case !errors.As(err, &typeErr):
		return err.Error()
	case typeErr.Field == "":
		return "want a JSON object, got " + typeErr.Value
	}
	return fmt.Sprintf("field %s: unexpected JSON %s", typeErr.Field, typeErr.Value)
}

// alertEvent builds the event of one alert; see decodeAlertmanager. Its
// data is {"alert": raw, "group": encodedGroup}, put together from bytes
// that are valid JSON already.
func alertEvent(raw json.RawMessage, group *amGroup, encodedGroup []byte) (*cloudevents.Event, error) {
	var alert amAlert
	if err := json.Unmarshal(raw, &alert); err != nil {
		return nil, fmt.Errorf("decode alert: %s", jsonTypeReason(err))
	}
	ev := cloudevents.NewEvent()
	switch alert.Status {
	case "firing":
		ev.SetType(AlertFiringType)
		ev.SetTime(alert.StartsAt)
	case "resolved":
		ev.SetType(AlertResolvedType)
		if !alert.EndsAt.IsZero() {
			ev.SetTime(alert.EndsAt)
		}
	default:
		return nil, fmt.Errorf("status: want firing or resolved, got %q", alert.Status)
	}
	if alert.StartsAt.IsZero() {
		return nil, fmt.Errorf("startsAt: required (it is part of the event id)")
	}
	ev.SetID(alertID(alert))
	if err := ev.Context.SetSource(alertSource(group)); err != nil {
		return nil, fmt.Errorf("source from externalURL and receiver: %w", err)
	}
	ev.SetSubject(alert.Labels[model.AlertNameLabel])
	data := make([]byte, 0, len(raw)+len(encodedGroup)+len(`{"alert":,"group":}`))
	data = append(append(append(data, `{"alert":`...), raw...), `,"group":`...)
	data = append(append(data, encodedGroup...), '}')
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return nil, fmt.Errorf("set event data: %w", err)
	}
	return &ev, nil
}

// alertID is stable across re-sends of one alert state; see
// decodeAlertmanager. Alertmanager before 0.19 sent no fingerprint; it is
// then computed from the labels the way Alertmanager computes it.
func alertID(alert amAlert) string {
	fingerprint := alert.Fingerprint
	if fingerprint == "" {
		labels := make(model.LabelSet, len(alert.Labels))
		for name, value := range alert.Labels {
			labels[model.LabelName(name)] = model.LabelValue(value)
		}
		fingerprint = labels.Fingerprint().String()
	}
	return fingerprint + "-" + alert.Status + "-" + alert.StartsAt.UTC().Format(time.RFC3339Nano)
}

func alertSource(group *amGroup) string {
	base := strings.TrimSuffix(group.ExternalURL, "/")
	if base == "" {
		base = "alertmanager"
	}
	if group.Receiver == "" {
		return base
	}
	return base + "/" + group.Receiver
}
