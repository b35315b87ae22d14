// Package triggers turns event sources into a stream of Deliveries, each a
// validated CloudEvent with Ack and Nak callbacks whose meaning depends
// on the source's delivery guarantee: core NATS (at-most-once), JetStream
// (at-least-once, dead letters) and HTTP (CloudEvents, Alertmanager webhooks,
// mapped JSON webhooks; the answer waits for the decision). It also starts the
// embedded nats-server used when no external NATS URL is configured.
package triggers
