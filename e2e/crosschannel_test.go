package e2e_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

// TestOneRequestOnEverySurface sends one request to Slack, email and a webhook bot at once,
// answers it on one (the bot's signed link), and checks that every surface then shows the
// outcome: the Slack message is edited with its buttons gone, the email recipient gets the
// follow-up, and the bot receives the resolved event.
func TestOneRequestOnEverySurface(t *testing.T) {
	const slackToken, slackSecret = "xoxb-cross-token", "cross-signing-secret-0123456789"
	fake := slackfake.New(t, slackToken)
	fake.AddChannel("ops")
	smtp := emailtest.Start(t, emailtest.Options{})
	b := newBot(t)
	t.Setenv("HITL_SLACK_BOT_TOKEN", slackToken)
	t.Setenv("HITL_SLACK_SIGNING_SECRET", slackSecret)
	t.Setenv("HITL_SLACK_API_URL", fake.APIURL)
	t.Setenv("HITL_SMTP_URL", smtp.URL())
	t.Setenv("HITL_EMAIL_FROM", "hitl <hitl@example.com>")
	t.Setenv("HITL_WEBHOOKS", "ops-bot="+b.srv.URL+"/hook/ops-bot")
	t.Setenv("HITL_WEBHOOK_SECRET", webhookSecret)
	addr, _ := startDev(t, t.TempDir())
	base := "http://" + addr
	b.api = base

	r := doCall(t, "POST", base+"/v1/requests", "", map[string]any{
		"title":     "Refund order A-1001 (£149.99)?",
		"input":     map[string]any{"type": "approval"},
		"assignees": []string{"slack:#ops", "email:alice@example.com", "webhook:ops-bot"},
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var req struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &req)

	slackMessage := func() (slackfake.Message, bool) {
		for _, m := range fake.Messages() {
			if strings.Contains(string(m.Blocks), req.ID) {
				return m, true
			}
		}
		return slackfake.Message{}, false
	}
	eventually(t, 30*time.Second, func() bool {
		_, posted := slackMessage()
		return posted && smtp.Count(req.ID, "request") == 1 && b.link(req.ID, "ops-bot") != ""
	}, func() string { return "the request on all three surfaces" })

	// Answered on one surface: the bot's link.
	if r := doCall(t, "POST", b.link(req.ID, "ops-bot"), "", map[string]any{"data": map[string]any{"approved": true}}); r.Status != http.StatusOK {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}

	eventually(t, 30*time.Second, func() bool {
		m, _ := slackMessage()
		_, resolved := b.counts()
		return m.Updates == 1 && smtp.Count(req.ID, "resolved") == 1 && resolved[req.ID+"/ops-bot"] == 1
	}, func() string {
		m, _ := slackMessage()
		_, resolved := b.counts()
		return "slack updates " + strconv.Itoa(m.Updates) + ", email follow-ups " + strconv.Itoa(smtp.Count(req.ID, "resolved")) +
			", bot resolved events " + strconv.Itoa(resolved[req.ID+"/ops-bot"])
	})
	m, _ := slackMessage()
	if len(slackfake.Buttons(m.Blocks)) != 0 || !strings.Contains(slackfake.BlockText(m.Blocks), "webhook:ops-bot") {
		t.Errorf("the Slack message does not show the outcome:\n%s", slackfake.BlockText(m.Blocks))
	}
	// The email's own links now show the outcome and decide nothing.
	link := smtp.Find(req.ID, "request")[0].Links()[0]
	page := doCall(t, "GET", link, "", nil)
	if !strings.Contains(strings.ToLower(string(page.Body)), "already") {
		t.Errorf("the email link after resolution: %d %s", page.Status, page.Body)
	}
}
