package main

import (
	"testing"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

func setup(t *testing.T) *hitltest.Harness {
	t.Helper()
	reg := hitl.NewRegistry()
	hitl.Register(reg, Name, Run)
	return hitltest.New(t, reg)
}

func TestApprovedExpenseIsPaidOnce(t *testing.T) {
	run := setup(t).Start(Name, Expense{Employee: "ada", Amount: 42.5, Reason: "conference taxi"})
	run.Expect("Expense of 42.50 for ada").
		AssertInput(input.Approval).
		AssertContext("employee", "ada").
		Answer(input.ApprovalAnswer{Approved: true, Comment: "fine"})
	var got Result
	run.Result(&got)
	if got.Status != "paid" || got.Payment == "" || got.Comment != "fine" {
		t.Fatalf("result %+v", got)
	}
}

func TestRejectedExpenseIsNotPaid(t *testing.T) {
	run := setup(t).Start(Name, Expense{Employee: "bob", Amount: 9000})
	run.Expect("Expense of 9000.00 for bob").Answer(input.ApprovalAnswer{Approved: false, Comment: "too much"})
	var got Result
	run.Result(&got)
	if got.Status != "rejected" || got.Payment != "" {
		t.Fatalf("result %+v", got)
	}
}
