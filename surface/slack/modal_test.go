package slack

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

func TestFirstStep(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]struct {
		member string
		index  int
	}{
		"$": {"", -1}, "$.comment": {"comment", -1}, "$.edited.amount": {"edited", -1}, "$['a b'].c": {"a b", -1},
		"$[2]": {"", 2}, "$.items[3]": {"items", -1},
	} {
		if m, i := firstStep(path); m != want.member || i != want.index {
			t.Errorf("firstStep(%q) = %q, %d; want %q, %d", path, m, i, want.member, want.index)
		}
	}
}

func text(v string) slackgo.BlockAction { return slackgo.BlockAction{Value: v} }
func picked(v string) slackgo.BlockAction {
	return slackgo.BlockAction{SelectedOption: slackgo.OptionBlockObject{Value: v}}
}

func TestReadSubmission(t *testing.T) {
	t.Parallel()
	proposed := json.RawMessage(`{"amount": 149.99, "method": "original"}`)
	editable := input.Spec{Type: input.Approval, Proposed: proposed}
	opts := []input.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}
	cases := []struct {
		name       string
		spec       input.Spec
		st         map[string]slackgo.BlockAction
		want       string // the answer, or
		wantErrsAt string // the block with an error
	}{
		{"approve unchanged", editable, map[string]slackgo.BlockAction{blockAnswer: picked("approve"), blockEdited: text(pretty(proposed))}, `{"approved":true}`, ""},
		{"approve edited", editable, map[string]slackgo.BlockAction{blockAnswer: picked("approve"), blockEdited: text(`{"amount":120,"method":"original"}`)},
			`{"approved":true,"edited":{"amount":120,"method":"original"}}`, ""},
		{"edited not JSON", editable, map[string]slackgo.BlockAction{blockAnswer: picked("approve"), blockEdited: text(`{amount: 1}`)}, "", blockEdited},
		{"no decision", editable, map[string]slackgo.BlockAction{}, "", blockAnswer},
		{"select option", input.Spec{Type: input.Select, Options: opts}, map[string]slackgo.BlockAction{blockAnswer: picked("o1")}, `"b"`, ""},
		{"select custom", input.Spec{Type: input.Select, Options: opts, AllowCustom: true}, map[string]slackgo.BlockAction{blockCustom: text(" c ")}, `"c"`, ""},
		{"select both", input.Spec{Type: input.Select, Options: opts, AllowCustom: true}, map[string]slackgo.BlockAction{blockAnswer: picked("o0"), blockCustom: text("c")}, "", blockCustom},
		{"multiselect with others", input.Spec{Type: input.MultiSelect, Options: opts, AllowCustom: true},
			map[string]slackgo.BlockAction{blockAnswer: {SelectedOptions: []slackgo.OptionBlockObject{{Value: "o0"}}}, blockCustom: text("x\n\ny\n")}, `["a","x","y"]`, ""},
		{"number", input.Spec{Type: input.Number}, map[string]slackgo.BlockAction{blockAnswer: text("12.50")}, `12.50`, ""},
		{"not a number", input.Spec{Type: input.Number}, map[string]slackgo.BlockAction{blockAnswer: text("1e")}, "", blockAnswer},
		{"json", input.Spec{Type: input.JSON, Schema: json.RawMessage(`{}`)}, map[string]slackgo.BlockAction{blockAnswer: text(` {"a": [1]} `)}, `{"a":[1]}`, ""},
		{"boolean", input.Spec{Type: input.Boolean}, map[string]slackgo.BlockAction{blockAnswer: picked("false")}, `false`, ""},
	}
	for _, tc := range cases {
		st := state{}
		for b, a := range tc.st {
			st[b] = map[string]slackgo.BlockAction{valueAction: a}
		}
		sub := readSubmission(tc.spec, st)
		if tc.wantErrsAt != "" {
			if sub.errors[tc.wantErrsAt] == "" || len(sub.errors) != 1 {
				t.Errorf("%s: errors %v, want one at %s", tc.name, sub.errors, tc.wantErrsAt)
			}
			continue
		}
		if len(sub.errors) > 0 || string(sub.answer) != tc.want {
			t.Errorf("%s: answer %s errors %v, want %s", tc.name, sub.answer, sub.errors, tc.want)
		}
	}
}

// Validation errors land under the input they concern.
func TestFieldErrors(t *testing.T) {
	t.Parallel()
	actionSchema := json.RawMessage(`{"type":"object","properties":{"amount":{"type":"number","maximum":149.99}}}`)
	cases := []struct {
		name   string
		spec   input.Spec
		st     map[string]slackgo.BlockAction
		wantAt []string
	}{
		{"edit too large", input.Spec{Type: input.Approval, ActionSchema: actionSchema},
			map[string]slackgo.BlockAction{blockAnswer: picked("approve"), blockEdited: text(`{"amount": 500}`)}, []string{blockEdited}},
		{"reject without comment", input.Spec{Type: input.Approval, RequireCommentOnReject: true},
			map[string]slackgo.BlockAction{blockAnswer: picked("reject")}, []string{blockComment}},
		{"form field", input.Spec{Type: input.Form, Fields: []input.Field{{ID: "n", Type: input.FieldString}, {ID: "ok", Type: input.FieldBoolean, Required: true}}},
			map[string]slackgo.BlockAction{blockField + "0": text("x")}, []string{blockField + "1"}},
		{"custom pick too long", input.Spec{Type: input.MultiSelect, Options: []input.Option{{ID: "a"}}, AllowCustom: true},
			map[string]slackgo.BlockAction{blockAnswer: {SelectedOptions: []slackgo.OptionBlockObject{{Value: "o0"}}}, blockCustom: text(strings.Repeat("x", 1001))}, []string{blockCustom}},
	}
	for _, tc := range cases {
		st := state{}
		for b, a := range tc.st {
			st[b] = map[string]slackgo.BlockAction{valueAction: a}
		}
		sub := readSubmission(tc.spec, st)
		if len(sub.errors) > 0 {
			t.Fatalf("%s: %v", tc.name, sub.errors)
		}
		req := &events.Request{ID: "r", Title: "t", Input: tc.spec}
		resp := events.Response{Data: sub.answer}
		err := store.CheckAnswer(req, &resp)
		var ve *input.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %s validated (%v)", tc.name, sub.answer, err)
		}
		blocks := map[string]bool{}
		for _, b := range modal(req, "", meta{}).Blocks.BlockSet {
			if in, ok := b.(*slackgo.InputBlock); ok {
				blocks[in.BlockID] = true
			}
		}
		got := fieldErrors(tc.spec, sub, ve, blocks)
		for _, at := range tc.wantAt {
			if got[at] == "" {
				t.Errorf("%s: errors %v, want one at %s", tc.name, got, at)
			}
		}
		if len(got) != len(tc.wantAt) {
			t.Errorf("%s: errors %v", tc.name, got)
		}
	}
}
