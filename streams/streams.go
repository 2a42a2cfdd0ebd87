// Package streams declares, as data, every JetStream stream, durable consumer and
// KV bucket hitl uses, and creates or updates them idempotently with Ensure.
// Every service calls Ensure at start, so any one of them can bootstrap a fresh
// JetStream and none depends on another having started first.
package streams

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Subjects. Every id in a subject is a UUID and every workflow name passes
// events.ValidWorkflowName, so each is always a single token.
const (
	// Stream is the one event stream; all hitl subjects live under "hitl.".
	Stream = "HITL"

	SubjectRequestInfo = "hitl.request_info." // + request id: a question was asked
	SubjectResponse    = "hitl.response."     // + request id: the first-wins gate (answer, timeout or cancel)
	SubjectResolved    = "hitl.resolved."     // + request id: a request reached its final state
	SubjectRunFinished = "hitl.run.finished." // + run id: completed, failed or cancelled

	// Run commands carry the workflow, so that they reach only the orchestrators hosting it
	// (RunSubject builds them; WorkflowConsumer reads them).
	SubjectRunStarted = "hitl.run.started." // + workflow + "." + run id: start a run (the command and the event)
	SubjectRunCancel  = "hitl.run.cancel."  // + workflow + "." + run id: cancel a run
	SubjectRunResume  = "hitl.run.resume."  // + workflow + "." + run id: a request the run waits on resolved
)

// PendingStream holds one message per pending request, on PendingSubject: the index of
// what is waiting. Its message count is the number of pending requests and its first
// message's time the oldest one's creation, so the gauges read both from one stream info;
// listings page through it without reading finished requests. store.CreateRequest publishes
// a request's entry before it creates the record; store.FinishRequest purges it.
//
// The publish keeps one entry per request: it expects the subject empty. A per-subject limit
// of 1 would do it too, but on such a stream the server counts a batch direct get's pending
// messages over every subject, so each page of a listing would cost O(pending)
// (docs/design.md, Listing; BenchmarkDirectBatchPage in package store).
const PendingStream = "HITL_PENDING"

// SubjectPending prefixes PendingSubject; outside "hitl.", which the event stream holds.
const SubjectPending = "hitl_pending."

// NoToken stands for a missing workflow or run in PendingSubject: no workflow name or id can
// be it.
const NoToken = "_"

// PendingSubject is the subject of a pending request's entry in PendingStream. The workflow
// and run are tokens, so a listing filters on them in the server (empty ones are NoToken).
func PendingSubject(workflow, runID, requestID string) string {
	if workflow == "" {
		workflow = NoToken
	}
	if runID == "" {
		runID = NoToken
	}
	return SubjectPending + workflow + "." + runID + "." + requestID
}

// RunSubject is the subject of a run command: prefix is SubjectRunStarted, SubjectRunCancel
// or SubjectRunResume.
func RunSubject(prefix, workflow, runID string) string { return prefix + workflow + "." + runID }

// LegacyRunStarted and LegacyRunCancel match the run commands of releases before the
// workflow was part of their subject (hitl.run.started.<run>): exactly one token after the
// prefix, which no current subject has. The orchestrator consumer still reads them, to
// forward them to their workflow's subject during and after an upgrade.
const (
	LegacyRunStarted = SubjectRunStarted + "*"
	LegacyRunCancel  = SubjectRunCancel + "*"
)

