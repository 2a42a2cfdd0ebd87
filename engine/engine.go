// Package engine is the orchestrator: it starts runs, applies responses and timeouts, and
// resumes runs by replaying their journal from the checkpoint in JetStream KV. It holds no
// state between messages. Any instance applies any response (one durable consumer shared by
// all); a run's commands (start, cancel, resume) carry its workflow in their subject and reach
// only the instances that host that workflow (one durable consumer per workflow, shared by
// its hosts), so instances may host different workflows.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/consume"
	"github.com/hitl-dev/hitl/journal"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

// Config of an orchestrator.
type Config struct {
	Store    *store.Store     // required
	Registry *hitl.Registry   // required: the workflows this instance can run
	Logger   *slog.Logger     // default: discard
	Metrics  *metrics.Metrics // default: none
	// Workers is how many messages one instance handles at once, per consumer. Default 128.
	Workers int
	// CheckAssignees, if set, checks the assignees of every request a workflow asks, as the
	// REST API checks those of the requests it creates (routing.Routes.CheckAll): a run whose
	// Ask names an assignee that cannot be reached fails, with an error naming it, rather
	// than wait on a question nobody is sent. Default nil: any assignee of the form
	// kind:target is accepted.
	CheckAssignees func(assignees []string) error
}

// Orchestrator runs workflows. Create it with New and start it with Run.
type Orchestrator struct {
	cfg Config
	log *slog.Logger
}

