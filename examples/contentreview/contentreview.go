// Package contentreview is the maker-checker feedback loop of the seed documents: an agent
// writes a draft, a person approves it or rejects it with feedback, the agent revises the
// draft with that feedback, and so on for at most MaxRounds reviews. When the rounds run out
// the work escalates to an editor, who publishes the last draft or discards it.
package contentreview

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
)

// Name is the workflow's registered name.
const Name = "contentreview"

// DefaultMaxRounds is how many reviews a run holds when its input sets none.
const DefaultMaxRounds = 3

// ReviewTimeout is how long a reviewer has for each draft; the editor has as long.
const ReviewTimeout = 48 * time.Hour

// Input starts a content review.
type Input struct {
	Topic string `json:"topic"`
	// MaxRounds caps the reviews; default DefaultMaxRounds, at most 10.
	MaxRounds int `json:"max_rounds,omitempty"`
	// Reviewers receive every draft (e.g. ["webhook:content-bot"]); empty in the demo.
	Reviewers []string `json:"reviewers,omitempty"`
	// Editors decide when the rounds run out or a reviewer does not answer in time; empty
	// means the run ends with the last draft unapproved.
	Editors []string `json:"editors,omitempty"`
}

// Status values of a Result.
const (
	Approved        = "approved"         // a reviewer approved the draft
	NotApproved     = "not_approved"     // rounds or time ran out and no editor was named
	EditorPublished = "editor_published" // the editor published the last draft
	EditorDiscarded = "editor_discarded" // the editor discarded it, or did not answer
)

// Result is the final draft and how it got there.
type Result struct {
	Status string `json:"status"`
	// Draft is the last draft a reviewer saw.
	Draft string `json:"draft"`
	// Rounds is how many reviews were held (drafts shown to a reviewer).
	Rounds int `json:"rounds"`
	// Feedback lists each rejection's comment, in order.
	Feedback []string `json:"feedback,omitempty"`
	// ApprovedBy is who approved the draft: the reviewer, or the editor who published it.
	ApprovedBy string `json:"approved_by,omitempty"`
	// Comment is the approving reviewer's comment.
	Comment string `json:"comment,omitempty"`
}

// Register adds the workflow to reg.
func Register(reg *hitl.Registry) { hitl.Register(reg, Name, Run) }

// Run is the workflow.
func Run(ctx context.Context, in Input) (Result, error) {
	if strings.TrimSpace(in.Topic) == "" {
		return Result{}, errors.New("topic is required")
	}
	maxRounds := in.MaxRounds
	if maxRounds == 0 {
		maxRounds = DefaultMaxRounds
	}
	if maxRounds < 1 || maxRounds > 10 {
		return Result{}, fmt.Errorf("max_rounds must be between 1 and 10, not %d", maxRounds)
	}

	draft, err := hitl.Step(ctx, "write_draft", func(context.Context) (string, error) { return write(in.Topic), nil })
	if err != nil {
		return Result{}, err
	}
	res := Result{Draft: draft}
	for round := 1; round <= maxRounds; round++ {
		res.Rounds = round
		answers, err := hitl.AskAll(ctx, hitl.Request{
			Title: fmt.Sprintf("Review draft %d of %q", round, in.Topic),
			Message: fmt.Sprintf("%s\n\n---\nApprove to publish, or reject with a comment saying what to change "+
				"(round %d of %d).", draft, round, maxRounds),
			Context:   map[string]any{"topic": in.Topic, "round": round, "max_rounds": maxRounds},
			Input:     input.Spec{Type: input.Approval},
			Assignees: in.Reviewers,
			Timeout:   ReviewTimeout,
		})
		if err != nil {
			return Result{}, err
		}
		a := answers[0]
		switch a.Outcome {
		case hitl.OutcomeTimedOut:
			return escalate(ctx, in, res, fmt.Sprintf("No reviewer answered draft %d in %v.", round, ReviewTimeout))
		case hitl.OutcomeCancelled:
			return Result{}, &hitl.CancelledError{RequestID: a.RequestID, By: a.Responder}
		}
		var review input.ApprovalAnswer
		if err := a.Decode(&review); err != nil {
			return Result{}, err
		}
		if review.Approved {
			res.Status, res.ApprovedBy, res.Comment = Approved, a.Responder, review.Comment
			return res, nil
		}
		res.Feedback = append(res.Feedback, review.Comment)
		if round == maxRounds {
			break // no revision nobody will review
		}
		draft, err = hitl.Step(ctx, "revise_draft", func(context.Context) (string, error) {
			return revise(draft, round+1, review.Comment), nil
		})
		if err != nil {
			return Result{}, err
		}
		res.Draft = draft
	}
	return escalate(ctx, in, res, fmt.Sprintf("Draft %d was rejected, and that was the last of %d rounds.", res.Rounds, maxRounds))
}

// escalate puts the last draft to an editor, when the input names one.
func escalate(ctx context.Context, in Input, res Result, why string) (Result, error) {
	if len(in.Editors) == 0 {
		res.Status = NotApproved
		return res, nil
	}
	var fb strings.Builder
	for i, f := range res.Feedback {
		fmt.Fprintf(&fb, "\n%d. %s", i+1, cmp.Or(f, "(no comment)"))
	}
	decision, err := hitl.AskAll(ctx, hitl.Request{
		Title:   fmt.Sprintf("Escalation: publish %q?", in.Topic),
		Message: fmt.Sprintf("%s\n\nFeedback so far:%s\n\nLast draft:\n\n%s", why, cmp.Or(fb.String(), " none"), res.Draft),
		Context: map[string]any{"topic": in.Topic, "rounds": res.Rounds},
		Input: input.Spec{Type: input.Select, Options: []input.Option{
			{ID: "publish", Label: "Publish the last draft"},
			{ID: "discard", Label: "Discard it"},
		}},
		Assignees: in.Editors,
		Timeout:   ReviewTimeout,
		OnTimeout: hitl.TimeoutDefault,
		Default:   "discard",
	})
	if err != nil {
		return Result{}, err
	}
	a := decision[0]
	if a.Outcome == hitl.OutcomeCancelled {
		return Result{}, &hitl.CancelledError{RequestID: a.RequestID, By: a.Responder}
	}
	var pick string
	if err := a.Decode(&pick); err != nil {
		return Result{}, err
	}
	res.Status = EditorDiscarded
	if pick == "publish" {
		res.Status, res.ApprovedBy = EditorPublished, a.Responder
	}
	return res, nil
}

// write is the "agent" writing a first draft: deterministic, for the demo and the tests.
func write(topic string) string {
	return fmt.Sprintf("# %s\n\n%s matters because it changes how teams work. This draft introduces it in three "+
		"short paragraphs.", topic, topic)
}

// revise is the "agent" revising a draft with a reviewer's feedback.
func revise(draft string, version int, feedback string) string {
	if strings.TrimSpace(feedback) == "" {
		feedback = "general polish"
	}
	return fmt.Sprintf("%s\n\n(Revision %d: %s.)", draft, version, strings.TrimSuffix(strings.TrimSpace(feedback), "."))
}