// KV buckets.
const (
	BucketRuns       = "hitl_runs"       // run id → checkpoint (journal, status, result); CAS on revision
	BucketRequests   = "hitl_requests"   // request id → request record (question, status, answer)
	BucketTimers     = "hitl_timers"     // request id → deadline, as a per-key TTL
	BucketDeliveries = "hitl_deliveries" // request.channel.target → delivery record (idempotency, dead letters)
	// BucketIdempotency: hash of (endpoint, caller, Idempotency-Key) → body fingerprint and
	// resource id, kept IdempotencyTTL.
	BucketIdempotency = "hitl_idempotency"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered (the bucket's MaxAge).
const IdempotencyTTL = 24 * time.Hour

// Durable consumers.
const (
	ConsumerOrchestrator = "orchestrator"        // responses, shared by all orchestrators
	ConsumerTimers       = "orchestrator-timers" // expired timer markers, shared by all orchestrators
	ConsumerNotifier     = "notifier"            // questions and resolutions, shared by all notifiers
	// ConsumerWorkflowPrefix + workflow name: one workflow's run commands, shared by the
	// orchestrators that host it (WorkflowConsumer).
	ConsumerWorkflowPrefix = "orchestrator-wf-"
)

// TimerMaxAckPending caps the messages of ConsumerTimers delivered and not yet acked,
// across all orchestrators.
const TimerMaxAckPending = 1024

// TimerStream is the stream behind BucketTimers, read by ConsumerTimers.
const TimerStream = "KV_" + BucketTimers

// Config sets what differs between a laptop and a cluster.
type Config struct {
	// Replicas for every stream and bucket: 1 for a single server (default), 3 for a cluster.
	Replicas int
	// Storage defaults to file storage, so restarts keep every run and request.
	Storage jetstream.StorageType
	// AckWait is how long a handler may hold a message before it is redelivered. Default 30s;
	// long handlers extend it with InProgress.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries for the notifier; after the last a dead letter is recorded. Default 10.
	MaxDeliver int
}

func (c Config) withDefaults() Config {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 10
	}
	return c
}

// StreamConfigs returns the streams, as data.
func (c Config) StreamConfigs() []jetstream.StreamConfig {
	c = c.withDefaults()
	return []jetstream.StreamConfig{{
		Name:        Stream,
		Description: "hitl events: questions, the first-wins response gate, resolutions, run lifecycle",
		Subjects:    []string{"hitl.>"},
		Storage:     c.Storage,
		Replicas:    c.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  2 * time.Minute,
		// Listings read pages of request_info, resolved and run subjects with batch direct
		// gets (store/direct.go); Ensure turns it on for a stream created before.
		AllowDirect: true,
		// The response gate relies on the first response per request staying in the stream,
		// so there is no age limit by default.
	}, {
		Name:              PendingStream,
		Description:       "pending requests, one entry each: the index listings and gauges read",
		Subjects:          []string{SubjectPending + ">"},
		Storage:           c.Storage,
		Replicas:          c.Replicas,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: -1, // no limit, spelled out so that Ensure lifts a 1; see PendingStream
		Duplicates:        2 * time.Minute,
		AllowDirect:       true,
	}}
}

// BucketConfigs returns the KV buckets, as data.
func (c Config) BucketConfigs() []jetstream.KeyValueConfig {
	c = c.withDefaults()
	return []jetstream.KeyValueConfig{
		{Bucket: BucketRuns, Description: "run checkpoints", History: 1, Storage: c.Storage, Replicas: c.Replicas},
		{Bucket: BucketRequests, Description: "request records", History: 1, Storage: c.Storage, Replicas: c.Replicas},
		{
			Bucket: BucketTimers, Description: "request deadlines as per-key TTLs", History: 1,
			Storage: c.Storage, Replicas: c.Replicas,
			// The server writes a MaxAge marker when a key's TTL expires; ConsumerTimers turns it into a timeout.
			// Markers outlive an orchestrator outage of up to a week; engine.Reconcile covers longer.
			LimitMarkerTTL: 7 * 24 * time.Hour,
		},
		{Bucket: BucketDeliveries, Description: "notification deliveries", History: 1, Storage: c.Storage, Replicas: c.Replicas},
		{
			Bucket: BucketIdempotency, Description: "Idempotency-Key records of POST /v1/runs, /v1/requests, /start_job",
			History: 1, Storage: c.Storage, Replicas: c.Replicas, TTL: IdempotencyTTL,
		},
	}
}

// ConsumerConfigs returns the durable consumers, keyed by the stream they read.
func (c Config) ConsumerConfigs() map[string][]jetstream.ConsumerConfig {
	c = c.withDefaults()
	return map[string][]jetstream.ConsumerConfig{
		Stream: {
			{
				Durable:     ConsumerOrchestrator,
				Description: "responses to apply, and pre-upgrade run commands to forward to their workflow",
				// Any orchestrator applies a response to its request; the run, if any, is resumed
				// by a command on its workflow's consumer.
				FilterSubjects: []string{SubjectResponse + ">", LegacyRunStarted, LegacyRunCancel},
				AckPolicy:      jetstream.AckExplicitPolicy,
				AckWait:        c.AckWait,
				MaxAckPending:  10000,
				Replicas:       c.Replicas,
			},
			{
				Durable:        ConsumerNotifier,
				Description:    "questions to deliver and resolutions to show",
				FilterSubjects: []string{SubjectRequestInfo + ">", SubjectResolved + ">"},
				AckPolicy:      jetstream.AckExplicitPolicy,
				AckWait:        c.AckWait,
				MaxDeliver:     c.MaxDeliver,
				MaxAckPending:  10000,
				Replicas:       c.Replicas,
			},
		},
		TimerStream: {{
			Durable:       ConsumerTimers,
			Description:   "expired request deadlines",
			FilterSubject: "$KV." + BucketTimers + ".>",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       c.AckWait,
			// Every expiry marker rolls its subject up, and the server then walks this
			// consumer's unacknowledged messages: a low cap keeps expiry writes cheap (see
			// docs/design.md, Timers). Orchestrators hold at most their workers' worth each.
			MaxAckPending: TimerMaxAckPending,
			Replicas:      c.Replicas,
		}},
	}
}

// WorkflowConsumer is the durable consumer of one workflow's run commands (start, cancel,
// resume). Every orchestrator that hosts the workflow creates or updates it at start and
// consumes it, so a run's commands reach only instances that can run its code, and wait in
// the stream, however long, while none does. It delivers from the start of the stream: a
// workflow's first host also gets the commands published before it came.
func WorkflowConsumer(c Config, workflow string) jetstream.ConsumerConfig {
	c = c.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:     WorkflowConsumerName(workflow),
		Description: "run commands of workflow " + workflow,
		FilterSubjects: []string{RunSubject(SubjectRunStarted, workflow, "*"), RunSubject(SubjectRunCancel, workflow, "*"),
			RunSubject(SubjectRunResume, workflow, "*")},
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxAckPending: 10000,
		Replicas:      c.Replicas,
	}
}

