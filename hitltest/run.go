package hitltest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/journal"
)

// Run is one run of a workflow in a Harness. Its methods report failures to the harness's
// testing.TB.
type Run struct {
	h *Harness
	t testing.TB

	stored []byte      // the checkpoint as JSON, as the hitl_runs bucket stores it
	cp     journal.Run // stored, decoded: where the run stands
	err    error       // why the run failed (cp.Error is its message) or was cancelled

	questions []*Question // every question this harness has seen the run ask, in order
	byID      map[string]*Question
	batches   int
	steps     map[string]int // Step functions run, by name
}

// ID returns the run's id.
func (r *Run) ID() string { return r.cp.ID }

// Status returns where the run stands: waiting, completed, failed or cancelled.
func (r *Run) Status() events.RunStatus { return r.cp.Status }

// Err returns the workflow's error when the run failed, and "cancelled: reason" when it was
// cancelled.
func (r *Run) Err() error { return r.err }

// Journal returns a copy of the run's journal, decoded from its stored JSON.
func (r *Run) Journal() []journal.Entry { return r.load().Journal }

// Checkpoint returns the run's durable state, decoded from its stored JSON, to Resume in
// another harness as an orchestrator would after a restart.
func (r *Run) Checkpoint() Checkpoint { return r.load() }

// Questions returns every question the run has asked, in the order it asked them: answered
// and pending. For a resumed run, the questions answered before the checkpoint are not
// among them.
func (r *Run) Questions() []*Question { return slices.Clone(r.questions) }

// Pending returns the questions the run waits on, in the order it asked them.
func (r *Run) Pending() []*Question {
	if r.cp.Status != events.RunWaiting {
		return nil
	}
	var out []*Question
	for _, id := range r.cp.Waiting {
		if q := r.byID[id]; q != nil {
			out = append(out, q)
		}
	}
	return out
}

// Next returns the first question the run waits on. The test fails if it waits on none.
func (r *Run) Next() *Question {
	r.t.Helper()
	p := r.Pending()
	if len(p) == 0 {
		r.t.Fatalf("%s: want a pending question, but the run %s", r, r.describe())
	}
	return p[0]
}

// Expect returns the pending question titled title. The test fails if the run does not wait
// on such a question.
func (r *Run) Expect(title string) *Question {
	r.t.Helper()
	for _, q := range r.Pending() {
		if q.Request.Title == title {
			return q
		}
	}
	r.t.Fatalf("%s: want a pending question %q, but the run %s", r, title, r.describe())
	return nil
}

// ExpectFunc returns the first pending question match accepts. The test fails, naming what,
// if there is none.
func (r *Run) ExpectFunc(what string, match func(q *Question) bool) *Question {
	r.t.Helper()
	for _, q := range r.Pending() {
		if match(q) {
			return q
		}
	}
	r.t.Fatalf("%s: want a pending question %s, but the run %s", r, what, r.describe())
	return nil
}

// AssertPending checks the titles of the questions the run waits on, in order.
func (r *Run) AssertPending(titles ...string) {
	r.t.Helper()
	if got := titlesOf(r.Pending()); !slices.Equal(got, titles) {
		r.t.Errorf("%s: pending questions %s, want %s", r, quoteAll(got), quoteAll(titles))
	}
}

// AssertAsked checks the titles of every question the run has asked, in order.
func (r *Run) AssertAsked(titles ...string) {
	r.t.Helper()
	if got := titlesOf(r.questions); !slices.Equal(got, titles) {
		r.t.Errorf("%s: asked %s, want %s", r, quoteAll(got), quoteAll(titles))
	}
}

// AssertBatches checks the questions the run has asked grouped by the Ask or AskAll call
// that asked them together: one group per call, in order.
func (r *Run) AssertBatches(batches ...[]string) {
	r.t.Helper()
	var got [][]string
	for _, q := range r.questions {
		if q.Batch == len(got) {
			got = append(got, nil)
		}
		got[q.Batch] = append(got[q.Batch], q.Request.Title)
	}
	if !slices.EqualFunc(got, batches, slices.Equal) {
		r.t.Errorf("%s: asked in batches %s, want %s", r, batchString(got), batchString(batches))
	}
}

// StepRuns returns how many times the run has run the function of a Step named name: once
// per Step call the first time its position is reached, never on replay. Steps run before a
// resumed checkpoint are not counted.
func (r *Run) StepRuns(name string) int { return r.steps[name] }

// AssertStepRuns checks that the function of the Step named name ran want times.
func (r *Run) AssertStepRuns(name string, want int) {
	r.t.Helper()
	if got := r.steps[name]; got != want {
		r.t.Errorf("%s: step %q ran %d times, want %d (steps run: %v)", r, name, got, want, r.steps)
	}
}

// AssertCompleted checks that the workflow returned a result.
func (r *Run) AssertCompleted() {
	r.t.Helper()
	if r.cp.Status != events.RunCompleted {
		r.t.Fatalf("%s: want completed, but the run %s", r, r.describe())
	}
}

