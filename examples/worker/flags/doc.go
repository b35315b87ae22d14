// Package flags is the example workload for batchwire's feature-flag broadcast:
// one long-running FlagWorkflow per tenant (or per service) that holds flag values,
// takes changes by signal or update, answers queries, and pushes its flags through a
// heartbeating activity. batchwire signals every matching execution when a flag
// service reports a change, so this is what such a target looks like in Go.
package flags
