package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hitl-dev/hitl/events"
)

// Execution is one replay of a run: its inputs, filled by the driver (the orchestrator, a
// test harness), and what it produced, filled by hitl.Registry.Execute.
type Execution struct {
	RunID    string
	Workflow string
	Input    json.RawMessage
	// Journal is read on replay and extended by new Asks and Steps.
	Journal []Entry
	// SaveStep, if set, persists the journal right after a Step records its result, so that
	// a crash never repeats the side effect. An error aborts the execution.
	SaveStep func(ctx context.Context, journal []Entry) error

	// Outputs, set by Execute.
	Outcome Outcome
	Result  json.RawMessage
	Err     error            // the workflow's own error, when Outcome is Failed
	Asked   []events.Request // requests first asked in this execution, to create and publish
	Waiting []string         // ids of every request the run now waits on
}

// Settle decides what an error from executing x means for the run. A journal the code no
// longer replays (ErrNondeterministic) or a workflow the registry lacks (ErrUnknownWorkflow)
// fails the run for good: x becomes Failed and Settle returns nil. (The engine handles
// ErrUnknownWorkflow before Settle and retries: its consumers deliver only workflows its
// instance hosts, so a miss there is a deploy in progress, never a reason to fail a run.) Any other error (a save that
// failed, a checkpoint that changed) is returned as it is, x unchanged, for the caller to
// retry. A nil err stays nil.
func (x *Execution) Settle(err error) error {
	if errors.Is(err, ErrNondeterministic) || errors.Is(err, ErrUnknownWorkflow) {
		x.Outcome, x.Err = Failed, err
		return nil
	}
	return err
}

// Outcome is how an execution ended.
type Outcome int

const (
	Suspended Outcome = iota // waiting on answers
	Completed                // the workflow returned a result
	Failed                   // the workflow returned an error or panicked, or its journal no longer replays
)

// RunStatus is the status a run has after an execution with this outcome.
func (o Outcome) RunStatus() events.RunStatus {
	switch o {
	case Suspended:
		return events.RunWaiting
	case Completed:
		return events.RunCompleted
	}
	return events.RunFailed
}

// String names the outcome: suspended, completed or failed.
func (o Outcome) String() string {
	switch o {
	case Suspended:
		return "suspended"
	case Completed:
		return "completed"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}
