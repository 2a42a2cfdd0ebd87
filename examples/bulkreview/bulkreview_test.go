package bulkreview_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples/bulkreview"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

var batch = bulkreview.Input{
	Items: []bulkreview.Item{
		{ID: "c1", Text: "Great product, arrived on time."},
		{ID: "c2", Text: "FREE MONEY, click here!"},
		{ID: "c3", Text: "I will call my lawyer about this refund."},
	},
	Assignees: []string{"webhook:moderators"},
	Timeout:   hitl.Duration(2 * time.Hour),
}

func setup(t *testing.T) *hitltest.Harness {
	t.Helper()
	reg := hitl.NewRegistry()
	bulkreview.Register(reg)
	return hitltest.New(t, reg)
}

// Every item is asked at once, in one batch, and answered in any order.
func TestOneQuestionPerItemAtOnce(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(bulkreview.Name, batch)

	run.AssertPending("Review item c1", "Review item c2", "Review item c3")
	run.AssertBatches([]string{"Review item c1", "Review item c2", "Review item c3"})
	for i, q := range run.Pending() {
		q.AssertInput(input.Select).
			AssertOptions("approve", "reject", "escalate").
			AssertAssignees("webhook:moderators").
			AssertContext("position", i+1).
			AssertContext("of", 3)
	}
	run.Expect("Review item c2").
		AssertContext("suggestion", "reject").
		AssertTimeout(2*time.Hour, hitl.TimeoutDefault, "reject").
		AssertMessageContains("FREE MONEY", "The model suggests **reject**")

	// Answer out of order; the run waits until the last one.
	run.Expect("Review item c3").Answer("reject", hitltest.By("mia"), hitltest.WithComment("abusive"))
	run.AssertPending("Review item c1", "Review item c2")
	run.Expect("Review item c1").Answer("approve", hitltest.By("mia"))
	run.AssertWaiting()
	run.AssertStepRuns("publish_approved", 0)
	run.Expect("Review item c2").Answer("reject", hitltest.By("noor"))

	var got bulkreview.Result
	run.Result(&got)
	want := bulkreview.Result{
		Items: []bulkreview.Decision{
			{ID: "c1", Suggestion: "approve", Decision: "approve", DecidedBy: "human", Responder: "mia"},
			{ID: "c2", Suggestion: "reject", Decision: "reject", DecidedBy: "human", Responder: "noor"},
			{ID: "c3", Suggestion: "escalate", Decision: "reject", DecidedBy: "human", Responder: "mia", Note: "abusive"},
		},
		Counts:    map[string]int{"approve": 1, "reject": 2},
		Published: 1,
	}
	if !sameJSON(got, want) {
		t.Errorf("result\n%s\nwant\n%s", jsonOf(got), jsonOf(want))
	}
	run.AssertStepRuns("screen_items", 1)
	run.AssertStepRuns("publish_approved", 1)
}

// Unanswered items fall back to the model's suggestion; a cancelled one stays undecided.
func TestTimeoutsAndCancels(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(bulkreview.Name, batch)
	run.Play(hitltest.ByTitle(map[string]any{
		"Review item c1": hitltest.Timeout(),
		"Review item c2": hitltest.Cancel(),
		"Review item c3": hitltest.Timeout(),
	}))
	var got bulkreview.Result
	run.Result(&got)
	var by []string
	for _, d := range got.Items {
		by = append(by, d.ID+":"+d.DecidedBy+":"+d.Decision)
	}
	if want := "[c1:timeout_default:approve c2:cancelled: c3:timeout_default:escalate]"; fmt.Sprint(by) != want {
		t.Errorf("decisions %v, want %s", by, want)
	}
	if want := map[string]int{"approve": 1, "escalate": 1, "": 1}; !maps.Equal(got.Counts, want) {
		t.Errorf("counts %v, want %v", got.Counts, want)
	}
}

// A batch answered in bulk by a script: every question is asked once, in one batch, and each
// answer resumes the run (which replays the whole batch, as in production).
func TestBulkAnswer(t *testing.T) {
	t.Parallel()
	in := bulkreview.Input{}
	var titles []string
	for i := range 30 {
		id := fmt.Sprintf("item-%03d", i)
		in.Items = append(in.Items, bulkreview.Item{ID: id, Text: "text " + id})
		titles = append(titles, "Review item "+id)
	}
	run := setup(t).Start(bulkreview.Name, in)
	run.Play(hitltest.Func(func(q *hitltest.Question) (any, bool) {
		// Position 0 is the screening step: item i is at position i+1.
		return []string{"approve", "reject"}[(q.Position-1)%2], true
	}))
	var got bulkreview.Result
	run.Result(&got)
	if got.Counts["approve"] != 15 || got.Counts["reject"] != 15 || got.Published != 15 {
		t.Errorf("counts %v, published %d", got.Counts, got.Published)
	}
	run.AssertBatches(titles)
	run.AssertStepRuns("screen_items", 1)
	run.AssertStepRuns("publish_approved", 1)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	tooMany := make([]bulkreview.Item, bulkreview.MaxItems+1)
	for i := range tooMany {
		tooMany[i].ID = fmt.Sprint(i)
	}
	for name, items := range map[string][]bulkreview.Item{
		"none":      nil,
		"too many":  tooMany,
		"no id":     {{Text: "x"}},
		"duplicate": {{ID: "a"}, {ID: "a"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := setup(t).Start(bulkreview.Name, bulkreview.Input{Items: items})
			run.AssertFailed(nil)
			run.AssertAsked()
		})
	}
}

func jsonOf(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func sameJSON(a, b any) bool { return jsonOf(a) == jsonOf(b) }
