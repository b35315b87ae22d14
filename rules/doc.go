// Package rules compiles configured rules into an immutable Set that matches
// CloudEvents with CEL `when` expressions and renders each match into an Action:
// a Temporal visibility query whose placeholders become typed, escaped literals,
// a plain-text reason and an optional JSON signal payload. Evaluation is a pure
// function of (rule, event, now), safe for concurrent use and bounded in cost,
// so a hostile event can neither escape a query literal nor stall the daemon.
package rules
