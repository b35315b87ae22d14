package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

type sendFlags struct {
	server, subject, eventType, source, id, data, dataFile, ceSubject string
	binary                                                            bool
	extensions                                                        map[string]string
}

func newSendCmd() *cobra.Command {
	f := &sendFlags{}
	cmd := &cobra.Command{
		Use:   "send --subject S --type T --source SRC --data JSON",
		Short: "Publish one CloudEvent to a NATS subject",
		Long: `Publish one CloudEvent to a NATS subject, in structured mode (a JSON CloudEvent
as the message body) or, with --binary, in binary mode (ce-* headers and the
data as the body). Useful to try rules by hand; the event id defaults to a new
UUID and the time to now.`,
		Example: `  batchwire send --subject flags.changed --type flag.changed --source /flags \
    --data '{"flag":"checkout-v2","value":true,"tenant":"acme"}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "subject", "type", "source"); err != nil {
				return err
			}
			ev, err := f.event()
			if err != nil {
				return usageError{err}
			}
			msg, err := f.message(ev)
			if err != nil {
				return err
			}
			if err := publish(f.server, msg); err != nil {
				return err
			}
			fmt.Printf("published event id=%s type=%s source=%s to %s\n", ev.ID(), ev.Type(), ev.Source(), f.subject)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (env NATS_URL)")
	fl.StringVar(&f.subject, "subject", "", "NATS subject to publish to (required)")
	fl.StringVar(&f.eventType, "type", "", "CloudEvent type (required)")
	fl.StringVar(&f.source, "source", "", "CloudEvent source (required)")
	fl.StringVar(&f.id, "id", "", "CloudEvent id (default: a new UUID)")
	fl.StringVar(&f.ceSubject, "ce-subject", "", "CloudEvent subject attribute")
	fl.StringVar(&f.data, "data", "", "event data as JSON")
	fl.StringVar(&f.dataFile, "data-file", "", "read event data (JSON) from this file")
	fl.BoolVar(&f.binary, "binary", false, "binary content mode: attributes as ce-* headers")
	fl.StringToStringVar(&f.extensions, "extension", nil, "extension attributes, NAME=VALUE (repeatable)")
	return cmd
}

func (f *sendFlags) event() (cloudevents.Event, error) {
	ev := cloudevents.NewEvent()
	ev.SetID(f.id)
	if f.id == "" {
		ev.SetID(uuid.NewString())
	}
	ev.SetType(f.eventType)
	ev.SetSource(f.source)
	ev.SetTime(time.Now().UTC())
	if f.ceSubject != "" {
		ev.SetSubject(f.ceSubject)
	}
	for k, v := range f.extensions {
		ev.SetExtension(k, v)
	}
	data, err := f.readData()
	if err != nil {
		return ev, err
	}
	if data != nil {
		if err := ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(data)); err != nil {
			return ev, fmt.Errorf("--data: %w", err)
		}
	}
	return ev, ev.Validate()
}

func (f *sendFlags) readData() ([]byte, error) {
	if f.data != "" && f.dataFile != "" {
		return nil, errors.New("--data and --data-file are exclusive")
	}
	data := []byte(f.data)
	if f.dataFile != "" {
		raw, err := os.ReadFile(f.dataFile)
		if err != nil {
			return nil, fmt.Errorf("--data-file: %w", err)
		}
		data = raw
	}
	if len(data) == 0 {
		return nil, nil
	}
	if !json.Valid(data) {
		return nil, errors.New("event data is not valid JSON")
	}
	return data, nil
}

func (f *sendFlags) message(ev cloudevents.Event) (*nats.Msg, error) {
	msg := nats.NewMsg(f.subject)
	if !f.binary {
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
		msg.Data = body
		msg.Header.Set("Content-Type", "application/cloudevents+json")
		return msg, nil
	}
	msg.Header.Set("ce-specversion", ev.SpecVersion())
	msg.Header.Set("ce-id", ev.ID())
	msg.Header.Set("ce-type", ev.Type())
	msg.Header.Set("ce-source", ev.Source())
	msg.Header.Set("ce-time", ev.Time().Format(time.RFC3339Nano))
	if ev.Subject() != "" {
		msg.Header.Set("ce-subject", ev.Subject())
	}
	for k, v := range ev.Extensions() {
		msg.Header.Set("ce-"+k, fmt.Sprint(v))
	}
	if ev.Data() != nil {
		msg.Header.Set("Content-Type", ev.DataContentType())
		msg.Data = ev.Data()
	}
	return msg, nil
}

func publish(url string, msg *nats.Msg) error {
	nc, err := nats.Connect(url, nats.Name("batchwire-send"), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	defer nc.Close()
	if err := nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("flush to %s: %w", msg.Subject, err)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
