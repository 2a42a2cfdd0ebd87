package refund_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples/refund"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

const (
	decide  = "Refund decision for A-1001"
	amount  = "Refund amount for A-1001"
	method  = "Refund method for A-1001"
	notify  = "Customer notification for A-1001"
	confirm = "Confirm refund for A-1001"
)

var order = refund.Input{OrderID: "A-1001", Reason: "arrived damaged", Assignees: []string{"webhook:ops-bot"}}

func setup(t *testing.T) *hitltest.Harness {
	t.Helper()
	reg := hitl.NewRegistry()
	refund.Register(reg)
	return hitltest.New(t, reg)
}

// The modify path: all five pauses, each checked for its input, then the refund.
func TestFivePauses(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(refund.Name, order)

	run.Expect(decide).
		AssertInput(input.Select).
		AssertOptions("approve", "modify", "reject").
		AssertAssignees("webhook:ops-bot").
		AssertContext("order_id", "A-1001").
		AssertContext("order_total", 149.99).
		AssertMessageContains("Reason: arrived damaged", "Suggested refund: £149.99").
		AssertTimeout(24*time.Hour, hitl.TimeoutFail, nil).
		Answer("modify", hitltest.By("alice"))
	run.Expect(amount).AssertInput(input.Text).AssertMessageContains("order total: £149.99").Answer("120.00")
	run.Expect(method).AssertInput(input.Select).AssertOptions("original", "store_credit", "bank").Answer("store_credit")
	run.Expect(notify).AssertInput(input.MultiSelect).AssertOptions("email", "sms", "push").Answer([]string{"email", "sms"})
	run.Expect(confirm).
		AssertInput(input.Approval).
		AssertMessageContains("Amount: £120.00", "Method: store_credit", "Notify: email, sms").
		Answer(input.ApprovalAnswer{Approved: true, Comment: "customer is a regular"})

	var got refund.Result
	run.Result(&got)
	want := refund.Result{Status: "refunded", OrderID: "A-1001", Amount: 120, Method: "store_credit", NotifiedBy: []string{"email", "sms"}}
	if !equalResult(got, want) {
		t.Errorf("result %+v, want %+v", got, want)
	}
	run.AssertAsked(decide, amount, method, notify, confirm)
	run.AssertBatches([]string{decide}, []string{amount}, []string{method}, []string{notify}, []string{confirm})
	// Six executions and as many replays, yet each step ran once.
	run.AssertStepRuns("analyse_refund", 1)
	run.AssertStepRuns("process_refund", 1)
}

func TestPaths(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		script    hitltest.Script
		want      refund.Result
		wantAsked []string
		wantSteps int // runs of process_refund
	}{
		{
			name: "approve full amount",
			script: hitltest.InOrder(
				hitltest.Answer(decide, "approve"),
				hitltest.Answer(method, "original"),
				hitltest.Answer(notify, []string{"push"}),
				hitltest.Answer(confirm, input.ApprovalAnswer{Approved: true}),
			),
			want:      refund.Result{Status: "refunded", OrderID: "A-1001", Amount: 149.99, Method: "original", NotifiedBy: []string{"push"}},
			wantAsked: []string{decide, method, notify, confirm},
			wantSteps: 1,
		},
		{
			name:      "reject",
			script:    hitltest.InOrder(hitltest.Answer(decide, "reject")),
			want:      refund.Result{Status: "rejected", OrderID: "A-1001"},
			wantAsked: []string{decide},
		},
		{
			name: "cancelled at confirmation",
			script: hitltest.ByTitle(map[string]any{
				decide:  "approve",
				method:  "bank",
				notify:  []string{"email"},
				confirm: map[string]any{"approved": false, "comment": "customer withdrew"},
			}),
			want:      refund.Result{Status: "cancelled", OrderID: "A-1001"},
			wantAsked: []string{decide, method, notify, confirm},
		},
		{
			name: "skipped notification defaults to email",
			script: hitltest.InOrder(
				hitltest.Answer(decide, "approve"),
				hitltest.Answer(method, "bank"),
				hitltest.Answer(notify, nil), // skippable: null
				hitltest.Answer(confirm, input.ApprovalAnswer{Approved: true}),
			),
			want:      refund.Result{Status: "refunded", OrderID: "A-1001", Amount: 149.99, Method: "bank", NotifiedBy: []string{"email"}},
			wantAsked: []string{decide, method, notify, confirm},
			wantSteps: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := setup(t).Start(refund.Name, order)
			run.Play(tt.script)
			var got refund.Result
			run.Result(&got)
			if !equalResult(got, tt.want) {
				t.Errorf("result %+v, want %+v", got, tt.want)
			}
			run.AssertAsked(tt.wantAsked...)
			run.AssertStepRuns("analyse_refund", 1)
			run.AssertStepRuns("process_refund", tt.wantSteps)
		})
	}
}

