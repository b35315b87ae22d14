// Package daemon is batchwire's composition root: it wires triggers, rules and
// the batch launcher together, serves /metrics, /-/healthy and /-/ready, and
// owns the metrics registry. It is the only package that knows every other one.
package daemon
