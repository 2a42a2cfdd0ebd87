package toolapproval_test

import (
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples/toolapproval"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

const allowRefund = "Allow the agent to call issue_refund?"

var refundTask = toolapproval.Input{
	Task:      "Refund 25.50 on order A-1001, the parcel was lost",
	Approvers: []string{"webhook:ops-bot"},
	Timeout:   hitl.Duration(15 * time.Minute),
}

func setup(t *testing.T) *hitltest.Harness {
	t.Helper()
	reg := hitl.NewRegistry()
	toolapproval.Register(reg)
	return hitltest.New(t, reg)
}

// The approval question shows the tool and its arguments, and rejects by default on timeout.
func TestApprovalQuestion(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(toolapproval.Name, refundTask)
	run.Expect(allowRefund).
		AssertInput(input.Approval).
		AssertAssignees("webhook:ops-bot").
		AssertContext("tool", "issue_refund").
		AssertContext("arguments", map[string]any{"order_id": "A-1001", "amount": 25.5}).
		AssertContext("task", refundTask.Task).
		AssertMessageContains("**issue_refund**", `"order_id": "A-1001"`, `"amount": 25.5`, "within 15m0s").
		AssertTimeout(15*time.Minute, hitl.TimeoutDefault, input.ApprovalAnswer{Comment: "no answer in time"})
	run.AssertStepRuns("plan_tool_call", 1)
	run.AssertStepRuns("call_tool", 0) // nothing runs before the approval
}

func TestOutcomes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		answer   any
		want     toolapproval.Result
		wantRuns int // of call_tool
	}{
		{
			name:   "approved",
			answer: input.ApprovalAnswer{Approved: true, Comment: "lost parcel confirmed"},
			want: toolapproval.Result{Status: toolapproval.Executed, Output: "refunded 25.50 on order A-1001",
				DecidedBy: "hitltest", Comment: "lost parcel confirmed"},
			wantRuns: 1,
		},
		{
			name:   "rejected",
			answer: input.ApprovalAnswer{Approved: false, Comment: "parcel was delivered"},
			want:   toolapproval.Result{Status: toolapproval.Rejected, DecidedBy: "hitltest", Comment: "parcel was delivered"},
		},
		{
			name:   "timed out: rejected by default",
			answer: hitltest.Timeout(),
			want:   toolapproval.Result{Status: toolapproval.TimedOut, DecidedBy: "hitl:timeout", Comment: "no answer in time"},
		},
		{
			name:   "cancelled",
			answer: hitltest.CancelBecause("task withdrawn"),
			want:   toolapproval.Result{Status: toolapproval.Cancelled, DecidedBy: "hitltest", Comment: "task withdrawn"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := setup(t).Start(toolapproval.Name, refundTask)
			run.Play(hitltest.InOrder(hitltest.Answer(allowRefund, tt.answer)))
			var got toolapproval.Result
			run.Result(&got)
			if got.Status != tt.want.Status || got.Output != tt.want.Output || got.DecidedBy != tt.want.DecidedBy ||
				got.Comment != tt.want.Comment || got.Call.Tool != "issue_refund" {
				t.Errorf("result %+v, want %+v", got, tt.want)
			}
			run.AssertStepRuns("plan_tool_call", 1)
			run.AssertStepRuns("call_tool", tt.wantRuns)
		})
	}
}

func TestPlans(t *testing.T) {
	t.Parallel()

	tests := []struct {
		task, wantAsked, wantOutput string
	}{
		{"Email the invoice to ana@example.com", "Allow the agent to call send_email?", "sent to ana@example.com"},
		{"Delete the account of user-42.", "Allow the agent to call delete_account?", "deleted account user-42"},
		{"Refund order B-7 fully, 80", allowRefund, "refunded 80.00 on order B-7"},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			t.Parallel()
			run := setup(t).Start(toolapproval.Name, toolapproval.Input{Task: tt.task})
			run.Expect(tt.wantAsked).
				AssertTimeout(toolapproval.DefaultTimeout, hitl.TimeoutDefault, input.ApprovalAnswer{Comment: "no answer in time"}).
				Answer(input.ApprovalAnswer{Approved: true}, hitltest.By("ana"))
			var got toolapproval.Result
			run.Result(&got)
			if got.Output != tt.wantOutput || got.DecidedBy != "ana" {
				t.Errorf("result %+v, want output %q by ana", got, tt.wantOutput)
			}
		})
	}
}

// A tool that is not sensitive runs without a question.
func TestNotSensitive(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(toolapproval.Name, toolapproval.Input{Task: "Find the onboarding guide"})
	var got toolapproval.Result
	run.Result(&got)
	if got.Status != toolapproval.Executed || got.Call.Tool != "search_docs" || got.DecidedBy != "" {
		t.Errorf("result %+v", got)
	}
	run.AssertAsked()
	run.AssertStepRuns("call_tool", 1)
}

func TestEmptyTask(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(toolapproval.Name, toolapproval.Input{Task: " "})
	run.AssertFailed(nil)
}
