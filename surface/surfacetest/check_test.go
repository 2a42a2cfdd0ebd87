package surfacetest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/notify"
)

type kindOnly string

func (k kindOnly) Kind() string                                { return string(k) }
func (kindOnly) Notify(context.Context, notify.Delivery) error { return nil }

// TestCheckRefusesUndeclaredGaps: a missing half, or a skip, must come with a reason.
func TestCheckRefusesUndeclaredGaps(t *testing.T) {
	count := func(string) int { return 0 }
	notifyHalf := &Notify{Channel: kindOnly("post"), Assignee: "post:ops", Delivered: count, Resolved: count, Break: func() {}}
	prepare := func(*testing.T, *events.Request, string, bool) Attempt { return nil }
	answerHalf := &Answer{Handler: http.NotFoundHandler(), Assignees: []string{"post:ops"},
		Allowed: [2]string{"post:a", "post:b"}, Refused: "post:c", Prepare: prepare}
	skipAll := func(bs []Behaviour) map[Behaviour]string {
		m := map[Behaviour]string{}
		for _, b := range bs {
			m[b] = "does not apply"
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		s       Subject
		wantErr string // "" for none
	}{
		{name: "both halves", s: Subject{Notify: notifyHalf, Answer: answerHalf}},
		{name: "no answer half, declared", s: Subject{Notify: notifyHalf, Skip: skipAll(AnswerBehaviours)}},
		{name: "no notify half, declared", s: Subject{Answer: answerHalf, Skip: skipAll(NotifyBehaviours)}},
		{name: "no answer half, undeclared", s: Subject{Notify: notifyHalf},
			wantErr: "no answer half, and Skip gives no reason for AnswerAcceptedOnce"},
		{name: "no notify half, one undeclared", s: Subject{Answer: answerHalf, Skip: func() map[Behaviour]string {
			m := skipAll(NotifyBehaviours)
			delete(m, ReportsFailedDelivery)
			return m
		}()}, wantErr: "no notify half, and Skip gives no reason for ReportsFailedDelivery"},
		{name: "skip without a reason", s: Subject{Notify: notifyHalf, Answer: answerHalf, Skip: map[Behaviour]string{Delivers: " "}},
			wantErr: "Skip names Delivers without a reason"},
		{name: "skip of no behaviour", s: Subject{Notify: notifyHalf, Answer: answerHalf, Skip: map[Behaviour]string{"Deliver": "typo"}},
			wantErr: `"Deliver", which is no behaviour`},
		{name: "assignee of another kind", s: Subject{Notify: &Notify{Channel: kindOnly("post"), Assignee: "slack:#ops",
			Delivered: count, Resolved: count, Break: func() {}}, Answer: answerHalf}, wantErr: `not of the channel's kind "post"`},
		{name: "one allowed identity twice", s: Subject{Notify: notifyHalf, Answer: &Answer{Handler: http.NotFoundHandler(),
			Assignees: []string{"post:ops"}, Allowed: [2]string{"post:a", "POST:A"}, Refused: "post:c", Prepare: prepare}},
			wantErr: "two different identities"},
		{name: "refused identity allowed", s: Subject{Notify: notifyHalf, Answer: &Answer{Handler: http.NotFoundHandler(),
			Assignees: []string{"post:ops"}, Allowed: [2]string{"post:a", "post:b"}, Refused: "post:b", Prepare: prepare}},
			wantErr: "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.check()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}