// AssertWaiting checks that the run waits on at least one question.
func (r *Run) AssertWaiting() {
	r.t.Helper()
	if r.cp.Status != events.RunWaiting {
		r.t.Fatalf("%s: want waiting, but the run %s", r, r.describe())
	}
}

// AssertFailed checks that the run failed with an error matching target (errors.Is), or
// with any error when target is nil, and returns the error.
func (r *Run) AssertFailed(target error) error {
	r.t.Helper()
	if r.cp.Status != events.RunFailed {
		r.t.Fatalf("%s: want failed, but the run %s", r, r.describe())
	}
	if target != nil && !errors.Is(r.err, target) {
		r.t.Errorf("%s: failed with %v, want an error matching %v", r, r.err, target)
	}
	return r.err
}

// AssertCancelled checks that the run was cancelled (Cancel).
func (r *Run) AssertCancelled() {
	r.t.Helper()
	if r.cp.Status != events.RunCancelled {
		r.t.Fatalf("%s: want cancelled, but the run %s", r, r.describe())
	}
}

// Result decodes the run's result into out. The test fails if the run has not completed.
func (r *Run) Result(out any) {
	r.t.Helper()
	r.AssertCompleted()
	if err := json.Unmarshal(r.cp.Result, out); err != nil {
		r.t.Fatalf("%s: decode result %s into %T: %v", r, r.cp.Result, out, err)
	}
}

// RawResult returns the run's result as the run record stores it, nil until it completes.
func (r *Run) RawResult() json.RawMessage { return r.cp.Result }

// Cancel cancels the run as POST /v1/runs/{id}/cancel does: the run ends as cancelled and the
// questions it waits on are cancelled; the workflow does not run again.
func (r *Run) Cancel(reason string) {
	r.t.Helper()
	if r.cp.Status.Final() {
		r.t.Fatalf("%s: cancel: the run already %s", r, r.describe())
	}
	for _, q := range r.Pending() {
		q.Request.Status = events.StatusCancelled
		q.Request.Response = &events.Response{RequestID: q.Request.ID, RunID: r.cp.ID, Outcome: events.StatusCancelled,
			Responder: "hitl:run-cancel", Comment: reason}
	}
	cp := r.load()
	cp.Cancel(reason)
	r.save(cp)
	r.err = errors.New(cp.Error)
}

// String names the run in failure messages.
func (r *Run) String() string { return fmt.Sprintf("%s run %s", r.cp.Workflow, r.cp.ID) }

// describe says where the run stands, for failure messages.
func (r *Run) describe() string {
	switch r.cp.Status {
	case events.RunWaiting:
		var parts []string
		pending := r.Pending()
		for _, q := range pending[:min(len(pending), 5)] {
			parts = append(parts, q.String())
		}
		if len(pending) > 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(pending)-5))
		}
		return "waits on " + strings.Join(parts, ", ")
	case events.RunCompleted:
		return fmt.Sprintf("completed with %s", r.cp.Result)
	case events.RunFailed:
		return fmt.Sprintf("failed: %v", r.err)
	case events.RunCancelled:
		return fmt.Sprintf("was %v", r.err)
	}
	return string(r.cp.Status)
}

// resolve records resp in the journal entry of q and resumes the run, as the orchestrator
// does when a request's response wins the gate.
func (r *Run) resolve(q *Question, resp events.Response) {
	r.t.Helper()
	cp := r.load()
	if resume, err := cp.RecordAnswer(resp); err != nil || !resume {
		r.t.Fatalf("%s: cannot record the answer to question %q (request %s): %v", r, q.Request.Title, q.Request.ID,
			cmp.Or(err, errors.New("it is answered already")))
	}
	q.Request.Status, q.Request.Response = resp.Outcome, &resp
	r.advance(cp)
}

// advance executes the workflow against checkpoint cp, decoded from its stored JSON, as the
// orchestrator's advance does, stores the new checkpoint, then replays once more to check the
// execution is deterministic.
func (r *Run) advance(cp journal.Run) {
	r.t.Helper()
	x := &journal.Execution{RunID: cp.ID, Workflow: cp.Workflow, Input: cp.Input, Journal: cp.Journal,
		SaveStep: func(_ context.Context, j []journal.Entry) error {
			r.steps[j[len(j)-1].Name]++
			cp.Journal = j
			r.save(cp)
			return nil
		}}
	execErr := r.h.reg.Execute(context.Background(), x)
	if err := x.Settle(execErr); err != nil { // a journal that no longer replays fails the run, as in production
		r.t.Fatalf("%s: execute: %v", r, err)
	}
	cp.Apply(x)
	r.save(cp)
	r.err = x.Err
	if len(x.Asked) > 0 {
		for _, rec := range x.Asked {
			r.add(rec, journal.Index(x.Journal, rec.ID))
		}
		r.batches++
	}
	if execErr == nil {
		r.checkReplay(x)
	}
}

func (r *Run) add(rec events.Request, pos int) {
	rec.Status = events.StatusPending
	q := &Question{Request: rec, Position: pos, Batch: r.batches, run: r}
	r.questions = append(r.questions, q)
	r.byID[rec.ID] = q
}

