package engine_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// 2,000 requests whose deadlines fall within one second all time out, each exactly once
// (one timed_out response on its gate, one resolved event), none before its deadline.
// How late they fire is measured by the bench (go run ./bench -timers), not here.
func TestManyDeadlinesInOneSecondFireOnceNoneEarly(t *testing.T) {
	const n = 2000
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	o, err := engine.New(engine.Config{Store: st, Registry: hitl.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	// Every resolved event, from now on.
	stream, err := js.Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	resolvedEvents := map[string]int{}
	var distinct atomic.Int64
	allResolved := make(chan struct{})
	watch, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.SubjectResolved + ">"}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := watch.Consume(func(m jetstream.Msg) {
		id := strings.TrimPrefix(m.Subject(), streams.SubjectResolved)
		mu.Lock()
		resolvedEvents[id]++
		first := resolvedEvents[id] == 1
		mu.Unlock()
		if first && distinct.Add(1) == n {
			close(allResolved)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()

	// Deadlines d_i = d0 + i×(1s/n). Timeouts are whole seconds, so request i is created
	// at d_i - T with T = 8s - k s for its group k of 4, interleaved: four seconds of
	// creation at 500 a second. A creator that falls behind backdates CreatedAt to the
	// plan, which keeps the deadline where planned and arms the timer later, never earlier.
	const groups = 4
	lead := time.Duration(groups+4) * time.Second
	d0 := time.Now().Add(lead + 200*time.Millisecond).Truncate(time.Millisecond)
	type plan struct {
		at      time.Time
		timeout time.Duration
	}
	var plans []plan
	for k := range groups {
		timeout := lead - time.Duration(k)*time.Second
		for i := k; i < n; i += groups {
			d := d0.Add(time.Duration(i) * time.Second / n)
			plans = append(plans, plan{at: d.Add(-timeout), timeout: timeout})
		}
	}
	reqs := make([]*events.Request, len(plans))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plans) {
					return
				}
				p := plans[i]
				time.Sleep(time.Until(p.at))
				r := &events.Request{ID: uuid.NewString(), Title: "Deadline", Input: input.Spec{Type: input.Boolean},
					Timeout: events.Duration(p.timeout), CreatedAt: p.at.UTC()}
				if err := st.CreateRequest(ctx, r); err != nil {
					errs <- err
					return
				}
				reqs[i] = r
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	first, last := *reqs[0].Deadline, *reqs[0].Deadline
	for _, r := range reqs {
		first, last = minTime(first, *r.Deadline), maxTime(last, *r.Deadline)
	}
	if last.Sub(first) >= time.Second {
		t.Fatalf("the deadlines span %s, not within one second", last.Sub(first))
	}

	select {
	case <-allResolved:
	case <-time.After(time.Until(last) + 2*time.Minute):
		t.Fatalf("%d of %d requests resolved two minutes after the last deadline", distinct.Load(), n)
	}

	// Each request: timed out by hitl, not before its deadline; one response on its gate,
	// the timeout, not before the deadline either; one resolved event.
	gates := subjectCounts(t, stream, streams.SubjectResponse+">")
	for _, r := range reqs {
		got, _, err := st.Request(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != events.StatusTimedOut || got.Response == nil || got.Response.Responder != engine.TimeoutResponder {
			t.Fatalf("request %s is %s (%+v), want timed_out by %s", r.ID, got.Status, got.Response, engine.TimeoutResponder)
		}
		if got.ResolvedAt.Before(*r.Deadline) {
			t.Fatalf("request %s timed out at %s, before its deadline %s", r.ID, got.ResolvedAt, r.Deadline)
		}
		if c := gates[streams.SubjectResponse+r.ID]; c != 1 {
			t.Fatalf("request %s has %d responses on its gate, want 1", r.ID, c)
		}
		m, err := stream.GetLastMsgForSubject(ctx, streams.SubjectResponse+r.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, resp, err := events.DecodeAs[events.Response](m.Data, events.TypeResponse)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Outcome != events.StatusTimedOut || resp.At.Before(*r.Deadline) {
			t.Fatalf("request %s: the gate holds %s at %s, want timed_out at or after %s", r.ID, resp.Outcome, resp.At, r.Deadline)
		}
	}
	// Duplicates of a resolved event would be dropped by the stream within its duplicate
	// window; counting the stream's messages checks that none was stored twice.
	resolved := subjectCounts(t, stream, streams.SubjectResolved+">")
	mu.Lock()
	defer mu.Unlock()
	for _, r := range reqs {
		if c, e := resolved[streams.SubjectResolved+r.ID], resolvedEvents[r.ID]; c != 1 || e != 1 {
			t.Fatalf("request %s: %d resolved events stored, %d delivered, want 1", r.ID, c, e)
		}
	}
}

// subjectCounts is the number of messages per subject in the stream, for subjects matching filter.
func subjectCounts(t *testing.T, s jetstream.Stream, filter string) map[string]uint64 {
	t.Helper()
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
