package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/notify"
)

// Channel writes to W. It serves assignees "console:NAME" and, as an observer, every request.
type Channel struct {
	mu sync.Mutex
	W  io.Writer
	// BaseURL of the API, used in the printed commands, e.g. "http://localhost:8080".
	BaseURL string
}

// Kind is "console".
func (c *Channel) Kind() string { return "console" }

// Notify prints the request and a curl command that answers it.
func (c *Channel) Notify(_ context.Context, d notify.Delivery) error {
	r := d.Request
	var b strings.Builder
	fmt.Fprintf(&b, "\n── request %s ──\n  %s\n", r.ID, r.Title)
	if r.Message != "" {
		fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(r.Message, "\n", "\n  "))
	}
	if r.RunID != "" {
		fmt.Fprintf(&b, "  run %s (%s)\n", r.RunID, r.Workflow)
	}
	for _, o := range r.Input.Options {
		fmt.Fprintf(&b, "    %-14s %s\n", o.ID, o.Label)
	}
	if r.Deadline != nil {
		fmt.Fprintf(&b, "  answer before %s\n", r.Deadline.Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(&b, "  answer with:\n    curl -s -X POST %s/v1/requests/%s/respond -H 'Content-Type: application/json' -d '{\"data\": %s}'\n",
		c.BaseURL, r.ID, example(r.Input))
	fmt.Fprintf(&b, "  or in a browser: %s/inbox/requests/%s\n", c.BaseURL, r.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.W, b.String())
	return err
}

// Update prints how the request ended.
func (c *Channel) Update(_ context.Context, d notify.Delivery) error {
	r := d.Request
	line := fmt.Sprintf("── request %s %s", r.ID, r.Status)
	if r.Response != nil && r.Response.Responder != "" {
		line += " by " + r.Response.Responder
	}
	if r.Response != nil && len(r.Response.Data) > 0 {
		line += ": " + string(r.Response.Data)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.W, line+"\n")
	return err
}

// example is a valid answer for the spec, to copy and edit.
func example(s input.Spec) string {
	switch s.Type {
	case input.Approval:
		return `{"approved": true, "comment": "looks good"}`
	case input.Boolean:
		return "true"
	case input.Number:
		if s.Min != nil {
			return fmt.Sprint(*s.Min)
		}
		return "42"
	case input.Select:
		if len(s.Options) > 0 {
			return `"` + s.Options[0].ID + `"`
		}
	case input.MultiSelect:
		if len(s.Options) > 0 {
			return `["` + s.Options[0].ID + `"]`
		}
	case input.Form:
		parts := make([]string, 0, len(s.Fields))
		for _, f := range s.Fields {
			v := `"..."`
			switch f.Type {
			case input.FieldBoolean:
				v = "true"
			case input.FieldNumber:
				v = "0"
			case input.FieldSelect:
				if len(f.Options) > 0 {
					v = `"` + f.Options[0].ID + `"`
				}
			}
			parts = append(parts, `"`+f.ID+`": `+v)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return `"your answer"`
}

var _ notify.Updater = (*Channel)(nil)
