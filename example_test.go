package hitl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
)

type Refund struct {
	OrderID string  `json:"order_id"`
	Amount  float64 `json:"amount"`
}

// This example registers a workflow and drives one run of it by hand, the way the
// orchestrator does: execute, publish what was asked, wait for answers, record them in the
// journal and execute again. Each execution replays the workflow from the top; the Step runs
// once, and recorded answers come back at once.
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

	x := &journal.Execution{
		RunID:    "run-1",
		Workflow: "refund",
		Input:    json.RawMessage(`{"order_id":"A-17","amount":42}`),
	}
	for i := 1; ; i++ {
		if err := reg.Execute(context.Background(), x); err != nil {
			log.Fatal(err)
		}
		if x.Outcome != journal.Suspended {
			break
		}
		fmt.Printf("execution %d: waiting on %d request(s)\n", i, len(x.Waiting))
		for _, req := range x.Asked {
			fmt.Printf("  asked %q (id %s)\n", req.Title, req.ID)
		}
		// A person approves: record the response in the journal entry of the request.
		for j := range x.Journal {
			if e := &x.Journal[j]; e.RequestID != "" && e.Answer == nil {
				e.Answer = &events.Response{
					RequestID: e.RequestID, Outcome: events.StatusAnswered,
					Data: json.RawMessage(`{"approved":true}`), Responder: "webhook:ops-bot",
				}
			}
		}
	}
	fmt.Printf("completed: %s\n", x.Result)

	// Replaying the finished run repeats nothing.
	if err := reg.Execute(context.Background(), x); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("replayed: %s\n", x.Result)

	// Output:
	// execution 1: waiting on 1 request(s)
	//   asked "Refund 42.00 EUR on order A-17?" (id 68da5a30-9b06-54f1-9e5f-fbb64de740c0)
	//   (calling the payment provider)
	// completed: "refunded as rf_1001"
	// replayed: "refunded as rf_1001"
}

// AskAll puts several questions at once; the run waits until every one is resolved.
// A timed-out or cancelled request is reported in its Answer's Outcome, not as an error.
func ExampleAskAll() {
	reg := hitl.NewRegistry()
	hitl.Register(reg, "release", func(ctx context.Context, version string) ([]string, error) {
		answers, err := hitl.AskAll(ctx,
			hitl.Request{Title: "Legal sign-off for " + version + "?"},
			hitl.Request{Title: "Security sign-off for " + version + "?"},
		)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range answers {
			if a.Outcome != events.StatusAnswered {
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

	x := &journal.Execution{RunID: "run-2", Workflow: "release", Input: json.RawMessage(`"v2.0"`)}
	_ = reg.Execute(context.Background(), x)
	fmt.Println(len(x.Asked), "asked, waiting on", len(x.Waiting))

	// Only the first is answered: the run still waits, and asks nothing new.
	x.Journal[0].Answer = &events.Response{Outcome: events.StatusAnswered, Data: json.RawMessage(`{"approved":true}`)}
	_ = reg.Execute(context.Background(), x)
	fmt.Println(len(x.Asked), "asked, waiting on", len(x.Waiting))

	// The second times out.
	x.Journal[1].Answer = &events.Response{Outcome: events.StatusTimedOut}
	_ = reg.Execute(context.Background(), x)
	fmt.Println(x.Outcome == journal.Completed, string(x.Result))

	// Output:
	// 2 asked, waiting on 2
	// 0 asked, waiting on 1
	// true ["approved=true","timed_out"]
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
		return n, err
	})
	x := &journal.Execution{RunID: "run-3", Workflow: "counter"}
	for range 3 {
		_ = reg.Execute(context.Background(), x)
	}
	fmt.Println(string(x.Result), "after", calls, "call")
	// Output:
	// 10 after 1 call
}
