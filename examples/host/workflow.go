package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
)

// Name is the workflow this binary hosts.
const Name = "host-demo"

// Expense is a run's input.
type Expense struct {
	Employee string  `json:"employee"`
	Amount   float64 `json:"amount"`
	Reason   string  `json:"reason"`
}

// Result is a run's result.
type Result struct {
	Status  string `json:"status"`            // "paid" or "rejected"
	Payment string `json:"payment,omitempty"` // the payment reference
	Comment string `json:"comment,omitempty"` // the approver's comment
}

// Run asks for approval, then pays once: the payment is a Step, recorded in the run's
// journal, so a restart after it never pays twice.
func Run(ctx context.Context, in Expense) (Result, error) {
	if in.Employee == "" || in.Amount <= 0 {
		return Result{}, errors.New("employee and a positive amount are required")
	}
	d, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{
		Title:   fmt.Sprintf("Expense of %.2f for %s", in.Amount, in.Employee),
		Message: in.Reason,
		Context: map[string]any{"employee": in.Employee, "amount": in.Amount},
		Input:   input.Spec{Type: input.Approval},
	})
	if err != nil {
		return Result{}, err
	}
	if !d.Approved {
		return Result{Status: "rejected", Comment: d.Comment}, nil
	}
	ref, err := hitl.Step(ctx, "pay", func(ctx context.Context) (string, error) {
		// StepKey is the same on every attempt: a payment API's idempotency key.
		return "pay-" + hitl.StepKey(ctx), nil
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Status: "paid", Payment: ref, Comment: d.Comment}, nil
}
