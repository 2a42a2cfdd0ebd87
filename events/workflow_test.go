package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/events"
)

func TestValidWorkflowName(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"refund", "approval-gate", "approval-gate-two-step", "a", "A1", "9lives", "snake_case",
		strings.Repeat("x", 64)} {
		if err := events.ValidWorkflowName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"", "it is empty"},
		{strings.Repeat("x", 65), "over the 64 limit"},
		{"a.b", "letters, digits"},
		{"a b", "letters, digits"},
		{"*", "letters, digits"},
		{">", "letters, digits"},
		{"-lead", "starting with a letter or a digit"},
		{"_lead", "starting with a letter or a digit"},
		{"tab\t", "letters, digits"},
		{"ünïcode", "letters, digits"},
		{"a/b", "letters, digits"},
	} {
		err := events.ValidWorkflowName(tc.name)
		if !errors.Is(err, events.ErrInvalidWorkflowName) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want ErrInvalidWorkflowName saying %q", tc.name, err, tc.want)
		}
	}
}
