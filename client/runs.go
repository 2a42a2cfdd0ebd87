package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/hitl-dev/hitl/events"
)

// Run is a workflow run as the API shows it (respond.RunView).
type Run struct {
	ID       string           `json:"id"`
	Workflow string           `json:"workflow"`
	Status   events.RunStatus `json:"status"` // queued, running, waiting, completed, failed, cancelled
	Input    json.RawMessage  `json:"input,omitempty"`
	// Result is the workflow's return value, once completed.
	Result json.RawMessage `json:"result,omitempty"`
	// Error says why the run failed.
	Error string `json:"error,omitempty"`
	// Pending are the questions the run waits on now.
	Pending []*events.Request `json:"pending"`
	// Steps is the number of journal positions (answers and step results) recorded so far.
	Steps int `json:"steps"`
	// Retention is how long the run is kept once finished (the server's HITL_RETENTION
	// unless the run was started with its own).
	Retention events.Duration `json:"retention,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// StartRun starts a run of a workflow with the given input (encoded as JSON; a
// json.RawMessage is sent as is, nil sends none). The API answers at once: the run is
// usually still queued or running; WaitRun returns when it asks something or ends. A run of a
// workflow no orchestrator hosts stays queued until one does; a name that cannot be a
// workflow's (events.ValidWorkflowName) is an *Error matching ErrInvalid.
func (c *Client) StartRun(ctx context.Context, workflow string, in any) (*Run, error) {
	if workflow == "" {
		return nil, errEmptyWorkflow
	}
	body := struct {
		Workflow string          `json:"workflow"`
		Input    json.RawMessage `json:"input,omitempty"`
	}{Workflow: workflow}
	if raw, ok := in.(json.RawMessage); ok {
		body.Input = raw
	} else if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("client: encode the run's input: %w", err)
		}
		body.Input = b
	}
	var out Run
	if err := c.do(ctx, "POST", "/v1/runs", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Run returns one run, with its pending questions.
func (c *Client) Run(ctx context.Context, id string) (*Run, error) {
	p, err := pathID("run", id)
	if err != nil {
		return nil, err
	}
	var out Run
	if err := c.do(ctx, "GET", "/v1/runs/"+p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// WaitRun returns the run once it has a pending question or has finished, or as it stands
// when timeout passes; timeout <= 0 waits until then or until ctx ends. It long-polls GET
// /v1/runs/{id}/wait.
func (c *Client) WaitRun(ctx context.Context, id string, timeout time.Duration) (*Run, error) {
	p, err := pathID("run", id)
	if err != nil {
		return nil, err
	}
	return poll(ctx, c, "/v1/runs/"+p, timeout, func(r *Run) bool { return r.Status.Final() || len(r.Pending) > 0 })
}

// WaitRunDone returns the run once it has finished (completed, failed or cancelled), or as
// it stands when timeout passes; timeout <= 0 waits until then or until ctx ends. While the
// run waits on a question it long-polls that question, so it makes no calls in between.
func (c *Client) WaitRunDone(ctx context.Context, id string, timeout time.Duration) (*Run, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	remaining := func() time.Duration {
		if deadline.IsZero() {
			return 0
		}
		return max(time.Until(deadline), time.Nanosecond)
	}
	for {
		run, err := c.WaitRun(ctx, id, remaining())
		if err != nil || run.Status.Final() || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return run, err
		}
		if len(run.Pending) > 0 {
			if _, err := c.Wait(ctx, run.Pending[0].ID, remaining()); err != nil {
				return nil, err
			}
		}
	}
}

// CancelRun asks to cancel a run and every request it has pending, with an optional reason.
// It returns once the cancel is recorded; the run reaches status cancelled shortly after
// (WaitRunDone returns then). A finished run is an *Error matching ErrAlreadyFinished.
func (c *Client) CancelRun(ctx context.Context, id, reason string) error {
	p, err := pathID("run", id)
	if err != nil {
		return err
	}
	var body any
	if reason != "" {
		body = map[string]string{"reason": reason}
	}
	return c.do(ctx, "POST", "/v1/runs/"+p+"/cancel", nil, body, nil)
}

// Export writes to w, as JSON lines, every request resolved and every run finished from since
// up to (excluding) until that the server still keeps, oldest first (GET /v1/export): one
// store.Finished object per line, {"kind": "request"|"run", "finished_at", "request"|"run"}.
// Lines are copied as they come; an error after some were written leaves those in w.
func (c *Client) Export(ctx context.Context, since, until time.Time, w io.Writer) error {
	q := url.Values{"since": {since.UTC().Format(time.RFC3339Nano)}, "until": {until.UTC().Format(time.RFC3339Nano)}}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base.String()+"/v1/export?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("client: export: %w", err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	req.Header.Set("User-Agent", c.ua)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return errorFrom(resp.StatusCode, b)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("client: export: %w", err)
	}
	// The server ends a complete export with an HTTP trailer; without it the export was cut.
	if resp.Trailer.Get(ExportCompleteTrailer) != "true" {
		return fmt.Errorf("client: export: the server stopped before the end: %s", resp.Trailer.Get(ExportErrorTrailer))
	}
	return nil
}

// Trailers of GET /v1/export: whether the export reached its end, and if not, why.
const (
	ExportCompleteTrailer = "Hitl-Export-Complete"
	ExportErrorTrailer    = "Hitl-Export-Error"
)
