package server

import (
	"log/slog"
	"testing"

	"github.com/hitl-dev/hitl/routing"
)

// An orchestrator alone has no link secret, so it delivers no email, but it checks the email
// assignees of its workflows' questions like a responder checks REST requests'.
func TestOrchestratorChecksEmailAssigneesWithoutTheLinkSecret(t *testing.T) {
	t.Setenv("HITL_SMTP_URL", "smtp://127.0.0.1:2525")
	var routes *routing.Routes
	d := deps{cfg: &Config{}, file: &routing.File{}, log: slog.New(slog.DiscardHandler), routes: &routes}
	sys, err := buildSurfaces(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := routes.CheckAll([]string{"email:a@example.com"}); err != nil {
		t.Fatalf("a valid email assignee: %v", err)
	}
	if err := routes.CheckAll([]string{"email:not an address"}); err == nil {
		t.Fatal("a bad email assignee was accepted")
	}
	for _, p := range sys.surfaces {
		if p.Channel != nil && p.Channel.Kind() == "email" {
			t.Fatal("an email channel without a link secret")
		}
	}
}
