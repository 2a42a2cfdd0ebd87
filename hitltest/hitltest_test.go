package hitltest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

// recorder is a testing.TB that records failures; Fatalf ends the goroutine, as in a test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errs   []string
	fatals int
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.mu.Lock()
	r.fatals++
	r.mu.Unlock()
	runtime.Goexit()
}

// failures runs fn with a recorder on its own goroutine, as a test runs, and returns what
// it reported.
func failures(fn func(t testing.TB)) (errs []string, fatal bool) {
	rec := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.errs, rec.fatals > 0
}

// wantFailure checks that fn reports exactly one failure containing each of parts.
func wantFailure(t *testing.T, fatal bool, fn func(t testing.TB), parts ...string) {
	t.Helper()
	errs, gotFatal := failures(fn)
	if len(errs) != 1 {
		t.Fatalf("got %d failures, want 1: %q", len(errs), errs)
	}
	if gotFatal != fatal {
		t.Errorf("fatal = %v, want %v: %s", gotFatal, fatal, errs[0])
	}
	for _, p := range parts {
		if !strings.Contains(errs[0], p) {
			t.Errorf("failure %q does not say %q", errs[0], p)
		}
	}
}

func wantNoFailure(t *testing.T, fn func(t testing.TB)) {
	t.Helper()
	if errs, _ := failures(fn); len(errs) > 0 {
		t.Fatalf("unexpected failures:\n%s", strings.Join(errs, "\n"))
	}
}

var pick = input.Spec{Type: input.Select, Options: []input.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}

// registry holds small workflows exercising each feature.
func registry(calls *int) *hitl.Registry {
	reg := hitl.NewRegistry()
	// deploy: a step, one approval with a timeout, then a batch of two, then a step.
	hitl.Register(reg, "deploy", func(ctx context.Context, svc string) (string, error) {
		plan, err := hitl.Step(ctx, "plan", func(context.Context) (string, error) {
			if calls != nil {
				*calls++
			}
			return "plan for " + svc, nil
		})
		if err != nil {
			return "", err
		}
		ok, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Deploy " + svc + "?", Message: plan,
			Assignees: []string{"webhook:ops"}, Timeout: time.Hour, Context: map[string]any{"svc": svc, "n": 2}})
		if err != nil {
			return "", err
		}
		if !ok.Approved {
			return "held: " + ok.Comment, nil
		}
		answers, err := hitl.AskAll(ctx,
			hitl.Request{Title: "Region?", Input: pick, Timeout: time.Minute, OnTimeout: hitl.TimeoutDefault, Default: "b"},
			hitl.Request{Title: "Notes?", Input: input.Spec{Type: input.Text, Skippable: true}},
		)
		if err != nil {
			return "", err
		}
		var region, notes string
		_ = answers[0].Decode(&region)
		if len(answers[1].Data) > 0 {
			_ = answers[1].Decode(&notes)
		}
		return hitl.Step(ctx, "deploy", func(context.Context) (string, error) {
			return fmt.Sprintf("%s to %s (%s) [%s] %q", plan, region, answers[1].Outcome, answers[0].Responder, notes), nil
		})
	})
	// loop: one number per round until 0.
	hitl.Register(reg, "loop", func(ctx context.Context, _ any) (int, error) {
		sum := 0
		for i := 1; ; i++ {
			n, err := hitl.Step(ctx, "roll", func(context.Context) (int, error) { return i, nil })
			if err != nil {
				return 0, err
			}
			v, err := hitl.Ask[int](ctx, hitl.Request{Title: fmt.Sprintf("Number %d?", n), Input: input.Spec{Type: input.Number, Integer: true}})
			if err != nil || v == 0 {
				return sum, err
			}
			sum += v
		}
	})
	return reg
}

