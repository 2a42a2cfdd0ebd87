package hitl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/journal"
)

const runID = "0f8fad5b-d9cb-469f-a165-70867728950e"

var at = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// execute runs x once and fails the test on an execution error.
func execute(t *testing.T, reg *hitl.Registry, x *journal.Execution) {
	t.Helper()
	if err := reg.Execute(context.Background(), x); err != nil {
		t.Fatalf("Execute: %v", err)
	}
}

// resolve fills the answer of the journal's ask entry for requestID, as the orchestrator does
// when a response arrives.
func resolve(t *testing.T, x *journal.Execution, requestID string, outcome events.Outcome, data string) {
	t.Helper()
	for i := range x.Journal {
		if x.Journal[i].RequestID == requestID {
			if x.Journal[i].Kind != "ask" {
				t.Fatalf("entry %d for %s is a %s", i, requestID, x.Journal[i].Kind)
			}
			resp := &events.Response{RequestID: requestID, RunID: x.RunID, Outcome: outcome, Responder: "webhook:ops-bot", At: at}
			if data != "" {
				resp.Data = json.RawMessage(data)
			}
			x.Journal[i].Answer = resp
			return
		}
	}
	t.Fatalf("no journal entry for request %s", requestID)
}

func answer(t *testing.T, x *journal.Execution, requestID, data string) {
	t.Helper()
	resolve(t, x, requestID, events.StatusAnswered, data)
}

func wantOutcome(t *testing.T, x *journal.Execution, want journal.Outcome) {
	t.Helper()
	if x.Outcome != want {
		t.Fatalf("Outcome = %v, want %v (err %v)", x.Outcome, want, x.Err)
	}
}

