package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/internal/slackfake"
)

// TestSlackEndToEnd runs `hitl dev` configured for Slack the documented way (the
// HITL_SLACK_* environment, the API aimed at a fake Slack): a request assigned to
// slack:#ops is posted there, a click on its button answers it through the gate, and the
// message is edited to show the outcome with the buttons gone.
func TestSlackEndToEnd(t *testing.T) {
	const (
		token  = "xoxb-e2e-token"
		secret = "e2e-signing-secret-0123456789abcdef"
	)
	fake := slackfake.New(t, token)
	opsID := fake.AddChannel("ops")
	t.Setenv("HITL_SLACK_BOT_TOKEN", token)
	t.Setenv("HITL_SLACK_SIGNING_SECRET", secret)
	t.Setenv("HITL_SLACK_API_URL", fake.APIURL)
	addr, _ := startDev(t, t.TempDir())
	base := "http://" + addr

	// Slack targets are checked at creation.
	if r := doCall(t, "POST", base+"/v1/requests", "", map[string]any{"title": "x", "assignees": []string{"slack:ops"}}); r.Status != http.StatusBadRequest {
		t.Fatalf("slack:ops accepted: %d %s", r.Status, r.Body)
	}

	r := doCall(t, "POST", base+"/v1/requests", "", map[string]any{
		"title":     "Deploy release 1.4 to production?",
		"message":   "All checks passed. **12 files** changed.",
		"context":   map[string]any{"service": "billing", "risk": "low"},
		"input":     map[string]any{"type": "approval"},
		"assignees": []string{"slack:#ops"},
	})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &created)

	var msg slackfake.Message
	deadline := time.Now().Add(30 * time.Second)
	for msg.TS == "" {
		for _, m := range fake.Messages() {
			if strings.Contains(string(m.Blocks), created.ID) {
				msg = m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message in #ops; calls: %+v", fake.Calls(""))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msg.Channel != opsID {
		t.Fatalf("posted in %s, want #ops (%s)", msg.Channel, opsID)
	}

	click, err := fake.Click(msg.Channel, msg.TS, slackfake.User{ID: "U0ALICE", Name: "alice"}, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	// Unsigned, it changes nothing.
	forged := slackfake.SignedRequest(context.Background(), base+"/slack/interactions", "wrong-secret", click.Body(), time.Now())
	fres, err := http.DefaultClient.Do(forged)
	if err != nil {
		t.Fatal(err)
	}
	fres.Body.Close()
	if fres.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged click: %d", fres.StatusCode)
	}
	res, err := http.DefaultClient.Do(click.Request(context.Background(), base+"/slack/interactions", secret))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("click: %d", res.StatusCode)
	}

	w := doCall(t, "GET", base+"/v1/requests/"+created.ID+"/wait?timeout=20s", "", nil)
	var resolved struct {
		Status   string `json:"status"`
		Response struct {
			Data      json.RawMessage `json:"data"`
			Responder string          `json:"responder"`
		} `json:"response"`
	}
	_ = json.Unmarshal(w.Body, &resolved)
	if resolved.Status != "answered" || string(resolved.Response.Data) != `{"approved":true}` || resolved.Response.Responder != "slack:@U0ALICE" {
		t.Fatalf("request after the click: %s", w.Body)
	}

	deadline = time.Now().Add(30 * time.Second)
	for {
		m, _ := fake.Message(msg.Channel, msg.TS)
		if m.Updates > 0 {
			if m.Updates != 1 || len(slackfake.Buttons(m.Blocks)) > 0 ||
				!strings.Contains(slackfake.BlockText(m.Blocks), "*Approved* by <@U0ALICE>") {
				t.Fatalf("updated message (%d updates):\n%s", m.Updates, slackfake.BlockText(m.Blocks))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message was not updated")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