func TestInteractive(t *testing.T) {
	t.Parallel()
	calls := 0
	var result string
	var run *hitltest.Run
	wantNoFailure(t, func(t testing.TB) {
		h := hitltest.New(t, registry(&calls))
		run = h.Start("deploy", "billing")
		if run.ID() != "run-1" || run.Status() != events.RunWaiting {
			t.Errorf("id %s status %s", run.ID(), run.Status())
		}
		run.Expect("Deploy billing?").
			AssertInput(input.Approval).
			AssertAssignees("webhook:ops").
			AssertContext("svc", "billing").
			AssertContext("n", 2.0).
			AssertMessageContains("plan for billing").
			AssertTimeout(time.Hour, "", nil).
			Answer(input.ApprovalAnswer{Approved: true})
		run.AssertPending("Region?", "Notes?")
		run.Expect("Notes?").Answer(nil) // skipped
		run.AssertPending("Region?")
		run.Next().AssertOptions("a", "b").AssertTimeout(time.Minute, hitl.TimeoutDefault, "b").
			Answer("a", hitltest.By("ana"), hitltest.WithComment("closest"), hitltest.At(time.Unix(0, 0)))
		run.AssertCompleted()
		run.Result(&result)
		run.AssertAsked("Deploy billing?", "Region?", "Notes?")
		run.AssertBatches([]string{"Deploy billing?"}, []string{"Region?", "Notes?"})
		run.AssertStepRuns("plan", 1)
		run.AssertStepRuns("deploy", 1)
		run.AssertPending()
	})
	if want := `plan for billing to a (answered) [ana] ""`; result != want {
		t.Errorf("result %q, want %q", result, want)
	}
	if calls != 1 {
		t.Errorf("plan ran %d times, want 1", calls)
	}
	// The journal holds the answers as the orchestrator records them.
	j := run.Journal()
	if len(j) != 5 || j[0].Kind != "step" || j[1].Kind != "ask" || j[4].Name != "deploy" {
		t.Fatalf("journal %+v", j)
	}
	a := j[2].Answer
	if a == nil || a.Outcome != events.StatusAnswered || string(a.Data) != `"a"` || a.Responder != "ana" ||
		a.Comment != "closest" || !a.At.Equal(time.Unix(0, 0)) || a.InputHash == "" || a.RequestID != hitl.RequestID("run-1", 2) {
		t.Errorf("recorded answer %+v", a)
	}
	if q := run.Questions()[1]; q.Request.Status != events.StatusAnswered || q.Position != 2 || q.Batch != 1 {
		t.Errorf("question %+v", q)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	var result string
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(nil)).Start("deploy", "api")
		run.Next().Answer(input.ApprovalAnswer{Approved: true})
		run.Expect("Region?").Answer(hitltest.Timeout()) // default policy: "b"
		run.Expect("Notes?").Answer(hitltest.Cancel())
		run.Result(&result)
	})
	if want := `plan for api to b (cancelled) [hitl:timeout] ""`; result != want {
		t.Errorf("result %q, want %q", result, want)
	}

	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(nil)).Start("deploy", "api")
		run.Next().Answer(hitltest.Timeout()) // fail policy
		run.AssertFailed(hitl.ErrTimeout)
	})
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(nil)).Start("deploy", "api")
		run.Next().Answer(hitltest.CancelBecause("freeze"))
		run.AssertFailed(hitl.ErrCancelled)
		if run.Journal()[1].Answer.Comment != "freeze" {
			t.Errorf("cancel reason not recorded: %+v", run.Journal()[1].Answer)
		}
	})
}

