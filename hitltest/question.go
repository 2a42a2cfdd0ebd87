package hitltest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

// Question is a question a run asked: the request as the orchestrator would store and
// publish it, and where the run asked it.
type Question struct {
	// Request is the request record: ID, Title, Message, Context, Input, Assignees, Timeout,
	// OnTimeout, Default, Metadata. Status and Response follow its resolution (see Outcome).
	Request events.Request
	// Position is the Ask's position in the run's journal.
	Position int
	// Batch numbers the Ask or AskAll calls of the run (from 0): questions asked together
	// share it.
	Batch int

	run *Run
}

// Resolution is a scripted outcome other than an answer: Timeout or Cancel.
type Resolution struct {
	outcome events.Outcome
	reason  string
}

// Timeout resolves a question as its deadline would: Ask returns the request's Default under
// the "default" policy, and a *hitl.TimeoutError otherwise. Only a question with a Timeout
// can time out; timing out another fails the test.
func Timeout() Resolution { return Resolution{outcome: events.StatusTimedOut} }

// Cancel resolves a question as POST /v1/requests/{id}/cancel does: Ask returns a
// *hitl.CancelledError.
func Cancel() Resolution { return Resolution{outcome: events.StatusCancelled} }

// CancelBecause is Cancel with a reason, recorded as the response's comment.
func CancelBecause(reason string) Resolution {
	return Resolution{outcome: events.StatusCancelled, reason: reason}
}

// String names the resolution in messages: timed_out, or cancelled with its reason.
func (r Resolution) String() string {
	if r.reason != "" {
		return string(r.outcome) + " (" + r.reason + ")"
	}
	return string(r.outcome)
}

// AnswerOption sets a detail of an answer.
type AnswerOption func(*events.Response)

// By sets who answered (the response's responder); the default is "hitltest".
func By(responder string) AnswerOption { return func(r *events.Response) { r.Responder = responder } }

// WithComment sets the response's comment (not an approval's own comment, which is part of
// the answer).
func WithComment(comment string) AnswerOption {
	return func(r *events.Response) { r.Comment = comment }
}

// At sets when the answer was given; the default is the current time.
func At(t time.Time) AnswerOption { return func(r *events.Response) { r.At = t } }

// Answer resolves the question and resumes the run, as the orchestrator does when the answer
// wins the request's gate. v is the answer's data: any value encoding/json can encode (nil is
// JSON null, which skips a skippable question), or Timeout() or Cancel(). An answer the
// question's input spec refuses fails the test, as the API would refuse it with 400
// validation_failed; so does a question already resolved (409 already_resolved).
func (q *Question) Answer(v any, opts ...AnswerOption) {
	t := q.run.t
	t.Helper()
	resp, err := q.response(v, opts...)
	if err != nil {
		t.Fatalf("%s: %v", q.run, err)
	}
	q.run.resolve(q, resp)
}

// Validate checks v as Answer would, without answering: nil, or why the API would refuse it
// (a *input.ValidationError listing the failing fields, matching input.ErrInvalid).
func (q *Question) Validate(v any) error {
	_, err := q.response(v)
	return err
}

// ErrResolved is returned by Validate for a question that is no longer pending.
var ErrResolved = errors.New("already resolved")

// response builds the response Answer records, checking it as production would.
func (q *Question) response(v any, opts ...AnswerOption) (events.Response, error) {
	resp := events.Response{RequestID: q.Request.ID, RunID: q.run.cp.ID, Responder: "hitltest", At: time.Now().UTC()}
	if q.Request.Status != events.StatusPending || !slices.Contains(q.run.cp.Waiting, q.Request.ID) || q.run.cp.Status != events.RunWaiting {
		return resp, fmt.Errorf("question %q is %s, not pending (the API answers 409 already_resolved): %w",
			q.Request.Title, q.state(), ErrResolved)
	}
	if res, ok := v.(Resolution); ok {
		resp.Outcome, resp.Comment = res.outcome, res.reason
		switch res.outcome {
		case events.StatusTimedOut:
			if q.Request.Timeout == 0 {
				return resp, fmt.Errorf("question %q cannot time out: it has no Timeout", q.Request.Title)
			}
			resp.Responder = "hitl:timeout"
			if q.Request.OnTimeout == events.TimeoutDefault {
				resp.Data = q.Request.Default
			}
		case events.StatusCancelled:
		default:
			return resp, fmt.Errorf("unknown resolution %q", res.outcome)
		}
		for _, o := range opts {
			o(&resp)
		}
		return resp, nil
	}
	data := json.RawMessage("null")
	if v != nil {
		b, err := encode(v)
		if err != nil {
			return resp, fmt.Errorf("answer to %q: encode %T: %w", q.Request.Title, v, err)
		}
		data = b
	}
	if err := q.Request.Input.Validate(data); err != nil {
		return resp, fmt.Errorf("answer %s to %q (%s) is refused, as the API would refuse it (400 validation_failed): %w",
			data, q.Request.Title, q.Request.Input.Type, err)
	}
	h, err := input.Hash(data)
	if err != nil {
		return resp, fmt.Errorf("answer %s to %q: %w", data, q.Request.Title, err)
	}
	resp.Outcome, resp.Data, resp.InputHash = events.StatusAnswered, data, h
	for _, o := range opts {
		o(&resp)
	}
	return resp, nil
}

