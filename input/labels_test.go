package input_test

import (
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

func TestApprovalLabels(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		spec            input.Spec
		approve, reject string
	}{
		{input.Spec{Type: input.Approval}, "Approve", "Reject"},
		{input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it"}}, "Ship it", "Reject"},
		{input.Spec{Type: input.Approval, Options: []input.Option{{ID: "reject", Label: "Hold"}, {ID: "approve", Label: "Go"}}}, "Go", "Hold"},
		{input.Spec{Type: input.Approval, Options: []input.Option{{ID: "a", Label: "Yes please"}, {ID: "b", Label: "No thanks"}}}, "Yes please", "No thanks"},
		{input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "L", Reject: "R"}, Options: []input.Option{{ID: "approve", Label: "Go"}}}, "L", "R"},
		{input.Spec{Type: input.Approval, Labels: input.Labels{Approve: long}}, strings.Repeat("x", 59) + "…", "Reject"},
	} {
		a, r := tc.spec.ApprovalLabels()
		if a != tc.approve || r != tc.reject {
			t.Errorf("%+v: %q/%q, want %q/%q", tc.spec, a, r, tc.approve, tc.reject)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"hello", 5, "hello"}, {"hello", 4, "hel…"}, {"héllo wörld", 6, "héllo…"}, {"x", 0, ""}} {
		if got := input.Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
