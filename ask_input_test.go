package hitl_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
)

type refundDecision struct {
	Amount float64 `json:"amount" hitl:"min=0,max=500"`
	Method string  `json:"method" hitl:"enum=original|bank"`
	Note   *string `json:"note"`
}

// TestAskDefaultSpec checks that Ask[T] without an input type asks for what T holds, and
// that the answer decodes into T.
func TestAskDefaultSpec(t *testing.T) {
	t.Parallel()

	var got struct {
		approval input.ApprovalAnswer
		text     string
		flag     *bool
		n        int8
		decision refundDecision
	}
	reg := hitl.NewRegistry()
	hitl.Register(reg, "typed", func(ctx context.Context, _ any) (string, error) {
		var err error
		if got.approval, err = hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "approval"}); err != nil {
			return "", err
		}
		if got.text, err = hitl.Ask[string](ctx, hitl.Request{Title: "text"}); err != nil {
			return "", err
		}
		if got.flag, err = hitl.Ask[*bool](ctx, hitl.Request{Title: "flag"}); err != nil {
			return "", err
		}
		if got.n, err = hitl.Ask[int8](ctx, hitl.Request{Title: "n", Input: input.Spec{Skippable: true}}); err != nil {
			return "", err
		}
		if got.decision, err = hitl.Ask[refundDecision](ctx, hitl.Request{Title: "decision"}); err != nil {
			return "", err
		}
		answers, err := hitl.AskAll(ctx, hitl.Request{Title: "all"})
		if err != nil {
			return "", err
		}
		return string(answers[0].Data), nil
	})

	x := &journal.Execution{RunID: runID, Workflow: "typed"}
	wantSpecs := []struct {
		title  string
		typ    input.Type
		skip   bool
		answer string
	}{
		{"approval", input.Approval, false, `{"approved": true}`},
		{"text", input.Text, false, `"hello"`},
		{"flag", input.Boolean, true, `null`},
		{"n", input.Number, true, `-128`},
		{"decision", input.JSON, false, `{"amount": 12.5, "method": "bank", "note": null}`},
		{"all", input.Approval, false, `{"approved": false}`},
	}
	for i, w := range wantSpecs {
		execute(t, reg, x)
		wantOutcome(t, x, journal.Suspended)
		if len(x.Asked) != 1 {
			t.Fatalf("step %d: asked %d requests", i, len(x.Asked))
		}
		spec := x.Asked[0].Input
		if x.Asked[0].Title != w.title || spec.Type != w.typ || spec.Skippable != w.skip {
			t.Fatalf("step %d: asked %q with %+v, want type %s skippable %v", i, x.Asked[0].Title, spec, w.typ, w.skip)
		}
		if err := spec.Validate(json.RawMessage(w.answer)); err != nil {
			t.Fatalf("step %d: the answer %s is not valid: %v", i, w.answer, err)
		}
		answer(t, x, x.Asked[0].ID, w.answer)
	}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	if !got.approval.Approved || got.text != "hello" || got.flag != nil || got.n != -128 ||
		got.decision.Amount != 12.5 || got.decision.Method != "bank" || got.decision.Note != nil {
		t.Errorf("answers decoded as %+v", got)
	}

	// The struct's schema is enforced: a bad decision is refused before it can resume.
	spec, _ := input.SpecFor[refundDecision]()
	if err := spec.Validate(json.RawMessage(`{"amount": 900, "method": "cash", "tip": 1}`)); !errors.Is(err, input.ErrInvalid) ||
		!strings.Contains(err.Error(), "$.amount") || !strings.Contains(err.Error(), "$.method") || !strings.Contains(err.Error(), "$.tip") {
		t.Errorf("bad decision: %v", err)
	}
}

// TestAskUnsupportedType fails the Ask, consuming no journal position.
func TestAskUnsupportedType(t *testing.T) {
	t.Parallel()

	var askErr error
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (bool, error) {
		_, askErr = hitl.Ask[chan int](ctx, hitl.Request{Title: "Q"})
		return hitl.Ask[bool](ctx, hitl.Request{Title: "Valid?"})
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	if askErr == nil || !strings.Contains(askErr.Error(), `ask "Q"`) {
		t.Errorf("Ask[chan int] = %v", askErr)
	}
	if len(x.Journal) != 1 || x.Journal[0].Name != "Valid?" || x.Asked[0].Input.Type != input.Boolean {
		t.Errorf("Journal %+v", x.Journal)
	}
}