// Outcome returns how the question was resolved (answered, timed out or cancelled, by the
// run's cancel too), or "" while it is pending.
func (q *Question) Outcome() hitl.Outcome {
	if q.Request.Status == events.StatusPending {
		return ""
	}
	return hitl.Outcome(q.Request.Status)
}

func (q *Question) state() string {
	if q.Request.Status != events.StatusPending {
		return string(q.Request.Status)
	}
	return "no longer awaited (the run " + q.run.describe() + ")"
}

// String names the question in messages.
func (q *Question) String() string {
	return fmt.Sprintf("%q (%s)", q.Request.Title, q.Request.Input.Type)
}

// AssertInput checks the question's input type.
func (q *Question) AssertInput(want input.Type) *Question {
	q.run.t.Helper()
	if q.Request.Input.Type != want {
		q.run.t.Errorf("%s: question %q has input %s, want %s", q.run, q.Request.Title, q.Request.Input.Type, want)
	}
	return q
}

// AssertOptions checks the ids of the question's options, in order.
func (q *Question) AssertOptions(ids ...string) *Question {
	q.run.t.Helper()
	var got []string
	for _, o := range q.Request.Input.Options {
		got = append(got, o.ID)
	}
	if !slices.Equal(got, ids) {
		q.run.t.Errorf("%s: question %q has options %s, want %s", q.run, q.Request.Title, quoteAll(got), quoteAll(ids))
	}
	return q
}

// AssertAssignees checks who the question is assigned to, in order.
func (q *Question) AssertAssignees(assignees ...string) *Question {
	q.run.t.Helper()
	if !slices.Equal(q.Request.Assignees, assignees) {
		q.run.t.Errorf("%s: question %q is assigned to %s, want %s", q.run, q.Request.Title,
			quoteAll(q.Request.Assignees), quoteAll(assignees))
	}
	return q
}

// AssertContext checks one fact of the question's context, compared as JSON: want 120.5
// matches a stored float, []string{"a"} a stored []any{"a"}.
func (q *Question) AssertContext(key string, want any) *Question {
	q.run.t.Helper()
	got, ok := q.Request.Context[key]
	if !ok {
		q.run.t.Errorf("%s: question %q has no context %q (context: %v)", q.run, q.Request.Title, key, q.Request.Context)
		return q
	}
	gb, gerr := json.Marshal(got)
	wb, werr := json.Marshal(want)
	if gerr != nil || werr != nil || !jsonEqual(gb, wb) {
		q.run.t.Errorf("%s: question %q has context %q = %s, want %s", q.run, q.Request.Title, key, gb, wb)
	}
	return q
}

// AssertMessageContains checks that the question's message contains each of parts.
func (q *Question) AssertMessageContains(parts ...string) *Question {
	q.run.t.Helper()
	for _, p := range parts {
		if !strings.Contains(q.Request.Message, p) {
			q.run.t.Errorf("%s: question %q has a message without %q:\n%s", q.run, q.Request.Title, p, q.Request.Message)
		}
	}
	return q
}

// AssertTimeout checks the question's timeout and what a timeout does: policy "" or
// hitl.TimeoutFail fails the Ask; hitl.TimeoutDefault returns the default, which is then
// compared as JSON with def.
func (q *Question) AssertTimeout(timeout time.Duration, policy hitl.TimeoutPolicy, def any) *Question {
	q.run.t.Helper()
	r := q.Request
	if time.Duration(r.Timeout) != timeout {
		q.run.t.Errorf("%s: question %q times out after %v, want %v", q.run, r.Title, time.Duration(r.Timeout), timeout)
	}
	gotPolicy, wantPolicy := hitl.TimeoutPolicy(r.OnTimeout), policy
	if gotPolicy == "" {
		gotPolicy = hitl.TimeoutFail
	}
	if wantPolicy == "" {
		wantPolicy = hitl.TimeoutFail
	}
	if gotPolicy != wantPolicy {
		q.run.t.Errorf("%s: question %q has timeout policy %s, want %s", q.run, r.Title, gotPolicy, wantPolicy)
	}
	if wantPolicy == hitl.TimeoutDefault {
		wb, err := json.Marshal(def)
		if err != nil || !jsonEqual(r.Default, wb) {
			q.run.t.Errorf("%s: question %q has default %s, want %s", q.run, r.Title, r.Default, wb)
		}
	}
	return q
}
