// Package store reads and writes hitl's durable state in JetStream: request records, run
// checkpoints, timers, and the events that go with them. Every write here is idempotent,
// so a handler that crashes half-way can run again from the top.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
	"github.com/hitl-dev/hitl/streams"
)

var (
	// ErrNotFound: no request or run has that id.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyResolved: the request was answered, timed out or cancelled before this response.
	ErrAlreadyResolved = errors.New("request already resolved")
	// ErrConflict: a checkpoint changed since it was read; read it again and retry.
	ErrConflict = errors.New("checkpoint changed concurrently")
	// ErrTooLarge: a request or an answer is over its size limit.
	ErrTooLarge = errors.New("too large")
)

// Size limits, so that a request record with its answer always fits one JetStream message
// (1 MiB by default): a bigger answer would pass the gate and then jam the record.
const (
	MaxRequestSize = 512 << 10 // a request record, as JSON
	MaxAnswerSize  = 256 << 10 // an answer's data, as JSON
)

// Store is safe for concurrent use.
type Store struct {
	js jetstream.JetStream
	b  streams.Buckets
	// pending is streams.PendingStream, bound on first use.
	pending atomic.Pointer[jetstream.Stream]
	// retention of finished work that does not say (SetRetention); 0: the default.
	retention time.Duration
}

// Open binds the buckets; streams.Ensure must have run.
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	b, err := streams.OpenBuckets(ctx, js)
	if err != nil {
		return nil, err
	}
	return New(js, b), nil
}

// New is a store over buckets already open (streams.OpenBuckets). Tests wrap the real
// buckets to inject faults.
func New(js jetstream.JetStream, b streams.Buckets) *Store {
	return &Store{js: js, b: b}
}

// JetStream returns the context the store writes through.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Buckets returns the KV handles.
func (s *Store) Buckets() streams.Buckets { return s.b }

// Run is a run's checkpoint, as the hitl_runs bucket stores it. The shape is owned by
// package journal, which the orchestrator and hitltest share.
type Run = journal.Run

func (s *Store) publish(ctx context.Context, subject, typ, id string, data any, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return s.publishWith(ctx, nil, subject, typ, id, data, opts...)
}

