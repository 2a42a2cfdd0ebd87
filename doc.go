// Package hitl is the Go SDK of hitl, durable human-in-the-loop on NATS JetStream.
//
// A workflow is a plain Go function registered by name. It asks people questions with
// Ask (or several at once with AskAll) and wraps side effects in Step:
//
//	hitl.Register(reg, "refund", func(ctx context.Context, in Refund) (Result, error) {
//		ok, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{
//			Title: "Refund " + in.OrderID + "?", Input: input.Spec{Type: input.Approval},
//			Assignees: []string{"webhook:ops-bot"}, Timeout: time.Hour,
//		})
//		...
//	})
//
// Runs are durable: each Ask and Step has a position in the run's journal, stored in
// JetStream KV. When an Ask has no answer yet the run is suspended (no goroutine waits);
// when the answer arrives, on any orchestrator instance, the function runs again from the
// top, recorded results return at once, and execution continues past the Ask. Workflows
// must therefore be deterministic outside Step: the same journal must lead to the same
// sequence of Ask and Step calls.
package hitl
