// Package bulkreview is human-in-the-loop inside a map, from the seed documents: a model
// screens a batch of items, then every item becomes its own question, all asked at once
// (hitl.AskAll), so reviewers answer them in bulk and in any order. A question nobody
// answers in time falls back to the model's suggestion. The run returns a decision per item.
package bulkreview

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
)

// Name is the workflow's registered name.
const Name = "bulkreview"

// MaxItems caps the items of one run: each is a question.
const MaxItems = 100

// DefaultTimeout is how long reviewers have when the input sets no timeout.
const DefaultTimeout = 24 * time.Hour

// Input starts a bulk review.
type Input struct {
	Items []Item `json:"items"`
	// Assignees receive every question (e.g. ["webhook:moderators"]); empty in the demo.
	Assignees []string `json:"assignees,omitempty"`
	// Timeout per question, e.g. "2h"; default DefaultTimeout. The model's suggestion is
	// the answer of a question that times out.
	Timeout hitl.Duration `json:"timeout,omitempty"`
}

// Item is one thing to review.
type Item struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Decisions a reviewer (or the model, by default) can make.
const (
	Approve  = "approve"
	Reject   = "reject"
	Escalate = "escalate"
)

// How a decision was made.
const (
	ByHuman   = "human"
	ByDefault = "timeout_default" // nobody answered in time: the model's suggestion
	Cancelled = "cancelled"       // the question was cancelled: the item is left undecided
)

// Result lists a decision per item, in the input's order, and counts them.
type Result struct {
	Items  []Decision     `json:"items"`
	Counts map[string]int `json:"counts"` // by decision; "" counts undecided items
	// Published is how many approved items the final step published.
	Published int `json:"published"`
}

// Decision is the outcome for one item.
type Decision struct {
	ID         string `json:"id"`
	Suggestion string `json:"suggestion"`         // the model's
	Decision   string `json:"decision,omitempty"` // "" when cancelled
	DecidedBy  string `json:"decided_by"`         // human, timeout_default or cancelled
	Responder  string `json:"responder,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Register adds the workflow to reg.
func Register(reg *hitl.Registry) { hitl.Register(reg, Name, Run) }

// Run is the workflow.
func Run(ctx context.Context, in Input) (Result, error) {
	if err := check(in); err != nil {
		return Result{}, err
	}
	timeout := time.Duration(in.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	suggestions, err := hitl.Step(ctx, "screen_items", func(context.Context) ([]string, error) {
		out := make([]string, len(in.Items))
		for i, it := range in.Items {
			out[i] = screen(it.Text)
		}
		return out, nil
	})
	if err != nil {
		return Result{}, err
	}

	// The map: one question per item, all asked together.
	reqs := make([]hitl.Request, len(in.Items))
	for i, it := range in.Items {
		reqs[i] = hitl.Request{
			Title:   fmt.Sprintf("Review item %s", it.ID),
			Message: fmt.Sprintf("> %s\n\nThe model suggests **%s**.", it.Text, suggestions[i]),
			Context: map[string]any{"item_id": it.ID, "suggestion": suggestions[i], "position": i + 1, "of": len(in.Items)},
			Input: input.Spec{Type: input.Select, Options: []input.Option{
				{ID: Approve, Label: "Approve"},
				{ID: Reject, Label: "Reject"},
				{ID: Escalate, Label: "Escalate to a specialist"},
			}},
			Assignees: in.Assignees,
			Timeout:   timeout,
			OnTimeout: hitl.TimeoutDefault,
			Default:   suggestions[i],
			Metadata:  map[string]string{"item_id": it.ID},
		}
	}
	answers, err := hitl.AskAll(ctx, reqs...)
	if err != nil {
		return Result{}, err
	}

	res := Result{Counts: map[string]int{}}
	var approved []string
	for i, a := range answers {
		d := Decision{ID: in.Items[i].ID, Suggestion: suggestions[i], Responder: a.Responder, Note: a.Comment}
		switch a.Outcome {
		case hitl.OutcomeCancelled:
			d.DecidedBy = Cancelled
		case hitl.OutcomeTimedOut:
			d.DecidedBy = ByDefault
		default:
			d.DecidedBy = ByHuman
		}
		if d.DecidedBy != Cancelled {
			if err := a.Decode(&d.Decision); err != nil {
				return Result{}, err
			}
		}
		if d.Decision == Approve {
			approved = append(approved, d.ID)
		}
		res.Counts[d.Decision]++
		res.Items = append(res.Items, d)
	}
	res.Published, err = hitl.Step(ctx, "publish_approved", func(context.Context) (int, error) {
		// In a real deployment: publish the approved items.
		return len(approved), nil
	})
	return res, err
}

func check(in Input) error {
	if len(in.Items) == 0 {
		return errors.New("items: at least one is required")
	}
	if len(in.Items) > MaxItems {
		return fmt.Errorf("items: at most %d, not %d", MaxItems, len(in.Items))
	}
	seen := map[string]bool{}
	for i, it := range in.Items {
		switch {
		case it.ID == "":
			return fmt.Errorf("items[%d].id is required", i)
		case seen[it.ID]:
			return fmt.Errorf("items[%d].id %q is a duplicate", i, it.ID)
		}
		seen[it.ID] = true
	}
	return nil
}

// screen is the "model": a deterministic keyword screen, for the demo and the tests.
func screen(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "free money"), strings.Contains(t, "click here"):
		return Reject
	case strings.Contains(t, "lawyer"), strings.Contains(t, "refund"):
		return Escalate
	}
	return Approve
}
