package events_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

func TestRequestValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		req       events.Request
		wantErr   error
		wantPaths []string
	}{
		{name: "minimal", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Approval}}},
		{name: "full", req: events.Request{
			Title: "Q", Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}}},
			Assignees: []string{"webhook:ops-bot", "email:a@b.c", "ms-teams:ops:on-call"},
			Timeout:   events.Duration(time.Second), OnTimeout: events.TimeoutDefault, Default: json.RawMessage(`"a"`),
		}},
		{name: "longest timeout", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Text}, Timeout: events.Duration(365 * 24 * time.Hour)}},
		{name: "explicit fail policy", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Text}, OnTimeout: events.TimeoutFail}},
		{name: "no input type", req: events.Request{Title: "Q"}, wantErr: input.ErrInvalid, wantPaths: []string{"input.type"}},
		{name: "default not allowed", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}}},
			OnTimeout: events.TimeoutDefault, Default: json.RawMessage(`"z"`)}, wantErr: input.ErrInvalid, wantPaths: []string{"default"}},
		{name: "empty default", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Text}, OnTimeout: events.TimeoutDefault},
			wantErr: input.ErrInvalid, wantPaths: []string{"default"}},
		{name: "assignee without name", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Text}, Assignees: []string{"webhook:"}},
			wantErr: input.ErrInvalid, wantPaths: []string{"assignees[0]"}},
		{name: "title of 1000 bytes", req: events.Request{Title: strings.Repeat("é", 500), Input: input.Spec{Type: input.Text}}},
		{name: "title over 1000 bytes", req: events.Request{Title: strings.Repeat("é", 501), Input: input.Spec{Type: input.Text}},
			wantErr: input.ErrInvalid, wantPaths: []string{"title"}},
		{name: "spec problems listed", req: events.Request{Title: "Q", Input: input.Spec{Type: input.Select, Options: []input.Option{{ID: "a"}, {ID: "a"}}}},
			wantErr: input.ErrInvalid, wantPaths: []string{"input.options[1].id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.req.Validate()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var ve *input.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%T is not a *input.ValidationError", err)
			}
			var paths []string
			for _, f := range ve.Fields {
				paths = append(paths, f.Path)
			}
			if !slices.Equal(paths, tt.wantPaths) {
				t.Errorf("fields %q, want %q", paths, tt.wantPaths)
			}
		})
	}
}
