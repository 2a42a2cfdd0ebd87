package hitltest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/journal"
)

// Harness runs the workflows of one registry in memory.
type Harness struct {
	t    testing.TB
	reg  *hitl.Registry
	runs int
}

// New returns a harness for the workflows of reg that reports failures to t.
func New(t testing.TB, reg *hitl.Registry) *Harness {
	return &Harness{t: t, reg: reg}
}

// Checkpoint is a run's durable state: the run record the orchestrator stores in the
// hitl_runs bucket. Resume replays it from ID, Workflow, Input and Journal; its status,
// waiting requests, result and error are what that replay produces again.
type Checkpoint = journal.Run

// Start starts a run of workflow with in (any value encoding/json can encode; a
// json.RawMessage as is) and executes it until it completes, fails or waits on questions.
// Runs get the ids run-1, run-2, … in the order the harness starts them; Resume a
// Checkpoint with an empty journal to choose the id.
func (h *Harness) Start(workflow string, in any) *Run {
	h.t.Helper()
	raw, err := encode(in)
	if err != nil {
		h.t.Fatalf("hitltest: start %s: encode input: %v", workflow, err)
	}
	h.runs++
	return h.Resume(Checkpoint{ID: fmt.Sprintf("run-%d", h.runs), Workflow: workflow, Input: raw})
}

// Resume continues a run from a checkpoint: it replays the journal and executes the workflow
// until it completes, fails or waits on questions. The questions the checkpoint already
// waited on are pending in the returned run, with their full request (recovered by replaying
// the journal up to them). A checkpoint of a finished run replays to its end again: a test
// that stored runs still replay on today's code.
func (h *Harness) Resume(cp Checkpoint) *Run {
	h.t.Helper()
	if !h.reg.Has(cp.Workflow) {
		h.t.Fatalf("hitltest: no workflow %q in the registry (registered: %q)", cp.Workflow, h.reg.Names())
	}
	if cp.ID == "" {
		h.runs++
		cp.ID = fmt.Sprintf("run-%d", h.runs)
	}
	r := &Run{h: h, t: h.t, byID: map[string]*Question{}, steps: map[string]int{}}
	now := time.Now().UTC()
	r.save(Checkpoint{ID: cp.ID, Workflow: cp.Workflow, Input: cp.Input, Journal: cp.Journal,
		Status: events.RunRunning, CreatedAt: cmp.Or(cp.CreatedAt, now)})
	r.advance(r.load())
	r.recoverPending()
	return r
}

// ResumeJSON resumes the run stored in data: a run record as the hitl_runs bucket holds it
// (e.g. the output of `nats kv get hitl_runs <run id> --raw`).
func (h *Harness) ResumeJSON(data []byte) *Run {
	h.t.Helper()
	var cp Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		h.t.Fatalf("hitltest: decode checkpoint: %v", err)
	}
	if cp.Workflow == "" {
		h.t.Fatalf("hitltest: the checkpoint names no workflow (want a run record with id, workflow, input and journal)")
	}
	return h.Resume(cp)
}

// encode turns a value into JSON; a json.RawMessage or nil passes as is.
func encode(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}
