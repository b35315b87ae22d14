// Package admit is the admission pipeline: the stages one rule's evaluation
// of one event passes, in order, from "did it match" to "the job was
// launched", each a small type in its own file. Pipeline.Run returns one
// Decision that carries everything the daemon needs for metrics, audit and
// settling the event; it is the only way a decision comes back.
package admit
