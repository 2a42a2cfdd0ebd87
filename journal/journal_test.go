package journal_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/journal"
)

func TestRequestID(t *testing.T) {
	t.Parallel()

	// Ids are part of the durable state: a changed derivation would re-ask every pending
	// question of a running run under a new id. Pinned with python3:
	// uuid.uuid5(uuid.NAMESPACE_OID, "hitl/run-1/ask/0").
	if got, want := journal.RequestID("run-1", 0), "68da5a30-9b06-54f1-9e5f-fbb64de740c0"; got != want {
		t.Errorf("RequestID(run-1, 0) = %s, want %s", got, want)
	}
	a0, a1, b0 := journal.RequestID("a", 0), journal.RequestID("a", 1), journal.RequestID("b", 0)
	if a0 != journal.RequestID("a", 0) {
		t.Error("RequestID is not stable")
	}
	if a0 == a1 || a0 == b0 || a1 == b0 {
		t.Errorf("RequestID collides: %s %s %s", a0, a1, b0)
	}
	for _, id := range []string{a0, a1, b0, journal.RequestID("0f8fad5b-d9cb-469f-a165-70867728950e", 12345)} {
		u, err := uuid.Parse(id)
		if err != nil || len(id) != 36 || u.Version() != 5 || id != strings.ToLower(id) {
			t.Errorf("RequestID %q is not a canonical version 5 UUID: %v", id, err)
		}
	}
}

// waitingRun is a run that asked two questions after a step and waits on both.
func waitingRun() *journal.Run {
	q1, q2 := journal.RequestID("run-1", 1), journal.RequestID("run-1", 2)
	return &journal.Run{ID: "run-1", Workflow: "w", Status: events.RunWaiting, Waiting: []string{q1, q2},
		Journal: []journal.Entry{
			{Kind: journal.KindStep, Name: "plan", Result: json.RawMessage(`1`)},
			{Kind: journal.KindAsk, Name: "a", RequestID: q1},
			{Kind: journal.KindAsk, Name: "b", RequestID: q2},
		}}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	j := waitingRun().Journal
	for _, tt := range []struct {
		id   string
		want int
	}{
		{journal.RequestID("run-1", 1), 1},
		{journal.RequestID("run-1", 2), 2},
		{journal.RequestID("run-1", 0), -1}, // position 0 is a step
		{"", -1},                            // a step's empty request id is no match
	} {
		if got := journal.Index(j, tt.id); got != tt.want {
			t.Errorf("Index(%q) = %d, want %d", tt.id, got, tt.want)
		}
	}
}