func TestFailures(t *testing.T) {
	t.Parallel()

	start := func(t testing.TB) *hitltest.Run { return hitltest.New(t, registry(nil)).Start("deploy", "web") }
	tests := []struct {
		name  string
		fatal bool
		fn    func(t testing.TB)
		parts []string
	}{
		{"unknown workflow", true, func(t testing.TB) { hitltest.New(t, registry(nil)).Start("deploi", nil) },
			[]string{`no workflow "deploi"`, `"deploy"`}},
		{"no such question", true, func(t testing.TB) { start(t).Expect("Deploy?") },
			[]string{`deploy run run-1: want a pending question "Deploy?"`, `waits on "Deploy web?" (approval)`}},
		{"no predicate match", true, func(t testing.TB) {
			start(t).ExpectFunc("assigned to legal", func(q *hitltest.Question) bool { return slices.Contains(q.Request.Assignees, "webhook:legal") })
		}, []string{"want a pending question assigned to legal"}},
		{"nothing pending", true, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(input.ApprovalAnswer{Approved: false})
			run.Next()
		}, []string{"want a pending question", `completed with "held: "`}},
		{"invalid answer", true, func(t testing.TB) { start(t).Next().Answer("yes") },
			[]string{`answer "yes" to "Deploy web?" (approval) is refused`, "400 validation_failed", "$: must be an object"}},
		{"invalid option", true, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(input.ApprovalAnswer{Approved: true})
			run.Expect("Region?").Answer("c")
		}, []string{`answer "c" to "Region?" (select) is refused`}},
		{"not skippable", true, func(t testing.TB) { start(t).Next().Answer(nil) }, []string{"cannot be skipped"}},
		{"unencodable", true, func(t testing.TB) { start(t).Next().Answer(make(chan int)) }, []string{"encode chan int"}},
		{"timeout without a Timeout", true, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(input.ApprovalAnswer{Approved: true})
			run.Expect("Notes?").Answer(hitltest.Timeout())
		}, []string{`question "Notes?" cannot time out: it has no Timeout`}},
		{"answered twice", true, func(t testing.TB) {
			run := start(t)
			q := run.Next()
			q.Answer(input.ApprovalAnswer{Approved: true})
			q.Answer(input.ApprovalAnswer{Approved: true})
		}, []string{`question "Deploy web?" is answered, not pending`, "409 already_resolved"}},
		{"answer after the run's cancel", true, func(t testing.TB) {
			run := start(t)
			q := run.Next()
			run.Cancel("stop")
			run.AssertCancelled()
			q.Answer(input.ApprovalAnswer{Approved: true})
		}, []string{`"Deploy web?" is cancelled, not pending`}},
		{"cancel a finished run", true, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(input.ApprovalAnswer{Approved: false})
			run.Cancel("")
		}, []string{"cancel: the run already completed"}},
		{"wrong status", true, func(t testing.TB) { start(t).AssertCompleted() }, []string{"want completed, but the run waits on"}},
		{"result of a waiting run", true, func(t testing.TB) {
			var s string
			start(t).Result(&s)
		}, []string{"want completed"}},
		{"result of the wrong type", true, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(input.ApprovalAnswer{Approved: false})
			var n int
			run.Result(&n)
		}, []string{`decode result "held: " into *int`}},
		{"wrong error", false, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(hitltest.Cancel())
			run.AssertFailed(hitl.ErrTimeout)
		}, []string{"want an error matching request timed out"}},
		{"wrong titles", false, func(t testing.TB) { start(t).AssertAsked("Deploy?") },
			[]string{`asked ["Deploy web?"], want ["Deploy?"]`}},
		{"wrong batches", false, func(t testing.TB) {
			run := start(t)
			run.Next().Answer(input.ApprovalAnswer{Approved: true})
			run.AssertBatches([]string{"Deploy web?", "Region?"}, []string{"Notes?"})
		}, []string{`asked in batches [["Deploy web?"] ["Region?", "Notes?"]], want [["Deploy web?", "Region?"] ["Notes?"]]`}},
		{"wrong pending", false, func(t testing.TB) { start(t).AssertPending() }, []string{`pending questions ["Deploy web?"], want []`}},
		{"wrong step count", false, func(t testing.TB) { start(t).AssertStepRuns("plan", 2) },
			[]string{`step "plan" ran 1 times, want 2`}},
		{"wrong input", false, func(t testing.TB) { start(t).Next().AssertInput(input.Text) }, []string{"has input approval, want text"}},
		{"wrong assignees", false, func(t testing.TB) { start(t).Next().AssertAssignees() }, []string{`assigned to ["webhook:ops"], want []`}},
		{"wrong options", false, func(t testing.TB) { start(t).Next().AssertOptions("x") }, []string{`has options [], want ["x"]`}},
		{"missing context", false, func(t testing.TB) { start(t).Next().AssertContext("env", "prod") }, []string{`has no context "env"`}},
		{"wrong context", false, func(t testing.TB) { start(t).Next().AssertContext("svc", "api") }, []string{`has context "svc" = "web", want "api"`}},
		{"wrong message", false, func(t testing.TB) { start(t).Next().AssertMessageContains("rollback") }, []string{`a message without "rollback"`}},
		{"wrong timeout", false, func(t testing.TB) { start(t).Next().AssertTimeout(time.Minute, hitl.TimeoutFail, nil) },
			[]string{"times out after 1h0m0s, want 1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantFailure(t, tt.fatal, tt.fn, tt.parts...)
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(nil)).Start("deploy", "web")
		q := run.Next()
		var ve *input.ValidationError
		if err := q.Validate(map[string]any{"approved": "yes"}); !errors.As(err, &ve) || ve.Fields[0].Path != "$.approved" {
			t.Errorf("Validate = %v, want a validation error at $.approved", err)
		}
		if err := q.Validate(input.ApprovalAnswer{Approved: true}); err != nil {
			t.Errorf("Validate of a good answer = %v", err)
		}
		if err := q.Validate(hitltest.Timeout()); err != nil {
			t.Errorf("Validate(Timeout()) of a question with a timeout = %v", err)
		}
		run.AssertPending("Deploy web?") // Validate answers nothing
		q.Answer(input.ApprovalAnswer{Approved: true})
		if err := q.Validate(input.ApprovalAnswer{Approved: true}); !errors.Is(err, hitltest.ErrResolved) {
			t.Errorf("Validate after the answer = %v, want ErrResolved", err)
		}
	})
}