// publishWith is publish with headers of its own on the message.
func (s *Store) publishWith(ctx context.Context, hdr nats.Header, subject, typ, id string, data any, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	msg, err := events.NewMsg(subject, typ, id, data)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		msg.Header[k] = v
	}
	opts = append(opts, jetstream.WithMsgID(id))
	for attempt := 1; ; attempt++ {
		ack, err := s.js.PublishMsg(ctx, msg, opts...)
		if err == nil {
			return ack, nil
		}
		// Another process is publishing the same fact (a winner and the orchestrators'
		// backstop finishing one request): on a replicated stream the server refuses the
		// second while the first is being replicated. Once it is stored, ours is a duplicate.
		if !isDuplicateInProcess(err) || attempt == 20 {
			return nil, fmt.Errorf("publish %s: %w", typ, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("publish %s: %w", typ, err)
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// jsErrDuplicateInProcess is JetStream's "duplicate message id is in process" (10158).
const jsErrDuplicateInProcess = 10158

func isDuplicateInProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrDuplicateInProcess
}

// ---- requests ----

// CreateRequest stores a new pending request, arms its timer and publishes request_info.
// Calling it again for the same id changes nothing and publishes no duplicate, so a crashed
// caller may simply retry. It fills Status, CreatedAt and Deadline.
func (s *Store) CreateRequest(ctx context.Context, r *events.Request) error {
	if r.ID == "" {
		return errors.New("create request: id is required")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	now := time.Now().UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.Status, r.Response, r.ResolvedAt = events.StatusPending, nil, nil
	if r.Retention == 0 {
		r.Retention = events.Duration(s.Retention()) // the record says what it will be kept for
	}
	ttl := timerTTL(time.Duration(r.Timeout))
	if ttl > 0 {
		d := r.CreatedAt.Add(ttl)
		r.Deadline = &d
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	if len(body) > MaxRequestSize {
		return fmt.Errorf("request is %d bytes, over the %d limit: %w", len(body), MaxRequestSize, ErrTooLarge)
	}
	// The index entry comes first: whatever resolves the request reads the record, so it
	// purges the entry after it was written.
	if err := s.publishPending(ctx, r); err != nil {
		return err
	}
	if _, err := s.b.Requests.Create(ctx, r.ID, body); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("store request %s: %w", r.ID, err)
		}
		existing, _, gerr := s.Request(ctx, r.ID)
		if gerr != nil {
			return gerr
		}
		*r = *existing
		if r.Resolved() {
			// Resolved while we were away: nothing to arm or announce, and the entry we
			// just wrote again (past the duplicate window) must go.
			return s.purgePending(ctx, r)
		}
		if body, err = json.Marshal(r); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	if ttl > 0 {
		if _, err := s.b.Timers.Create(ctx, r.ID, []byte(r.Deadline.Format(time.RFC3339)), jetstream.KeyTTL(ttl)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("arm timer %s: %w", r.ID, err)
		}
	}
	// The question outlives the latest resolution by the retention: a request resolves by
	// its deadline, if it has one (one without stays pending past the retention only without
	// its request_info event). The event's data is the record's JSON, encoded once.
	_, err = s.publish(ctx, streams.SubjectRequestInfo+r.ID, events.TypeRequestInfo, "request_info/"+r.ID, json.RawMessage(body),
		jetstream.WithMsgTTL(ttl+s.RetentionOf(r)))
	return err
}

// timerTTL rounds a timeout up to whole seconds, the resolution of JetStream per-key TTLs.
func timerTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return ((d + time.Second - 1) / time.Second) * time.Second
}

// Request reads a request record and its KV revision.
func (s *Store) Request(ctx context.Context, id string) (*events.Request, uint64, error) {
	if !ValidID(id) {
		return nil, 0, fmt.Errorf("request %q: %w", id, ErrNotFound)
	}
	return decode[events.Request]("request", id)(s.get(ctx, s.b.Requests, id))
}

// Respond passes resp through the first-wins gate and finishes the request: hitl's own
// outcomes (timeouts, cancels) take it; people's answers take the Answerer, which checks them
// first. Human answers, timeouts and cancels all race at the gate and exactly one wins; the
// others get ErrAlreadyResolved.
//
// The request is read first: a resolved one is ErrAlreadyResolved and a purged one ErrPurged
// without touching the gate, whose subject a purged request has emptied.
func (s *Store) Respond(ctx context.Context, resp events.Response) (*events.Request, error) {
	if resp.At.IsZero() {
		resp.At = time.Now().UTC()
	}
	r, rev, err := s.Request(ctx, resp.RequestID)
	if err != nil {
		return nil, err
	}
	if r.Resolved() {
		return nil, fmt.Errorf("request %s: %w", r.ID, ErrAlreadyResolved)
	}
	if err := s.GateAs(ctx, resp, uuid.NewString(), s.RetentionOf(r)); err != nil {
		return nil, err
	}
	return s.Finish(ctx, resp, r, rev)
}

// Gate publishes resp to the request's response subject, accepted only while the subject
// is empty: exactly one response per request passes. A response that lost gets
// ErrAlreadyResolved; another error means nothing was decided (JetStream did not answer).
// The response is kept for the store's Retention; the answer paths keep it for the
// request's own (GateAs).
func (s *Store) Gate(ctx context.Context, resp events.Response) error {
	return s.GateAs(ctx, resp, uuid.NewString(), s.retentionOf(0))
}

// GateAs is Gate with the gate message's event id chosen by the caller, who must make it
// unique to this call: it is how Gate tells its own publish from another's after a lost ack,
// and how a consumer of the gate can tell who passed it. The response is kept for ttl: the
// retention of the request it resolves (RetentionOf), which goes at about the same time.
// The gate of a purged request is open again, so every path that may reach it reads the
// request first (ErrPurged).
func (s *Store) GateAs(ctx context.Context, resp events.Response, id string, ttl time.Duration) error {
	_, err := s.publishWith(ctx, senderFinishes, streams.SubjectResponse+resp.RequestID, events.TypeResponse, id, resp,
		jetstream.WithExpectLastSequencePerSubject(0), jetstream.WithMsgTTL(ttl))
	if err == nil {
		return nil
	}
	// Our publish may have won even though we saw an error (a lost ack): the gate's message
	// says who won. This read finishes even if the caller's context ended (a client hanging
	// up, Slack's 3-second budget), so nobody is told "nothing was decided" about an answer
	// that was.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	winner, werr := s.gateResponse(ctx, resp.RequestID)
	switch {
	case werr == nil && winner.eventID == id:
		return nil
	case isWrongLastSequence(err) || werr == nil:
		return fmt.Errorf("request %s: %w", resp.RequestID, ErrAlreadyResolved)
	}
	return err
}

// Finish completes a request after resp won its gate: it records the outcome on the request
// record (known, read at rev, saves a read), disarms the timer and publishes the resolved
// event. Every step is idempotent, and it runs to the end even if ctx ends first. The
// winner's path calls it; the orchestrators call it again from the gate's message, so that
// a failure here delays the follow-ups but loses none.
func (s *Store) Finish(ctx context.Context, resp events.Response, known *events.Request, rev uint64) (*events.Request, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r, wrote, body, err := s.markResolved(ctx, resp, known, rev)
	if err != nil {
		return nil, err
	}
	return r, s.finishRequest(ctx, r, !wrote, body)
}

type gateWinner struct {
	events.Response
	eventID string
}

// gateResponse reads the response that won a request's gate.
func (s *Store) gateResponse(ctx context.Context, requestID string) (*gateWinner, error) {
	data, err := s.lastEvent(ctx, streams.SubjectResponse+requestID)
	if err != nil {
		return nil, err
	}
	e, resp, err := events.DecodeAs[events.Response](data, events.TypeResponse)
	if err != nil {
		return nil, err
	}
	return &gateWinner{Response: resp, eventID: e.ID()}, nil
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// markResolved starts from known (read at rev) when given, saving a read. When it wrote the
// record, it returns the record's JSON too.
func (s *Store) markResolved(ctx context.Context, resp events.Response, known *events.Request, rev uint64) (*events.Request, bool, []byte, error) {
	for attempt := 0; ; attempt++ {
		var r *events.Request
		if attempt == 0 && known != nil {
			c := *known
			r = &c
		} else {
			var err error
			if r, rev, err = s.Request(ctx, resp.RequestID); err != nil {
				return nil, false, nil, err
			}
		}
		if r.Resolved() {
			return r, false, nil, nil
		}
		r.Status = resp.Outcome
		r.Response = &resp
		at := resp.At
		r.ResolvedAt = &at
		body, err := json.Marshal(r)
		if err != nil {
			return nil, false, nil, err
		}
		// Resolved, the record is kept for its retention, and then removed by JetStream.
		if _, err := s.updateTTL(ctx, s.b.Requests, r.ID, body, rev, s.RetentionOf(r)); err != nil {
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
				// Someone else wrote it, or our read came from a lagging replica: read again,
				// a little later each time.
				select {
				case <-ctx.Done():
					return nil, false, nil, ctx.Err()
				case <-time.After(min(time.Duration(attempt)*5*time.Millisecond, 100*time.Millisecond)):
				}
				continue
			}
			return nil, false, nil, fmt.Errorf("resolve request %s: %w", r.ID, err)
		}
		return r, true, body, nil
	}
}

// FinishRequest runs after a request resolved: it disarms the timer (unless the request
// timed out), removes the request from the pending index and publishes the resolved event.
// All are idempotent. The resolved event is published last, after every other step, so
// that its presence (Finished) proves the finish complete.
func (s *Store) FinishRequest(ctx context.Context, r *events.Request) error {
	return s.finishRequest(ctx, r, true, nil)
}

// finishRequest is FinishRequest; readTimer reads the timer before deleting it, which keeps
// a repeated finish (the orchestrators' backstop after the winner) from writing a second
// delete marker. The finish that resolved the record itself is the first and skips it, and
// passes the record's JSON as body, which the resolved event carries without encoding it
// again.
func (s *Store) finishRequest(ctx context.Context, r *events.Request, readTimer bool, body []byte) error {
	// A request that timed out needs no disarming: its timer has expired (the expiry marker
	// is what timed it out) or, for the reconciler's timeouts, is past its TTL and about to;
	// a marker that comes later finds the request resolved. Reading or deleting it would be
	// two round trips per expiry spent on nothing.
	if r.Deadline != nil && r.Status != events.StatusTimedOut {
		var err error
		if readTimer {
			_, err = s.b.Timers.Get(ctx, r.ID)
		}
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("read timer %s: %w", r.ID, err)
		default:
			if err := s.disarmTimer(ctx, r.ID); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("disarm timer %s: %w", r.ID, err)
			}
		}
	}
	if err := s.purgePending(ctx, r); err != nil {
		return err
	}
	var data any = r
	if body != nil {
		data = json.RawMessage(body)
	}
	_, err := s.publish(ctx, streams.SubjectResolved+r.ID, events.TypeResolved, "resolved/"+r.ID, data,
		jetstream.WithMsgTTL(s.RetentionOf(r)))
	return err
}

