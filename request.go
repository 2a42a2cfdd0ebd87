package hitl

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
)

// Request is a question a workflow asks.
type Request struct {
	Title     string         // required: one line, shown first
	Message   string         // markdown body
	Context   map[string]any // facts shown beside the question
	Input     input.Spec     // what kind of answer; without a Type, Ask[T] derives it from T (input.SpecFor), AskAll uses approval
	Assignees []string       // e.g. "webhook:ops-bot"; empty means any holder of an API token
	// Timeout, if set, resolves the request as timed out after this long (whole seconds, at least 1s).
	Timeout time.Duration
	// Retention, if set, is how long the request and its events are kept once resolved
	// (whole seconds, at least 1s); default: the run's retention, else HITL_RETENTION.
	Retention time.Duration
	// OnTimeout decides what Ask returns on timeout: a *TimeoutError (TimeoutFail, the default)
	// or Default (TimeoutDefault).
	OnTimeout TimeoutPolicy
	// Default is the answer used on timeout when OnTimeout is TimeoutDefault.
	Default  any
	Metadata map[string]string
}

// TimeoutPolicy says what Ask returns when its request times out. The values are those of
// the request's on_timeout in the REST API and in events.
type TimeoutPolicy string

const (
	// TimeoutFail makes Ask return a *TimeoutError, matching ErrTimeout (the default).
	TimeoutFail TimeoutPolicy = "fail"
	// TimeoutDefault makes Ask return the request's Default as the answer.
	TimeoutDefault TimeoutPolicy = "default"
)

// Outcome is how a request was resolved. The values are those of a response's outcome in
// the REST API and in events.
type Outcome string

const (
	// OutcomeAnswered: a person answered. Data holds the answer, JSON null when skipped.
	OutcomeAnswered Outcome = "answered"
	// OutcomeTimedOut: the timeout passed. Under TimeoutDefault, Data holds the Default.
	OutcomeTimedOut Outcome = "timed_out"
	// OutcomeCancelled: the request or its run was cancelled; Responder says by whom.
	OutcomeCancelled Outcome = "cancelled"
)

// Answer is how a request was resolved, as seen by the workflow.
type Answer struct {
	RequestID string
	Outcome   Outcome
	Data      json.RawMessage
	Responder string
	Comment   string
	At        time.Time
}

// Decode unmarshals the answer's data into v.
func (a Answer) Decode(v any) error {
	if err := json.Unmarshal(a.Data, v); err != nil {
		return fmt.Errorf("decode answer to %s: %w", a.RequestID, err)
	}
	return nil
}

var (
	// ErrTimeout matches a *TimeoutError: the request timed out with policy TimeoutFail.
	ErrTimeout = errors.New("request timed out")
	// ErrCancelled matches a *CancelledError: the request or its run was cancelled.
	ErrCancelled = errors.New("request cancelled")
	// ErrNondeterministic means a replay called Ask or Step in a different order than the
	// journal records: the workflow's code or its inputs changed under a running run. The
	// run fails with it.
	ErrNondeterministic = journal.ErrNondeterministic
)

// TimeoutError is returned by Ask when its request timed out.
type TimeoutError struct{ RequestID string }

func (e *TimeoutError) Error() string     { return "request " + e.RequestID + " timed out" }
func (e *TimeoutError) Is(err error) bool { return err == ErrTimeout }

// CancelledError is returned by Ask when its request was cancelled.
type CancelledError struct{ RequestID, By string }

func (e *CancelledError) Error() string     { return "request " + e.RequestID + " was cancelled" }
func (e *CancelledError) Is(err error) bool { return err == ErrCancelled }

// record converts the SDK request into the stored record, still without ids and timestamps.
func (r Request) record() (events.Request, error) {
	rec := events.Request{
		Title: r.Title, Message: r.Message, Context: r.Context, Input: r.Input,
		Assignees: r.Assignees, Timeout: events.Duration(r.Timeout), Retention: events.Duration(r.Retention), OnTimeout: events.TimeoutPolicy(r.OnTimeout),
		Metadata: r.Metadata,
	}
	if rec.Input.Type == "" {
		rec.Input.Type = input.Approval
	}
	if r.Default != nil {
		b, err := json.Marshal(r.Default)
		if err != nil {
			return rec, fmt.Errorf("request %q default: %w", r.Title, err)
		}
		rec.Default = b
	}
	if err := rec.Validate(); err != nil {
		return rec, err
	}
	return rec, nil
}

// Duration is a time.Duration in JSON, for workflow inputs and results: it reads "90s",
// "15m", "2h" or a number of seconds, and writes "90s", like a request's timeout in the REST
// API.
type Duration time.Duration

// MarshalJSON writes the duration as a string, e.g. "1h30m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return events.Duration(d).MarshalJSON() }

// UnmarshalJSON reads a string like "90s" or a number of seconds; null leaves d alone.
func (d *Duration) UnmarshalJSON(b []byte) error { return (*events.Duration)(d).UnmarshalJSON(b) }
