package email

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

// TestEmailScreenshot renders the request email in headless Chromium and writes
// docs/img/email.png. Only with HITL_SCREENSHOTS=1, so `make test` needs no browser.
func TestEmailScreenshot(t *testing.T) {
	if !emailtest.ScreenshotsWanted() {
		t.Skip("HITL_SCREENSHOTS=1 writes docs/img/email.png")
	}
	ch, err := New(Config{SMTPURL: "smtp://127.0.0.1:2525?tls=none", From: "hitl <hitl@example.com>",
		PublicURL: "https://hitl.example.com", LinkSecret: []byte("screenshot-link-secret")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Date(2026, 3, 4, 17, 0, 0, 0, time.UTC)
	r := &events.Request{ID: "0b7e3c1a-5d2f-4e8b-9a61-3f0c2d4e5a6b", Title: "Refund 120.00 EUR for order A-1001?",
		Message: "The customer reports the parcel arrived damaged and sent photos.\nThe AI review recommends a full refund.",
		Context: map[string]any{"order": "A-1001", "customer": "Dana Smith (regular since 2021)", "amount": "120.00 EUR", "risk": "low"},
		Input:   input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Approve refund", Reject: "Reject"}},
		Status:  events.StatusPending, Deadline: &deadline}
	c, err := ch.requestContent(r, "agent@example.com", deadline.Unix())
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "email.html")
	if err := os.WriteFile(page, []byte(c.html), 0o644); err != nil {
		t.Fatal(err)
	}
	emailtest.Screenshot(t, "file://"+page, filepath.Join("..", "..", "docs", "img", "email.png"), 720)
}
