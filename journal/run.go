package journal

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hitl-dev/hitl/events"
)

// Run is a run's checkpoint, the value of its key in the hitl_runs bucket: its input, its
// journal and where it stands. Resuming a run reads it, replays Journal against the
// workflow's code and writes it back with compare-and-set on the revision read.
type Run struct {
	ID       string           `json:"id"`
	Workflow string           `json:"workflow"`
	Input    json.RawMessage  `json:"input,omitempty"`
	Status   events.RunStatus `json:"status"`
	Journal  []Entry          `json:"journal,omitempty"`
	Waiting  []string         `json:"waiting,omitempty"` // request ids the run waits on
	Result   json.RawMessage  `json:"result,omitempty"`
	Error    string           `json:"error,omitempty"`
	// Retention is how long the run is kept once finished; zero takes the service's
	// HITL_RETENTION. The requests it asks without their own retention inherit it.
	Retention events.Duration `json:"retention,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// RecordAnswer records resp as the answer of the Ask that asked resp.RequestID, and reports
// whether the run must be replayed to take it in.
//
// A request resolves once (the gate lets one response through), so an answer already
// recorded is kept and resp is dropped: that is a redelivery. The run then needs a replay
// only if it still waits on the request, which happens when an earlier attempt saved the
// answer with a step's checkpoint and failed before it finished. An error (ErrNoEntry) means
// the journal has no Ask of the request yet, and changes nothing.
func (r *Run) RecordAnswer(resp events.Response) (resume bool, err error) {
	i := Index(r.Journal, resp.RequestID)
	if i < 0 {
		return false, fmt.Errorf("run %s, request %s: %w", r.ID, resp.RequestID, ErrNoEntry)
	}
	if r.Journal[i].Answer != nil {
		return slices.Contains(r.Waiting, resp.RequestID), nil
	}
	r.Journal[i].Answer = &resp
	return true, nil
}

// Apply records in r what execution x produced: the journal, the requests it waits on, and
// the status with the result or the error. A finished run waits on nothing.
func (r *Run) Apply(x *Execution) {
	r.Journal, r.Waiting = x.Journal, x.Waiting
	r.Status = x.Outcome.RunStatus()
	switch x.Outcome {
	case Completed:
		r.Result, r.Waiting = x.Result, nil
	case Failed:
		r.Error, r.Waiting = x.Err.Error(), nil
	}
}

// Cancel marks the run cancelled, with "cancelled: reason" (or just "cancelled") as its
// error. Waiting still lists the requests it waited on, for the caller to cancel them too.
func (r *Run) Cancel(reason string) {
	r.Status, r.Error = events.RunCancelled, "cancelled"
	if reason != "" {
		r.Error += ": " + reason
	}
}
