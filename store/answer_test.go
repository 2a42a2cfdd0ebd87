package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

// failingKV is the real requests bucket whose record updates fail while fail is set: the
// follow-up write after the gate.
type failingKV struct {
	jetstream.KeyValue
	fail atomic.Bool
}

func (f *failingKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if f.fail.Load() {
		return 0, errors.New("injected: request record write failed")
	}
	return f.KeyValue.Update(ctx, key, value, rev)
}

// Bucket names no bucket while fail is set: a resolution's record update carries a TTL, so
// it is a publish to the bucket's subject (not Update), which then reaches no stream.
func (f *failingKV) Bucket() string {
	if f.fail.Load() {
		return "hitl_nowhere"
	}
	return f.KeyValue.Bucket()
}

func openStore(t *testing.T, env *natstest.Env) *store.Store {
	t.Helper()
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newRequest(t *testing.T, st *store.Store, r events.Request) *events.Request {
	t.Helper()
	r.ID = uuid.NewString()
	if r.Title == "" {
		r.Title = "Ship it?"
	}
	if r.Input.Type == "" {
		r.Input = input.Spec{Type: input.Approval}
	}
	if err := st.CreateRequest(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestAnswerPath(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	routes, err := routing.New([]string{"email"}, map[string][]string{"finance": {"email:fin@example.com"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Answerer{Store: st, Routes: func() *routing.Routes { return routes }}
	ctx := context.Background()
	yes := json.RawMessage(`{"approved": true}`)

	t.Run("unknown id", func(t *testing.T) {
		_, err := a.Answer(ctx, store.Answer{RequestID: uuid.NewString(), Identities: []string{routing.Operator}, Data: yes})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%v, want ErrNotFound", err)
		}
	})
	t.Run("refused identity changes nothing", func(t *testing.T) {
		r := newRequest(t, st, events.Request{Assignees: []string{"group:finance"}})
		_, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{"email:eve@example.com"}, Data: yes})
		if !errors.Is(err, store.ErrNotAllowed) {
			t.Fatalf("%v, want ErrNotAllowed", err)
		}
		if got, _, _ := st.Request(ctx, r.ID); got.Resolved() {
			t.Fatal("a refused answer resolved the request")
		}
		// The approver may.
		got, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{"email:fin@example.com"}, Data: yes, Via: "email"})
		if err != nil || got.Status != events.StatusAnswered || got.Response.Responder != "email:fin@example.com" {
			t.Fatalf("approver: %+v %v", got, err)
		}
	})
	t.Run("invalid answer changes nothing", func(t *testing.T) {
		r := newRequest(t, st, events.Request{})
		_, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator}, Data: json.RawMessage(`{"approved":"yes"}`)})
		var ve *input.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%v, want a validation error", err)
		}
		if got, _, _ := st.Request(ctx, r.ID); got.Resolved() {
			t.Fatal("an invalid answer resolved the request")
		}
	})
	t.Run("accepted once, the loser learns who won", func(t *testing.T) {
		r := newRequest(t, st, events.Request{Timeout: events.Duration(time.Hour)})
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator},
					Responder: "racer", Data: yes})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range results {
			var re *store.ResolvedError
			switch {
			case err == nil:
				won++
			case errors.As(err, &re):
				if !errors.Is(err, store.ErrAlreadyResolved) || re.Request.Status != events.StatusAnswered {
					t.Errorf("loser: %v", err)
				}
			default:
				t.Errorf("unexpected: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d answers won, want 1", won)
		}
		// The winner's path finished the request: record, timer disarmed.
		got, _, _ := st.Request(ctx, r.ID)
		if got.Status != events.StatusAnswered {
			t.Fatalf("record %s", got.Status)
		}
		if _, err := st.Buckets().Timers.Get(ctx, r.ID); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("timer still armed: %v", err)
		}
	})
}

