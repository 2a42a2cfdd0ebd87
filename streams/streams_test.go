package streams_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/streams"
)

// An orchestrator consumer made by a release that read run commands on it gets the new
// filter from Ensure, and keeps its position: nothing it acked is delivered again.
func TestEnsureUpdatesTheOrchestratorConsumer(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	old := jetstream.ConsumerConfig{
		Durable:        streams.ConsumerOrchestrator,
		FilterSubjects: []string{streams.SubjectResponse + ">", streams.SubjectRunStarted + ">", streams.SubjectRunCancel + ">"},
		AckPolicy:      jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 10000, Replicas: 1,
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, streams.Stream, old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, streams.SubjectResponse+"r1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// As the services do: a generous deadline, not the client's default 5 s per request,
	// which a loaded machine can miss.
	ectx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := streams.Ensure(ectx, js, env.StreamsConfig()); err != nil {
		t.Fatal(err)
	}
	info, err := js.Consumer(ctx, streams.Stream, streams.ConsumerOrchestrator)
	if err != nil {
		t.Fatal(err)
	}
	got := info.CachedInfo()
	want := []string{streams.SubjectResponse + ">", streams.LegacyRunStarted, streams.LegacyRunCancel}
	if !slices.Equal(got.Config.FilterSubjects, want) {
		t.Errorf("filters after Ensure: %v, want %v", got.Config.FilterSubjects, want)
	}
	if got.AckFloor.Stream != 1 || got.NumPending != 0 {
		t.Errorf("position after Ensure: ack floor %d, pending %d; want 1 and 0", got.AckFloor.Stream, got.NumPending)
	}
}

func TestWorkflowConsumer(t *testing.T) {
	t.Parallel()
	cc := streams.WorkflowConsumer(streams.Config{Replicas: 3, AckWait: time.Minute}, "refund")
	if cc.Durable != "orchestrator-wf-refund" || cc.AckWait != time.Minute || cc.Replicas != 3 ||
		cc.DeliverPolicy != jetstream.DeliverAllPolicy || cc.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("config: %+v", cc)
	}
	want := []string{"hitl.run.started.refund.*", "hitl.run.cancel.refund.*", "hitl.run.resume.refund.*"}
	if !slices.Equal(cc.FilterSubjects, want) {
		t.Errorf("filters %v, want %v", cc.FilterSubjects, want)
	}
	if d := streams.WorkflowConsumer(streams.Config{}, "x"); d.AckWait != 30*time.Second || d.Replicas != 1 {
		t.Errorf("defaults: %+v", d)
	}
	if wf, ok := streams.WorkflowOfConsumer(cc.Durable); !ok || wf != "refund" {
		t.Errorf("WorkflowOfConsumer(%q) = %q, %v", cc.Durable, wf, ok)
	}
	for _, name := range []string{streams.ConsumerOrchestrator, streams.ConsumerNotifier, streams.ConsumerWorkflowPrefix} {
		if _, ok := streams.WorkflowOfConsumer(name); ok {
			t.Errorf("WorkflowOfConsumer(%q) is a workflow", name)
		}
	}
	// New run subjects have one token more than the legacy filters match.
	if got := streams.RunSubject(streams.SubjectRunResume, "refund", "r-1"); got != "hitl.run.resume.refund.r-1" {
		t.Errorf("RunSubject = %q", got)
	}
}

// Ensure leaves an unchanged stream alone and applies a changed one; the comparison covers
// every setting the stream declares.
func TestEnsureUpdatesOnlyChangedStreams(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	cfg := env.StreamsConfig()
	before, err := js.Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	after, _ := js.Stream(ctx, streams.Stream)
	if !after.CachedInfo().Created.Equal(before.CachedInfo().Created) || after.CachedInfo().Config.Description != before.CachedInfo().Config.Description {
		t.Fatal("an unchanged stream was recreated or changed")
	}
	// Someone changed the stream by hand: Ensure puts the declared settings back.
	sc := before.CachedInfo().Config
	sc.Description, sc.Duplicates = "changed", time.Minute
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	fixed, _ := js.Stream(ctx, streams.Stream)
	want := cfg.StreamConfigs()[0]
	if got := fixed.CachedInfo().Config; got.Description != want.Description || got.Duplicates != want.Duplicates {
		t.Fatalf("Ensure left %q / %s, want %q / %s", got.Description, got.Duplicates, want.Description, want.Duplicates)
	}
}

// A HITL stream created before listings read it with direct gets gets AllowDirect from
// Ensure, keeping its messages.
func TestEnsureTurnsOnDirectGets(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	cfg := env.StreamsConfig().StreamConfigs()[0]
	if cfg.Name != streams.Stream || !cfg.AllowDirect {
		t.Fatalf("the first stream is %s with AllowDirect %v", cfg.Name, cfg.AllowDirect)
	}
	old := cfg
	old.AllowDirect = false
	if _, err := js.UpdateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, streams.SubjectRequestInfo+"r1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := streams.Ensure(ectx, js, env.StreamsConfig()); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if info := st.CachedInfo(); !info.Config.AllowDirect || info.State.Msgs != 1 {
		t.Fatalf("after Ensure: AllowDirect %v, %d messages", info.Config.AllowDirect, info.State.Msgs)
	}
}
