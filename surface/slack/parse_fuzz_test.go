package slack

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

const fuzzRID = "2f1c6a8e-0d4b-4c51-9b7e-3c2a1d0e9f88"

// Payloads in Slack's wire format, as internal/slackfake builds them from the messages and
// modals hitl posts.
var fuzzPayloads = []string{
	`{"type":"block_actions","user":{"id":"U0ALICE","username":"alice","name":"alice","team_id":"T0FAKE"},"api_app_id":"A0FAKE","token":"fake-verification-token",` +
		`"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"C0OPS","is_ephemeral":false},"trigger_id":"1700000000.1.abc","team":{"id":"T0FAKE","domain":"fake"},` +
		`"channel":{"id":"C0OPS","name":"ops"},"message":{"ts":"1700000000.000100","text":"Deploy?"},"state":{"values":{}},"response_url":"http://127.0.0.1:1/hooks/1",` +
		`"actions":[{"type":"button","action_id":"hitl:` + fuzzRID + `:approve","block_id":"hitl.actions","text":{"type":"plain_text","text":"Approve"},"value":"approve","style":"primary","action_ts":"1700000001.000001"}]}`,
	`{"type":"block_actions","user":{"id":"U0BOB"},"channel":{"id":"D0BOB","name":"directmessage"},"actions":[{"type":"button","action_id":"hitl:` + fuzzRID + `:opt-1","value":"store_credit"}]}`,
	`{"type":"block_actions","user":{"id":"U0BOB"},"actions":[{"type":"button","action_id":"hitl:` + fuzzRID + `:form-reject","value":"reject"}]}`,
	`{"type":"view_submission","team":{"id":"T0FAKE","domain":"fake"},"user":{"id":"U0ALICE","username":"alice"},"trigger_id":"t","view":{"id":"V0001","type":"modal","callback_id":"hitl.answer",` +
		`"private_metadata":"{\"request_id\":\"` + fuzzRID + `\",\"channel_id\":\"C0OPS\",\"channel_name\":\"ops\"}",` +
		`"state":{"values":{"hitl.answer":{"value":{"type":"radio_buttons","selected_option":{"text":{"type":"plain_text","text":"Reject"},"value":"reject"}}},` +
		`"hitl.comment":{"value":{"type":"plain_text_input","value":"too risky"}}}}},"response_urls":[],"is_enterprise_install":false}`,
	`{"type":"view_submission","user":{"id":"U0ALICE"},"view":{"callback_id":"hitl.answer","private_metadata":"{\"request_id\":\"` + fuzzRID + `\"}",` +
		`"state":{"values":{"hitl.answer":{"value":{"type":"number_input","value":"12.50"}},"hitl.custom":{"value":{"type":"plain_text_input","value":"typed\nsecond"}}}}}}`,
	`{"type":"view_submission","user":{"id":"U0ALICE"},"view":{"callback_id":"hitl.answer","private_metadata":"{\"request_id\":\"` + fuzzRID + `\"}",` +
		`"state":{"values":{"hitl.answer":{"value":{"type":"checkboxes","selected_options":[{"value":"o0"},{"value":"o2"},{"value":"o9"}]}},` +
		`"hitl.field.0":{"value":{"type":"number_input","value":"1e3"}},"hitl.field.1":{"value":{"type":"static_select","selected_option":{"value":"o1"}}},` +
		`"hitl.edited":{"value":{"type":"plain_text_input","value":"{\"amount\": 500}"}}}}}}`,
	`{"type":"view_closed","user":{"id":"U0ALICE"},"view":{"callback_id":"hitl.answer"}}`,
	`{"type":"shortcut"}`, `{}`, `[]`, `{"type":1}`,
}