// CheckAnswer validates a person's answer against the request and fills its input hash
// and, for an approval whose proposed action was edited, the diff from proposed to edited.
// A failed validation is a *input.ValidationError and leaves resp unchanged.
func CheckAnswer(r *events.Request, resp *events.Response) error {
	if len(resp.Data) > MaxAnswerSize {
		return fmt.Errorf("the answer is %d bytes, over the %d limit: %w", len(resp.Data), MaxAnswerSize, ErrTooLarge)
	}
	if err := r.Input.Validate(resp.Data); err != nil {
		return err
	}
	h, err := input.Hash(resp.Data)
	if err != nil {
		return err
	}
	diff, err := r.Input.EditDiff(resp.Data)
	if err != nil {
		return err
	}
	resp.InputHash, resp.Diff = h, diff
	return nil
}

// ---- runs ----

// StartRun asks for a new run of workflow and records it as queued. The run.started event,
// on the workflow's own subject, is the command the orchestrators hosting the workflow act
// on; it waits in the stream until one does. The record exists at once so that it can be
// read; the orchestrator that picks the run up moves it on from queued.
func (s *Store) StartRun(ctx context.Context, workflow string, in json.RawMessage, opts ...RunOption) (*Run, error) {
	return s.startRun(ctx, uuid.NewString(), workflow, in, opts)
}