// The gate is the truth: a winner whose follow-up write fails still gets its answer
// accepted, and an orchestrator completes the request from the gate's message.
func TestAnswerAcceptedWhenFollowUpWriteFails(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	b := st.Buckets()
	faulty := &failingKV{KeyValue: b.Requests}
	b.Requests = faulty
	a := &store.Answerer{Store: store.New(st.JetStream(), b), Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	r := newRequest(t, st, events.Request{Timeout: events.Duration(time.Hour)})

	faulty.fail.Store(true)
	got, err := a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator}, Responder: "alice",
		Data: json.RawMessage(`{"approved": true}`)})
	if err != nil {
		t.Fatalf("the winner got %v, want its answer accepted", err)
	}
	if got.Status != events.StatusAnswered || got.Response.Responder != "alice" {
		t.Fatalf("winner sees %+v", got)
	}
	rec, _, _ := st.Request(ctx, r.ID)
	if rec.Resolved() {
		t.Fatal("the injected failure did not happen")
	}
	// A page shown to the winner meanwhile reads the outcome from the gate.
	if d := st.Decided(ctx, rec); d.Status != events.StatusAnswered || d.Response.Responder != "alice" {
		t.Fatalf("Decided = %s %+v", d.Status, d.Response)
	}
	// A retry of the same answer is told it was already decided, by alice.
	_, err = a.Answer(ctx, store.Answer{RequestID: r.ID, Identities: []string{routing.Operator}, Data: json.RawMessage(`{"approved": false}`)})
	var re *store.ResolvedError
	if !errors.As(err, &re) || re.Request.Response == nil || re.Request.Response.Responder != "alice" {
		t.Fatalf("second answer: %v", err)
	}

	// The backstop: an orchestrator applies the gate's message.
	o, err := engine.New(engine.Config{Store: openStore(t, env), Registry: hitl.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	octx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(octx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, _, err := st.Request(ctx, r.ID)
		if err == nil && rec.Status == events.StatusAnswered && rec.Response.Responder == "alice" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request was not completed by the orchestrator: %+v %v", rec, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The rest of the finish follows once the winner's grace has passed: the resolved event,
	// published last, and before it the timer disarmed.
	for {
		fin, err := st.Finished(ctx, r.ID)
		if err == nil {
			if fin.Status != events.StatusAnswered || fin.Response.Responder != "alice" {
				t.Fatalf("resolved event holds %s %+v", fin.Status, fin.Response)
			}
			break
		}
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("no resolved event after the backstop: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := st.Buckets().Timers.Get(ctx, r.ID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("timer still armed after the backstop: %v", err)
	}
}

// Finished finds no resolved event while a request is pending, and the request as resolved
// once its finish is complete.
func TestFinished(t *testing.T) {
	env := natstest.Single(t)
	st := openStore(t, env)
	ctx := context.Background()
	r := newRequest(t, st, events.Request{Timeout: events.Duration(time.Hour)})
	if _, err := st.Finished(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending: %v, want ErrNotFound", err)
	}
	if _, err := st.Finished(ctx, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bad id: %v, want ErrNotFound", err)
	}
	timers, err := st.JetStream().Stream(ctx, "KV_"+st.Buckets().Timers.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	before := timers.CachedInfo().State.LastSeq
	if _, err := st.Respond(ctx, events.Response{RequestID: r.ID, Outcome: events.StatusCancelled, Responder: "ops"}); err != nil {
		t.Fatal(err)
	}
	fin, err := st.Finished(ctx, r.ID)
	if err != nil || fin.ID != r.ID || fin.Status != events.StatusCancelled || fin.Response == nil || fin.Response.Responder != "ops" {
		t.Fatalf("finished: %+v %v", fin, err)
	}
	// The winner's finish deleted the timer without reading it first, and left one delete marker.
	if _, err := st.Buckets().Timers.Get(ctx, r.ID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("timer still armed: %v", err)
	}
	info, err := timers.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != before+1 {
		t.Fatalf("timer bucket at %d after the finish, was %d (%v): want one delete marker", info.State.LastSeq, before, err)
	}
}