// New checks the config and returns an orchestrator.
func New(cfg Config) (*Orchestrator, error) {
	if cfg.Store == nil || cfg.Registry == nil {
		return nil, errors.New("engine: Store and Registry are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Orchestrator{cfg: cfg, log: cfg.Logger}, nil
}

// Run consumes responses, timer expiries and the run commands of every workflow in the
// registry until ctx ends, then drains and returns. At start it creates or updates each
// registered workflow's durable consumer (streams.WorkflowConsumer), shared with every other
// instance hosting that workflow, with the replicas and ack wait of the orchestrator
// consumer as streams.Ensure made it. Workflows registered after Run started are consumed
// from the next start.
func (o *Orchestrator) Run(ctx context.Context) error {
	js := o.cfg.Store.JetStream()
	// Stopped while starting is a clean stop: nothing was consumed yet.
	startErr := func(err error, what string) error {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	main, err := js.Consumer(ctx, streams.Stream, streams.ConsumerOrchestrator)
	if err != nil {
		return startErr(err, "orchestrator consumer")
	}
	timers, err := js.Consumer(ctx, streams.TimerStream, streams.ConsumerTimers)
	if err != nil {
		return startErr(err, "timer consumer")
	}
	type source struct {
		cons jetstream.Consumer
		h    consume.Handler
		name string
	}
	sources := []source{{main, o.handle, "orchestrator"}, {timers, o.handleTimer, "timers"}}
	var shared streams.Config
	if info := main.CachedInfo(); info != nil {
		shared.Replicas, shared.AckWait = info.Config.Replicas, info.Config.AckWait
	}
	for _, wf := range o.cfg.Registry.Names() {
		cc := streams.WorkflowConsumer(shared, wf)
		cons, err := js.CreateOrUpdateConsumer(ctx, streams.Stream, cc)
		if err != nil {
			return startErr(err, "consumer of workflow "+wf)
		}
		sources = append(sources, source{cons, o.handleRun, cc.Durable})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	for i, c := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = consume.Run(ctx, c.cons, c.h, consume.Options{Workers: o.cfg.Workers, Logger: o.log, Name: c.name})
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); o.reconcile(ctx) }()
	o.log.Info("orchestrator running", slog.Any("workflows", o.cfg.Registry.Names()))
	wg.Wait()
	return errors.Join(errs...)
}

// legacyCommand reports whether subj is prefix followed by one token: a run command of the
// old form (prefix + run id). A command of the new form (prefix + workflow + run id) that
// reaches this consumer, as when an older release widened its filter again, is not one.
func legacyCommand(subj, prefix string) bool {
	rest, ok := strings.CutPrefix(subj, prefix)
	return ok && rest != "" && !strings.Contains(rest, ".")
}

// failUnroutable fails a run of the old form whose workflow name no instance can host.
func (o *Orchestrator) failUnroutable(ctx context.Context, start events.RunStarted, cause error) error {
	s := o.cfg.Store
	run, rev, err := s.Run(ctx, start.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return consume.Terminal(fmt.Errorf("run %s cannot be routed: %w", start.RunID, cause))
	}
	if err != nil {
		return err
	}
	if run.Status.Final() {
		return nil
	}
	run.Status, run.Error, run.Waiting = events.RunFailed, fmt.Sprintf("run cannot be routed: %v", cause), nil
	if _, err := s.UpdateRun(ctx, run, rev); err != nil {
		return err
	}
	o.cfg.Metrics.RunFinished(run.Status)
	return s.PublishRunFinished(ctx, run)
}

// handle dispatches a message of the shared orchestrator consumer: a response to apply, or
// a run command published before run commands carried their workflow, to forward.
func (o *Orchestrator) handle(ctx context.Context, msg jetstream.Msg) error {
	subj := msg.Subject()
	switch {
	case strings.HasPrefix(subj, streams.SubjectResponse):
		e, resp, err := events.DecodeAs[events.Response](msg.Data(), events.TypeResponse)
		if err != nil {
			return consume.Terminal(err)
		}
		if expiredBy(e.ID(), resp) {
			// expire passed it through the gate and finishes it, or its caller comes back
			// until it has (see expire): finishing it here too would be a read and a write
			// per expiry spent on nothing.
			return nil
		}
		return o.applyResponse(ctx, resp, msg.Headers().Get(store.HeaderSenderFinishes) == "true")
	case legacyCommand(subj, streams.SubjectRunStarted):
		_, start, err := events.DecodeAs[events.RunStarted](msg.Data(), events.TypeRunStarted)
		if err != nil {
			return consume.Terminal(err)
		}
		if err := events.ValidWorkflowName(start.Workflow); err != nil {
			// No instance could ever host it: say so on the run rather than leave it running.
			return o.failUnroutable(ctx, start, err)
		}
		return o.cfg.Store.ForwardRunStarted(ctx, start)
	case legacyCommand(subj, streams.SubjectRunCancel):
		_, c, err := events.DecodeAs[events.RunCancel](msg.Data(), events.TypeRunCancel)
		if err != nil {
			return consume.Terminal(err)
		}
		_, err = o.cfg.Store.CancelRun(ctx, c.RunID, c.Reason)
		if errors.Is(err, store.ErrNotFound) {
			return consume.Terminal(err)
		}
		return err
	}
	return consume.Terminal(fmt.Errorf("unexpected subject %s", subj))
}

// handleRun dispatches a message of a workflow's consumer by subject.
func (o *Orchestrator) handleRun(ctx context.Context, msg jetstream.Msg) error {
	subj := msg.Subject()
	switch {
	case strings.HasPrefix(subj, streams.SubjectRunStarted):
		_, start, err := events.DecodeAs[events.RunStarted](msg.Data(), events.TypeRunStarted)
		if err != nil {
			return consume.Terminal(err)
		}
		return o.retryConflicts(ctx, func() error { return o.startRun(ctx, start) })
	case strings.HasPrefix(subj, streams.SubjectRunCancel):
		_, c, err := events.DecodeAs[events.RunCancel](msg.Data(), events.TypeRunCancel)
		if err != nil {
			return consume.Terminal(err)
		}
		return o.retryConflicts(ctx, func() error { return o.cancelRun(ctx, c) })
	case strings.HasPrefix(subj, streams.SubjectRunResume):
		_, c, err := events.DecodeAs[events.RunResume](msg.Data(), events.TypeRunResume)
		if err != nil {
			return consume.Terminal(err)
		}
		return o.retryConflicts(ctx, func() error { return o.resume(ctx, c) })
	}
	return consume.Terminal(fmt.Errorf("unexpected subject %s", subj))
}

// retryConflicts re-runs fn from a fresh read while another instance changed the same
// checkpoint between our read and our write.
func (o *Orchestrator) retryConflicts(ctx context.Context, fn func() error) error {
	var err error
	for attempt := range 20 {
		if err = fn(); !errors.Is(err, store.ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func (o *Orchestrator) startRun(ctx context.Context, start events.RunStarted) error {
	s := o.cfg.Store
	run, rev, err := s.Run(ctx, start.RunID)
	if errors.Is(err, store.ErrPurged) {
		return nil // finished and removed after its retention: never again
	}
	if errors.Is(err, store.ErrNotFound) {
		// The starter's own write was lost (or is late): the event is the source of truth.
		run = &store.Run{ID: start.RunID, Workflow: start.Workflow, Input: start.Input, Status: events.RunQueued,
			Retention: start.Retention, CreatedAt: time.Now().UTC()}
		run.UpdatedAt = run.CreatedAt
		rev, err = s.CreateRun(ctx, run)
	}
	if err != nil {
		return err
	}
	if run.Status.Final() {
		return s.PublishRunFinished(ctx, run) // a redelivery; the announcement may have been lost
	}
	switch run.Status {
	case events.RunQueued:
		// Picked up: the next checkpoint write (a step's, or the one after this execution)
		// records it.
		run.Status = events.RunRunning
	case events.RunRunning:
		// A redelivery after a crash, or a run started before runs were queued: replay.
	default:
		return nil // already started; a redelivery
	}
	o.cfg.Metrics.RunStarted()
	return o.advance(ctx, run, rev)
}

// applyResponse applies the winner of a request's gate: when the request belongs to a run, it
// sends the run's workflow a resume command carrying the resolution, checked against the
// request, and it makes sure the request is finished. Any orchestrator may do this, whether
// or not it hosts the workflow.
//
// The winner's own path (the answer path, Respond) finishes the request itself and is
// usually still at it when the gate's message arrives here; its messages say so
// (senderFinishes, from store.HeaderSenderFinishes). So the resume goes at once (it needs
// nothing of the finish), and the finish is checked once the winner has had FinishGrace:
// its last step, the resolved event, proves it complete (store.Finished). Only when it is
// still missing (the winner crashed or failed a write after the gate) does this backstop
// finish the request itself. A response whose sender does not finish it (one that reached
// the gate without passing the answer path) has its record resolved here before the resume,
// after it is checked.
//
// A response to a request removed after its retention is acked and ignored: its gate subject
// was empty again, and it resumes nothing.
func (o *Orchestrator) applyResponse(ctx context.Context, resp events.Response, senderFinishes bool) error {
	s := o.cfg.Store
	if consume.Delivery(ctx) > 1 {
		// The finish check, or a redelivery after a failure: a stored resolved event holds
		// the request as finished. The resume is sent again (dropped as a duplicate within
		// the window), as the delivery that should have sent it may have failed first.
		r, err := s.Finished(ctx, resp.RequestID)
		if err == nil && r.Response != nil {
			resolution := o.vet(r, *r.Response)
			return o.resumeRun(ctx, r, &resolution)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	req, rev, err := s.Request(ctx, resp.RequestID)
	if errors.Is(err, store.ErrPurged) {
		o.log.Warn("response to a request removed after its retention ignored", slog.String("request_id", resp.RequestID),
			slog.String("responder", resp.Responder))
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return lagged(ctx, err)
	}
	if err != nil {
		return err
	}
	if (!req.Resolved() || req.Response == nil) && (!senderFinishes || consume.Delivery(ctx) > 1) {
		// Nobody else will write the record (or the winner has not, past its grace): write it
		// here, checked first.
		req, err = s.Resolve(ctx, o.vet(req, resp), req, rev)
		if errors.Is(err, store.ErrPurged) {
			return nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return lagged(ctx, err)
		}
		if err != nil {
			return err
		}
	}
	resolution := resp // the winner's record may still be to come
	if req.Response != nil {
		resolution = *req.Response
	}
	resolution = o.vet(req, resolution)
	if err := o.resumeRun(ctx, req, &resolution); err != nil {
		return err
	}
	if consume.Delivery(ctx) == 1 {
		return consume.RetryAfter(FinishGrace, fmt.Errorf("request %s: the finish is checked after the winner's grace", req.ID))
	}
	return s.FinishRequest(ctx, req)
}

// FinishGrace is how long the backstop leaves the winner of a gate to finish its request
// before it checks, and finishes the request itself if need be.
var FinishGrace = 500 * time.Millisecond

// resumeRun sends the run of r a resume command with r's resolution, checked. A standalone
// request has nothing to resume.
func (o *Orchestrator) resumeRun(ctx context.Context, r *events.Request, resolution *events.Response) error {
	if r.RunID == "" {
		return nil
	}
	s := o.cfg.Store
	wf := r.Workflow
	if wf == "" { // a record from before requests carried their workflow: the run knows it
		run, _, err := s.Run(ctx, r.RunID)
		if errors.Is(err, store.ErrNotFound) {
			return consume.Terminal(err)
		}
		if err != nil {
			return err
		}
		if run.Status.Final() {
			return nil
		}
		wf = run.Workflow
	}
	if err := events.ValidWorkflowName(wf); err != nil {
		return consume.Terminal(fmt.Errorf("request %s: run %s cannot be resumed: %w", r.ID, r.RunID, err))
	}
	return s.ResumeRun(ctx, wf, r.RunID, r.ID, resolution)
}

// resume feeds a resolved request's answer into its run's journal and replays the run. The
// answer comes with the command (an orchestrator checked it before it sent the command), or,
// in a command from before they carried it, from the request record.
func (o *Orchestrator) resume(ctx context.Context, c events.RunResume) error {
	s := o.cfg.Store
	answer := c.Response
	if answer == nil || answer.RequestID != c.RequestID {
		r, _, err := s.Request(ctx, c.RequestID)
		if errors.Is(err, store.ErrPurged) {
			return nil // resolved and removed: its run finished long ago
		}
		if errors.Is(err, store.ErrNotFound) {
			return lagged(ctx, err)
		}
		if err != nil {
			return err
		}
		if !r.Resolved() || r.Response == nil {
			// The resolution is written before this command is sent: a lagging replica.
			return consume.RetryAfter(checkpointLag(ctx), fmt.Errorf("request %s is not resolved yet", r.ID))
		}
		checked := o.vet(r, *r.Response)
		answer = &checked
	}
	run, rev, err := s.Run(ctx, c.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return consume.Terminal(err)
	}
	if err != nil {
		return err
	}
	if run.Status.Final() {
		return nil
	}
	resume, err := run.RecordAnswer(*answer)
	if err != nil {
		// The run asked but its checkpoint is not written yet (its instance is mid-write or
		// crashed and will be redelivered the trigger). Come back when it is.
		return consume.RetryAfter(checkpointLag(ctx), err)
	}
	if !resume {
		return nil // already applied, and the run moved on
	}
	if err := o.advance(ctx, run, rev); err != nil {
		return err
	}
	o.cfg.Metrics.Resumed(answer.At)
	return nil
}

// RefusedResponder records a response the orchestrator refused to apply.
const RefusedResponder = "hitl:refused"

// vet checks again a response the gate let through, against the request: the answer path
// validates every answer before the gate, but anyone who can publish to the gate's subject
// could skip it. An outcome that is not one of the request's, or data that does not fit its
// input, is never applied: the request ends cancelled by hitl:refused, with the reason as
// the comment, and the run's Ask sees a cancellation. hitl's own outcomes are checked too.
func (o *Orchestrator) vet(r *events.Request, resp events.Response) events.Response {
	var err error
	switch resp.Outcome {
	case events.StatusAnswered:
		check := resp
		err = store.CheckAnswer(r, &check)
	case events.StatusTimedOut:
		if d := bytes.TrimSpace(resp.Data); len(d) > 0 && string(d) != "null" {
			err = r.Input.Validate(resp.Data)
		}
	case events.StatusCancelled:
	default:
		err = fmt.Errorf("outcome %q is not answered, timed_out or cancelled", resp.Outcome)
	}
	if err == nil {
		return resp
	}
	o.log.Warn("response refused: it failed the request's checks", slog.String("request_id", r.ID),
		slog.String("responder", resp.Responder), slog.Any("err", err))
	return events.Response{RequestID: resp.RequestID, RunID: r.RunID, Outcome: events.StatusCancelled,
		Responder: RefusedResponder, Comment: "a response was refused and not applied: " + err.Error(), At: resp.At}
}

// lagged retries a record that is not found a few times (a lagging replica may not have it
// yet), then gives up on the message.
func lagged(ctx context.Context, err error) error {
	if consume.Delivery(ctx) < 5 {
		return consume.RetryAfter(checkpointLag(ctx), err)
	}
	return consume.Terminal(err)
}

// checkpointLag is how long to wait for a run's checkpoint to catch up with a request it
// published: short at first (the asking instance is usually milliseconds away from writing
// it), longer on each redelivery (it may have crashed, and its trigger waits for AckWait).
func checkpointLag(ctx context.Context) time.Duration {
	n := consume.Delivery(ctx)
	return min(time.Duration(1<<min(n, 10))*10*time.Millisecond, 5*time.Second)
}

// advance replays the run against its journal and writes the new checkpoint: requests first
// (idempotent, derived ids), the checkpoint last with compare-and-set. A crash anywhere
// before the checkpoint write leaves the triggering message unacked, and its redelivery
// replays to the same place.
func (o *Orchestrator) advance(ctx context.Context, run *store.Run, rev uint64) error {
	s := o.cfg.Store
	x := &journal.Execution{
		RunID: run.ID, Workflow: run.Workflow, Input: run.Input, Journal: run.Journal,
		SaveStep: func(ctx context.Context, j []journal.Entry) error {
			run.Journal = j
			nrev, err := o.saveStep(ctx, run, rev)
			if err == nil {
				rev = nrev
			}
			return err
		},
	}
	err := o.cfg.Registry.Execute(ctx, x)
	switch {
	case errors.Is(err, store.ErrConflict):
		return err
	case errors.Is(err, hitl.ErrUnknownWorkflow):
		// Only the consumers of the workflows this instance hosts deliver here, so this is a
		// bug; a run never fails for it. Retry: the next delivery may reach another host.
		o.log.Error("workflow not registered on this instance", slog.String("workflow", run.Workflow),
			slog.String("run_id", run.ID))
		return consume.RetryAfter(5*time.Second, err)
	case err != nil:
		if err := x.Settle(err); err != nil { // an unknown workflow or a stale journal fails the run
			return err
		}
	}
	if err := o.checkAssignees(x); err != nil {
		// Nobody would be sent the question: fail the run where people see it.
		x.Asked, x.Outcome, x.Err = nil, journal.Failed, err
	}
	for i := range x.Asked {
		req := &x.Asked[i]
		if req.Retention == 0 {
			req.Retention = run.Retention // a run's requests are kept as long as it is
		}
		if err := s.CreateRequest(ctx, req); err != nil {
			return fmt.Errorf("run %s: create request %s: %w", run.ID, req.ID, err)
		}
		o.cfg.Metrics.RequestCreated(req)
	}
	run.Apply(x)
	if _, err := s.UpdateRun(ctx, run, rev); err != nil {
		if errors.Is(err, store.ErrConflict) && len(x.Asked) > 0 {
			o.dropOrphans(ctx, run.ID, x.Asked)
		}
		return err
	}
	log := o.log.With(slog.String("run_id", run.ID), slog.String("workflow", run.Workflow))
	switch run.Status {
	case events.RunWaiting:
		log.Debug("run waiting", slog.Any("requests", run.Waiting))
	case events.RunFailed:
		log.Warn("run failed", slog.String("error", run.Error))
	default:
		log.Info("run " + string(run.Status))
	}
	if run.Status.Final() {
		o.cfg.Metrics.RunFinished(run.Status)
		return s.PublishRunFinished(ctx, run)
	}
	return nil
}

// checkAssignees checks the assignees of the requests an execution asked, with
// Config.CheckAssignees.
func (o *Orchestrator) checkAssignees(x *journal.Execution) error {
	if o.cfg.CheckAssignees == nil || x.Outcome != journal.Suspended {
		return nil
	}
	for _, r := range x.Asked {
		if err := o.cfg.CheckAssignees(r.Assignees); err != nil {
			return fmt.Errorf("ask %q: %w", r.Title, err)
		}
	}
	return nil
}

// saveStep writes the checkpoint right after a Step's function returned, with the result in
// hand: a write that fails for a while (JetStream electing a leader, a lost connection) is
// retried before the step could ever run again. A write whose ack was lost but that landed
// is recognised on the re-read. Only a checkpoint another instance changed (ErrConflict),
// a context that ended, or failures past the retries give up; the trigger is then
// redelivered and the step runs again (its side effect is at least once: see StepKey).
func (o *Orchestrator) saveStep(ctx context.Context, run *store.Run, rev uint64) (uint64, error) {
	s := o.cfg.Store
	var err error
	for attempt := range stepSaveAttempts {
		var nrev uint64
		if nrev, err = s.UpdateRun(ctx, run, rev); err == nil {
			return nrev, nil
		}
		if errors.Is(err, nats.ErrConnectionClosed) || s.JetStream().Conn().IsClosed() {
			return 0, err // this process is going away: the trigger is redelivered elsewhere
		}
		if errors.Is(err, store.ErrConflict) {
			cur, crev, rerr := s.Run(ctx, run.ID)
			if rerr == nil && len(cur.Journal) == len(run.Journal) && journalEqual(cur.Journal, run.Journal) {
				return crev, nil // ours, landed despite the error we saw
			}
			return 0, err
		}
		o.log.Warn("step result not saved yet; retrying", slog.String("run_id", run.ID), slog.Int("attempt", attempt+1),
			slog.Any("err", err))
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(min(25*time.Millisecond<<attempt, time.Second)):
		}
	}
	return 0, err
}

// stepSaveAttempts bounds saveStep's retries (about 4 s in all).
const stepSaveAttempts = 8

func journalEqual(a, b []journal.Entry) bool {
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Name != b[i].Name || string(a[i].Result) != string(b[i].Result) || a[i].Error != b[i].Error {
			return false
		}
	}
	return true
}

// dropOrphans cancels requests this execution asked when its checkpoint lost to a run that
// has meanwhile finished (cancelled, typically): nothing would ever wait on them. When the
// run is still going, the retry re-derives the same requests, so they are kept.
func (o *Orchestrator) dropOrphans(ctx context.Context, runID string, asked []events.Request) {
	run, _, err := o.cfg.Store.Run(ctx, runID)
	if err != nil || !run.Status.Final() {
		return
	}
	for _, r := range asked {
		if slices.Contains(run.Waiting, r.ID) {
			continue
		}
		_, err := o.cfg.Store.Respond(ctx, events.Response{RequestID: r.ID, RunID: runID, Outcome: events.StatusCancelled,
			Responder: "hitl:run-" + string(run.Status)})
		if err != nil && !errors.Is(err, store.ErrAlreadyResolved) && !errors.Is(err, store.ErrPurged) {
			o.log.Warn("cancel orphaned request", slog.String("request_id", r.ID), slog.Any("err", err))
		}
	}
}

// cancelRun marks the run cancelled and cancels every request it waits on. A redelivery
// repeats the request cancels, which are idempotent.
func (o *Orchestrator) cancelRun(ctx context.Context, c events.RunCancel) error {
	s := o.cfg.Store
	run, rev, err := s.Run(ctx, c.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return consume.Terminal(err)
	}
	if err != nil {
		return err
	}
	if run.Status.Final() && run.Status != events.RunCancelled {
		return nil
	}
	if run.Status != events.RunCancelled {
		run.Cancel(c.Reason)
		if _, err := s.UpdateRun(ctx, run, rev); err != nil {
			return err
		}
		o.cfg.Metrics.RunFinished(run.Status)
	}
	for _, id := range run.Waiting {
		r, err := s.Respond(ctx, events.Response{RequestID: id, RunID: run.ID, Outcome: events.StatusCancelled,
			Responder: "hitl:run-cancel", Comment: c.Reason})
		if err == nil {
			o.cfg.Metrics.RequestResolved(r)
		} else if !errors.Is(err, store.ErrAlreadyResolved) && !errors.Is(err, store.ErrPurged) {
			return err
		}
	}
	o.log.Info("run cancelled", slog.String("run_id", run.ID))
	return s.PublishRunFinished(ctx, run)
}

// handleTimer turns an expired deadline (a MaxAge marker in the timers bucket) into a
// timeout response through the same gate as answers. Other timer messages (the key being
// created, or deleted when the request resolved) are acked and ignored.
func (o *Orchestrator) handleTimer(ctx context.Context, msg jetstream.Msg) error {
	if msg.Headers().Get(jetstream.MarkerReasonHeader) != "MaxAge" {
		return nil
	}
	id := strings.TrimPrefix(msg.Subject(), "$KV."+streams.BucketTimers+".")
	s := o.cfg.Store
	r, rev, err := s.Request(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return o.expire(ctx, r, rev, true)
}

// ReconcileEvery is how often an orchestrator looks for pending requests past their
// deadline whose timer marker was lost (e.g. every orchestrator was down for longer than the
// markers are kept). Timeouts normally fire from the markers, within a second.
var ReconcileEvery = 5 * time.Minute

// ReconcileGrace is how far past its deadline a request must be before the reconciler
// times it out, leaving the marker its normal chance first.
var ReconcileGrace = 30 * time.Second

// ReconcileScan is how many pending-index entries one sweep reads at most. The index is in
// creation order, so a sweep cannot stop at the first request not yet due: it reads up to
// this many from where the last sweep stopped and the next goes on from there, wrapping at
// the end. With the default, 1,000,000 pending requests are covered in 10 sweeps.
var ReconcileScan = 100_000

// ReconcileDelay is how long after start the first sweep waits. A sweep over a large index
// is heavy (at 1,000,000 pending, one right after a restart slowed request creation and
// expiry about threefold for tens of seconds); timeouts fire from their markers meanwhile,
// the sweep being the backstop for markers lost to outages of more than a week.
var ReconcileDelay = time.Minute

// ReconcilePause spaces a sweep's listing calls, so that a sweep over a large index (up to
// ReconcileScan entries, at start as every ReconcileEvery) spreads its reads over seconds
// instead of competing at full speed with the answers, expiries and scrapes of the moment.
var ReconcilePause = 500 * time.Millisecond

// reconcilePage is the page size of the sweep's listing calls (each reads at most
// store.ScanBudget times as many entries).
const reconcilePage = 500

// reconcile times out overdue requests ReconcileDelay after start and then every
// ReconcileEvery. Every instance may do it: the gate lets one timeout through. It reads the pending index only
// (entries carry their deadline), never the finished requests, and at most ReconcileScan
// entries a sweep, keeping its position across sweeps.
func (o *Orchestrator) reconcile(ctx context.Context) {
	t := time.NewTicker(ReconcileEvery)
	defer t.Stop()
	var pos uint64
	select {
	case <-ctx.Done():
		return
	case <-time.After(ReconcileDelay):
	}
	for {
		pos = o.sweep(ctx, pos)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneGrace is how old an entry at the front of the pending index must be before the
// reconciler purges it for a missing or resolved record: a creation in progress writes its
// entry moments before its record.
var PruneGrace = time.Minute

// pruneFront is how many of the oldest pending-index entries each sweep checks.
const pruneFront = 50

// sweep prunes the front of the pending index (store.PruneOldestPending), reads it from pos
// for at most ReconcileScan entries, times out what is overdue, and returns where the next
// sweep goes on (0: from the start).
func (o *Orchestrator) sweep(ctx context.Context, pos uint64) uint64 {
	if n, err := o.cfg.Store.PruneOldestPending(ctx, pruneFront, PruneGrace); err != nil && ctx.Err() == nil {
		o.log.Warn("reconcile: prune the pending index", slog.Any("err", err))
	} else if n > 0 {
		o.log.Info("reconcile: pruned pending-index entries of requests resolved or never stored", slog.Int("entries", n))
	}
	calls := max(1, ReconcileScan/(store.ScanBudget*reconcilePage))
	for i := range calls {
		if i > 0 {
			select {
			case <-ctx.Done():
				return pos
			case <-time.After(ReconcilePause):
			}
		}
		due := time.Now().Add(-ReconcileGrace)
		overdue, next, err := o.cfg.Store.OverdueRequests(ctx, due, pos, reconcilePage)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Warn("reconcile: list overdue requests", slog.Any("err", err))
			}
			return pos
		}
		for _, r := range overdue {
			if err := o.expire(ctx, r, 0, false); err != nil && ctx.Err() == nil {
				o.log.Warn("reconcile: time out", slog.String("request_id", r.ID), slog.Any("err", err))
			}
		}
		if pos = next; pos == 0 {
			return 0 // the end: the next sweep starts over
		}
	}
	return pos
}

// TimeoutResponder is the responder of the timeouts hitl issues when a deadline passes.
const TimeoutResponder = "hitl:timeout"

// ignoreResolved is err, but nil for ErrAlreadyResolved.
func ignoreResolved(err error) error {
	if errors.Is(err, store.ErrAlreadyResolved) {
		return nil
	}
	return err
}

// ownTimeout reports whether resp is a timeout hitl issued.
func ownTimeout(resp events.Response) bool {
	return resp.Outcome == events.StatusTimedOut && resp.Responder == TimeoutResponder
}

// timeoutEventID is the event id of the gate message of a timeout expire issues from a
// marker: unique to the attempt, and saying that expire finishes it. Earlier releases gave
// their timeouts a random id and left their finish, and the run's resume, to the consumer of
// the gate, which still does it for them.
func timeoutEventID(requestID string) string { return "timeout/" + requestID + "/" + uuid.NewString() }

// expiredBy reports whether a gate message with this event id is a timeout expire issued
// from a marker.
func expiredBy(eventID string, resp events.Response) bool {
	return ownTimeout(resp) && strings.HasPrefix(eventID, "timeout/"+resp.RequestID+"/")
}

// expire times a request out through the gate and finishes it: the record, the resolved
// event, the run's resume command. r was read at rev (0: unknown), so the record's update
// starts from it instead of a second read.
//
// A timeout from a timer marker (fromMarker) is finished here only: the orchestrators'
// consumer of the gate leaves it alone (expiredBy), which saves that consumer a read and a
// write per expiry. What is cut short is completed on the marker's redelivery (it is acked
// only once all is done): from the timeout that passed the gate before, or from the record
// when only the follow-ups are missing. The reconciler's timeouts (no marker to come back)
// are finished by the consumer of the gate as well, as answers are.
func (o *Orchestrator) expire(ctx context.Context, r *events.Request, rev uint64, fromMarker bool) error {
	s := o.cfg.Store
	if r.Resolved() {
		if !fromMarker || r.Response == nil || !ownTimeout(*r.Response) || consume.Delivery(ctx) < 2 {
			return nil // resolved otherwise, or by us on a delivery that completed
		}
		// A redelivered marker: the resolved event or the resume may be missing.
		if err := s.FinishRequest(ctx, r); err != nil {
			return err
		}
		return o.resumeRun(ctx, r, r.Response) // checked before it was recorded
	}
	resp := events.Response{RequestID: r.ID, RunID: r.RunID, Outcome: events.StatusTimedOut, Responder: TimeoutResponder,
		At: time.Now().UTC()}
	if r.OnTimeout == events.TimeoutDefault {
		resp.Data = r.Default
	}
	id := uuid.NewString()
	if fromMarker {
		id = timeoutEventID(r.ID)
	}
	won := true
	if err := s.GateAs(ctx, resp, id, s.RetentionOf(r)); err != nil {
		if !errors.Is(err, store.ErrAlreadyResolved) || !fromMarker {
			return ignoreResolved(err)
		}
		// Decided before: by an answer or a cancel, whose own path and the orchestrators'
		// consumer finish it; or by an earlier timeout of ours whose finish was cut short.
		d := s.Decided(ctx, r)
		if !d.Resolved() {
			return fmt.Errorf("request %s: the response that passed its gate cannot be read yet", r.ID)
		}
		if !ownTimeout(*d.Response) {
			return nil
		}
		resp, won = *d.Response, false
	}
	resp = o.vet(r, resp)
	known := r
	if rev == 0 {
		known = nil
	}
	resolved, err := s.Finish(ctx, resp, known, rev)
	if err != nil {
		return err
	}
	if won {
		o.cfg.Metrics.RequestResolved(resolved)
		o.log.Info("request timed out", slog.String("request_id", r.ID), slog.String("run_id", r.RunID))
	}
	return o.resumeRun(ctx, resolved, resolved.Response)
}
