package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

// NewRequest is a standalone request to create: a question with no workflow behind it.
type NewRequest struct {
	// Title is the question in one line. Required.
	Title string
	// Message is more detail, in markdown.
	Message string
	// Context holds facts shown beside the question.
	Context map[string]any
	// Input is the kind of answer expected. The zero value asks for an approval.
	Input input.Spec
	// Assignees are who is asked, e.g. "webhook:ops-bot".
	Assignees []string
	// Timeout, if positive, resolves the request as timed_out after this long.
	Timeout time.Duration
	// OnTimeout is what a timeout does: events.TimeoutFail (the default) or
	// events.TimeoutDefault, which answers with Default.
	OnTimeout events.TimeoutPolicy
	// Default is the answer a timeout gives with OnTimeout events.TimeoutDefault; it is
	// encoded as JSON (a json.RawMessage is sent as is).
	Default any
	// Metadata is kept with the request and not shown to people.
	Metadata map[string]string
	// CallbackURL, if set, receives the resolved CloudEvent, signed with the server's callback
	// secret (HITL_CALLBACK_SECRET). It must reach a public address unless the server allow-lists it.
	CallbackURL string
}

// MarshalJSON writes the body of POST /v1/requests.
func (r NewRequest) MarshalJSON() ([]byte, error) {
	type body struct {
		Title       string               `json:"title"`
		Message     string               `json:"message,omitempty"`
		Context     map[string]any       `json:"context,omitempty"`
		Input       *input.Spec          `json:"input,omitempty"`
		Assignees   []string             `json:"assignees,omitempty"`
		Timeout     events.Duration      `json:"timeout,omitempty"`
		OnTimeout   events.TimeoutPolicy `json:"on_timeout,omitempty"`
		Default     any                  `json:"default,omitempty"`
		Metadata    map[string]string    `json:"metadata,omitempty"`
		CallbackURL string               `json:"callback_url,omitempty"`
	}
	b := body{Title: r.Title, Message: r.Message, Context: r.Context, Assignees: r.Assignees,
		Timeout: events.Duration(r.Timeout), OnTimeout: r.OnTimeout, Default: r.Default,
		Metadata: r.Metadata, CallbackURL: r.CallbackURL}
	if r.Input.Type != "" {
		b.Input = &r.Input
	}
	return json.Marshal(b)
}

// CreateRequest creates a standalone request and returns it, pending, with its id.
func (c *Client) CreateRequest(ctx context.Context, r NewRequest) (*events.Request, error) {
	var out events.Request
	if err := c.do(ctx, "POST", "/v1/requests", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Request returns one request. An unknown id is an *Error matching ErrNotFound.
func (c *Client) Request(ctx context.Context, id string) (*events.Request, error) {
	p, err := pathID("request", id)
	if err != nil {
		return nil, err
	}
	var out events.Request
	if err := c.do(ctx, "GET", "/v1/requests/"+p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Requests lists every request with the given status (events.StatusPending, ...), or every
// request when status is empty, oldest first: it pages through GET /v1/requests to the end,
// so its cost grows with what it lists. ListRequests reads one page; RequestPager pages.
func (c *Client) Requests(ctx context.Context, status events.Status) ([]*events.Request, error) {
	p := c.RequestPager(ListOptions{Status: string(status), Limit: MaxLimit})
	var out []*events.Request
	for p.More() {
		page, err := p.Next(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// Wait returns the request once it resolves (answered, timed out or cancelled), or as it
// stands when timeout passes; timeout <= 0 waits until it resolves or ctx ends. It long-polls
// GET /v1/requests/{id}/wait, so it holds one call open for up to 5 minutes at a time.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration) (*events.Request, error) {
	p, err := pathID("request", id)
	if err != nil {
		return nil, err
	}
	return poll(ctx, c, "/v1/requests/"+p, timeout, func(r *events.Request) bool { return r.Resolved() })
}

// Answer answers a request.
type Answer struct {
	// Data is the answer, encoded as JSON (a json.RawMessage is sent as is): for an approval
	// an input.ApprovalAnswer, for a select the option id, and so on. Nil sends null, which
	// skips a skippable question.
	Data any
	// Responder is who answered, recorded on the response. Default: the server's name for
	// the caller: the API token's name, or "api" for a bare token and in `hitl dev`.
	Responder string
	// Comment is kept with the response.
	Comment string
}

// Respond answers a request and returns it resolved, with the response (and its
// input_hash). An answer that does not fit the request's input is an *Error matching
// ErrInvalid, with a field per problem ("data", "data.amount"); a request already resolved
// matches ErrAlreadyResolved.
func (c *Client) Respond(ctx context.Context, id string, a Answer) (*events.Request, error) {
	p, err := pathID("request", id)
	if err != nil {
		return nil, err
	}
	data, ok := a.Data.(json.RawMessage)
	if !ok || len(data) == 0 {
		if data, err = json.Marshal(a.Data); err != nil {
			return nil, fmt.Errorf("client: encode the answer: %w", err)
		}
	}
	body := struct {
		Data      json.RawMessage `json:"data"`
		Responder string          `json:"responder,omitempty"`
		Comment   string          `json:"comment,omitempty"`
	}{data, a.Responder, a.Comment}
	var out events.Request
	if err := c.do(ctx, "POST", "/v1/requests/"+p+"/respond", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Cancel cancels a pending request, with an optional reason, and returns it cancelled. The
// workflow that asked sees the cancellation as an error from its Ask.
func (c *Client) Cancel(ctx context.Context, id, reason string) (*events.Request, error) {
	p, err := pathID("request", id)
	if err != nil {
		return nil, err
	}
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	var out events.Request
	if err := c.do(ctx, "POST", "/v1/requests/"+p+"/cancel", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
