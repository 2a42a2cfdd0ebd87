// Package toolapproval is tool approval from the seed documents: an agent plans a tool call,
// and a sensitive tool runs only after a person approves the call, shown with its tool name
// and arguments. A question nobody answers in time is a rejection. Tools that are not
// sensitive run without asking.
package toolapproval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
)

// Name is the workflow's registered name.
const Name = "toolapproval"

// DefaultTimeout is how long approvers have when the input sets no timeout.
const DefaultTimeout = time.Hour

// Input starts a run: a task for the agent.
type Input struct {
	Task string `json:"task"`
	// Approvers receive the approval question (e.g. ["webhook:ops-bot"]); empty in the demo.
	Approvers []string `json:"approvers,omitempty"`
	// Timeout for the approval, e.g. "15m"; default DefaultTimeout. No answer in time
	// rejects the call.
	Timeout hitl.Duration `json:"timeout,omitempty"`
}

// Call is a tool call the agent planned.
type Call struct {
	Tool      string         `json:"tool"`
	Arguments map[string]any `json:"arguments"`
	Sensitive bool           `json:"sensitive"`
}

// Status values of a Result.
const (
	Executed  = "executed"  // the tool ran (approved, or not sensitive)
	Rejected  = "rejected"  // an approver rejected the call
	TimedOut  = "timed_out" // nobody answered in time: rejected by default
	Cancelled = "cancelled" // the question was cancelled
)

// Result is what happened to the planned call.
type Result struct {
	Status string `json:"status"`
	Call   Call   `json:"call"`
	// Output is the tool's output, when it ran.
	Output string `json:"output,omitempty"`
	// DecidedBy is who approved or rejected ("hitl:timeout" on timeout); empty when the
	// tool needed no approval.
	DecidedBy string `json:"decided_by,omitempty"`
	Comment   string `json:"comment,omitempty"`
}

// Register adds the workflow to reg.
func Register(reg *hitl.Registry) { hitl.Register(reg, Name, Run) }

// Run is the workflow.
func Run(ctx context.Context, in Input) (Result, error) {
	if strings.TrimSpace(in.Task) == "" {
		return Result{}, errors.New("task is required")
	}
	timeout := time.Duration(in.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	call, err := hitl.Step(ctx, "plan_tool_call", func(context.Context) (Call, error) { return plan(in.Task), nil })
	if err != nil {
		return Result{}, err
	}
	res := Result{Call: call}

	if call.Sensitive {
		args, err := json.MarshalIndent(call.Arguments, "", "  ")
		if err != nil {
			return Result{}, err
		}
		answers, err := hitl.AskAll(ctx, hitl.Request{
			Title: fmt.Sprintf("Allow the agent to call %s?", call.Tool),
			Message: fmt.Sprintf("The agent wants to call **%s** for the task:\n\n> %s\n\nArguments:\n\n```json\n%s\n```\n\n"+
				"No answer within %v rejects the call.", call.Tool, in.Task, args, timeout),
			Context:   map[string]any{"tool": call.Tool, "arguments": call.Arguments, "task": in.Task},
			Input:     input.Spec{Type: input.Approval},
			Assignees: in.Approvers,
			Timeout:   timeout,
			OnTimeout: hitl.TimeoutDefault,
			Default:   input.ApprovalAnswer{Approved: false, Comment: "no answer in time"},
		})
		if err != nil {
			return Result{}, err
		}
		a := answers[0] // AskAll rather than Ask: the outcome and responder tell a timeout from a person
		res.DecidedBy = a.Responder
		if a.Outcome == hitl.OutcomeCancelled {
			res.Status, res.Comment = Cancelled, a.Comment
			return res, nil
		}
		var ok input.ApprovalAnswer
		if err := a.Decode(&ok); err != nil {
			return Result{}, err
		}
		res.Comment = ok.Comment
		switch {
		case a.Outcome == hitl.OutcomeTimedOut:
			res.Status = TimedOut
			return res, nil
		case !ok.Approved:
			res.Status = Rejected
			return res, nil
		}
	}

	res.Output, err = hitl.Step(ctx, "call_tool", func(context.Context) (string, error) { return execute(call) })
	if err != nil {
		return Result{}, err
	}
	res.Status = Executed
	return res, nil
}

var (
	orderID = regexp.MustCompile(`\b[A-Z]-\d+\b`)
	amount  = regexp.MustCompile(`\b\d+(?:\.\d{1,2})?\b`)
	email   = regexp.MustCompile(`\b[^\s@]+@[^\s@]+\.[a-z]{2,}\b`)
)

// plan is the "agent": a deterministic keyword planner, for the demo and the tests.
func plan(task string) Call {
	lower := strings.ToLower(task)
	switch {
	case strings.Contains(lower, "refund"):
		amt, _ := strconv.ParseFloat(amount.FindString(strings.ReplaceAll(task, orderID.FindString(task), "")), 64)
		return Call{Tool: "issue_refund", Sensitive: true,
			Arguments: map[string]any{"order_id": orderID.FindString(task), "amount": amt}}
	case strings.Contains(lower, "email"):
		return Call{Tool: "send_email", Sensitive: true,
			Arguments: map[string]any{"to": email.FindString(task), "subject": task}}
	case strings.Contains(lower, "delete"):
		fields := strings.Fields(task)
		return Call{Tool: "delete_account", Sensitive: true,
			Arguments: map[string]any{"account": strings.Trim(fields[len(fields)-1], ".")}}
	}
	return Call{Tool: "search_docs", Arguments: map[string]any{"query": task}}
}

// execute is the tool: in a real deployment, the payments API, the mailer, and so on.
func execute(c Call) (string, error) {
	switch c.Tool {
	case "issue_refund":
		return fmt.Sprintf("refunded %.2f on order %v", c.Arguments["amount"], c.Arguments["order_id"]), nil
	case "send_email":
		return fmt.Sprintf("sent to %v", c.Arguments["to"]), nil
	case "delete_account":
		return fmt.Sprintf("deleted account %v", c.Arguments["account"]), nil
	case "search_docs":
		return fmt.Sprintf("3 documents match %q", c.Arguments["query"]), nil
	}
	return "", fmt.Errorf("unknown tool %q", c.Tool)
}
