package store_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

func TestCheckAnswer(t *testing.T) {
	t.Parallel()

	editable := &events.Request{ID: "r1", Title: "Refund?", Input: input.Spec{
		Type:         input.Approval,
		Proposed:     json.RawMessage(`{"amount": 149.99, "method": "original"}`),
		ActionSchema: json.RawMessage(`{"type": "object", "properties": {"amount": {"type": "number", "maximum": 149.99}}, "required": ["amount"]}`),
	}}
	tests := []struct {
		name     string
		req      *events.Request
		data     string
		wantDiff string
		wantErr  error
	}{
		{
			name: "edit then approve", req: editable,
			data:     `{"approved": true, "edited": {"amount": 120, "method": "original"}}`,
			wantDiff: `[{"op":"replace","path":"/amount","from":149.99,"value":120}]`,
		},
		{name: "approve as proposed", req: editable, data: `{"approved": true}`},
		{name: "plain approval", req: &events.Request{Input: input.Spec{Type: input.Approval}}, data: `{"approved": false, "comment": "no"}`},
		{name: "edit breaks the action schema", req: editable, data: `{"approved": true, "edited": {"amount": 500}}`, wantErr: input.ErrInvalid},
		{name: "not an answer", req: editable, data: `"yes"`, wantErr: input.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := events.Response{RequestID: "r1", Outcome: events.StatusAnswered, Data: json.RawMessage(tt.data)}
			err := store.CheckAnswer(tt.req, &resp)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckAnswer = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if resp.InputHash != "" || resp.Diff != nil {
					t.Errorf("a refused answer got hash %q diff %s", resp.InputHash, resp.Diff)
				}
				return
			}
			want, _ := input.Hash(json.RawMessage(tt.data))
			if resp.InputHash != want {
				t.Errorf("InputHash = %q, want %q", resp.InputHash, want)
			}
			if string(resp.Diff) != tt.wantDiff {
				t.Errorf("Diff = %s, want %s", resp.Diff, tt.wantDiff)
			}
			// The diff travels with the response event.
			b, _ := json.Marshal(resp)
			var back events.Response
			if err := json.Unmarshal(b, &back); err != nil || string(back.Diff) != tt.wantDiff {
				t.Errorf("round trip: %s (%v)", b, err)
			}
		})
	}
}
