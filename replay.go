package hitl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
)

// ErrUnknownWorkflow is returned by Execute for a name no workflow is registered under.
var ErrUnknownWorkflow = journal.ErrUnknownWorkflow

type runCtxKey struct{}

// runState is what Ask and Step find in their context.
type runState struct {
	exec      *journal.Execution
	pos       int
	replaying bool
}

// suspend unwinds the workflow's stack when it waits on an answer; Execute recovers it.
type suspend struct{}

// abort unwinds the workflow's stack when persisting a step failed.
type abort struct{ err error }

// Execute replays the workflow of x from the top against x.Journal and runs it until it
// completes, fails or waits on answers. It returns an error only when the execution itself
// could not proceed (unknown workflow, a journal the code no longer replays, failed
// persistence; x.Settle says which of them fail the run); the workflow's own failure is
// reported in x.Outcome and x.Err.
//
// Workflow authors do not call it: the orchestrator does, and hitltest in tests.
func (r *Registry) Execute(ctx context.Context, x *journal.Execution) (err error) {
	fn, ok := r.get(x.Workflow)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownWorkflow, x.Workflow)
	}
	x.Asked, x.Waiting, x.Result, x.Err = nil, nil, nil, nil
	st := &runState{exec: x, replaying: len(x.Journal) > 0}
	ctx = context.WithValue(ctx, runCtxKey{}, st)
	defer func() {
		switch p := recover().(type) {
		case nil:
		case suspend:
			x.Outcome = journal.Suspended
		case abort:
			err = p.err
		default:
			x.Outcome, x.Err = journal.Failed, fmt.Errorf("workflow %s panicked: %v\n%s", x.Workflow, p, debug.Stack())
		}
	}()
	out, werr := fn(ctx, x.Input)
	if werr != nil {
		x.Outcome, x.Err = journal.Failed, werr // a *stateError too: the workflow's code is wrong
		return nil
	}
	if st.pos < len(x.Journal) {
		return fmt.Errorf("%w: the workflow returned after %d of the %d journal positions it recorded before",
			ErrNondeterministic, st.pos, len(x.Journal))
	}
	x.Outcome, x.Result = journal.Completed, out
	return nil
}

// stateError carries a failure of the engine's own state (not of the workflow) out through
// the workflow's return value, when Ask or Step is used outside a run.
type stateError struct{ err error }

func (e *stateError) Error() string { return e.err.Error() }
func (e *stateError) Unwrap() error { return e.err }

func state(ctx context.Context) (*runState, error) {
	st, ok := ctx.Value(runCtxKey{}).(*runState)
	if !ok || st == nil {
		return nil, &stateError{errors.New("hitl: Ask and Step must be called with the context of a running workflow, not inside a Step")}
	}
	return st, nil
}

// RunID returns the id of the run executing ctx, or "" outside a run.
func RunID(ctx context.Context) string {
	if st, ok := ctx.Value(runCtxKey{}).(*runState); ok {
		return st.exec.RunID
	}
	return ""
}

// Replaying reports whether the code calling it runs again on replay, before the first
// position that has no recorded result. Use it to keep logs from repeating.
func Replaying(ctx context.Context) bool {
	st, ok := ctx.Value(runCtxKey{}).(*runState)
	return ok && st.pos < len(st.exec.Journal)
}

// RequestID is the id a run's Ask at a journal position gets: derived, so that re-asking on
// replay after a crash publishes the same request again and JetStream drops the duplicate.
func RequestID(runID string, pos int) string { return journal.RequestID(runID, pos) }

// next returns the journal entry at the next position, checking it matches, or nil when the
// position is new.
func (st *runState) next(kind, name string) *journal.Entry {
	pos := st.pos
	st.pos++
	j := st.exec.Journal
	if pos >= len(j) {
		return nil
	}
	e := &j[pos]
	if e.Kind != kind || e.Name != name {
		panic(abort{fmt.Errorf("%w: position %d is %s %q in the journal, but the code now calls %s %q",
			ErrNondeterministic, pos, e.Kind, e.Name, kind, name)})
	}
	return e
}

// Ask puts a question to people and returns their answer decoded into T. The run suspends
// until the request resolves; a timeout returns a *TimeoutError (or the default answer, by
// policy) and a cancel a *CancelledError.
//
// A request whose Input has no Type gets the spec T calls for (input.SpecFor):
// input.ApprovalAnswer an approval, string a text, bool a boolean, numbers a number, a
// struct a json input with the JSON Schema of input.SchemaFor; a pointer T makes it
// skippable, as does Input.Skippable.
func Ask[T any](ctx context.Context, req Request) (T, error) {
	var zero T
	if req.Input.Type == "" {
		spec, err := input.SpecFor[T]()
		if err != nil {
			return zero, fmt.Errorf("ask %q: %w", req.Title, err)
		}
		spec.Skippable = spec.Skippable || req.Input.Skippable
		req.Input = spec
	}
	answers, err := AskAll(ctx, req)
	if err != nil {
		return zero, err
	}
	return decodeAnswer[T](answers[0])
}