// fuzzSpecs are the specs a submission is read against.
var fuzzSpecs = []input.Spec{
	{Type: input.Approval, RequireCommentOnReject: true},
	{Type: input.Approval, Proposed: json.RawMessage(`{"amount": 149.99}`), ActionSchema: json.RawMessage(`{"type":"object","properties":{"amount":{"maximum":149.99}}}`)},
	{Type: input.Text, MaxLength: ptr(5)},
	{Type: input.Boolean},
	{Type: input.Number, Integer: true},
	{Type: input.Select, Options: []input.Option{{ID: "original"}, {ID: "store_credit"}}, AllowCustom: true},
	{Type: input.MultiSelect, Options: []input.Option{{ID: "a"}, {ID: "b"}, {ID: "c"}}, AllowCustom: true, MaxPicks: ptr(2)},
	{Type: input.Form, Fields: []input.Field{{ID: "n", Type: input.FieldNumber, Required: true},
		{ID: "tier", Type: input.FieldSelect, Options: []input.Option{{ID: "gold"}, {ID: "silver"}}}, {ID: "ok", Type: input.FieldBoolean}, {ID: "s", Type: input.FieldString}}},
	{Type: input.JSON},
}

func ptr[T any](v T) *T { return &v }

// FuzzInteraction reads an interactions body past its signature as the handler does. A
// body is refused or read; what is read reads the same after being written out again; a
// button's action id is one ActionID makes; and a modal's submission, read against every
// spec, gives an answer that is JSON or errors on the modal's own input blocks, never both,
// and validation errors of that answer land on blocks the modal has.
func FuzzInteraction(f *testing.F) {
	for _, p := range fuzzPayloads {
		f.Add([]byte(url.Values{"payload": {p}}.Encode()))
	}
	f.Add([]byte("payload="))
	f.Add([]byte("payload=%zz"))
	f.Add([]byte("token=x&payload=%7B%7D&payload=1"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := parseInteraction(body)
		if err != nil {
			if ic != nil {
				t.Fatal("an error and an interaction")
			}
			return
		}
		b1, err := json.Marshal(ic)
		if err != nil {
			return // the library writes back only what it can
		}
		again, err := parseInteraction([]byte(url.Values{"payload": {string(b1)}}.Encode()))
		if err != nil {
			t.Fatalf("read %q, written as %s, no longer reads: %v", body, b1, err)
		}
		if again.Type != ic.Type || again.User.ID != ic.User.ID || again.Channel.ID != ic.Channel.ID ||
			again.View.PrivateMetadata != ic.View.PrivateMetadata || again.View.CallbackID != ic.View.CallbackID ||
			len(again.ActionCallback.BlockActions) != len(ic.ActionCallback.BlockActions) {
			t.Fatalf("round trip changed the interaction:\n %s", b1)
		}
		for _, a := range ic.ActionCallback.BlockActions {
			if rid, choice, ok := ParseActionID(a.ActionID); ok && ActionID(rid, choice) != a.ActionID {
				t.Fatalf("action id %q reads as %q, %q", a.ActionID, rid, choice)
			}
		}
		var st state
		if ic.View.State != nil {
			st = ic.View.State.Values
		}
		for _, spec := range fuzzSpecs {
			checkSubmission(t, spec, st)
		}
	})
}

func checkSubmission(t *testing.T, spec input.Spec, st state) {
	t.Helper()
	req := &events.Request{ID: fuzzRID, Title: "Fuzz", Input: spec}
	blocks := map[string]bool{}
	for _, b := range modal(req, "", meta{RequestID: fuzzRID}).Blocks.BlockSet {
		if in, ok := b.(*slackgo.InputBlock); ok {
			blocks[in.BlockID] = true
		}
	}
	order := inputBlockOrder(spec)
	sub := readSubmission(spec, st)
	if (sub.answer == nil) == (len(sub.errors) == 0) {
		t.Fatalf("%s: answer %q and errors %v", spec.Type, sub.answer, sub.errors)
	}
	for b := range sub.errors {
		if !slices.Contains(order, b) {
			t.Fatalf("%s: an error on %q, not an input block", spec.Type, b)
		}
	}
	if sub.answer == nil {
		return
	}
	if !json.Valid(sub.answer) {
		t.Fatalf("%s: answer %q is not JSON", spec.Type, sub.answer)
	}
	ve, ok := spec.Validate(sub.answer).(*input.ValidationError)
	if !ok {
		return
	}
	placed := fieldErrors(spec, sub, ve, blocks)
	if len(placed) == 0 {
		t.Fatalf("%s: %v placed nowhere", spec.Type, ve)
	}
	for b, msg := range placed {
		if !blocks[b] || msg == "" {
			t.Fatalf("%s: %q placed on %q, which the modal (%v) has not", spec.Type, msg, b, blocks)
		}
	}
}
