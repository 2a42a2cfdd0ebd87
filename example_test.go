package hitl_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

type Refund struct {
	OrderID string  `json:"order_id"`
	Amount  float64 `json:"amount"`
}

// exampleT stands in for the *testing.T of a test: it prints failures, and Fatalf ends the
// goroutine as t.Fatalf does.
type exampleT struct{ testing.TB }

func (exampleT) Helper() {}

func (exampleT) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }

func (t exampleT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

// test runs fn as a test function runs: on its own goroutine, with a testing.TB.
func test(fn func(t testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(exampleT{})
	}()
	<-done
}

// This example registers a workflow and runs it with hitltest, which drives it as the
// orchestrator does: the run suspends at the Ask, the answer resumes it, and every execution
// replays the workflow from the top. The Step runs once, and the recorded answer comes back
// at once.
func Example() {
	reg := hitl.NewRegistry()
	hitl.Register(reg, "refund", func(ctx context.Context, in Refund) (string, error) {
		ok, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{
			Title:     fmt.Sprintf("Refund %.2f EUR on order %s?", in.Amount, in.OrderID),
			Input:     input.Spec{Type: input.Approval},
			Assignees: []string{"webhook:ops-bot"},
			Timeout:   time.Hour,
		})
		if err != nil {
			return "", err
		}
		if !ok.Approved {
			return "refund declined: " + ok.Comment, nil
		}
		id, err := hitl.Step(ctx, "issue refund", func(ctx context.Context) (string, error) {
			fmt.Println("  (calling the payment provider)")
			return "rf_1001", nil
		})
		if err != nil {
			return "", err
		}
		return "refunded as " + id, nil
	})

	test(func(t testing.TB) {
		run := hitltest.New(t, reg).Start("refund", Refund{OrderID: "A-17", Amount: 42})
		q := run.Next()
		fmt.Printf("waiting on %q (id %s)\n", q.Request.Title, q.Request.ID)
		q.Answer(input.ApprovalAnswer{Approved: true}, hitltest.By("webhook:ops-bot"))
		var out string
		run.Result(&out)
		fmt.Println("completed:", out)
	})

	// Output:
	// waiting on "Refund 42.00 EUR on order A-17?" (id 68da5a30-9b06-54f1-9e5f-fbb64de740c0)
	//   (calling the payment provider)
	// completed: refunded as rf_1001
}

// AskAll puts several questions at once; the run waits until every one is resolved.
// A timed-out or cancelled request is reported in its Answer's Outcome, not as an error.
func ExampleAskAll() {
	reg := hitl.NewRegistry()
	hitl.Register(reg, "release", func(ctx context.Context, version string) ([]string, error) {
		answers, err := hitl.AskAll(ctx,
			hitl.Request{Title: "Legal sign-off for " + version + "?"},
			hitl.Request{Title: "Security sign-off for " + version + "?", Timeout: 24 * time.Hour},
		)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range answers {
			if a.Outcome != hitl.OutcomeAnswered {
				out = append(out, string(a.Outcome))
				continue
			}
			var v input.ApprovalAnswer
			if err := a.Decode(&v); err != nil {
				return nil, err
			}
			out = append(out, fmt.Sprintf("approved=%v", v.Approved))
		}
		return out, nil
	})

	test(func(t testing.TB) {
		run := hitltest.New(t, reg).Start("release", "v2.0")
		fmt.Println("waiting on", len(run.Pending()))

		// Only the first is answered: the run still waits, and asks nothing new.
		run.Expect("Legal sign-off for v2.0?").Answer(input.ApprovalAnswer{Approved: true})
		fmt.Println("waiting on", len(run.Pending()), "of", len(run.Questions()), "asked")

		// The second times out.
		run.Expect("Security sign-off for v2.0?").Answer(hitltest.Timeout())
		var out []string
		run.Result(&out)
		fmt.Println(out)
	})

	// Output:
	// waiting on 2
	// waiting on 1 of 2 asked
	// [approved=true timed_out]
}

// Step records the result of a side effect in the journal; replays return it without
// running the function again.
func ExampleStep() {
	calls := 0
	reg := hitl.NewRegistry()
	hitl.Register(reg, "counter", func(ctx context.Context, _ struct{}) (int, error) {
		n, err := hitl.Step(ctx, "increment", func(context.Context) (int, error) {
			calls++
			return calls * 10, nil
		})
		if err != nil {
			return 0, err
		}
		// The run suspends here and replays from the top once answered.
		if _, err := hitl.Ask[bool](ctx, hitl.Request{Title: "Carry on?"}); err != nil {
			return 0, err
		}
		return n, nil
	})

	test(func(t testing.TB) {
		run := hitltest.New(t, reg).Start("counter", nil)
		run.Next().Answer(true)
		var n int
		run.Result(&n)
		fmt.Println(n, "after", calls, "call")
	})

	// Output:
	// 10 after 1 call
}

// A request's timeout policy decides what Ask returns when nobody answers in time: with
// TimeoutDefault, the Default as if it were the answer.
func ExampleTimeoutPolicy() {
	reg := hitl.NewRegistry()
	hitl.Register(reg, "moderate", func(ctx context.Context, comment string) (string, error) {
		return hitl.Ask[string](ctx, hitl.Request{
			Title:   "Publish " + comment + "?",
			Input:   input.Spec{Type: input.Select, Options: []input.Option{{ID: "publish"}, {ID: "discard"}}},
			Timeout: time.Hour, OnTimeout: hitl.TimeoutDefault, Default: "discard",
		})
	})

	test(func(t testing.TB) {
		run := hitltest.New(t, reg).Start("moderate", "c-17")
		run.Next().Answer(hitltest.Timeout())
		var out string
		run.Result(&out)
		fmt.Println(out)
	})

	// Output:
	// discard
}
