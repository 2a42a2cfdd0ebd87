// Package approvalgate holds the two jobs of the Masumi HITL seed, as hitl workflows: the
// approval gate (a person approves processing a text before it is uppercased) and a job with
// two HITL steps (confirm before starting, then accept the result). Both ask with the form
// input type, whose fields are Masumi's input_data field list, so a Masumi client drives them
// through the job API (package jobapi) exactly as it would a Masumi agent.
package approvalgate

import (
	"context"
	"fmt"
	"strings"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
)

const (
	// Name is the approval gate's registered name, the job API's default workflow.
	Name = "approval-gate"
	// TwoStepName is the registered name of the job with two HITL steps.
	TwoStepName = "approval-gate-two-step"
)

// Input is a job's input_data.
type Input struct {
	Text string `json:"text"`
	// IdentifierFromPurchaser is start_job's identifier_from_purchaser, which the job API
	// adds to the run's input. Declaring it is optional.
	IdentifierFromPurchaser string `json:"identifier_from_purchaser,omitempty"`
}

// InputSchema is the jobs' start input in Masumi's field-list format, as GET /input_schema
// serves it: one string field "text".
var InputSchema = []input.Field{{
	ID: "text", Type: input.FieldString, Name: "Text", Required: true,
	Data: input.FieldData{Description: "The text to process"},
}}

// Register adds both workflows to reg.
func Register(reg *hitl.Registry) {
	hitl.Register(reg, Name, Run)
	hitl.Register(reg, TwoStepName, RunTwoStep)
}

// Run is the approval gate: it asks for approval before processing, and returns the text
// uppercased, or "Processing was not approved.".
func Run(ctx context.Context, in Input) (string, error) {
	approval, err := hitl.Ask[struct {
		Approve bool `json:"approve"`
	}](ctx, hitl.Request{
		Title:   "Approve Processing",
		Message: "Please review and approve this request.",
		Input: input.Spec{Type: input.Form, Fields: []input.Field{{
			ID: "approve", Type: input.FieldBoolean, Name: "Approve Processing",
			Data: input.FieldData{Description: fmt.Sprintf("Approve processing for: '%s'?", in.Text)},
		}}},
	})
	if err != nil {
		return "", err
	}
	if !approval.Approve {
		return "Processing was not approved.", nil
	}
	return strings.ToUpper(in.Text), nil
}

// RunTwoStep pauses twice: before it starts, and to have its result accepted.
func RunTwoStep(ctx context.Context, in Input) (string, error) {
	step1, err := hitl.Ask[struct {
		Start bool `json:"start"`
	}](ctx, hitl.Request{
		Title:   "Begin?",
		Message: "Ready to begin? Confirm to start.",
		Input:   input.Spec{Type: input.Form, Fields: []input.Field{{ID: "start", Type: input.FieldBoolean, Name: "Begin?"}}},
	})
	if err != nil {
		return "", err
	}
	if !step1.Start {
		return "Cancelled at step 1.", nil
	}

	// The work runs once per job: on every later replay its recorded result is returned.
	result, err := hitl.Step(ctx, "do_expensive_work", func(context.Context) (string, error) {
		return strings.ToUpper(in.Text), nil
	})
	if err != nil {
		return "", err
	}

	step2, err := hitl.Ask[struct {
		Accept   bool   `json:"accept"`
		Feedback string `json:"feedback"`
	}](ctx, hitl.Request{
		Title:   "Accept result?",
		Message: "Please review the result.",
		Input: input.Spec{Type: input.Form, Fields: []input.Field{
			{ID: "accept", Type: input.FieldBoolean, Name: "Accept result?", Data: input.FieldData{Description: "Result: " + result}},
			{ID: "feedback", Type: input.FieldString, Name: "Feedback", Data: input.FieldData{Description: "Optional feedback"}},
		}},
	})
	if err != nil {
		return "", err
	}
	if !step2.Accept {
		return "Result rejected. Feedback: " + step2.Feedback, nil
	}
	return result, nil
}
