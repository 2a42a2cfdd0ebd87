package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hitl-dev/hitl/input"
)

// Status is where a request stands.
type Status string

const (
	StatusPending   Status = "pending"
	StatusAnswered  Status = "answered"
	StatusTimedOut  Status = "timed_out"
	StatusCancelled Status = "cancelled"
)

// Outcome is how a request was resolved; it is also its final Status.
type Outcome = Status

// TimeoutPolicy says what a timeout does to the asking workflow.
type TimeoutPolicy string

const (
	// TimeoutFail makes the Ask return a timeout error (the default).
	TimeoutFail TimeoutPolicy = "fail"
	// TimeoutDefault makes the Ask return the request's default answer.
	TimeoutDefault TimeoutPolicy = "default"
)

// Request is a question put to people, as published in request_info and stored in the
// requests bucket. Status and Response change once, when it resolves.
type Request struct {
	ID       string `json:"id"`
	RunID    string `json:"run_id,omitempty"`
	Workflow string `json:"workflow,omitempty"`

	Title     string         `json:"title"`
	Message   string         `json:"message,omitempty"` // markdown
	Context   map[string]any `json:"context,omitempty"` // facts shown beside the question
	Input     input.Spec     `json:"input"`
	Assignees []string       `json:"assignees,omitempty"`
	// Approvers, if set, are the only identities allowed to answer (assignee-shaped, e.g.
	// "slack:@U123", "email:a@b.c"); otherwise anyone the request was sent to may answer.
	Approvers []string `json:"approvers,omitempty"`
	Timeout   Duration `json:"timeout,omitempty"`
	// Retention is how long the request, its events and its delivery records are kept once
	// it is resolved (whole seconds); JetStream then removes them. Zero takes the service's
	// HITL_RETENTION, which the store fills in when it creates the request.
	Retention Duration          `json:"retention,omitempty"`
	OnTimeout TimeoutPolicy     `json:"on_timeout,omitempty"`
	Default   json.RawMessage   `json:"default,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	// CallbackURL receives the resolved CloudEvent (standalone requests).
	CallbackURL string `json:"callback_url,omitempty"`

	Status     Status     `json:"status"`
	Response   *Response  `json:"response,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	Deadline   *time.Time `json:"deadline,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// Resolved reports whether the request has reached its final state.
func (r *Request) Resolved() bool { return r.Status != StatusPending }

// Response resolves a request: a person's answer, a timeout or a cancel. Only the first
// response published for a request counts (the gate in streams.SubjectResponse).
type Response struct {
	RequestID string          `json:"request_id"`
	RunID     string          `json:"run_id,omitempty"`
	Outcome   Outcome         `json:"outcome"`
	Data      json.RawMessage `json:"data,omitempty"`
	InputHash string          `json:"input_hash,omitempty"`
	// Diff records what the approver changed in an editable approval's proposed action
	// (edit then approve): a list of JSON Patch-like operations (input.Op); "[]" when the
	// action was sent back unchanged, absent when it was not edited.
	Diff      json.RawMessage `json:"diff,omitempty"`
	Responder string          `json:"responder,omitempty"`
	Comment   string          `json:"comment,omitempty"`
	At        time.Time       `json:"at"`
}

// RunStatus is where a run stands.
type RunStatus string

const (
	// RunQueued: asked for, and not yet picked up by an orchestrator that hosts its workflow.
	// A run of a workflow no instance hosts stays queued until one does.
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunWaiting   RunStatus = "waiting"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Final reports whether a run in this status will never change again.
func (s RunStatus) Final() bool {
	return s == RunCompleted || s == RunFailed || s == RunCancelled
}

// RunStarted starts a run: it is both the command and the record that it was asked for.
type RunStarted struct {
	RunID    string          `json:"run_id"`
	Workflow string          `json:"workflow"`
	Input    json.RawMessage `json:"input,omitempty"`
	// Retention is how long the run and its events are kept once it has finished; zero
	// takes the service's HITL_RETENTION.
	Retention Duration `json:"retention,omitempty"`
}

// RunResume tells the orchestrators hosting a run's workflow that a request the run waits on
// has resolved: the run is to be replayed with the answer. Response is the resolution, as the
// orchestrator that sent the command checked it against the request; a command without one
// (sent before commands carried it) has the answer read from the request record.
type RunResume struct {
	RunID     string    `json:"run_id"`
	RequestID string    `json:"request_id"`
	Response  *Response `json:"response,omitempty"`
}

// RunCancel asks to cancel a run and every request it has pending.
type RunCancel struct {
	RunID  string `json:"run_id"`
	Reason string `json:"reason,omitempty"`
}

// RunFinished reports a run's final state.
type RunFinished struct {
	RunID    string          `json:"run_id"`
	Workflow string          `json:"workflow"`
	Status   RunStatus       `json:"status"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// Duration is a time.Duration that reads "90s", "5m" or a number of seconds, and writes "90s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // like every encoding/json decoder: null leaves the value alone
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: use a form like \"30s\", \"15m\" or \"2h\"", s)
		}
		*d = Duration(v)
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration must be a string like \"30s\" or a number of seconds")
	}
	if secs < 0 || secs > (1<<62)/1e9 {
		return fmt.Errorf("duration %v seconds is out of range", secs)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}