// AskAll asks several questions at once and returns when every one is resolved, in order.
// A timed-out (fail policy) or cancelled request yields an Answer with that Outcome and no
// error: the caller decides what each means.
func AskAll(ctx context.Context, reqs ...Request) ([]Answer, error) {
	st, err := state(ctx)
	if err != nil {
		return nil, err
	}
	answers := make([]Answer, len(reqs))
	missing := false
	recs := make([]events.Request, len(reqs))
	for i, req := range reqs { // validate all first, so a bad request consumes no journal position
		rec, err := req.record()
		if err != nil {
			return nil, fmt.Errorf("ask %q: %w", req.Title, err)
		}
		recs[i] = rec
	}
	for i, req := range reqs {
		pos := st.pos
		e := st.next(journal.KindAsk, req.Title)
		if e == nil {
			rec := recs[i]
			x := st.exec
			rec.ID, rec.RunID, rec.Workflow = RequestID(x.RunID, pos), x.RunID, x.Workflow
			x.Journal = append(x.Journal, journal.Entry{Kind: journal.KindAsk, Name: req.Title, RequestID: rec.ID})
			x.Asked = append(x.Asked, rec)
			x.Waiting = append(x.Waiting, rec.ID)
			missing = true
			continue
		}
		if e.Answer == nil {
			st.exec.Waiting = append(st.exec.Waiting, e.RequestID)
			missing = true
			continue
		}
		a := e.Answer
		answers[i] = Answer{RequestID: e.RequestID, Outcome: Outcome(a.Outcome), Data: a.Data, Responder: a.Responder, Comment: a.Comment, At: a.At}
	}
	if missing {
		panic(suspend{})
	}
	return answers, nil
}

func decodeAnswer[T any](a Answer) (T, error) {
	var v T
	switch a.Outcome {
	case OutcomeCancelled:
		return v, &CancelledError{RequestID: a.RequestID, By: a.Responder}
	case OutcomeTimedOut:
		if len(a.Data) == 0 { // the default policy puts the default answer in Data
			return v, &TimeoutError{RequestID: a.RequestID}
		}
	}
	if len(a.Data) == 0 || string(a.Data) == "null" {
		return v, nil // skipped
	}
	if err := a.Decode(&v); err != nil {
		return v, err
	}
	return v, nil
}

type stepKeyCtx struct{}

// StepKey is, inside a Step's function, the step's stable key: the run's id and the step's
// position ("<run id>/step/<n>"), the same on every attempt. Hand it to the API the step
// calls as its idempotency key, so that a step run again after a crash (its side effect is
// at least once) is applied once. Outside a Step it is "".
func StepKey(ctx context.Context) string {
	k, _ := ctx.Value(stepKeyCtx{}).(string)
	return k
}

// Step runs fn once per run and records its result in the journal; on replay it returns the
// recorded result without calling fn. Put every side effect and every non-deterministic value
// (time, random numbers, calls to other systems) in a Step. An error from fn is recorded too,
// as its message, and returned on every replay.
func Step[T any](ctx context.Context, name string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	st, err := state(ctx)
	if err != nil {
		return zero, err
	}
	if e := st.next(journal.KindStep, name); e != nil {
		if e.Error != "" {
			return zero, errors.New(e.Error)
		}
		var v T
		if err := json.Unmarshal(e.Result, &v); err != nil {
			return zero, fmt.Errorf("step %q: decode recorded result: %w", name, err)
		}
		return v, nil
	}
	// fn gets a context without the run: an Ask or Step inside it would take positions
	// that replay cannot reproduce. It carries the step's key instead (StepKey).
	key := fmt.Sprintf("%s/step/%d", st.exec.RunID, st.pos-1)
	fctx := context.WithValue(context.WithValue(ctx, runCtxKey{}, (*runState)(nil)), stepKeyCtx{}, key)
	out, ferr := fn(fctx)
	entry := journal.Entry{Kind: journal.KindStep, Name: name}
	if ferr != nil {
		entry.Error = ferr.Error()
		if entry.Error == "" {
			entry.Error = "step failed"
		}
	} else if b, err := json.Marshal(out); err != nil {
		// Recorded like an error of fn: the step keeps its journal position, so that a
		// workflow carrying on after the error replays to the same positions.
		ferr = fmt.Errorf("step %q: encode result: %w", name, err)
		entry.Error = ferr.Error()
	} else {
		entry.Result = b
	}
	x := st.exec
	x.Journal = append(x.Journal, entry)
	if x.SaveStep != nil {
		if err := x.SaveStep(ctx, x.Journal); err != nil {
			panic(abort{fmt.Errorf("step %q: save journal: %w", name, err)})
		}
	}
	// Return what a replay will return (the recorded form), so that the first execution and
	// every replay take the same path: an error by its message, a result through JSON.
	if entry.Error != "" {
		return zero, errors.New(entry.Error)
	}
	var v T
	if err := json.Unmarshal(entry.Result, &v); err != nil {
		return zero, fmt.Errorf("step %q: decode result: %w", name, err)
	}
	return v, nil
}

// Now returns the current time, recorded once per run at this position, so that replays see
// the same instant.
func Now(ctx context.Context) (time.Time, error) {
	return Step(ctx, "hitl.now", func(context.Context) (time.Time, error) { return time.Now().UTC(), nil })
}
