package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
)

// This example drives one run by hand, the way the orchestrator does with a checkpoint read
// from the hitl_runs bucket: execute, create what was asked, record the answer that won the
// request's gate, apply the outcome to the checkpoint, and execute again. Each execution
// replays the workflow from the top; the Step runs once, and the recorded answer comes back
// at once.
func Example() {
	reg := hitl.NewRegistry()
	hitl.Register(reg, "refund", func(ctx context.Context, orderID string) (string, error) {
		ok, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Refund order " + orderID + "?"})
		if err != nil || !ok.Approved {
			return "declined", err
		}
		return hitl.Step(ctx, "issue refund", func(ctx context.Context) (string, error) {
			fmt.Println("  (calling the payment provider)")
			return "refunded as rf_1001", nil
		})
	})

	run := &journal.Run{ID: "run-1", Workflow: "refund", Input: json.RawMessage(`"A-17"`), Status: events.RunRunning}
	execute := func() {
		x := &journal.Execution{RunID: run.ID, Workflow: run.Workflow, Input: run.Input, Journal: run.Journal}
		if err := x.Settle(reg.Execute(context.Background(), x)); err != nil {
			log.Fatal(err) // the orchestrator retries from the checkpoint
		}
		for _, req := range x.Asked {
			fmt.Printf("  asked %q (id %s)\n", req.Title, req.ID) // the orchestrator stores and publishes it
		}
		run.Apply(x)
		fmt.Printf("%s, waiting on %d\n", run.Status, len(run.Waiting))
	}

	execute()
	// A person approves: the response wins the request's gate and is recorded in the journal.
	resume, err := run.RecordAnswer(events.Response{RequestID: run.Waiting[0], Outcome: events.StatusAnswered,
		Data: json.RawMessage(`{"approved":true}`), Responder: "webhook:ops-bot"})
	if err != nil {
		log.Fatal(err)
	}
	if resume {
		execute()
	}
	fmt.Printf("result %s\n", run.Result)

	// Replaying the finished run repeats nothing.
	execute()

	// Output:
	//   asked "Refund order A-17?" (id 68da5a30-9b06-54f1-9e5f-fbb64de740c0)
	// waiting, waiting on 1
	//   (calling the payment provider)
	// completed, waiting on 0
	// result "refunded as rf_1001"
	// completed, waiting on 0
}
