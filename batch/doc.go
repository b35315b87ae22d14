// Package batch talks to Temporal: it dials the frontend (TLS, mTLS, API key),
// launches batch operations after a CountWorkflowExecutions preflight, queues
// launches per namespace because the server runs one batch job per namespace at
// a time, and follows each job to the end.
package batch