func TestPlay(t *testing.T) {
	t.Parallel()

	t.Run("in order", func(t *testing.T) {
		t.Parallel()
		var result string
		wantNoFailure(t, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("deploy", "web")
			run.Play(hitltest.InOrder(
				hitltest.Answer("Deploy web?", input.ApprovalAnswer{Approved: true}),
				hitltest.Answer("Notes?", "go"), // a batch may be answered in any order
				hitltest.Answer("", "a"),        // whatever comes next
			))
			run.Result(&result)
		})
		if want := `plan for web to a (answered) [hitltest] "go"`; result != want {
			t.Errorf("result %q, want %q", result, want)
		}
	})
	t.Run("by title", func(t *testing.T) {
		t.Parallel()
		var sum int
		wantNoFailure(t, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("loop", nil)
			run.Play(hitltest.ByTitle(map[string]any{"Number 1?": 5, "Number 2?": 7, "Number 3?": 0}))
			run.Result(&sum)
			run.AssertStepRuns("roll", 3)
		})
		if sum != 12 {
			t.Errorf("sum %d, want 12", sum)
		}
	})
	t.Run("func", func(t *testing.T) {
		t.Parallel()
		var sum int
		wantNoFailure(t, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("loop", nil)
			run.Play(hitltest.Func(func(q *hitltest.Question) (any, bool) {
				return max(0, 4-q.Position/2), true // positions 1, 3, 5, … are asks
			}))
			run.Result(&sum)
		})
		if sum != 4+3+2+1 {
			t.Errorf("sum %d, want 10", sum)
		}
	})
	t.Run("unexpected question", func(t *testing.T) {
		t.Parallel()
		wantFailure(t, true, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("deploy", "web")
			run.Play(hitltest.InOrder(hitltest.Answer("Deploy web?", input.ApprovalAnswer{Approved: true}), hitltest.Answer("Rollback?", true)))
		}, `unexpected question "Region?" (select), "Notes?" (text): the script has no answer for it; the next reply (2 of 2) is for "Rollback?"`)
		wantFailure(t, true, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("loop", nil)
			run.Play(hitltest.ByTitle(map[string]any{"Number 1?": 1}))
		}, `unexpected question "Number 2?" (number)`, `the script answers ["Number 1?"]`)
	})
	t.Run("answers left unused", func(t *testing.T) {
		t.Parallel()
		wantFailure(t, false, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("deploy", "web")
			run.Play(hitltest.InOrder(hitltest.Answer("Deploy web?", input.ApprovalAnswer{}), hitltest.Answer("Region?", "a")))
		}, `completed with "held: " without asking ["Region?"]: scripted answers left unused`)
		wantFailure(t, false, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("loop", nil)
			run.Play(hitltest.ByTitle(map[string]any{"Number 1?": 0, "Number 2?": 1}))
		}, `without asking ["Number 2?"]`)
	})
	t.Run("invalid scripted answer", func(t *testing.T) {
		t.Parallel()
		wantFailure(t, true, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("loop", nil)
			run.Play(hitltest.InOrder(hitltest.Answer("Number 1?", 1.5)))
		}, `answer 1.5 to "Number 1?" (number) is refused`, "must be a whole number")
	})
	t.Run("supply stops where the answers do", func(t *testing.T) {
		t.Parallel()
		wantNoFailure(t, func(t testing.TB) {
			run := hitltest.New(t, registry(nil)).Start("loop", nil)
			run.Supply(hitltest.ByTitle(map[string]any{"Number 1?": 1, "Number 2?": 2}))
			run.AssertPending("Number 3?")
			run.Supply(hitltest.InOrder(hitltest.Answer("Number 4?", 0))) // not asked yet: nothing happens
			run.AssertPending("Number 3?")
		})
	})
}

