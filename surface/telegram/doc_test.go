package telegram_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/surface/telegram"
)

var update = flag.Bool("update", false, "rewrite the message samples in docs/telegram.md")

const docPath = "../../docs/telegram.md"

// TestDocSamples keeps the messages in docs/telegram.md what the code sends (go test
// ./surface/telegram/ -run DocSamples -update rewrites them).
func TestDocSamples(t *testing.T) {
	created := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	deadline := created.Add(30 * time.Minute)
	r := &events.Request{
		ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Title: "Deploy release 1.4 to production?",
		Message:   "All checks passed. **12 files** changed. [Diff](https://git.example.com/acme/billing/compare/1.3...1.4)",
		Context:   map[string]any{"service": "billing", "risk": "low"},
		Input:     input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}, RequireCommentOnReject: true},
		Assignees: []string{"telegram:-1001234567890"}, Status: events.StatusPending, CreatedAt: created, Deadline: &deadline,
	}
	text, kb := telegram.Question(r, "https://hitl.example.com/inbox/requests/"+r.ID+"?token=eyJyaWQiOi…")
	var keyboard bytes.Buffer
	enc := json.NewEncoder(&keyboard)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(kb); err != nil {
		t.Fatal(err)
	}
	at := created.Add(4 * time.Minute)
	r.Status, r.ResolvedAt = events.StatusAnswered, &at
	r.Response = &events.Response{RequestID: r.ID, Outcome: events.StatusAnswered, Responder: "telegram:123456789",
		Data: json.RawMessage(`{"approved":true}`), At: at}
	samples := map[string]string{
		"sample-asked-text":     text,
		"sample-asked-keyboard": strings.TrimSpace(keyboard.String()),
		"sample-resolved-text":  telegram.Resolved(r),
	}

	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	out := string(doc)
	for name, sample := range samples {
		re := regexp.MustCompile("(?s)(<!-- " + name + " -->\n```[a-z]+\n)(.*?)\n?```")
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s has no <!-- %s --> code block", docPath, name)
		}
		if *update {
			out = re.ReplaceAllLiteralString(out, m[1]+sample+"\n```")
			continue
		}
		if m[2] != sample {
			t.Errorf("%s: %s is not what the code sends; run go test ./surface/telegram/ -run DocSamples -update\nthe code sends:\n%s", docPath, name, sample)
		}
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
