// Package journal is the bookkeeping of durable runs, shared by everything that stores or
// drives them: the orchestrator (engine), the store and the test kit (hitltest).
//
// It owns the checkpoint a run is stored as (Run, the value of the hitl_runs bucket), the
// journal inside it (one Entry per Ask and Step position), one replay of a run (Execution)
// and the rules every driver of replays follows:
//
//   - request ids are derived from the run id and the journal position (RequestID), so a
//     replay after a crash publishes the same request again and JetStream drops the copy;
//   - an answer is recorded into the entry of the Ask that asked it, once (Run.RecordAnswer);
//   - an execution's outcome becomes the run's status, result or error (Run.Apply), and a
//     journal the code no longer replays fails the run (Execution.Settle).
//
// The workflow code that fills an Execution runs in the SDK root (hitl.Registry.Execute).
// This package imports events and input, never the root, so the store and tools that read
// checkpoints do not depend on the SDK.
package journal