// StartRunID is StartRun with the run's id chosen by the caller (derived from an
// Idempotency-Key): when a run with that id exists it is returned as it stands and nothing
// is published; otherwise the run is started as by StartRun. Calls for one id that overlap
// start one run: their run.started commands share an event id, which the stream's
// duplicate window (2 minutes) drops.
//
// A run that finished and was removed after its retention is ErrPurged: it is not started again.
func (s *Store) StartRunID(ctx context.Context, id, workflow string, in json.RawMessage, opts ...RunOption) (*Run, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("start run: id %q is not a UUID", id)
	}
	run, _, err := s.Run(ctx, id)
	if err == nil {
		return run, nil
	}
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrPurged) {
		return nil, err
	}
	return s.startRun(ctx, id, workflow, in, opts)
}

func (s *Store) startRun(ctx context.Context, id, workflow string, in json.RawMessage, opts []RunOption) (*Run, error) {
	if err := events.ValidWorkflowName(workflow); err != nil {
		return nil, fmt.Errorf("start run: %w", err)
	}
	run := &Run{ID: id, Workflow: workflow, Input: in, Status: events.RunQueued}
	for _, o := range opts {
		o(run)
	}
	if err := events.ValidRetention(time.Duration(run.Retention)); err != nil {
		return nil, fmt.Errorf("start run: %w", err)
	}
	if run.Retention == 0 {
		run.Retention = events.Duration(s.Retention())
	}
	run.CreatedAt = time.Now().UTC()
	run.UpdatedAt = run.CreatedAt
	// The command goes with the run's retention: a run still queued after it (no instance
	// hosts its workflow) loses its command, and stays queued until cancelled.
	if _, err := s.publish(ctx, streams.RunSubject(streams.SubjectRunStarted, workflow, run.ID), events.TypeRunStarted,
		"run.started/"+run.ID, events.RunStarted{RunID: run.ID, Workflow: workflow, Input: in, Retention: run.Retention},
		jetstream.WithMsgTTL(s.retentionOf(run.Retention))); err != nil {
		return nil, err
	}
	// The event is the command: once it is stored the run will start. The record is written
	// now so that it can be read at once; if this write fails the orchestrator creates it
	// from the event, so the caller must not retry (that would start a second run).
	_, _ = s.CreateRun(context.WithoutCancel(ctx), run)
	return run, nil
}

// ForwardRunStarted publishes a run.started command again, on its workflow's subject: for
// commands published before run commands carried their workflow. Its event id differs from
// the original's ("run.started/<run>"), which the duplicate window would otherwise drop.
func (s *Store) ForwardRunStarted(ctx context.Context, start events.RunStarted) error {
	_, err := s.publish(ctx, streams.RunSubject(streams.SubjectRunStarted, start.Workflow, start.RunID), events.TypeRunStarted,
		"run.started.forwarded/"+start.RunID, start, jetstream.WithMsgTTL(s.retentionOf(start.Retention)))
	return err
}