func TestRecordAnswer(t *testing.T) {
	t.Parallel()
	q1 := journal.RequestID("run-1", 1)
	first := events.Response{RequestID: q1, Outcome: events.StatusAnswered, Data: json.RawMessage(`true`), Responder: "ana"}
	later := events.Response{RequestID: q1, Outcome: events.StatusCancelled, Responder: "bob"}

	tests := []struct {
		name       string
		setup      func(r *journal.Run)
		resp       events.Response
		wantResume bool
		wantErr    error
		wantAnswer *events.Response // recorded in entry 1 afterwards
	}{
		{name: "new answer", resp: first, wantResume: true, wantAnswer: &first},
		{name: "redelivered after the run moved on", resp: later, wantAnswer: &first,
			setup: func(r *journal.Run) { r.Journal[1].Answer = &first; r.Waiting = r.Waiting[1:] }},
		{name: "recorded but still waited on", resp: later, wantResume: true, wantAnswer: &first,
			setup: func(r *journal.Run) { r.Journal[1].Answer = &first }},
		{name: "no entry yet", resp: events.Response{RequestID: journal.RequestID("run-1", 3)}, wantErr: journal.ErrNoEntry},
		{name: "a step's position", resp: events.Response{RequestID: journal.RequestID("run-1", 0)}, wantErr: journal.ErrNoEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := waitingRun()
			if tt.setup != nil {
				tt.setup(r)
			}
			before, _ := json.Marshal(r)
			resume, err := r.RecordAnswer(tt.resp)
			if !errors.Is(err, tt.wantErr) || resume != tt.wantResume {
				t.Fatalf("RecordAnswer = %v, %v; want %v, %v", resume, err, tt.wantResume, tt.wantErr)
			}
			if err != nil {
				if after, _ := json.Marshal(r); string(after) != string(before) {
					t.Errorf("a refused answer changed the run:\n%s\n%s", before, after)
				}
				return
			}
			if got := r.Journal[1].Answer; got == nil || got.Responder != tt.wantAnswer.Responder || got.Outcome != tt.wantAnswer.Outcome {
				t.Errorf("recorded %+v, want %+v", got, tt.wantAnswer)
			}
			if r.Journal[2].Answer != nil {
				t.Errorf("the other question got an answer: %+v", r.Journal[2].Answer)
			}
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	grown := append(waitingRun().Journal, journal.Entry{Kind: journal.KindAsk, Name: "c", RequestID: "c"})
	tests := []struct {
		name string
		x    journal.Execution
		want journal.Run
	}{
		{"suspended", journal.Execution{Outcome: journal.Suspended, Journal: grown, Waiting: []string{"c"}},
			journal.Run{Status: events.RunWaiting, Journal: grown, Waiting: []string{"c"}}},
		{"completed", journal.Execution{Outcome: journal.Completed, Journal: grown, Result: json.RawMessage(`"ok"`)},
			journal.Run{Status: events.RunCompleted, Journal: grown, Result: json.RawMessage(`"ok"`)}},
		{"failed", journal.Execution{Outcome: journal.Failed, Journal: grown, Waiting: []string{"c"}, Err: errors.New("boom")},
			journal.Run{Status: events.RunFailed, Journal: grown, Error: "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := waitingRun()
			r.Apply(&tt.x)
			if r.Status != tt.want.Status || !slices.Equal(r.Waiting, tt.want.Waiting) || len(r.Journal) != len(tt.want.Journal) ||
				string(r.Result) != string(tt.want.Result) || r.Error != tt.want.Error {
				t.Errorf("Apply: %+v, want %+v", r, tt.want)
			}
			if r.ID != "run-1" || r.Workflow != "w" {
				t.Errorf("Apply changed the run's identity: %s %s", r.ID, r.Workflow)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	t.Parallel()
	errKV := errors.New("kv unavailable")
	tests := []struct {
		name        string
		err         error
		wantErr     error
		wantOutcome journal.Outcome
	}{
		{"no error", nil, nil, journal.Suspended},
		{"nondeterministic", fmt.Errorf("%w: position 2", journal.ErrNondeterministic), nil, journal.Failed},
		{"unknown workflow", fmt.Errorf("%w %q", journal.ErrUnknownWorkflow, "w"), nil, journal.Failed},
		{"failed save", errKV, errKV, journal.Suspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := &journal.Execution{Outcome: journal.Suspended}
			err := x.Settle(tt.err)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Settle = %v, want %v", err, tt.wantErr)
			}
			if x.Outcome != tt.wantOutcome {
				t.Errorf("outcome %v, want %v", x.Outcome, tt.wantOutcome)
			}
			if tt.wantOutcome == journal.Failed && x.Err != tt.err {
				t.Errorf("Err = %v, want %v", x.Err, tt.err)
			}
			if tt.wantOutcome != journal.Failed && x.Err != nil {
				t.Errorf("Err = %v, want none", x.Err)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	for o, want := range map[journal.Outcome]events.RunStatus{
		journal.Suspended: events.RunWaiting, journal.Completed: events.RunCompleted, journal.Failed: events.RunFailed,
	} {
		if got := o.RunStatus(); got != want {
			t.Errorf("%v.RunStatus() = %s, want %s", o, got, want)
		}
	}
	if s := journal.Outcome(7).String(); s != "outcome(7)" {
		t.Errorf("String of an unknown outcome: %s", s)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	for reason, want := range map[string]string{"": "cancelled", "duplicate": "cancelled: duplicate"} {
		r := waitingRun()
		r.Cancel(reason)
		if r.Status != events.RunCancelled || r.Error != want || len(r.Waiting) != 2 {
			t.Errorf("Cancel(%q): %s %q waiting %v", reason, r.Status, r.Error, r.Waiting)
		}
	}
}

// The checkpoint's JSON is a stored format: the field names are what the hitl_runs bucket
// holds and what tools read.
func TestRunJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	r := waitingRun()
	r.Journal[1].Answer = &events.Response{RequestID: r.Waiting[0], Outcome: events.StatusAnswered, Data: json.RawMessage(`true`), At: at}
	r.Input, r.CreatedAt, r.UpdatedAt = json.RawMessage(`{"n":1}`), at, at
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"created_at", "id", "input", "journal", "status", "updated_at", "waiting", "workflow"}; !slices.Equal(keys, want) {
		t.Errorf("checkpoint fields %q, want %q", keys, want)
	}
	want := `[{"kind":"step","name":"plan","result":1},` +
		`{"kind":"ask","name":"a","request_id":"` + r.Waiting[0] + `","answer":{"request_id":"` + r.Waiting[0] +
		`","outcome":"answered","data":true,"at":"2026-03-01T09:30:00Z"}},` +
		`{"kind":"ask","name":"b","request_id":"` + r.Waiting[1] + `"}]`
	if string(fields["journal"]) != want {
		t.Errorf("journal\n%s\nwant\n%s", fields["journal"], want)
	}
	var back journal.Run
	if err := json.Unmarshal(b, &back); err != nil || back.ID != r.ID || len(back.Journal) != 3 || back.Journal[1].Answer == nil {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
