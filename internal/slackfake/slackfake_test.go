package slackfake_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/hitl-dev/hitl/internal/slackfake"
)

const token = "xoxb-fake-test"

func client(f *slackfake.Server, tok string) *slackgo.Client {
	return slackgo.New(tok, slackgo.OptionAPIURL(f.APIURL))
}

func TestWebAPI(t *testing.T) {
	t.Parallel()
	f := slackfake.New(t, token)
	ops := f.AddChannel("ops")
	ctx := context.Background()
	api := client(f, token)

	ch, ts, err := api.PostMessageContext(ctx, "#ops", slackgo.MsgOptionText("hi", false))
	if err != nil || ch != ops || ts == "" {
		t.Fatalf("post: %s %s %v", ch, ts, err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slackgo.MsgOptionText("edited", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message(ch, ts); m.Text != "edited" || m.Updates != 1 {
		t.Fatalf("message %+v", m)
	}
	for name, tc := range map[string]struct {
		call func() error
		want string
	}{
		"unknown channel": {func() error {
			_, _, err := api.PostMessageContext(ctx, "#nowhere", slackgo.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		"wrong token": {func() error {
			_, _, err := client(f, "xoxb-wrong").PostMessageContext(ctx, "#ops", slackgo.MsgOptionText("x", false))
			return err
		}, "invalid_auth"},
		"no text": {func() error { _, _, err := api.PostMessageContext(ctx, "#ops"); return err }, "no_text"},
		"unknown message": {func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, ops, "1.2", slackgo.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		"header too long": {func() error {
			h := slackgo.NewHeaderBlock(slackgo.NewTextBlockObject("plain_text", strings.Repeat("x", 151), false, false))
			_, _, err := api.PostMessageContext(ctx, "#ops", slackgo.MsgOptionBlocks(h))
			return err
		}, "invalid_blocks"},
		"unknown trigger": {func() error {
			_, err := api.OpenViewContext(ctx, "123.456.nope", slackgo.ModalViewRequest{Type: "modal",
				Title: slackgo.NewTextBlockObject("plain_text", "x", false, false)})
			return err
		}, "invalid_trigger_id"},
	} {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %s", name, err, tc.want)
		}
	}
	f.FailWith("chat.postMessage", "not_in_channel")
	if _, _, err := api.PostMessageContext(ctx, "#ops", slackgo.MsgOptionText("x", false)); err == nil || err.Error() != "not_in_channel" {
		t.Fatalf("FailWith: %v", err)
	}
	f.Heal("chat.postMessage")
	f.FailStatus("*", http.StatusTooManyRequests)
	var rl *slackgo.RateLimitedError
	if _, _, err := api.PostMessageContext(ctx, "#ops", slackgo.MsgOptionText("x", false)); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("FailStatus 429: %v", err)
	}
	f.Heal("*")
	if _, _, err := api.PostMessageContext(ctx, "#ops", slackgo.MsgOptionText("x", false)); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	for _, c := range f.Calls("") {
		if _, has := c.Args["token"]; has {
			t.Fatal("the token is kept in the recorded calls")
		}
	}
}

// The signature matches what slack-go's verifier (Slack's documented scheme) expects.
func TestSignature(t *testing.T) {
	t.Parallel()
	body := []byte("payload=%7B%7D")
	req := slackfake.SignedRequest(context.Background(), "http://x.test/", "s3cret", body, time.Now())
	sv, err := slackgo.NewSecretsVerifier(req.Header, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		t.Fatal(err)
	}
	old := slackfake.SignedRequest(context.Background(), "http://x.test/", "s3cret", body, time.Now().Add(-10*time.Minute))
	if _, err := slackgo.NewSecretsVerifier(old.Header, "s3cret"); err == nil {
		t.Fatal("a 10-minute-old signature verified")
	}
}

// Click and Submit build payloads slack-go parses as Slack's, with working trigger ids and
// response URLs.
func TestInteractions(t *testing.T) {
	t.Parallel()
	f := slackfake.New(t, token)
	f.AddChannel("ops")
	ctx := context.Background()
	api := client(f, token)
	btn := slackgo.NewButtonBlockElement("act-1", "v1", slackgo.NewTextBlockObject("plain_text", "Go", false, false))
	ch, ts, err := api.PostMessageContext(ctx, "#ops", slackgo.MsgOptionBlocks(slackgo.NewActionBlock("acts", btn)))
	if err != nil {
		t.Fatal(err)
	}
	u := slackfake.User{ID: "U0ALICE", Name: "alice"}
	if _, err := f.Click(ch, ts, u, "Stop"); err == nil {
		t.Fatal("clicked a button that is not there")
	}
	click, err := f.Click(ch, ts, u, "Go")
	if err != nil {
		t.Fatal(err)
	}
	ic := parse(t, click.Body())
	if ic.Type != slackgo.InteractionTypeBlockActions || ic.User.ID != "U0ALICE" || ic.Channel.Name != "ops" ||
		len(ic.ActionCallback.BlockActions) != 1 || ic.ActionCallback.BlockActions[0].ActionID != "act-1" ||
		ic.ActionCallback.BlockActions[0].Value != "v1" || ic.Container.MessageTs != ts {
		t.Fatalf("parsed click %+v", ic)
	}
	input := slackgo.NewInputBlock("b1", slackgo.NewTextBlockObject("plain_text", "Pick", false, false), nil,
		slackgo.NewRadioButtonsBlockElement("a1",
			slackgo.NewOptionBlockObject("x", slackgo.NewTextBlockObject("plain_text", "Ex", false, false), nil),
			slackgo.NewOptionBlockObject("y", slackgo.NewTextBlockObject("plain_text", "Why", false, false), nil)))
	view := slackgo.ModalViewRequest{Type: "modal", Title: slackgo.NewTextBlockObject("plain_text", "T", false, false),
		Submit: slackgo.NewTextBlockObject("plain_text", "OK", false, false), Blocks: slackgo.Blocks{BlockSet: []slackgo.Block{input}}}
	vr, err := api.OpenViewContext(ctx, ic.TriggerID, view)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.OpenViewContext(ctx, ic.TriggerID, view); err == nil {
		t.Fatal("a trigger opened two modals")
	}
	if _, err := f.Submit(vr.View.ID, u, nil); err == nil {
		t.Fatal("submitted without the required input")
	}
	sub, err := f.Submit(vr.View.ID, u, map[string][]string{"b1": {"Why"}})
	if err != nil {
		t.Fatal(err)
	}
	ic = parse(t, sub.Body())
	if ic.Type != slackgo.InteractionTypeViewSubmission || ic.View.State.Values["b1"]["a1"].SelectedOption.Value != "y" {
		t.Fatalf("parsed submission %+v", ic.View.State)
	}
	// An ephemeral reply through the click's response_url.
	if _, _, err := api.PostMessageContext(ctx, "", slackgo.MsgOptionResponseURL(click.ResponseURL, slackgo.ResponseTypeEphemeral),
		slackgo.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	if e := f.Ephemerals(); len(e) != 1 || e[0].Text != "only you" || e[0].User != "U0ALICE" || e[0].ResponseType != "ephemeral" {
		t.Fatalf("ephemerals %+v", e)
	}
}

func parse(t *testing.T, body []byte) slackgo.InteractionCallback {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ic, err := slackgo.InteractionCallbackParse(req)
	if err != nil {
		vals, _ := url.ParseQuery(string(body))
		t.Fatalf("parse %s: %v", vals.Get("payload"), err)
	}
	return ic
}
