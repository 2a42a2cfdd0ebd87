package present_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/present"
)

func resolved(spec input.Spec, status events.Status, responder, data, comment string) *events.Request {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := &events.Request{ID: "r1", Title: "t", Input: spec, Status: status, ResolvedAt: &at}
	if status != events.StatusPending {
		r.Response = &events.Response{RequestID: "r1", Outcome: status, Responder: responder, Comment: comment, At: at}
		if data != "" {
			r.Response.Data = json.RawMessage(data)
		}
	}
	return r
}

func TestVerdicts(t *testing.T) {
	approval := input.Spec{Type: input.Approval}
	sel := input.Spec{Type: input.Select, Options: []input.Option{{ID: "sc", Label: "Store credit"}, {ID: "bank"}}}
	for _, tc := range []struct {
		name     string
		r        *events.Request
		sentence string
		tone     present.Tone
		auto     bool
	}{
		{"approved", resolved(approval, events.StatusAnswered, "slack:@U1", `{"approved":true,"comment":"ok"}`, ""), "Approved by slack:@U1", present.Positive, false},
		{"edited", resolved(approval, events.StatusAnswered, "alice", `{"approved":true,"edited":{"a":1}}`, ""), "Approved with changes by alice", present.Positive, false},
		{"rejected", resolved(approval, events.StatusAnswered, "bob", `{"approved":false,"comment":"no"}`, ""), "Rejected by bob", present.Negative, false},
		{"select", resolved(sel, events.StatusAnswered, "api", `"sc"`, ""), "Answered: Store credit by api", present.Positive, false},
		{"skipped", resolved(sel, events.StatusAnswered, "api", `null`, ""), "Skipped by api", present.Neutral, false},
		{"timed out", resolved(sel, events.StatusTimedOut, "hitl:timeout", `"bank"`, ""), "Timed out: bank (decided by hitl, not a person)", present.Neutral, true},
		{"run cancelled", resolved(sel, events.StatusCancelled, "hitl:run-cancel", "", ""), "Cancelled (decided by hitl, not a person)", present.Neutral, true},
		{"cancelled by a person", resolved(sel, events.StatusCancelled, "api", "", ""), "Cancelled by api", present.Neutral, false},
		{"pending", resolved(sel, events.StatusPending, "", "", ""), "Waiting for an answer", present.Waiting, false},
	} {
		v := present.Of(tc.r)
		if v.Sentence() != tc.sentence || v.Tone != tc.tone || v.Automatic != tc.auto {
			t.Errorf("%s: %q tone %s auto %v, want %q %s %v", tc.name, v.Sentence(), v.Tone, v.Automatic, tc.sentence, tc.tone, tc.auto)
		}
	}
	if v := present.Of(resolved(approval, events.StatusAnswered, "b", `{"approved":false,"comment":" too much "}`, "")); v.Comment != "too much" {
		t.Errorf("approval comment: %q", v.Comment)
	}
}

func TestAnswerInWords(t *testing.T) {
	multi := input.Spec{Type: input.MultiSelect, Options: []input.Option{{ID: "e", Label: "Email"}, {ID: "s", Label: "SMS"}}}
	for _, tc := range []struct {
		spec input.Spec
		data string
		want string
	}{
		{input.Spec{Type: input.Boolean}, `true`, "Yes"},
		{input.Spec{Type: input.Number}, `42.5`, "42.5"},
		{input.Spec{Type: input.Text}, `"  two\nlines "`, "two lines"},
		{multi, `["e","s","custom"]`, "Email, SMS, custom"},
		{multi, `[]`, "none"},
		{input.Spec{Type: input.Form}, `{"a":1,"b":2}`, "2 fields"},
		{input.Spec{Type: input.JSON}, `{ "a" : [1, 2] }`, `{"a":[1,2]}`},
		{input.Spec{Type: input.Text}, `null`, ""},
	} {
		if got := present.Answer(tc.spec, json.RawMessage(tc.data)); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.spec.Type, tc.data, got, tc.want)
		}
	}
}

func TestTimedOutApprovalDefault(t *testing.T) {
	r := resolved(input.Spec{Type: input.Approval}, events.StatusTimedOut, "hitl:timeout", `{"approved":false}`, "")
	if v := present.Of(r); v.Answer != "Rejected" || !v.Automatic || v.By != "" {
		t.Fatalf("%+v", v)
	}
}

func TestSymbols(t *testing.T) {
	approval := input.Spec{Type: input.Approval}
	for want, r := range map[string]*events.Request{
		"✅": resolved(approval, events.StatusAnswered, "a", `{"approved":true}`, ""),
		"❌": resolved(approval, events.StatusAnswered, "a", `{"approved":false}`, ""),
		"⏭": resolved(approval, events.StatusAnswered, "a", `null`, ""),
		"⌛": resolved(approval, events.StatusTimedOut, "hitl:timeout", "", ""),
		"🚫": resolved(approval, events.StatusCancelled, "api", "", ""),
		"💬": resolved(approval, events.StatusPending, "", "", ""),
	} {
		if got := present.Of(r).Symbol; got != want {
			t.Errorf("%s: %q, want %q", r.Status, got, want)
		}
	}
}