// CancelRun cancels a run and its pending requests. A run still queued (no orchestrator
// hosting its workflow has picked it up, maybe none runs) is cancelled here at once, with a
// compare-and-set on its record, and done reports true; any other is cancelled shortly after
// by an orchestrator hosting its workflow, through a cancel command.
func (s *Store) CancelRun(ctx context.Context, runID, reason string) (done bool, err error) {
	run, rev, err := s.Run(ctx, runID)
	if err != nil {
		return false, err
	}
	if run.Status == events.RunQueued {
		run.Cancel(reason)
		_, err := s.UpdateRun(ctx, run, rev)
		if err == nil {
			return true, s.PublishRunFinished(ctx, run)
		}
		if !errors.Is(err, ErrConflict) {
			return false, err
		}
		// Picked up meanwhile: the orchestrator cancels it.
	}
	_, err = s.publish(ctx, streams.RunSubject(streams.SubjectRunCancel, run.Workflow, runID), events.TypeRunCancel,
		uuid.NewString(), events.RunCancel{RunID: runID, Reason: reason}, jetstream.WithMsgTTL(s.retentionOf(run.Retention)))
	return false, err
}

// ResumeRun tells the orchestrators hosting workflow that request, which the run waits on,
// has resolved with resolution (checked against the request; nil leaves the resume to read
// it from the record). The event id derives from the request, so that a repeat within the
// duplicate window is dropped; a later one is harmless (the resume finds it applied).
func (s *Store) ResumeRun(ctx context.Context, workflow, runID, requestID string, resolution *events.Response) error {
	// A command, read within moments: kept for the store's retention.
	_, err := s.publish(ctx, streams.RunSubject(streams.SubjectRunResume, workflow, runID), events.TypeRunResume,
		"run.resume/"+requestID, events.RunResume{RunID: runID, RequestID: requestID, Response: resolution},
		jetstream.WithMsgTTL(s.retentionOf(0)))
	return err
}

// CreateRun stores a new checkpoint; ErrConflict if one exists.
func (s *Store) CreateRun(ctx context.Context, run *Run) (uint64, error) {
	body, err := json.Marshal(run)
	if err != nil {
		return 0, err
	}
	rev, err := s.b.Runs.Create(ctx, run.ID, body)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("run %s: %w", run.ID, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store run %s: %w", run.ID, err)
	}
	return rev, nil
}

// Run reads a checkpoint and its revision.
func (s *Store) Run(ctx context.Context, id string) (*Run, uint64, error) {
	if !ValidID(id) {
		return nil, 0, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	return decode[Run]("run", id)(s.get(ctx, s.b.Runs, id))
}

// UpdateRun writes a checkpoint read at rev; ErrConflict if it changed since. A finished
// run's checkpoint is kept for the run's retention, then removed by JetStream.
func (s *Store) UpdateRun(ctx context.Context, run *Run, rev uint64) (uint64, error) {
	run.UpdatedAt = time.Now().UTC()
	body, err := json.Marshal(run)
	if err != nil {
		return 0, err
	}
	var nrev uint64
	if run.Status.Final() {
		nrev, err = s.updateTTL(ctx, s.b.Runs, run.ID, body, rev, s.retentionOf(run.Retention))
	} else {
		nrev, err = s.b.Runs.Update(ctx, run.ID, body, rev)
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
		return 0, fmt.Errorf("run %s: %w", run.ID, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store run %s: %w", run.ID, err)
	}
	return nrev, nil
}

// PublishRunFinished announces a run's final state, once.
func (s *Store) PublishRunFinished(ctx context.Context, run *Run) error {
	typ := map[events.RunStatus]string{
		events.RunCompleted: events.TypeRunCompleted,
		events.RunFailed:    events.TypeRunFailed,
		events.RunCancelled: events.TypeRunCancelled,
	}[run.Status]
	if typ == "" {
		return fmt.Errorf("run %s is %s, not finished", run.ID, run.Status)
	}
	_, err := s.publish(ctx, streams.SubjectRunFinished+run.ID, typ, "run.finished/"+run.ID,
		events.RunFinished{RunID: run.ID, Workflow: run.Workflow, Status: run.Status, Result: run.Result, Error: run.Error},
		jetstream.WithMsgTTL(s.retentionOf(run.Retention)))
	return err
}

// ValidID reports whether id can be a request or run id: a UUID, which is always one
// subject token and one KV key.
func ValidID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