// checkReplay replays the journal just written, as an orchestrator does on every resume and
// after a crash, and checks that it reaches the same place without running anything again.
func (r *Run) checkReplay(x *journal.Execution) {
	r.t.Helper()
	var reran []string
	cp := r.load()
	y := &journal.Execution{RunID: cp.ID, Workflow: cp.Workflow, Input: cp.Input, Journal: cp.Journal,
		SaveStep: func(_ context.Context, j []journal.Entry) error {
			reran = append(reran, j[len(j)-1].Name)
			return nil
		}}
	err := r.h.reg.Execute(context.Background(), y)
	var diffs []string
	switch {
	case err != nil:
		diffs = append(diffs, fmt.Sprintf("fails: %v", err))
	case len(reran) > 0:
		diffs = append(diffs, fmt.Sprintf("runs step %s, which the journal does not record", quoteAll(reran)))
	case len(y.Asked) > 0:
		diffs = append(diffs, fmt.Sprintf("asks %s anew", quoteAll(titlesOfRequests(y.Asked))))
	case y.Outcome != x.Outcome:
		diffs = append(diffs, fmt.Sprintf("ends %s instead of %s", y.Outcome.RunStatus(), x.Outcome.RunStatus()))
	case !slices.Equal(y.Waiting, x.Waiting):
		diffs = append(diffs, fmt.Sprintf("waits on %v instead of %v", y.Waiting, x.Waiting))
	case x.Outcome == journal.Completed && !jsonEqual(x.Result, y.Result):
		diffs = append(diffs, fmt.Sprintf("returns %s instead of %s", y.Result, x.Result))
	case x.Outcome == journal.Failed && firstLine(x.Err) != firstLine(y.Err):
		diffs = append(diffs, fmt.Sprintf("fails with %q instead of %q", firstLine(y.Err), firstLine(x.Err)))
	}
	if len(diffs) > 0 {
		r.t.Errorf("%s is not deterministic: replaying its journal, as an orchestrator does on every resume, %s. "+
			"Code outside hitl.Step must make the same calls from the same journal, and Step results must survive JSON",
			r, strings.Join(diffs, "; "))
	}
}

// recoverPending finds the full request of each question a resumed checkpoint waits on: the
// journal keeps only its title and id. Replaying the journal cut just before the first of
// them makes the workflow ask them again, as new.
func (r *Run) recoverPending() {
	r.t.Helper()
	var missing []string
	for _, id := range r.cp.Waiting {
		if r.byID[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return
	}
	cp := r.load()
	j := cp.Journal
	first := slices.IndexFunc(j, func(e journal.Entry) bool { return slices.Contains(missing, e.RequestID) })
	probe := &journal.Execution{RunID: cp.ID, Workflow: cp.Workflow, Input: cp.Input, Journal: j[:first:first],
		SaveStep: func(context.Context, []journal.Entry) error {
			return errors.New("a step ran while recovering questions")
		}}
	if err := r.h.reg.Execute(context.Background(), probe); err != nil {
		r.t.Fatalf("%s: recover the questions of the checkpoint: %v", r, err)
	}
	for _, rec := range probe.Asked {
		pos := journal.Index(probe.Journal, rec.ID)
		if pos < 0 || pos >= len(j) || !slices.Contains(missing, j[pos].RequestID) || j[pos].Name != rec.Title {
			continue
		}
		rec.ID = j[pos].RequestID
		r.add(rec, pos)
	}
	r.batches++
	for _, id := range missing {
		if r.byID[id] == nil {
			r.t.Errorf("%s: cannot recover the question of request %s from the checkpoint", r, id)
		}
	}
	// Keep the questions in journal order.
	slices.SortStableFunc(r.questions, func(a, b *Question) int { return a.Position - b.Position })
}

// save stores cp as the run's checkpoint, through JSON as the hitl_runs bucket holds it.
func (r *Run) save(cp journal.Run) {
	r.t.Helper()
	cp.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(cp)
	if err != nil {
		r.t.Fatalf("%s: encode checkpoint: %v", r, err)
	}
	var back journal.Run
	if err := json.Unmarshal(b, &back); err != nil {
		r.t.Fatalf("%s: decode checkpoint: %v", r, err)
	}
	r.stored, r.cp = b, back
}

// load decodes the stored checkpoint afresh, as an orchestrator reads it before a replay.
func (r *Run) load() journal.Run {
	r.t.Helper()
	var cp journal.Run
	if err := json.Unmarshal(r.stored, &cp); err != nil {
		r.t.Fatalf("%s: decode checkpoint: %v", r, err)
	}
	return cp
}

func titlesOf(qs []*Question) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Request.Title
	}
	return out
}

func titlesOfRequests(rs []events.Request) []string {
	out := make([]string, len(rs))
	for i, q := range rs {
		out[i] = q.Title
	}
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func batchString(bs [][]string) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = quoteAll(b)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func jsonEqual(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
