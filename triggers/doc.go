// Package triggers turns event sources into a stream of Deliveries, each a
// validated CloudEvent with Ack, Nak and Term callbacks whose meaning depends
// on the source's delivery guarantee. It also starts the embedded nats-server
// used when no external NATS URL is configured, and connects to NATS.
package triggers
