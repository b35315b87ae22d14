// Package engine is batchwire's client-side batch engine: a Temporal workflow
// (ClientBatch) that pages a visibility query and applies signal, terminate,
// cancel, delete or reset to each execution from heartbeating activities, with
// its own concurrency and rate limits. It covers what the server batcher cannot
// (reset LastContinuedAsNew, WorkflowExecutionSignaled, BuildId/BadBinary from
// history, only-non-deterministic, include and exclude id lists) and needs no
// namespace batch slot, so small jobs do not queue behind each other.
package engine