// Answers the API would refuse are refused here too, and change nothing.
func TestInvalidAnswers(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(refund.Name, order)

	q := run.Expect(decide)
	for _, bad := range []any{"maybe", 1, nil, []string{"approve"}} {
		if err := q.Validate(bad); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("Validate(%v) = %v, want input.ErrInvalid", bad, err)
		}
	}
	q.Answer("modify")
	if err := run.Expect(amount).Validate("1234567890123"); !errors.Is(err, input.ErrInvalid) {
		t.Errorf("a 13-character amount: Validate = %v, want input.ErrInvalid (max_length 12)", err)
	}
	if err := q.Validate("approve"); !errors.Is(err, hitltest.ErrResolved) {
		t.Errorf("answering the decision twice: Validate = %v, want ErrResolved", err)
	}
	run.AssertPending(amount)
}

// A well-formed text that is not an amount the order allows fails the run.
func TestBadAmountFailsTheRun(t *testing.T) {
	t.Parallel()
	for _, amt := range []string{"ten", "0", "150.00"} {
		t.Run(amt, func(t *testing.T) {
			t.Parallel()
			run := setup(t).Start(refund.Name, order)
			run.Expect(decide).Answer("modify")
			run.Expect(amount).Answer(amt)
			if err := run.AssertFailed(nil); err.Error() != `invalid refund amount "`+amt+`"` {
				t.Errorf("error %q", err)
			}
			run.AssertStepRuns("process_refund", 0)
		})
	}
}

// The questions time out after 24 hours and fail the run; a cancelled question too.
func TestTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(refund.Name, order)
	run.Expect(decide).Answer("approve")
	run.Expect(method).Answer(hitltest.Timeout())
	run.AssertFailed(hitl.ErrTimeout)

	run = setup(t).Start(refund.Name, order)
	run.Expect(decide).Answer(hitltest.CancelBecause("duplicate ticket"))
	run.AssertFailed(hitl.ErrCancelled)
}

func TestCancelRun(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(refund.Name, order)
	run.Expect(decide).Answer("approve")
	q := run.Expect(method)
	run.Cancel("customer closed the ticket")
	run.AssertCancelled()
	if q.Outcome() != hitl.OutcomeCancelled {
		t.Errorf("pending question %s after the run's cancel", q.Request.Status)
	}
	run.AssertStepRuns("process_refund", 0)
}

// A checkpoint taken mid-run resumes elsewhere (as after a restart of every process), with
// pre-supplied answers for what it waits on; nothing before it runs again.
func TestResumeCheckpoint(t *testing.T) {
	t.Parallel()
	first := setup(t).Start(refund.Name, order)
	first.Expect(decide).Answer("modify")
	first.Expect(amount).Answer("99.50")
	stored, err := json.Marshal(first.Checkpoint())
	if err != nil {
		t.Fatal(err)
	}

	run := setup(t).ResumeJSON(stored)
	run.Expect(method).AssertOptions("original", "store_credit", "bank")
	run.Supply(hitltest.ByTitle(map[string]any{method: "bank", notify: []string{"sms"}}))
	run.AssertPending(confirm)
	run.Next().Answer(input.ApprovalAnswer{Approved: true})

	var got refund.Result
	run.Result(&got)
	if got.Amount != 99.5 || got.Method != "bank" {
		t.Errorf("result %+v", got)
	}
	run.AssertStepRuns("analyse_refund", 0) // recorded before the checkpoint
	run.AssertStepRuns("process_refund", 1)
	run.AssertAsked(method, notify, confirm)
}

func TestMissingOrderFails(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(refund.Name, refund.Input{})
	run.AssertFailed(nil)
	run.AssertAsked()
}

func equalResult(a, b refund.Result) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