// WorkflowConsumerName is the durable name of a workflow's consumer.
func WorkflowConsumerName(workflow string) string { return ConsumerWorkflowPrefix + workflow }

// WorkflowOfConsumer returns the workflow a consumer of WorkflowConsumer serves, and false for
// any other consumer.
func WorkflowOfConsumer(durable string) (string, bool) {
	wf, ok := strings.CutPrefix(durable, ConsumerWorkflowPrefix)
	return wf, ok && wf != ""
}

// Ensure creates or updates every stream, bucket and consumer. It is idempotent and safe to
// call from many processes at once. What already exists as declared is left alone, so that
// on a server with least-privilege identities (deploy/nats) a service whose identity may
// only read stream and consumer info starts once an orchestrator (or an admin) has created
// them; until then it fails, saying so.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	for _, sc := range cfg.StreamConfigs() {
		if st, err := js.Stream(ctx, sc.Name); err == nil && same(st.CachedInfo().Config, sc) {
			continue // unchanged: an update would only race the consumers other services create
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w%s", sc.Name, err, hintFor(err))
		}
	}
	for _, kc := range cfg.BucketConfigs() {
		if kv, err := js.KeyValue(ctx, kc.Bucket); err == nil {
			if st, err := kv.Status(ctx); err == nil {
				if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && same(bs.Config(), kc) {
					continue
				}
			}
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("ensure bucket %s: %w%s", kc.Bucket, err, hintFor(err))
		}
	}
	for stream, ccs := range cfg.ConsumerConfigs() {
		for _, cc := range ccs {
			if c, err := js.Consumer(ctx, stream, cc.Durable); err == nil && same(c.CachedInfo().Config, cc) {
				continue
			}
			if _, err := js.CreateOrUpdateConsumer(ctx, stream, cc); err != nil {
				return fmt.Errorf("ensure consumer %s on %s: %w%s", cc.Durable, stream, err, hintFor(err))
			}
		}
	}
	return nil
}

// hintFor ends Ensure's errors with the likely cause on a server with least-privilege
// identities, where a refused API call goes unanswered; an error JetStream itself answered
// (temporarily unavailable during an election, a bad config) speaks for itself.
func hintFor(err error) string {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return ""
	}
	return hint
}

const hint = " (missing or different from what this release declares; with the shipped NATS permissions only the " +
	"orchestrator's identity or an admin may create or update it: start an orchestrator first, see docs/nats-security.md)"

// same reports whether have has every setting want declares: each field set in want
// (non-zero) equals have's. Fields want leaves zero take the server's defaults.
func same[T any](have, want T) bool {
	h, w := reflect.ValueOf(have), reflect.ValueOf(want)
	for i := range w.NumField() {
		if f := w.Field(i); !f.IsZero() && !reflect.DeepEqual(f.Interface(), h.Field(i).Interface()) {
			return false
		}
	}
	return true
}

// Buckets are the KV handles every service uses.
type Buckets struct {
	Runs, Requests, Timers, Deliveries, Idempotency jetstream.KeyValue
}

// OpenBuckets binds the KV buckets; Ensure must have run.
func OpenBuckets(ctx context.Context, js jetstream.JetStream) (Buckets, error) {
	var b Buckets
	var errs []error
	open := func(name string) jetstream.KeyValue {
		kv, err := js.KeyValue(ctx, name)
		errs = append(errs, err)
		return kv
	}
	b.Runs, b.Requests, b.Timers, b.Deliveries = open(BucketRuns), open(BucketRequests), open(BucketTimers), open(BucketDeliveries)
	b.Idempotency = open(BucketIdempotency)
	if err := errors.Join(errs...); err != nil {
		return Buckets{}, fmt.Errorf("open buckets: %w", err)
	}
	return b, nil
}

// sameStream is same for stream configs.
func sameStream(have, want jetstream.StreamConfig) bool { return same(have, want) }
