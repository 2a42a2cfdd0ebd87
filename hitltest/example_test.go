package hitltest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

// Deploy is the input of the example workflow.
type Deploy struct {
	Service string `json:"service"`
	Version string `json:"version"`
}

// workflows registers the example workflow: plan (a Step), ask for approval, ask where and
// with which note (AskAll), deploy (a Step), counted in deployments if not nil.
func workflows(deployments ...*int) *hitl.Registry {
	reg := hitl.NewRegistry()
	hitl.Register(reg, "deploy", func(ctx context.Context, in Deploy) (string, error) {
		plan, err := hitl.Step(ctx, "plan", func(context.Context) (string, error) {
			return fmt.Sprintf("%s %s: 3 instances, rolling", in.Service, in.Version), nil
		})
		if err != nil {
			return "", err
		}
		ok, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{
			Title: "Deploy " + in.Service + " " + in.Version + "?", Message: plan,
			Assignees: []string{"webhook:ops-bot"}, Timeout: time.Hour,
			OnTimeout: hitl.TimeoutDefault, Default: input.ApprovalAnswer{Approved: false, Comment: "no answer"},
		})
		if err != nil {
			return "", err
		}
		if !ok.Approved {
			return "not deployed: " + ok.Comment, nil
		}
		answers, err := hitl.AskAll(ctx,
			hitl.Request{Title: "Region?", Input: input.Spec{Type: input.Select, Options: []input.Option{
				{ID: "eu", Label: "Europe"}, {ID: "us", Label: "United States"}}}},
			hitl.Request{Title: "Release note?", Input: input.Spec{Type: input.Text, Skippable: true}},
		)
		if err != nil {
			return "", err
		}
		var region, note string
		if err := answers[0].Decode(&region); err != nil {
			return "", err
		}
		_ = answers[1].Decode(&note) // null when skipped
		return hitl.Step(ctx, "deploy", func(context.Context) (string, error) {
			for _, n := range deployments {
				*n++
			}
			return fmt.Sprintf("deployed %s %s to %s (%q)", in.Service, in.Version, region, note), nil
		})
	})
	return reg
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

// A test starts a run, answers each question as the run asks it, checking what was asked,
// and checks the result. Every execution replays the journal, as in production, and each
// Step still runs once.
func Example() {
	test(func(t testing.TB) { // func TestDeploy(t *testing.T) {
		deployments := 0
		h := hitltest.New(t, workflows(&deployments))
		run := h.Start("deploy", Deploy{Service: "billing", Version: "1.4"})

		run.Expect("Deploy billing 1.4?").
			AssertInput(input.Approval).
			AssertAssignees("webhook:ops-bot").
			AssertMessageContains("3 instances").
			Answer(input.ApprovalAnswer{Approved: true}, hitltest.By("alice"))
		// Both questions of the AskAll are pending at once; answer them in any order.
		run.AssertPending("Region?", "Release note?")
		run.Expect("Release note?").Answer("faster invoices")
		run.Expect("Region?").AssertOptions("eu", "us").Answer("eu")

		var out string
		run.Result(&out)
		fmt.Println(out)
		run.AssertBatches([]string{"Deploy billing 1.4?"}, []string{"Region?", "Release note?"})
		run.AssertStepRuns("plan", 1)
		run.AssertStepRuns("deploy", 1)
		fmt.Println("deployments:", deployments)
	})
	// Output:
	// deployed billing 1.4 to eu ("faster invoices")
	// deployments: 1
}

// Play answers with a script, like a mocked request_input: here in order, by title.
func ExampleRun_Play() {
	test(func(t testing.TB) {
		run := hitltest.New(t, workflows()).Start("deploy", Deploy{Service: "api", Version: "2.0"})
		run.Play(hitltest.InOrder(
			hitltest.Answer("Deploy api 2.0?", input.ApprovalAnswer{Approved: true}),
			hitltest.Answer("Region?", "us"),
			hitltest.Answer("Release note?", nil), // skip
		))
		var out string
		run.Result(&out)
		fmt.Println(out)
	})
	// Output:
	// deployed api 2.0 to us ("")
}

// A question the script has no answer for fails the test, naming it.
func ExampleRun_Play_unexpected() {
	test(func(t testing.TB) {
		run := hitltest.New(t, workflows()).Start("deploy", Deploy{Service: "api", Version: "2.0"})
		run.Play(hitltest.ByTitle(map[string]any{
			"Deploy api 2.0?": input.ApprovalAnswer{Approved: true},
			"Region?":         "us",
		}))
		fmt.Println("not reached")
	})
	// Output:
	// FAIL: deploy run run-1: unexpected question "Release note?" (text): the script has no answer for it; the script answers ["Deploy api 2.0?", "Region?"]
}

// An answer the question's input refuses fails the test, as the API would refuse it.
func ExampleQuestion_Answer_invalid() {
	test(func(t testing.TB) {
		run := hitltest.New(t, workflows()).Start("deploy", Deploy{Service: "api", Version: "2.0"})
		run.Next().Answer(input.ApprovalAnswer{Approved: true})
		run.Expect("Region?").Answer("asia")
	})
	// Output:
	// FAIL: deploy run run-1: answer "asia" to "Region?" (select) is refused, as the API would refuse it (400 validation_failed): invalid: $: "asia" is not one of the options (eu, us)
}

// Timeout resolves a question as its deadline would; this one falls back to its default.
func ExampleTimeout() {
	test(func(t testing.TB) {
		run := hitltest.New(t, workflows()).Start("deploy", Deploy{Service: "api", Version: "2.0"})
		run.Next().Answer(hitltest.Timeout())
		var out string
		run.Result(&out)
		fmt.Println(out)
		run.AssertStepRuns("deploy", 0)
	})
	// Output:
	// not deployed: no answer
}

// A run's checkpoint, as the hitl_runs bucket stores it, resumes in another harness (as after
// a restart of every process) with pre-supplied answers for what it waits on.
func ExampleHarness_ResumeJSON() {
	var stored []byte
	test(func(t testing.TB) {
		run := hitltest.New(t, workflows()).Start("deploy", Deploy{Service: "web", Version: "3.1"})
		run.Next().Answer(input.ApprovalAnswer{Approved: true})
		stored, _ = json.Marshal(run.Checkpoint())
	})
	test(func(t testing.TB) {
		run := hitltest.New(t, workflows()).ResumeJSON(stored)
		for _, q := range run.Pending() {
			fmt.Printf("waiting on %q (%s)\n", q.Request.Title, q.Request.Input.Type)
		}
		run.Supply(hitltest.ByTitle(map[string]any{"Region?": "eu", "Release note?": "hotfix"}))
		var out string
		run.Result(&out)
		fmt.Println(out)
		run.AssertStepRuns("plan", 0) // it ran before the checkpoint
	})
	// Output:
	// waiting on "Region?" (select)
	// waiting on "Release note?" (text)
	// deployed web 3.1 to eu ("hotfix")
}
