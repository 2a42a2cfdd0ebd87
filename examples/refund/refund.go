// Package refund is the refund approval of the seed documents: an AI step reviews a refund
// request, then a support agent decides in up to five pauses (decide, adjust the amount,
// pick the method, pick the notification channels, confirm) before money moves.
package refund

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
)

// Name is the workflow's registered name.
const Name = "refund"

// Input starts a refund run.
type Input struct {
	OrderID string  `json:"order_id"`
	Reason  string  `json:"reason"`
	Total   float64 `json:"total,omitempty"` // defaults to 149.99
	// Assignees receive every question (e.g. ["webhook:ops-bot"]); empty in the demo.
	Assignees []string `json:"assignees,omitempty"`
}

// Result is how the run ended.
type Result struct {
	Status     string   `json:"status"` // refunded, rejected, cancelled, ineligible
	OrderID    string   `json:"order_id"`
	Amount     float64  `json:"amount,omitempty"`
	Method     string   `json:"method,omitempty"`
	NotifiedBy []string `json:"notified_via,omitempty"`
}

type analysis struct {
	Eligible        bool    `json:"eligible"`
	OrderTotal      float64 `json:"order_total"`
	SuggestedAmount float64 `json:"suggested_amount"`
	Summary         string  `json:"summary"`
}

// Register adds the workflow to reg.
func Register(reg *hitl.Registry) { hitl.Register(reg, Name, Run) }

// Run is the workflow.
func Run(ctx context.Context, in Input) (Result, error) {
	if in.OrderID == "" {
		return Result{}, fmt.Errorf("order_id is required")
	}
	total := in.Total
	if total == 0 {
		total = 149.99
	}
	a, err := hitl.Step(ctx, "analyse_refund", func(context.Context) (analysis, error) {
		return analysis{Eligible: total > 0, OrderTotal: total, SuggestedAmount: total,
			Summary: fmt.Sprintf("Order %s, £%.2f, eligible for a full refund. Reason: %s", in.OrderID, total, in.Reason)}, nil
	})
	if err != nil {
		return Result{}, err
	}
	if !a.Eligible {
		return Result{Status: "ineligible", OrderID: in.OrderID}, nil
	}
	ask := func(title, message string, spec input.Spec) hitl.Request {
		return hitl.Request{Title: title, Message: message, Input: spec, Assignees: in.Assignees,
			Context: map[string]any{"order_id": in.OrderID, "order_total": a.OrderTotal}, Timeout: 24 * time.Hour}
	}

	decision, err := hitl.Ask[string](ctx, ask("Refund decision for "+in.OrderID,
		fmt.Sprintf("%s\n\nSuggested refund: £%.2f. What would you like to do?", a.Summary, a.SuggestedAmount),
		input.Spec{Type: input.Select, Options: []input.Option{
			{ID: "approve", Label: "Approve full refund"},
			{ID: "modify", Label: "Approve with a different amount"},
			{ID: "reject", Label: "Reject refund"},
		}}))
	if err != nil {
		return Result{}, err
	}
	if decision == "reject" {
		return Result{Status: "rejected", OrderID: in.OrderID}, nil
	}

	amount := a.SuggestedAmount
	if decision == "modify" {
		maxLen := 12
		raw, err := hitl.Ask[string](ctx, ask("Refund amount for "+in.OrderID,
			fmt.Sprintf("Enter the refund amount (order total: £%.2f):", a.OrderTotal),
			input.Spec{Type: input.Text, MaxLength: &maxLen}))
		if err != nil {
			return Result{}, err
		}
		v, perr := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if perr != nil || v <= 0 || v > a.OrderTotal {
			return Result{}, fmt.Errorf("invalid refund amount %q", raw)
		}
		amount = v
	}

	method, err := hitl.Ask[string](ctx, ask("Refund method for "+in.OrderID,
		"How should the refund be returned to the customer?",
		input.Spec{Type: input.Select, Options: []input.Option{
			{ID: "original", Label: "Original payment method"},
			{ID: "store_credit", Label: "Store credit"},
			{ID: "bank", Label: "Bank transfer"},
		}}))
	if err != nil {
		return Result{}, err
	}

	channels, err := hitl.Ask[[]string](ctx, ask("Customer notification for "+in.OrderID, "Notify the customer via:",
		input.Spec{Type: input.MultiSelect, Skippable: true, Options: []input.Option{
			{ID: "email", Label: "Email"}, {ID: "sms", Label: "SMS"}, {ID: "push", Label: "Push notification"},
		}}))
	if err != nil {
		return Result{}, err
	}
	if len(channels) == 0 {
		channels = []string{"email"}
	}

	confirm, err := hitl.Ask[input.ApprovalAnswer](ctx, ask("Confirm refund for "+in.OrderID,
		fmt.Sprintf("Ready to process:\n  Order: %s\n  Amount: £%.2f\n  Method: %s\n  Notify: %s\n\nConfirm?",
			in.OrderID, amount, method, strings.Join(channels, ", ")),
		input.Spec{Type: input.Approval}))
	if err != nil {
		return Result{}, err
	}
	if !confirm.Approved {
		return Result{Status: "cancelled", OrderID: in.OrderID}, nil
	}

	return hitl.Step(ctx, "process_refund", func(context.Context) (Result, error) {
		// In a real deployment: the payments API and the notification service.
		return Result{Status: "refunded", OrderID: in.OrderID, Amount: amount, Method: method, NotifiedBy: channels}, nil
	})
}
