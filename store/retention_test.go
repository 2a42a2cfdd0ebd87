package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// finishRun takes a run from queued to completed as an orchestrator would.
func finishRun(t *testing.T, st *store.Store, workflow string) *store.Run {
	t.Helper()
	ctx := context.Background()
	run, err := st.StartRun(ctx, workflow, json.RawMessage(`{"n": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	run, rev, err := st.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Status, run.Result = events.RunCompleted, json.RawMessage(`"done"`)
	if _, err := st.UpdateRun(ctx, run, rev); err != nil {
		t.Fatal(err)
	}
	if err := st.PublishRunFinished(ctx, run); err != nil {
		t.Fatal(err)
	}
	return run
}

// Export returns the requests resolved and the runs finished in its range, oldest first,
// and nothing outside it: pending requests and work finished before since or at/after until
// are left out.
func TestExportReturnsWhatIsInRange(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	ctx := context.Background()
	a := &store.Answerer{Store: st}
	answer := func(r *events.Request) {
		t.Helper()
		if _, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator},
			Data: json.RawMessage(`{"approved": true}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// Stream timestamps are the server's clock, which is this process's: a pause between
	// the batches keeps them apart.
	pause := func() time.Time {
		time.Sleep(20 * time.Millisecond)
		t := time.Now()
		time.Sleep(20 * time.Millisecond)
		return t
	}
	before := newRequest(t, st, events.Request{})
	answer(before)
	finishRun(t, st, "early")
	since := pause()
	var want []string
	for range 3 {
		r := newRequest(t, st, events.Request{})
		answer(r)
		want = append(want, "request "+r.ID)
		run := finishRun(t, st, "in-range")
		want = append(want, "run "+run.ID)
	}
	newRequest(t, st, events.Request{}) // pending: not finished, never exported
	until := pause()
	after := newRequest(t, st, events.Request{})
	answer(after)

	var got []string
	var lines []store.Finished
	if err := st.Export(ctx, since, until, func(f store.Finished) error {
		lines = append(lines, f)
		switch f.Kind {
		case "request":
			got = append(got, "request "+f.Request.ID)
		case "run":
			got = append(got, "run "+f.Run.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("exported %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: %s, want %s (all: %v)", i, got[i], want[i], got)
		}
	}
	for _, f := range lines {
		if f.At.Before(since) || !f.At.Before(until) {
			t.Errorf("%s finished at %s, outside [%s, %s)", f.Kind, f.At, since, until)
		}
		if f.Kind == "request" && (f.Request.Status != events.StatusAnswered || f.Request.Response == nil) {
			t.Errorf("exported request without its answer: %+v", f.Request)
		}
		if f.Kind == "run" && (f.Run.Status != events.RunCompleted || string(f.Run.Result) != `"done"` || string(f.Run.Input) != `{"n":1}`) {
			t.Errorf("exported run: %+v", f.Run)
		}
	}
	// An empty range, and one after everything, return nothing.
	n := 0
	if err := st.Export(ctx, time.Now(), time.Now().Add(time.Hour), func(store.Finished) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("a range after everything: %d lines, %v", n, err)
	}
	if err := st.Export(ctx, until, since, func(store.Finished) error { return nil }); err == nil {
		t.Fatal("until before since was accepted")
	}
}

// BenchmarkDiskPerFinishedRequest measures what one finished request leaves on disk until
// its retention passes: a standalone request with a deadline, answered, as the record, its
// events (request_info, response, resolved) and its disarmed timer's marker, read from the
// streams' byte counts. docs/operations.md quotes it.
func BenchmarkDiskPerFinishedRequest(b *testing.B) {
	env := natstest.Single(b)
	_, js := env.Connect(b)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	a := &store.Answerer{Store: st}
	bytes := func() (total uint64, per map[string]uint64) {
		per = map[string]uint64{}
		for _, name := range []string{streams.Stream, "KV_" + streams.BucketRequests, streams.TimerStream, "KV_" + streams.BucketRuns,
			streams.PendingStream} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			per[name] = s.CachedInfo().State.Bytes
			total += per[name]
		}
		return total, per
	}
	start, startPer := bytes()
	b.ResetTimer()
	for range b.N {
		r := &events.Request{ID: uuid.NewString(), Title: "Refund order C-1042 for 120 EUR?", Message: "The customer reports a damaged parcel.",
			Context: map[string]any{"order": "C-1042", "amount": 120}, Assignees: []string{"slack:#ops"},
			Input: input.Spec{Type: input.Approval}, Timeout: events.Duration(time.Hour)}
		if err := st.CreateRequest(ctx, r); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator}, Responder: "alice",
			Data: json.RawMessage(`{"approved": true}`)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	end, endPer := bytes()
	b.ReportMetric(float64(end-start)/float64(b.N), "disk_bytes/request")
	for name := range endPer {
		b.ReportMetric(float64(endPer[name]-startPer[name])/float64(b.N), name+"_bytes/request")
	}
}

// BenchmarkDiskPerFinishedRun measures what a finished run leaves besides its requests: its
// checkpoint (here without a journal: a real one grows with its steps and answers), its
// run.started and run.finished events, and the run.resume of one question.
func BenchmarkDiskPerFinishedRun(b *testing.B) {
	env := natstest.Single(b)
	_, js := env.Connect(b)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	bytes := func() (total uint64) {
		for _, name := range []string{streams.Stream, "KV_" + streams.BucketRuns} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			total += s.CachedInfo().State.Bytes
		}
		return total
	}
	start := bytes()
	b.ResetTimer()
	for range b.N {
		run, err := st.StartRun(ctx, "refund", json.RawMessage(`{"order_id": "C-1042", "total": 120}`))
		if err != nil {
			b.Fatal(err)
		}
		run, rev, err := st.Run(ctx, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.ResumeRun(ctx, "refund", run.ID, uuid.NewString(), nil); err != nil {
			b.Fatal(err)
		}
		run.Status, run.Result = events.RunCompleted, json.RawMessage(`"refunded"`)
		if _, err := st.UpdateRun(ctx, run, rev); err != nil {
			b.Fatal(err)
		}
		if err := st.PublishRunFinished(ctx, run); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(bytes()-start)/float64(b.N), "disk_bytes/run")
}

// BenchmarkDiskPerPurgedRequest measures what a finished request leaves once its retention
// (1 s here) has passed: the marker on its record's subject, kept streams.TombstoneTTL so a
// late answer is 410 and not 404. Everything else is gone.
func BenchmarkDiskPerPurgedRequest(b *testing.B) {
	env := natstest.Single(b)
	_, js := env.Connect(b)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		b.Fatal(err)
	}
	st.SetRetention(time.Second)
	ctx := context.Background()
	a := &store.Answerer{Store: st}
	var last string
	for range b.N {
		// Without a deadline: a question is kept for its deadline plus the retention.
		r := &events.Request{ID: uuid.NewString(), Title: "Refund order C-1042 for 120 EUR?", Input: input.Spec{Type: input.Approval}}
		if err := st.CreateRequest(ctx, r); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator},
			Data: json.RawMessage(`{"approved": true}`)}); err != nil {
			b.Fatal(err)
		}
		last = r.ID
	}
	deadline := time.Now().Add(60 * time.Second)
	left := func() (total uint64) {
		for _, name := range []string{streams.Stream, "KV_" + streams.BucketRequests, streams.TimerStream} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			if name == streams.Stream && s.CachedInfo().State.Msgs > 0 {
				return 0 // the events are not all gone yet
			}
			total += s.CachedInfo().State.Bytes
		}
		return total
	}
	for {
		_, _, err := st.Request(ctx, last)
		if n := left(); errors.Is(err, store.ErrPurged) && n > 0 {
			b.ReportMetric(float64(n)/float64(b.N), "disk_bytes/purged_request")
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the requests were not removed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An export longer than a batch of direct gets reads on from where each batch ended, and
// keeps the order of the stream across its two subjects.
func TestExportPagesThroughBatches(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	ctx := context.Background()
	a := &store.Answerer{Store: st}
	since := time.Now().Add(-time.Second)
	var want []string
	for i := range 600 {
		r := newRequest(t, st, events.Request{})
		if _, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator},
			Data: json.RawMessage(`{"approved": true}`)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, r.ID)
		if i%100 == 0 {
			want = append(want, finishRun(t, st, "paged").ID)
		}
	}
	var got []string
	if err := st.Export(ctx, since, time.Now().Add(time.Second), func(f store.Finished) error {
		if f.Kind == "run" {
			got = append(got, f.Run.ID)
		} else {
			got = append(got, f.Request.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("exported %d, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: %s, want %s", i, got[i], want[i])
		}
	}
}
