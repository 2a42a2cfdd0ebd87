package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/server"
)

// TestTelegramEndToEnd runs `hitl dev` configured for Telegram the documented way (the
// HITL_TELEGRAM_* environment, the Bot API aimed at a fake Telegram): a request assigned
// to a group is sent there, a click on its button answers it through the gate, and the
// message is edited to show the outcome with the buttons gone. A text question links to
// the web form, which opens for the group.
func TestTelegramEndToEnd(t *testing.T) {
	const (
		token  = "123456789:AAE2E-telegram_token_0123456789abcd"
		secret = "e2e-webhook-secret-0123456789abcdef"
	)
	fake := telegramfake.New(t, token)
	group := telegramfake.Chat{ID: -1001234567890, Type: "supergroup", Title: "Ops"}
	fake.AddChat(group)
	alice := telegramfake.User{ID: 111, FirstName: "Alice"}
	t.Setenv("HITL_TELEGRAM_BOT_TOKEN", token)
	t.Setenv("HITL_TELEGRAM_SECRET_TOKEN", secret)
	t.Setenv("HITL_TELEGRAM_API_URL", fake.URL)
	addr, _ := startDev(t, t.TempDir())
	base := "http://" + addr
	webhook := base + "/telegram/webhook"

	// Telegram targets are checked at creation.
	for _, bad := range []string{"telegram:ops", "telegram:@ops"} {
		if r := doCall(t, "POST", base+"/v1/requests", "", map[string]any{"title": "x", "assignees": []string{bad}}); r.Status != http.StatusBadRequest ||
			!strings.Contains(string(r.Body), "validation_failed") || !strings.Contains(string(r.Body), "assignees[0]") {
			t.Fatalf("%s accepted: %d %s", bad, r.Status, r.Body)
		}
	}

	create := func(body map[string]any) string {
		t.Helper()
		r := doCall(t, "POST", base+"/v1/requests", "", body)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var created struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(r.Body, &created)
		return created.ID
	}
	waitMessage := func(id string) telegramfake.Message {
		t.Helper()
		var msg telegramfake.Message
		eventually(t, 30*time.Second, func() bool {
			for _, m := range fake.Messages() {
				if strings.Contains(m.Text, id) {
					msg = m
					return true
				}
			}
			return false
		}, func() string { return "no Telegram message" })
		return msg
	}

	id := create(map[string]any{
		"title":     "Deploy release 1.4 to production?",
		"message":   "All checks passed. **12 files** changed.",
		"input":     map[string]any{"type": "approval"},
		"assignees": []string{"telegram:-1001234567890"},
	})
	msg := waitMessage(id)
	if msg.Chat.ID != group.ID || strings.Join(msg.Buttons(), ",") != "Approve,Reject" {
		t.Fatalf("sent to %d with buttons %q", msg.Chat.ID, msg.Buttons())
	}
	click, err := fake.Click(msg.Chat.ID, msg.MessageID, alice, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	post := func(secret string) int {
		t.Helper()
		res, err := http.DefaultClient.Do(click.Request(context.Background(), webhook, secret))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// Without the secret, it changes nothing.
	if status := post("not-the-webhook-secret-0123456789"); status != http.StatusUnauthorized {
		t.Fatalf("forged update: %d", status)
	}
	if r := doCall(t, "GET", base+"/v1/requests/"+id, "", nil); !strings.Contains(string(r.Body), `"status":"pending"`) {
		t.Fatalf("after the forged update: %s", r.Body)
	}
	if status := post(secret); status != http.StatusOK {
		t.Fatalf("click: %d", status)
	}
	w := doCall(t, "GET", base+"/v1/requests/"+id+"/wait?timeout=20s", "", nil)
	if !strings.Contains(string(w.Body), `"status":"answered"`) || !strings.Contains(string(w.Body), `"responder":"telegram:111"`) {
		t.Fatalf("request after the click: %s", w.Body)
	}
	if a := fake.Answers(); len(a) != 1 || a[0].Text != "Recorded: Approved" {
		t.Fatalf("toasts %+v", a)
	}
	eventually(t, 30*time.Second, func() bool { m, _ := fake.Message(msg.Chat.ID, msg.MessageID); return m.Edits > 0 },
		func() string { return "the message was not edited" })
	if m, _ := fake.Message(msg.Chat.ID, msg.MessageID); m.Edits != 1 || len(m.Buttons()) > 0 || !strings.Contains(m.Text, "✅ Approved by telegram:111") {
		t.Fatalf("edited message (%d edits):\n%s", m.Edits, m.Text)
	}

	// A text answer needs the web form. The dev server's public URL is localhost, which
	// Telegram takes in no button, so the link is in the text; it opens the form.
	id = create(map[string]any{"title": "Ticket for the incident?", "input": map[string]any{"type": "text"},
		"assignees": []string{"telegram:-1001234567890"}})
	msg = waitMessage(id)
	link := regexp.MustCompile(`Answer in the browser: (\S+)`).FindStringSubmatch(msg.Text)
	if msg.ReplyMarkup != nil || link == nil || !strings.Contains(link[1], "/inbox/requests/"+id+"?token=") {
		t.Fatalf("text question:\n%s\n%+v", msg.Text, msg.ReplyMarkup)
	}
	res, err := http.Get(link[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "Ticket for the incident?") || !strings.Contains(string(page), "telegram:-1001234567890") {
		t.Fatalf("the form link: %d\n%s", res.StatusCode, page)
	}
}

func TestTelegramNeedsBothSecrets(t *testing.T) {
	t.Setenv("HITL_TELEGRAM_BOT_TOKEN", "123456789:AAonly_the_token_0123456789abcdef")
	d := &server.Dev{}
	if err := server.Parse("hitl dev", d, []string{"--http", "127.0.0.1:0", "--data", t.TempDir(), "--nats", "127.0.0.1:" + freePort(t)}); err != nil {
		t.Fatal(err)
	}
	d.Logger = testLogger(t)
	d.Ready = func(server.Listening) { t.Error("hitl dev started with half the Telegram settings") }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := d.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "HITL_TELEGRAM_SECRET_TOKEN") || strings.Contains(err.Error(), "AAonly_the_token") {
		t.Fatalf("hitl dev: %v", err)
	}
}