func askedIDs(x *journal.Execution) []string {
	var ids []string
	for _, r := range x.Asked {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestExecuteOneQuestion(t *testing.T) {
	t.Parallel()

	type order struct {
		ID     string  `json:"id"`
		Amount float64 `json:"amount"`
	}
	reg := hitl.NewRegistry()
	hitl.Register(reg, "refund", func(ctx context.Context, in order) (string, error) {
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{
			Title: "Refund " + in.ID + "?", Message: fmt.Sprintf("%.2f EUR", in.Amount),
			Context: map[string]any{"order": in.ID}, Assignees: []string{"webhook:ops-bot"},
			Timeout: time.Hour, Metadata: map[string]string{"k": "v"},
		})
		if err != nil {
			return "", err
		}
		if !a.Approved {
			return "kept: " + a.Comment, nil
		}
		return "refunded", nil
	})

	x := &journal.Execution{RunID: runID, Workflow: "refund", Input: json.RawMessage(`{"id":"A-17","amount":42}`)}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	if len(x.Asked) != 1 {
		t.Fatalf("Asked = %+v, want one request", x.Asked)
	}
	req := x.Asked[0]
	wantID := hitl.RequestID(runID, 0)
	if req.ID != wantID || req.RunID != runID || req.Workflow != "refund" {
		t.Errorf("asked id %q run %q workflow %q, want %q %q %q", req.ID, req.RunID, req.Workflow, wantID, runID, "refund")
	}
	if req.Title != "Refund A-17?" || req.Message != "42.00 EUR" || req.Input.Type != input.Approval ||
		time.Duration(req.Timeout) != time.Hour || !slices.Equal(req.Assignees, []string{"webhook:ops-bot"}) ||
		req.Context["order"] != "A-17" || req.Metadata["k"] != "v" {
		t.Errorf("asked request = %+v", req)
	}
	if !slices.Equal(x.Waiting, []string{wantID}) {
		t.Errorf("Waiting = %v, want [%s]", x.Waiting, wantID)
	}
	if len(x.Journal) != 1 || x.Journal[0].Kind != "ask" || x.Journal[0].Name != "Refund A-17?" ||
		x.Journal[0].RequestID != wantID || x.Journal[0].Answer != nil {
		t.Errorf("Journal = %+v", x.Journal)
	}
	if x.Result != nil || x.Err != nil {
		t.Errorf("Result %s Err %v on a suspended run", x.Result, x.Err)
	}

	// Executing again before the answer arrives changes nothing and asks nothing new.
	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	if len(x.Asked) != 0 || !slices.Equal(x.Waiting, []string{wantID}) || len(x.Journal) != 1 {
		t.Errorf("second execution: Asked %v Waiting %v Journal %+v", askedIDs(x), x.Waiting, x.Journal)
	}

	answer(t, x, wantID, `{"approved":false,"comment":"fraud"}`)
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	if string(x.Result) != `"kept: fraud"` {
		t.Errorf("Result = %s", x.Result)
	}
	if len(x.Asked) != 0 || len(x.Waiting) != 0 || x.Err != nil {
		t.Errorf("completed run: Asked %v Waiting %v Err %v", askedIDs(x), x.Waiting, x.Err)
	}
}

func TestExecuteStep(t *testing.T) {
	t.Parallel()

	var charges, mails atomic.Int32
	var saves [][]journal.Entry
	reg := hitl.NewRegistry()
	hitl.Register(reg, "charge", func(ctx context.Context, in int) (string, error) {
		id, err := hitl.Step(ctx, "charge", func(context.Context) (string, error) {
			return fmt.Sprintf("ch_%d", charges.Add(1)), nil
		})
		if err != nil {
			return "", err
		}
		ok, err := hitl.Ask[bool](ctx, hitl.Request{Title: "Send receipt?", Input: input.Spec{Type: input.Boolean}})
		if err != nil || !ok {
			return id, err
		}
		n, err := hitl.Step(ctx, "mail", func(context.Context) (int, error) { return int(mails.Add(1)) * in, nil })
		return fmt.Sprintf("%s mailed %d", id, n), err
	})
	x := &journal.Execution{RunID: runID, Workflow: "charge", Input: json.RawMessage(`10`),
		SaveStep: func(_ context.Context, j []journal.Entry) error {
			saves = append(saves, slices.Clone(j))
			return nil
		}}

	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	if charges.Load() != 1 || len(saves) != 1 || len(saves[0]) != 1 || saves[0][0].Kind != "step" ||
		saves[0][0].Name != "charge" || string(saves[0][0].Result) != `"ch_1"` {
		t.Fatalf("after first execution: charges %d, saves %+v", charges.Load(), saves)
	}
	// The ask comes after the step, at position 1.
	if got := askedIDs(x); !slices.Equal(got, []string{hitl.RequestID(runID, 1)}) {
		t.Fatalf("Asked = %v, want the request of position 1", got)
	}

	for range 3 { // replays do not repeat the side effect, nor save again
		execute(t, reg, x)
		wantOutcome(t, x, journal.Suspended)
	}
	if charges.Load() != 1 || len(saves) != 1 {
		t.Fatalf("replays: charges %d, saves %d", charges.Load(), len(saves))
	}

	answer(t, x, hitl.RequestID(runID, 1), `true`)
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	if string(x.Result) != `"ch_1 mailed 10"` {
		t.Errorf("Result = %s", x.Result)
	}
	if charges.Load() != 1 || mails.Load() != 1 {
		t.Errorf("charges %d mails %d, want 1 and 1", charges.Load(), mails.Load())
	}
	if len(saves) != 2 || len(saves[1]) != 3 || saves[1][2].Name != "mail" || string(saves[1][2].Result) != `10` {
		t.Errorf("saves = %+v, want a second save with the mail step", saves)
	}

	// A completed run replays to the same result without side effects.
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	if string(x.Result) != `"ch_1 mailed 10"` || charges.Load() != 1 || mails.Load() != 1 || len(saves) != 2 {
		t.Errorf("replay of a completed run: %s, charges %d mails %d saves %d", x.Result, charges.Load(), mails.Load(), len(saves))
	}
}

func TestStepError(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	errGateway := errors.New("gateway: 502")
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (int, error) {
		_, err := hitl.Step(ctx, "call", func(context.Context) (int, error) {
			calls.Add(1)
			return 0, errGateway
		})
		if err != nil {
			return 0, fmt.Errorf("calling: %w", err)
		}
		return 1, nil
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Failed)
	// The first execution sees the error as every replay will: by its message.
	if x.Err == nil || x.Err.Error() != "calling: gateway: 502" || errors.Is(x.Err, errGateway) {
		t.Errorf("first Err = %v, want the recorded error \"calling: gateway: 502\"", x.Err)
	}
	if len(x.Journal) != 1 || x.Journal[0].Error != "gateway: 502" || x.Journal[0].Result != nil {
		t.Errorf("Journal = %+v, want the error recorded", x.Journal)
	}

	execute(t, reg, x)
	wantOutcome(t, x, journal.Failed)
	if calls.Load() != 1 {
		t.Errorf("fn called %d times, want once", calls.Load())
	}
	// On replay the error comes back by its message.
	if x.Err == nil || x.Err.Error() != "calling: gateway: 502" {
		t.Errorf("replayed Err = %v", x.Err)
	}
}

func TestStepErrorWithoutMessage(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (int, error) {
		return hitl.Step(ctx, "call", func(context.Context) (int, error) { return 0, errors.New("") })
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	execute(t, reg, x)
	wantOutcome(t, x, journal.Failed)
	if x.Journal[0].Error != "step failed" || x.Err == nil {
		t.Errorf("Journal %+v Err %v", x.Journal, x.Err)
	}
}

// A step whose result cannot be encoded (NaN) fails like any step, and keeps its position in
// the journal, so that a workflow that carries on after the error still replays.
func TestStepUnencodableResult(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (string, error) {
		_, stepErr := hitl.Step(ctx, "ratio", func(context.Context) (float64, error) {
			calls.Add(1)
			return math.NaN(), nil
		})
		ok, err := hitl.Ask[bool](ctx, hitl.Request{Title: "Go on?", Input: input.Spec{Type: input.Boolean}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%v %v", stepErr != nil, ok), nil
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	if len(x.Journal) != 2 || x.Journal[0].Kind != "step" || x.Journal[0].Error == "" {
		t.Fatalf("Journal = %+v, want the failed step then the ask", x.Journal)
	}
	if got := askedIDs(x); !slices.Equal(got, []string{hitl.RequestID(runID, 1)}) {
		t.Fatalf("Asked = %v, want the request of position 1", got)
	}
	answer(t, x, hitl.RequestID(runID, 1), `true`)
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	if string(x.Result) != `"true true"` || calls.Load() != 1 {
		t.Errorf("Result %s calls %d", x.Result, calls.Load())
	}
}

func TestSaveStepError(t *testing.T) {
	t.Parallel()

	errKV := errors.New("kv: wrong last sequence")
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (int, error) {
		return hitl.Step(ctx, "s", func(context.Context) (int, error) { return 1, nil })
	})
	x := &journal.Execution{RunID: runID, Workflow: "w", SaveStep: func(context.Context, []journal.Entry) error { return errKV }}
	err := reg.Execute(context.Background(), x)
	if !errors.Is(err, errKV) {
		t.Fatalf("Execute = %v, want the save error", err)
	}
	if x.Outcome == journal.Completed {
		t.Error("the run completed although its step could not be saved")
	}
}

func TestAskAll(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "poll", func(ctx context.Context, _ any) ([]string, error) {
		answers, err := hitl.AskAll(ctx,
			hitl.Request{Title: "Legal?"},
			hitl.Request{Title: "Finance?", Input: input.Spec{Type: input.Boolean}},
			hitl.Request{Title: "Name?", Input: input.Spec{Type: input.Text}},
		)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range answers {
			out = append(out, fmt.Sprintf("%s=%s/%s", a.RequestID[:4], a.Outcome, a.Data))
		}
		return out, nil
	})
	x := &journal.Execution{RunID: runID, Workflow: "poll"}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	ids := []string{hitl.RequestID(runID, 0), hitl.RequestID(runID, 1), hitl.RequestID(runID, 2)}
	if got := askedIDs(x); !slices.Equal(got, ids) {
		t.Fatalf("Asked = %v, want %v", got, ids)
	}
	if !slices.Equal(x.Waiting, ids) || len(x.Journal) != 3 {
		t.Fatalf("Waiting %v Journal %+v", x.Waiting, x.Journal)
	}
	if x.Asked[1].Input.Type != input.Boolean || x.Asked[2].Title != "Name?" {
		t.Errorf("Asked = %+v", x.Asked)
	}

	answer(t, x, ids[2], `"Ada"`)
	resolve(t, x, ids[0], events.StatusCancelled, "")
	execute(t, reg, x)
	wantOutcome(t, x, journal.Suspended)
	if len(x.Asked) != 0 || !slices.Equal(x.Waiting, ids[1:2]) || len(x.Journal) != 3 {
		t.Fatalf("2 of 3 answered: Asked %v Waiting %v Journal %d", askedIDs(x), x.Waiting, len(x.Journal))
	}

	answer(t, x, ids[1], `true`)
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	want := fmt.Sprintf(`["%s=cancelled/","%s=answered/true","%s=answered/\"Ada\""]`, ids[0][:4], ids[1][:4], ids[2][:4])
	if string(x.Result) != want {
		t.Errorf("Result = %s\nwant     %s", x.Result, want)
	}
}

func TestAskAllAnswerFields(t *testing.T) {
	t.Parallel()

	var got []hitl.Answer
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (bool, error) {
		var err error
		got, err = hitl.AskAll(ctx, hitl.Request{Title: "Q"})
		return true, err
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	x.Journal[0].Answer = &events.Response{
		RequestID: hitl.RequestID(runID, 0), Outcome: events.StatusAnswered, Data: json.RawMessage(`{"approved":true}`),
		Responder: "email:alice@example.com", Comment: "fine", At: at,
	}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	want := hitl.Answer{RequestID: hitl.RequestID(runID, 0), Outcome: hitl.OutcomeAnswered, Data: json.RawMessage(`{"approved":true}`),
		Responder: "email:alice@example.com", Comment: "fine", At: at}
	if len(got) != 1 || got[0].RequestID != want.RequestID || got[0].Outcome != want.Outcome || string(got[0].Data) != string(want.Data) ||
		got[0].Responder != want.Responder || got[0].Comment != want.Comment || !got[0].At.Equal(at) {
		t.Errorf("answers = %+v, want [%+v]", got, want)
	}
	var a input.ApprovalAnswer
	if err := got[0].Decode(&a); err != nil || !a.Approved {
		t.Errorf("Decode = %+v, %v", a, err)
	}
	var n int
	if err := got[0].Decode(&n); err == nil || !strings.Contains(err.Error(), want.RequestID) {
		t.Errorf("Decode into int = %v, want an error naming the request", err)
	}
}

func TestAskAllNone(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (int, error) {
		a, err := hitl.AskAll(ctx)
		return len(a), err
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)
	if string(x.Result) != "0" || len(x.Journal) != 0 {
		t.Errorf("Result %s Journal %+v", x.Result, x.Journal)
	}
}

// drive executes x until it completes or fails, answering every new request with respond, and
// returns the titles asked, in order.
func drive(t *testing.T, reg *hitl.Registry, x *journal.Execution, respond func(req events.Request) string) []string {
	t.Helper()
	var titles []string
	for range 100 {
		execute(t, reg, x)
		if x.Outcome != journal.Suspended {
			return titles
		}
		if len(x.Asked) == 0 {
			t.Fatalf("suspended without asking anything new; waiting on %v", x.Waiting)
		}
		for _, req := range x.Asked {
			titles = append(titles, req.Title)
			answer(t, x, req.ID, respond(req))
		}
	}
	t.Fatal("the run did not finish in 100 executions")
	return nil
}

func TestAskInLoop(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "loop", func(ctx context.Context, items []string) (int, error) {
		total := 0
		for _, it := range items {
			n, err := hitl.Ask[int](ctx, hitl.Request{Title: "How many " + it + "?", Input: input.Spec{Type: input.Number, Integer: true}})
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	})
	x := &journal.Execution{RunID: runID, Workflow: "loop", Input: json.RawMessage(`["apples","pears","plums"]`)}
	n := 0
	titles := drive(t, reg, x, func(req events.Request) string {
		n++
		if req.ID != hitl.RequestID(runID, n-1) {
			t.Errorf("question %d has id %s, want the id of position %d", n, req.ID, n-1)
		}
		return fmt.Sprint(n * 10)
	})
	wantOutcome(t, x, journal.Completed)
	if string(x.Result) != "60" {
		t.Errorf("Result = %s, want 60", x.Result)
	}
	if want := []string{"How many apples?", "How many pears?", "How many plums?"}; !slices.Equal(titles, want) {
		t.Errorf("asked %q, want %q", titles, want)
	}
}

func TestConditionalQuestion(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "deploy", func(ctx context.Context, _ any) (string, error) {
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Deploy?"})
		if err != nil {
			return "", err
		}
		if a.Approved {
			return "deployed", nil
		}
		why, err := hitl.Ask[string](ctx, hitl.Request{Title: "Why not?", Input: input.Spec{Type: input.Text, Multiline: true}})
		if err != nil {
			return "", err
		}
		return "held: " + why, nil
	})

	tests := []struct {
		name       string
		approve    string
		wantTitles []string
		wantResult string
	}{
		{"approved asks once", `{"approved":true}`, []string{"Deploy?"}, `"deployed"`},
		{"rejected asks why", `{"approved":false}`, []string{"Deploy?", "Why not?"}, `"held: freeze"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := &journal.Execution{RunID: runID, Workflow: "deploy"}
			titles := drive(t, reg, x, func(req events.Request) string {
				if req.Title == "Deploy?" {
					return tt.approve
				}
				return `"freeze"`
			})
			wantOutcome(t, x, journal.Completed)
			if !slices.Equal(titles, tt.wantTitles) || string(x.Result) != tt.wantResult {
				t.Errorf("asked %q result %s, want %q %s", titles, x.Result, tt.wantTitles, tt.wantResult)
			}
		})
	}
}

func TestAskOutcomes(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, policy hitl.TimeoutPolicy) (string, error) {
		req := hitl.Request{Title: "Pick", Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}, {ID: "b"}}, Skippable: true},
			Timeout: time.Minute, OnTimeout: policy}
		if policy == hitl.TimeoutDefault {
			req.Default = "b"
		}
		v, err := hitl.Ask[string](ctx, req)
		return "got " + v, err
	})

	tests := []struct {
		name       string
		policy     hitl.TimeoutPolicy
		outcome    events.Outcome
		data       string
		wantResult string
		wantErr    error
	}{
		{name: "answered", outcome: events.StatusAnswered, data: `"a"`, wantResult: `"got a"`},
		{name: "skipped", outcome: events.StatusAnswered, data: `null`, wantResult: `"got "`},
		{name: "answered without data", outcome: events.StatusAnswered, wantResult: `"got "`},
		{name: "answer of the wrong type", outcome: events.StatusAnswered, data: `42`, wantErr: errDecode},
		{name: "timed out", policy: hitl.TimeoutFail, outcome: events.StatusTimedOut, wantErr: hitl.ErrTimeout},
		{name: "timed out with default policy but no data", policy: hitl.TimeoutDefault, outcome: events.StatusTimedOut, wantErr: hitl.ErrTimeout},
		{name: "timed out with default", policy: hitl.TimeoutDefault, outcome: events.StatusTimedOut, data: `"b"`, wantResult: `"got b"`},
		{name: "cancelled", outcome: events.StatusCancelled, wantErr: hitl.ErrCancelled},
		{name: "cancelled with data", outcome: events.StatusCancelled, data: `"a"`, wantErr: hitl.ErrCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, _ := json.Marshal(tt.policy)
			x := &journal.Execution{RunID: runID, Workflow: "w", Input: in}
			execute(t, reg, x)
			wantOutcome(t, x, journal.Suspended)
			if tt.policy == hitl.TimeoutDefault && string(x.Asked[0].Default) != `"b"` {
				t.Errorf("asked default = %s", x.Asked[0].Default)
			}
			resolve(t, x, x.Waiting[0], tt.outcome, tt.data)
			execute(t, reg, x)
			switch {
			case tt.wantErr == errDecode:
				wantOutcome(t, x, journal.Failed)
				if x.Err == nil || errors.Is(x.Err, hitl.ErrTimeout) || errors.Is(x.Err, hitl.ErrCancelled) {
					t.Errorf("Err = %v, want a decode error", x.Err)
				}
			case tt.wantErr != nil:
				wantOutcome(t, x, journal.Failed)
				if !errors.Is(x.Err, tt.wantErr) {
					t.Errorf("Err = %v, want %v", x.Err, tt.wantErr)
				}
			default:
				wantOutcome(t, x, journal.Completed)
				if string(x.Result) != tt.wantResult {
					t.Errorf("Result = %s, want %s", x.Result, tt.wantResult)
				}
			}
		})
	}
}

var errDecode = errors.New("decode error")

func TestTypedErrors(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	var askErr error
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (bool, error) {
		_, askErr = hitl.Ask[bool](ctx, hitl.Request{Title: "Q", Input: input.Spec{Type: input.Boolean}})
		return true, nil
	})
	for _, outcome := range []events.Outcome{events.StatusTimedOut, events.StatusCancelled} {
		x := &journal.Execution{RunID: runID, Workflow: "w"}
		execute(t, reg, x)
		resolve(t, x, x.Waiting[0], outcome, "")
		execute(t, reg, x)
		id := hitl.RequestID(runID, 0)
		var te *hitl.TimeoutError
		var ce *hitl.CancelledError
		switch {
		case errors.As(askErr, &te):
			if outcome != events.StatusTimedOut || te.RequestID != id || !strings.Contains(te.Error(), id) {
				t.Errorf("%s: %#v", outcome, te)
			}
		case errors.As(askErr, &ce):
			if outcome != events.StatusCancelled || ce.RequestID != id || ce.By != "webhook:ops-bot" || !strings.Contains(ce.Error(), id) {
				t.Errorf("%s: %#v", outcome, ce)
			}
		default:
			t.Errorf("%s: Ask error %v", outcome, askErr)
		}
	}
}

func TestNondeterminism(t *testing.T) {
	t.Parallel()

	// v1 of each workflow ran first and left its journal; v2 replays it.
	tests := []struct {
		name string
		v1   func(ctx context.Context) error
		v2   func(ctx context.Context) error
	}{
		{
			name: "question renamed",
			v1:   func(ctx context.Context) error { _, err := hitl.Ask[bool](ctx, boolReq("Ship it?")); return err },
			v2:   func(ctx context.Context) error { _, err := hitl.Ask[bool](ctx, boolReq("Ship it now?")); return err },
		},
		{
			name: "step renamed",
			v1:   func(ctx context.Context) error { _, err := hitl.Step(ctx, "a", one); return err },
			v2:   func(ctx context.Context) error { _, err := hitl.Step(ctx, "b", one); return err },
		},
		{
			name: "step where an ask was",
			v1:   func(ctx context.Context) error { _, err := hitl.Ask[bool](ctx, boolReq("x")); return err },
			v2:   func(ctx context.Context) error { _, err := hitl.Step(ctx, "x", one); return err },
		},
		{
			name: "ask where a step was",
			v1:   func(ctx context.Context) error { _, err := hitl.Step(ctx, "x", one); return err },
			v2:   func(ctx context.Context) error { _, err := hitl.Ask[bool](ctx, boolReq("x")); return err },
		},
		{
			name: "questions reordered in AskAll",
			v1:   func(ctx context.Context) error { _, err := hitl.AskAll(ctx, boolReq("a"), boolReq("b")); return err },
			v2:   func(ctx context.Context) error { _, err := hitl.AskAll(ctx, boolReq("b"), boolReq("a")); return err },
		},
		{
			name: "step inserted before",
			v1:   func(ctx context.Context) error { _, err := hitl.Ask[bool](ctx, boolReq("q")); return err },
			v2: func(ctx context.Context) error {
				if _, err := hitl.Step(ctx, "new", one); err != nil {
					return err
				}
				_, err := hitl.Ask[bool](ctx, boolReq("q"))
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg1, reg2 := hitl.NewRegistry(), hitl.NewRegistry()
			hitl.Register(reg1, "w", func(ctx context.Context, _ any) (bool, error) { return true, tt.v1(ctx) })
			hitl.Register(reg2, "w", func(ctx context.Context, _ any) (bool, error) { return true, tt.v2(ctx) })
			x := &journal.Execution{RunID: runID, Workflow: "w"}
			execute(t, reg1, x)
			before := slices.Clone(x.Journal)
			y := &journal.Execution{RunID: runID, Workflow: "w", Journal: x.Journal}
			err := reg2.Execute(context.Background(), y)
			if !errors.Is(err, hitl.ErrNondeterministic) {
				t.Fatalf("Execute = %v, want ErrNondeterministic (outcome %v, err %v)", err, y.Outcome, y.Err)
			}
			if len(y.Asked) != 0 || len(y.Journal) != len(before) {
				t.Errorf("a nondeterministic replay changed the run: asked %v journal %+v", askedIDs(y), y.Journal)
			}
		})
	}
}

func boolReq(title string) hitl.Request {
	return hitl.Request{Title: title, Input: input.Spec{Type: input.Boolean}}
}

func one(context.Context) (int, error) { return 1, nil }

func TestInvalidRequest(t *testing.T) {
	t.Parallel()

	bad := []struct {
		name string
		req  hitl.Request
	}{
		{"empty title", hitl.Request{}},
		{"title too long", hitl.Request{Title: strings.Repeat("x", 1001)}},
		{"bad input type", hitl.Request{Title: "Q", Input: input.Spec{Type: "date"}}},
		{"select without options", hitl.Request{Title: "Q", Input: input.Spec{Type: input.Select}}},
		{"timeout under a second", hitl.Request{Title: "Q", Timeout: 500 * time.Millisecond}},
		{"negative timeout", hitl.Request{Title: "Q", Timeout: -time.Hour}},
		{"timeout over a year", hitl.Request{Title: "Q", Timeout: 366 * 24 * time.Hour}},
		{"default policy without default", hitl.Request{Title: "Q", OnTimeout: hitl.TimeoutDefault, Timeout: time.Minute}},
		{"default not a valid answer", hitl.Request{Title: "Q", Input: input.Spec{Type: input.Boolean}, OnTimeout: hitl.TimeoutDefault, Default: "yes"}},
		{"unknown timeout policy", hitl.Request{Title: "Q", OnTimeout: "retry"}},
		{"unencodable default", hitl.Request{Title: "Q", OnTimeout: hitl.TimeoutDefault, Default: make(chan int)}},
		{"assignee without kind", hitl.Request{Title: "Q", Assignees: []string{":ops"}}},
		{"assignee without colon", hitl.Request{Title: "Q", Assignees: []string{"webhook:ops", "ops"}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var askErr, askAllErr error
			reg := hitl.NewRegistry()
			hitl.Register(reg, "w", func(ctx context.Context, _ any) (bool, error) {
				if _, askErr = hitl.Ask[bool](ctx, tt.req); askErr == nil {
					return false, errors.New("Ask accepted an invalid request")
				}
				// A bad request among good ones consumes no position either.
				if _, askAllErr = hitl.AskAll(ctx, boolReq("first"), tt.req, boolReq("last")); askAllErr == nil {
					return false, errors.New("AskAll accepted an invalid request")
				}
				return hitl.Ask[bool](ctx, boolReq("Valid?"))
			})
			x := &journal.Execution{RunID: runID, Workflow: "w"}
			execute(t, reg, x)
			wantOutcome(t, x, journal.Suspended)
			if askErr == nil || askAllErr == nil {
				t.Fatal("no error")
			}
			// The valid question still gets position 0.
			if len(x.Journal) != 1 || x.Journal[0].Name != "Valid?" || !slices.Equal(askedIDs(x), []string{hitl.RequestID(runID, 0)}) {
				t.Errorf("Journal %+v Asked %v: the invalid request consumed a position", x.Journal, askedIDs(x))
			}
		})
	}
}

func TestInvalidRequestIsValidationError(t *testing.T) {
	t.Parallel()

	var askErr error
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (bool, error) {
		_, askErr = hitl.Ask[bool](ctx, hitl.Request{Input: input.Spec{Type: "date"}, Timeout: time.Millisecond, Assignees: []string{"x"}})
		return true, nil
	})
	execute(t, reg, &journal.Execution{RunID: runID, Workflow: "w"})
	var ve *input.ValidationError
	if !errors.Is(askErr, input.ErrInvalid) || !errors.As(askErr, &ve) {
		t.Fatalf("Ask = %v, want a *input.ValidationError", askErr)
	}
	var paths []string
	for _, f := range ve.Fields {
		paths = append(paths, f.Path)
	}
	if want := []string{"title", "input.type", "timeout", "assignees[0]"}; !slices.Equal(paths, want) {
		t.Errorf("fields %q, want %q", paths, want)
	}
}

func TestExecuteFailures(t *testing.T) {
	t.Parallel()

	errBusiness := errors.New("order not found")
	reg := hitl.NewRegistry()
	hitl.Register(reg, "panics", func(ctx context.Context, _ any) (int, error) {
		if _, err := hitl.Step(ctx, "before", one); err != nil {
			return 0, err
		}
		var m map[string]int
		m["boom"] = 1 // nil map write
		return 0, nil
	})
	hitl.Register(reg, "errors", func(context.Context, any) (int, error) { return 0, errBusiness })
	hitl.Register(reg, "typed", func(_ context.Context, in struct{ N int }) (int, error) { return in.N, nil })
	hitl.Register(reg, "unencodable", func(context.Context, any) (chan int, error) { return make(chan int), nil })

	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		x := &journal.Execution{RunID: runID, Workflow: "panics"}
		if err := reg.Execute(context.Background(), x); err != nil {
			t.Fatalf("Execute = %v, want the panic reported in Outcome", err)
		}
		wantOutcome(t, x, journal.Failed)
		if x.Err == nil || !strings.Contains(x.Err.Error(), "panicked") || !strings.Contains(x.Err.Error(), "nil map") {
			t.Errorf("Err = %v", x.Err)
		}
		if len(x.Journal) != 1 {
			t.Errorf("the step before the panic was lost: %+v", x.Journal)
		}
	})
	t.Run("workflow error", func(t *testing.T) {
		t.Parallel()
		x := &journal.Execution{RunID: runID, Workflow: "errors"}
		execute(t, reg, x)
		wantOutcome(t, x, journal.Failed)
		if !errors.Is(x.Err, errBusiness) || x.Result != nil {
			t.Errorf("Err %v Result %s", x.Err, x.Result)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		x := &journal.Execution{RunID: runID, Workflow: "typed", Input: json.RawMessage(`{"N":"seven"}`)}
		execute(t, reg, x)
		wantOutcome(t, x, journal.Failed)
		if x.Err == nil || !strings.Contains(x.Err.Error(), "decode input") {
			t.Errorf("Err = %v", x.Err)
		}
	})
	for _, in := range []string{``, `null`} {
		t.Run("input "+in, func(t *testing.T) {
			t.Parallel()
			x := &journal.Execution{RunID: runID, Workflow: "typed", Input: json.RawMessage(in)}
			execute(t, reg, x)
			wantOutcome(t, x, journal.Completed)
			if string(x.Result) != "0" {
				t.Errorf("Result = %s", x.Result)
			}
		})
	}
	t.Run("unencodable result", func(t *testing.T) {
		t.Parallel()
		x := &journal.Execution{RunID: runID, Workflow: "unencodable"}
		execute(t, reg, x)
		wantOutcome(t, x, journal.Failed)
		if x.Err == nil || !strings.Contains(x.Err.Error(), "encode result") {
			t.Errorf("Err = %v", x.Err)
		}
	})
	t.Run("unknown workflow", func(t *testing.T) {
		t.Parallel()
		x := &journal.Execution{RunID: runID, Workflow: "nope"}
		if err := reg.Execute(context.Background(), x); !errors.Is(err, hitl.ErrUnknownWorkflow) {
			t.Errorf("Execute = %v, want ErrUnknownWorkflow", err)
		}
	})
}

func TestOutsideARun(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	if _, err := hitl.Ask[bool](ctx, boolReq("Q")); err == nil {
		t.Error("Ask outside a run succeeded")
	}
	if _, err := hitl.AskAll(ctx, boolReq("Q")); err == nil {
		t.Error("AskAll outside a run succeeded")
	}
	if _, err := hitl.Step(ctx, "s", one); err == nil {
		t.Error("Step outside a run succeeded")
	}
	if _, err := hitl.Now(ctx); err == nil {
		t.Error("Now outside a run succeeded")
	}
	if hitl.RunID(ctx) != "" || hitl.Replaying(ctx) {
		t.Error("RunID or Replaying outside a run")
	}

	// A workflow that drops its context fails (its code is wrong; retrying cannot help).
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(context.Context, any) (bool, error) {
		return hitl.Ask[bool](context.Background(), boolReq("Q"))
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	if err := reg.Execute(context.Background(), x); err != nil || x.Outcome != journal.Failed ||
		!strings.Contains(fmt.Sprint(x.Err), "context of a running workflow") {
		t.Errorf("Execute = %v, outcome %v, err %v; want the run failed", err, x.Outcome, x.Err)
	}
	// Ask inside a Step is refused the same way: its position could not be replayed.
	hitl.Register(reg, "nested", func(ctx context.Context, _ any) (bool, error) {
		return hitl.Step(ctx, "outer", func(ctx context.Context) (bool, error) { return hitl.Ask[bool](ctx, boolReq("Q")) })
	})
	x = &journal.Execution{RunID: runID, Workflow: "nested"}
	if err := reg.Execute(context.Background(), x); err != nil || x.Outcome != journal.Failed {
		t.Errorf("nested Ask: Execute = %v, outcome %v; want the run failed", err, x.Outcome)
	}
}

func TestRunIDReplayingNow(t *testing.T) {
	t.Parallel()

	type seen struct {
		runID              string
		atStart, afterStep bool
		now                time.Time
	}
	var log []seen
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (time.Time, error) {
		s := seen{runID: hitl.RunID(ctx), atStart: hitl.Replaying(ctx)}
		now, err := hitl.Now(ctx)
		if err != nil {
			return now, err
		}
		s.afterStep, s.now = hitl.Replaying(ctx), now
		log = append(log, s)
		_, err = hitl.Ask[bool](ctx, boolReq("Q"))
		return now, err
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	execute(t, reg, x)
	answer(t, x, hitl.RequestID(runID, 1), `true`)
	execute(t, reg, x)
	wantOutcome(t, x, journal.Completed)

	if len(log) != 3 {
		t.Fatalf("log = %+v", log)
	}
	if log[0].atStart || log[0].afterStep {
		t.Errorf("first execution reports replaying: %+v", log[0])
	}
	for i, s := range log {
		if s.runID != runID {
			t.Errorf("execution %d: RunID = %q", i, s.runID)
		}
		if !s.now.Equal(log[0].now) || s.now.Location() != time.UTC {
			t.Errorf("execution %d: Now = %v, want the recorded %v in UTC", i, s.now, log[0].now)
		}
		if i > 0 && (!s.atStart || !s.afterStep) {
			t.Errorf("execution %d: replaying %v before and %v after the recorded step, want true", i, s.atStart, s.afterStep)
		}
	}
	var result time.Time
	if err := json.Unmarshal(x.Result, &result); err != nil || !result.Equal(log[0].now) {
		t.Errorf("Result = %s", x.Result)
	}
}

// The journal is stored as JSON between executions; replay from the decoded copy.
func TestJournalSurvivesJSON(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (string, error) {
		type quote struct {
			Price float64   `json:"price"`
			At    time.Time `json:"at"`
		}
		q, err := hitl.Step(ctx, "quote", func(context.Context) (quote, error) {
			calls.Add(1)
			return quote{Price: 9.99, At: at}, nil
		})
		if err != nil {
			return "", err
		}
		picks, err := hitl.Ask[[]string](ctx, hitl.Request{Title: "Which?", Input: input.Spec{Type: input.MultiSelect, Options: []input.Option{{ID: "x"}, {ID: "y"}}}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%.2f %s %v", q.Price, q.At.Format(time.RFC3339), picks), nil
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	answer(t, x, x.Waiting[0], `["y","x"]`)

	stored, err := json.Marshal(x.Journal)
	if err != nil {
		t.Fatal(err)
	}
	y := &journal.Execution{RunID: runID, Workflow: "w"}
	if err := json.Unmarshal(stored, &y.Journal); err != nil {
		t.Fatal(err)
	}
	execute(t, reg, y)
	wantOutcome(t, y, journal.Completed)
	if string(y.Result) != `"9.99 2026-03-01T09:30:00Z [y x]"` || calls.Load() != 1 {
		t.Errorf("Result %s calls %d", y.Result, calls.Load())
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	if len(reg.Names()) != 0 || reg.Has("a") {
		t.Error("a new registry is not empty")
	}
	f := func(context.Context, any) (any, error) { return nil, nil }
	hitl.Register(reg, "b", f)
	hitl.Register(reg, "a", f)
	if !reg.Has("a") || !reg.Has("b") || reg.Has("c") {
		t.Error("Has")
	}
	if got := reg.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %v", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "registered twice") {
			t.Errorf("registering a name twice: recover() = %v", r)
		}
	}()
	hitl.Register(reg, "a", f)
}

// A name that cannot be one subject token panics at Register, like a duplicate: runs of it
// could not be routed.
func TestRegisterRefusesInvalidNames(t *testing.T) {
	t.Parallel()

	f := func(context.Context, any) (any, error) { return nil, nil }
	for _, name := range []string{"", "a.b", "has space", "*", ">", "-x", strings.Repeat("n", 65)} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "invalid workflow name") {
					t.Errorf("Register(%q): recover() = %v, want a panic naming the invalid name", name, r)
				}
			}()
			hitl.Register(hitl.NewRegistry(), name, f)
		}()
	}
	reg := hitl.NewRegistry()
	hitl.Register(reg, "approval-gate_2", f)
	if !reg.Has("approval-gate_2") {
		t.Error("a valid name was not registered")
	}
}

func TestExecuteResetsOutputs(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (bool, error) { return hitl.Ask[bool](ctx, boolReq("Q")) })
	x := &journal.Execution{RunID: runID, Workflow: "w",
		Asked: []events.Request{{ID: "stale"}}, Waiting: []string{"stale"}, Result: json.RawMessage(`1`), Err: errors.New("stale")}
	execute(t, reg, x)
	if slices.Contains(x.Waiting, "stale") || len(x.Asked) != 1 || x.Asked[0].ID == "stale" || x.Result != nil || x.Err != nil {
		t.Errorf("stale outputs kept: %+v", x)
	}
}

func TestExecuteConcurrentRuns(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, n int) (int, error) {
		v, err := hitl.Ask[int](ctx, hitl.Request{Title: "n", Input: input.Spec{Type: input.Number}})
		return v + n, err
	})
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			run := fmt.Sprintf("run-%d", i)
			x := &journal.Execution{RunID: run, Workflow: "w", Input: json.RawMessage(fmt.Sprint(i))}
			drive(t, reg, x, func(req events.Request) string {
				if req.ID != hitl.RequestID(run, 0) || req.RunID != run {
					t.Errorf("request %s of run %s", req.ID, req.RunID)
				}
				return "100"
			})
			if want := fmt.Sprint(100 + i); string(x.Result) != want {
				t.Errorf("Result = %s, want %s", x.Result, want)
			}
		})
	}
}