// A checkpoint resumes in a new harness, as after every process restarted; the questions it
// waits on come back with their full request, so answers are validated as before.
func TestResume(t *testing.T) {
	t.Parallel()

	calls := 0
	var stored []byte
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(&calls)).Start("deploy", "web")
		run.Next().Answer(input.ApprovalAnswer{Approved: true})
		run.Expect("Notes?").Answer("careful") // one of the batch answered, one pending
		// The checkpoint is the run record the orchestrator stores in the hitl_runs bucket.
		var cp store.Run = run.Checkpoint()
		if cp.Status != events.RunWaiting || !slices.Equal(cp.Waiting, []string{hitl.RequestID(cp.ID, 2)}) ||
			len(cp.Journal) != 4 || cp.CreatedAt.IsZero() || cp.UpdatedAt.Before(cp.CreatedAt) {
			t.Errorf("checkpoint %+v", cp)
		}
		var err error
		stored, err = json.Marshal(cp)
		if err != nil {
			t.Fatalf("%v", err)
		}
	})

	var result string
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(&calls)).ResumeJSON(stored)
		if run.ID() != "run-1" {
			t.Errorf("resumed id %s", run.ID())
		}
		q := run.Expect("Region?").AssertOptions("a", "b").AssertTimeout(time.Minute, hitl.TimeoutDefault, "b")
		if q.Position != 2 || q.Request.ID != hitl.RequestID("run-1", 2) || q.Request.Status != events.StatusPending {
			t.Errorf("recovered question %+v", q)
		}
		if err := q.Validate("z"); !errors.Is(err, input.ErrInvalid) {
			t.Errorf("the recovered question validates %q: %v", "z", err)
		}
		run.AssertAsked("Region?")
		run.Supply(hitltest.ByTitle(map[string]any{"Region?": "b"}))
		run.Result(&result)
		run.AssertStepRuns("plan", 0)
		run.AssertStepRuns("deploy", 1)
	})
	if want := `plan for web to b (answered) [hitltest] "careful"`; result != want {
		t.Errorf("result %q, want %q", result, want)
	}
	if calls != 1 {
		t.Errorf("plan ran %d times across both harnesses, want 1", calls)
	}
}

