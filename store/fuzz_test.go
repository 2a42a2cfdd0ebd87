package store_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

// fuzzRequests are the requests FuzzCheckAnswer answers, picked by index.
var fuzzRequests = []*events.Request{
	{Input: input.Spec{Type: input.Approval}},
	{Input: input.Spec{Type: input.Approval, RequireCommentOnReject: true, Skippable: true}},
	{Input: input.Spec{
		Type:         input.Approval,
		Proposed:     json.RawMessage(`{"amount": 149.99, "method": "original"}`),
		ActionSchema: json.RawMessage(`{"type": "object", "properties": {"amount": {"type": "number", "maximum": 149.99}}, "required": ["amount"]}`),
	}},
	{Input: input.Spec{Type: input.Text, MaxLength: ptr(20)}},
	{Input: input.Spec{Type: input.Number, Integer: true}},
	{Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}, {ID: "b"}}, AllowCustom: true}},
	{Input: input.Spec{Type: input.MultiSelect, Options: []input.Option{{ID: "a"}, {ID: "b"}}}},
	{Input: input.Spec{Type: input.Form, Fields: []input.Field{{ID: "n", Type: input.FieldNumber, Required: true}, {ID: "s", Type: input.FieldString}}}},
	{Input: input.Spec{Type: input.JSON}},
}

func ptr[T any](v T) *T { return &v }

// FuzzCheckAnswer: the answer check every surface's answer goes through either refuses
// with a *input.ValidationError or ErrTooLarge and leaves the response as it was, or fills
// the hash of exactly the data it accepted (and a diff only for an edited approval).
func FuzzCheckAnswer(f *testing.F) {
	for i, s := range []string{
		`{"approved": true}`, `{"approved": false}`, `{"approved": false, "comment": "why"}`, `null`,
		`{"approved": true, "edited": {"amount": 120, "method": "original"}}`, `{"approved": true, "edited": {"amount": 500}}`,
		`"short"`, `"much longer than twenty characters"`, `3`, `3.5`, `"a"`, `"c"`, `["a","b"]`, `["a","c"]`,
		`{"n": 1, "s": "x"}`, `{"s": "x"}`, `{"any": [1, {"x": null}]}`, ``, `{`, `{"approved": true, "approved": false}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		req := fuzzRequests[int(which)%len(fuzzRequests)]
		resp := events.Response{RequestID: "r1", Outcome: events.StatusAnswered, Data: json.RawMessage(data)}
		before := resp
		err := store.CheckAnswer(req, &resp)
		if err != nil {
			var ve *input.ValidationError
			if !errors.As(err, &ve) && !errors.Is(err, store.ErrTooLarge) {
				t.Fatalf("CheckAnswer(%q) = %v, want a *ValidationError or ErrTooLarge", data, err)
			}
			if !reflect.DeepEqual(resp, before) {
				t.Fatalf("a refused answer changed the response: %+v", resp)
			}
			return
		}
		if err := req.Input.Validate(data); err != nil {
			t.Fatalf("CheckAnswer accepted %q, which the spec refuses: %v", data, err)
		}
		want, err := input.Hash(data)
		if err != nil || resp.InputHash != want {
			t.Fatalf("InputHash %q, want %q (%v)", resp.InputHash, want, err)
		}
		if resp.Diff != nil && !req.Input.Editable() {
			t.Fatalf("a diff %s for a spec that cannot be edited", resp.Diff)
		}
		if resp.Diff != nil && !json.Valid(resp.Diff) {
			t.Fatalf("diff %q is not JSON", resp.Diff)
		}
		if string(resp.Data) != string(data) {
			t.Fatalf("CheckAnswer changed the data: %q -> %q", data, resp.Data)
		}
	})
}
