package slack_test

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
	"github.com/hitl-dev/hitl/surface/slack"
)

var update = flag.Bool("update", false, "rewrite the Block Kit samples in docs/slack.md")

const docPath = "../../docs/slack.md"

// sampleRequest is the request docs/slack.md shows.
func sampleRequest() *events.Request {
	created := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	deadline := created.Add(30 * time.Minute)
	return &events.Request{
		ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Title: "Deploy release 1.4 to production?",
		Message:   "All checks passed. **12 files** changed. [Diff](https://git.example.com/acme/billing/compare/1.3...1.4)",
		Context:   map[string]any{"service": "billing", "risk": "low"},
		Input:     input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}},
		Assignees: []string{"slack:#ops"}, Status: events.StatusPending, CreatedAt: created, Deadline: &deadline,
	}
}

// TestDocSamples keeps the Block Kit JSON in docs/slack.md what the code emits (go test
// -run DocSamples -update rewrites it).
func TestDocSamples(t *testing.T) {
	r := sampleRequest()
	asked := slack.RequestBlocks(r)
	at := r.CreatedAt.Add(4 * time.Minute)
	r.Status, r.ResolvedAt = events.StatusAnswered, &at
	r.Response = &events.Response{RequestID: r.ID, Outcome: events.StatusAnswered, Responder: "slack:@U0123ABCD",
		Data: json.RawMessage(`{"approved":true}`), Comment: "", At: at}
	resolved := slack.ResolvedBlocks(r)

	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	out := string(doc)
	for name, blocks := range map[string]any{"sample-asked": asked, "sample-resolved": resolved} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"blocks": blocks}); err != nil {
			t.Fatal(err)
		}
		// slack-go escapes <, > and & inside some blocks; the same JSON, readable:
		b := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(strings.TrimSpace(buf.String()))
		re := regexp.MustCompile("(?s)(<!-- " + name + " -->\n```json\n)(.*?)\n?```")
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s has no <!-- %s --> json block", docPath, name)
		}
		if *update {
			out = re.ReplaceAllLiteralString(out, m[1]+b+"\n```")
			continue
		}
		if m[2] != b {
			t.Errorf("%s: the %s JSON is not what the code emits; run go test ./surface/slack/ -run DocSamples -update\ncode emits:\n%s", docPath, name, b)
		}
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