// A finished run's checkpoint replays to the same result: a test that stored journals still
// replay on today's code. A changed workflow fails the run, as the orchestrator would.
func TestResumeOnChangedCode(t *testing.T) {
	t.Parallel()

	var cp hitltest.Checkpoint
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(nil)).Start("deploy", "web")
		run.Next().Answer(input.ApprovalAnswer{Approved: false, Comment: "friday"})
		cp = run.Checkpoint()
	})
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, registry(nil)).Resume(cp)
		var s string
		run.Result(&s)
		if s != "held: friday" {
			t.Errorf("replayed result %q", s)
		}
	})

	changed := hitl.NewRegistry()
	hitl.Register(changed, "deploy", func(ctx context.Context, svc string) (bool, error) {
		return hitl.Ask[bool](ctx, hitl.Request{Title: "Ship " + svc + "?", Input: input.Spec{Type: input.Boolean}})
	})
	wantNoFailure(t, func(t testing.TB) {
		run := hitltest.New(t, changed).Resume(cp)
		if err := run.AssertFailed(hitl.ErrNondeterministic); !strings.Contains(err.Error(), `position 0 is step "plan"`) {
			t.Errorf("error %v", err)
		}
	})

	wantFailure(t, true, func(t testing.TB) { hitltest.New(t, registry(nil)).ResumeJSON([]byte(`{"id":"x"}`)) }, "names no workflow")
	wantFailure(t, true, func(t testing.TB) { hitltest.New(t, registry(nil)).ResumeJSON([]byte(`[`)) }, "decode checkpoint")
}

// Every execution is replayed at once, and a replay that disagrees fails the test.
func TestReplayCheck(t *testing.T) {
	t.Parallel()

	reg := hitl.NewRegistry()
	n := 0
	hitl.Register(reg, "clock", func(ctx context.Context, _ any) (bool, error) {
		n++ // state outside a Step: each execution asks a different question
		return hitl.Ask[bool](ctx, hitl.Request{Title: fmt.Sprintf("Question %d", n), Input: input.Spec{Type: input.Boolean}})
	})
	type secret struct {
		Public  string
		private string
	}
	hitl.Register(reg, "lossy", func(ctx context.Context, _ any) (string, error) {
		s, err := hitl.Step(ctx, "load", func(context.Context) (secret, error) { return secret{"a", "b"}, nil })
		return s.Public + s.private, err
	})
	hitl.Register(reg, "random", func(ctx context.Context, _ any) (string, error) {
		n++
		if n%2 == 0 {
			_, err := hitl.Step(ctx, "extra", func(context.Context) (int, error) { return 1, nil })
			return "", err
		}
		return "", nil
	})

	wantFailure(t, false, func(t testing.TB) { hitltest.New(t, reg).Start("clock", nil) },
		"clock run run-1 is not deterministic: replaying its journal, as an orchestrator does on every resume, fails",
		"position 0 is ask \"Question 1\" in the journal, but the code now calls ask \"Question 2\"")
	// A Step result that does not survive JSON is seen the same way on the first execution and
	// on replay (the SDK hands back the recorded form), so the run stays deterministic.
	lossy := hitltest.New(t, reg).Start("lossy", nil)
	var got string
	lossy.Result(&got)
	if got != "a" {
		t.Errorf("lossy result %q, want \"a\" (the unexported field is not recorded)", got)
	}
	n = 0
	wantFailure(t, false, func(t testing.TB) { hitltest.New(t, reg).Start("random", nil) },
		`runs step ["extra"], which the journal does not record`)
}
