package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/routing"
)

// ErrNotAllowed: whoever is answering is not among those the request may be answered by.
var ErrNotAllowed = errors.New("not allowed to answer this request")

// ResolvedError is ErrAlreadyResolved with the request as it was resolved, so that a surface
// can say who decided and how.
type ResolvedError struct{ Request *events.Request }

func (e *ResolvedError) Error() string {
	return fmt.Sprintf("request %s is already %s", e.Request.ID, e.Request.Status)
}

// Is makes errors.Is(err, ErrAlreadyResolved) match.
func (e *ResolvedError) Is(target error) bool { return target == ErrAlreadyResolved }

// Answer is what someone submitted on a surface: the REST API, the web inbox, an email link,
// Slack, Telegram, the job API.
type Answer struct {
	RequestID string
	// Request and Rev, when the surface has just read the request, save a read (and, with
	// Rev, the record's re-read before its update).
	Request *events.Request
	Rev     uint64
	// Identities are who is answering, in assignee form: "slack:@U123" and the channel the
	// click came from "slack:#ops", "email:a@b.c", "telegram:42", or routing.Operator for
	// an API token holder. At least one is required.
	Identities []string
	// Responder is recorded as who answered. Default: the first identity.
	Responder string
	// Outcome is StatusAnswered (the default) or StatusCancelled.
	Outcome events.Status
	Data    json.RawMessage // validated against the request's input when answered
	Comment string
	// Via names the surface, for the logs: "rest", "web", "email", "slack", ...
	Via string
}

// Answerer is the one answer path every surface calls. Answer loads the request, refuses a
// resolved one and an identity that may not answer it, validates the data, passes the first-
// wins gate, and then finishes the request in the winner's own path: the record, the timer,
// the resolved event. It is safe for concurrent use.
type Answerer struct {
	Store *Store // required
	// Routes decide who may answer. Default (nil, or a func returning nil): anyone the
	// surface authenticated.
	Routes  func() *routing.Routes
	Metrics *metrics.Metrics // default: none
	Logger  *slog.Logger     // default: discard
}

// Answer applies a. Its errors: ErrNotFound (ErrPurged when the request was removed after
// its retention: the gate is not touched, nothing resumes); a *ResolvedError (errors.Is ErrAlreadyResolved)
// when the request was resolved first, by anyone; ErrNotAllowed; a *input.ValidationError or
// ErrTooLarge for a bad answer (nothing changed); anything else is JetStream failing before
// the gate, and the surface may retry. Once the gate took the answer, Answer returns the
// resolved request and no error, even when a follow-up write fails: the gate is the truth,
// and an orchestrator finishes the request from the gate's message (at least once).
func (a *Answerer) Answer(ctx context.Context, in Answer) (*events.Request, error) {
	s := a.Store
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(in.Identities) == 0 {
		return nil, errors.New("answer: an identity is required")
	}
	req, rev := in.Request, in.Rev
	if req == nil {
		var err error
		if req, rev, err = s.Request(ctx, in.RequestID); err != nil {
			return nil, err
		}
	}
	if req.Resolved() {
		return nil, &ResolvedError{Request: req}
	}
	log = log.With(slog.String("request_id", req.ID), slog.String("via", in.Via))
	if routes := a.routes(); routes != nil && !routes.Allows(req, in.Identities...) {
		log.Warn("answer refused: not an approver of this request", slog.Any("identities", in.Identities))
		return nil, fmt.Errorf("request %s: %w", req.ID, ErrNotAllowed)
	}
	resp := events.Response{RequestID: req.ID, RunID: req.RunID, Outcome: cmp.Or(in.Outcome, events.StatusAnswered),
		Data: in.Data, Responder: cmp.Or(in.Responder, in.Identities[0]), Comment: in.Comment}
	switch resp.Outcome {
	case events.StatusAnswered:
		if err := CheckAnswer(req, &resp); err != nil {
			return nil, err
		}
	case events.StatusCancelled:
		resp.Data = nil
	default:
		return nil, fmt.Errorf("answer: outcome %q is not answered or cancelled", resp.Outcome)
	}
	if resp.At.IsZero() {
		resp.At = time.Now().UTC()
	}
	if err := s.GateAs(ctx, resp, uuid.NewString(), s.RetentionOf(req)); err != nil {
		if errors.Is(err, ErrAlreadyResolved) {
			return nil, a.lost(ctx, req)
		}
		return nil, err
	}
	known := req
	if rev == 0 {
		known = nil // read at no revision: Finish reads the record itself
	}
	resolved, err := s.Finish(ctx, resp, known, rev)
	if err != nil {
		// Decided all the same: report the outcome the gate recorded, and leave the rest to
		// the orchestrators' copy of this step.
		log.Warn("answer accepted; finishing the request is left to the orchestrator", slog.Any("err", err))
		resolved = resolvedCopy(req, resp)
	}
	a.Metrics.RequestResolved(resolved)
	log.Info("request "+string(resolved.Status), slog.String("responder", resp.Responder))
	return resolved, nil
}

func (a *Answerer) routes() *routing.Routes {
	if a.Routes == nil {
		return nil
	}
	return a.Routes()
}

// lost builds the error of an answer that lost the gate: the request as resolved by the
// winner, read again (from the gate's message when the record lags behind).
func (a *Answerer) lost(ctx context.Context, req *events.Request) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if r, _, err := a.Store.Request(ctx, req.ID); err == nil && r.Resolved() {
		return &ResolvedError{Request: r}
	}
	if w, err := a.Store.gateResponse(ctx, req.ID); err == nil {
		return &ResolvedError{Request: resolvedCopy(req, w.Response)}
	}
	c := *req
	c.Status = events.StatusAnswered // decided; by whom is unknown for now
	return &ResolvedError{Request: &c}
}

// Decided is r as its gate decided it: r itself when resolved or when nothing passed its
// gate yet, else r with the gate's winner, for a page that must show a winner its answer
// while the record's update is still to come.
func (s *Store) Decided(ctx context.Context, r *events.Request) *events.Request {
	if r.Resolved() {
		return r
	}
	w, err := s.gateResponse(ctx, r.ID)
	if err != nil {
		return r
	}
	return resolvedCopy(r, w.Response)
}

// resolvedCopy is req as resp resolves it, without writing anything.
func resolvedCopy(req *events.Request, resp events.Response) *events.Request {
	c := *req
	c.Status, c.Response = resp.Outcome, &resp
	at := resp.At
	c.ResolvedAt = &at
	return &c
}
