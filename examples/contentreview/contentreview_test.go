package contentreview_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples/contentreview"
	"github.com/hitl-dev/hitl/hitltest"
	"github.com/hitl-dev/hitl/input"
)

const (
	review1    = `Review draft 1 of "Durable agents"`
	review2    = `Review draft 2 of "Durable agents"`
	review3    = `Review draft 3 of "Durable agents"`
	escalation = `Escalation: publish "Durable agents"?`
)

func setup(t *testing.T) *hitltest.Harness {
	t.Helper()
	reg := hitl.NewRegistry()
	contentreview.Register(reg)
	return hitltest.New(t, reg)
}

func reject(comment string) input.ApprovalAnswer { return input.ApprovalAnswer{Comment: comment} }

func TestApprovedAfterFeedback(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(contentreview.Name, contentreview.Input{Topic: "Durable agents", Reviewers: []string{"webhook:content-bot"}})

	run.Expect(review1).
		AssertInput(input.Approval).
		AssertAssignees("webhook:content-bot").
		AssertContext("round", 1).
		AssertContext("max_rounds", 3).
		AssertMessageContains("# Durable agents", "round 1 of 3").
		AssertTimeout(contentreview.ReviewTimeout, hitl.TimeoutFail, nil).
		Answer(reject("Add an example."), hitltest.By("bob"))
	// The second draft carries the reviewer's feedback.
	run.Expect(review2).
		AssertMessageContains("(Revision 2: Add an example.)", "round 2 of 3").
		Answer(input.ApprovalAnswer{Approved: true, Comment: "ship it"}, hitltest.By("bob"))

	var got contentreview.Result
	run.Result(&got)
	if got.Status != contentreview.Approved || got.Rounds != 2 || got.ApprovedBy != "bob" || got.Comment != "ship it" ||
		!slices.Equal(got.Feedback, []string{"Add an example."}) || !strings.HasSuffix(got.Draft, "(Revision 2: Add an example.)") {
		t.Errorf("result %+v", got)
	}
	run.AssertAsked(review1, review2)
	run.AssertStepRuns("write_draft", 1)
	run.AssertStepRuns("revise_draft", 1)
}

func TestRounds(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		in         contentreview.Input
		script     hitltest.Script
		wantStatus string
		wantRounds int
		wantAsked  []string
		wantRevise int
	}{
		{
			name:       "approved at once",
			in:         contentreview.Input{Topic: "Durable agents"},
			script:     hitltest.InOrder(hitltest.Answer(review1, input.ApprovalAnswer{Approved: true})),
			wantStatus: contentreview.Approved, wantRounds: 1, wantAsked: []string{review1},
		},
		{
			name: "rounds run out without an editor",
			in:   contentreview.Input{Topic: "Durable agents"},
			script: hitltest.InOrder(
				hitltest.Answer(review1, reject("too long")),
				hitltest.Answer(review2, reject("")),
				hitltest.Answer(review3, reject("still too long")),
			),
			wantStatus: contentreview.NotApproved, wantRounds: 3, wantAsked: []string{review1, review2, review3}, wantRevise: 2,
		},
		{
			name:       "one round",
			in:         contentreview.Input{Topic: "Durable agents", MaxRounds: 1},
			script:     hitltest.InOrder(hitltest.Answer(review1, reject("no"))),
			wantStatus: contentreview.NotApproved, wantRounds: 1, wantAsked: []string{review1},
		},
		{
			name: "editor publishes after the last round",
			in:   contentreview.Input{Topic: "Durable agents", MaxRounds: 2, Editors: []string{"webhook:editors"}},
			script: hitltest.ByTitle(map[string]any{
				review1:    reject("tone"),
				review2:    reject("tone, again"),
				escalation: "publish",
			}),
			wantStatus: contentreview.EditorPublished, wantRounds: 2, wantAsked: []string{review1, review2, escalation}, wantRevise: 1,
		},
		{
			name: "reviewer silent, editor silent: discarded by default",
			in:   contentreview.Input{Topic: "Durable agents", Editors: []string{"webhook:editors"}},
			script: hitltest.InOrder(
				hitltest.Answer(review1, hitltest.Timeout()),
				hitltest.Answer(escalation, hitltest.Timeout()),
			),
			wantStatus: contentreview.EditorDiscarded, wantRounds: 1, wantAsked: []string{review1, escalation},
		},
		{
			name:       "reviewer silent without an editor",
			in:         contentreview.Input{Topic: "Durable agents"},
			script:     hitltest.InOrder(hitltest.Answer(review1, hitltest.Timeout())),
			wantStatus: contentreview.NotApproved, wantRounds: 1, wantAsked: []string{review1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := setup(t).Start(contentreview.Name, tt.in)
			run.Play(tt.script)
			var got contentreview.Result
			run.Result(&got)
			if got.Status != tt.wantStatus || got.Rounds != tt.wantRounds {
				t.Errorf("status %s after %d rounds, want %s after %d", got.Status, got.Rounds, tt.wantStatus, tt.wantRounds)
			}
			run.AssertAsked(tt.wantAsked...)
			run.AssertStepRuns("write_draft", 1)
			run.AssertStepRuns("revise_draft", tt.wantRevise)
		})
	}
}

func TestEscalationShowsFeedback(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(contentreview.Name, contentreview.Input{Topic: "Durable agents", MaxRounds: 2, Editors: []string{"webhook:editors"}})
	run.Expect(review1).Answer(reject("too long"))
	run.Expect(review2).Answer(reject(""))
	run.Expect(escalation).
		AssertInput(input.Select).
		AssertOptions("publish", "discard").
		AssertAssignees("webhook:editors").
		AssertTimeout(contentreview.ReviewTimeout, hitl.TimeoutDefault, "discard").
		AssertMessageContains("last of 2 rounds", "1. too long", "2. (no comment)", "(Revision 2: too long.)").
		Answer("discard", hitltest.By("erin"))
	var got contentreview.Result
	run.Result(&got)
	if got.Status != contentreview.EditorDiscarded || got.ApprovedBy != "" {
		t.Errorf("result %+v", got)
	}
}

func TestCancelledReview(t *testing.T) {
	t.Parallel()
	run := setup(t).Start(contentreview.Name, contentreview.Input{Topic: "Durable agents"})
	run.Expect(review1).Answer(hitltest.Cancel())
	run.AssertFailed(hitl.ErrCancelled)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      contentreview.Input
		wantErr string
	}{
		{contentreview.Input{Topic: "  "}, "topic is required"},
		{contentreview.Input{Topic: "x", MaxRounds: -1}, "max_rounds must be between 1 and 10, not -1"},
		{contentreview.Input{Topic: "x", MaxRounds: 11}, "max_rounds must be between 1 and 10, not 11"},
	}
	for _, tt := range tests {
		run := setup(t).Start(contentreview.Name, tt.in)
		if err := run.AssertFailed(nil); err.Error() != tt.wantErr {
			t.Errorf("input %+v: error %q, want %q", tt.in, err, tt.wantErr)
		}
		run.AssertAsked()
	}
}
