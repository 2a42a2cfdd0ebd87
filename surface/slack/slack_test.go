package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/surface/slack"
)

type channelBundle struct {
	fake *slackfake.Server
	ch   *slack.Channel
}

func setupChannel(t *testing.T) channelBundle {
	t.Helper()
	fake := slackfake.New(t, token)
	fake.AddChannel("ops")
	ch, err := slack.New(slack.Config{BotToken: token, APIURL: fake.APIURL})
	if err != nil {
		t.Fatal(err)
	}
	return channelBundle{fake: fake, ch: ch}
}

func approval(id string) *events.Request {
	return &events.Request{ID: id, Title: "Deploy?", Status: events.StatusPending,
		Input: input.Spec{Type: input.Approval}, Assignees: []string{"slack:#ops"}}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	for target, ok := range map[string]bool{
		"#ops": true, "#release-2024_q1": true, "#C0123ABCD": true, "@U123": true, "@W0123ABCD": true,
		"ops": false, "#": false, "@": false, "@alice": false, "#Ops Team": false, "#ops,#dev": false, "@u123": false,
	} {
		if err := slack.CheckTarget(target); (err == nil) != ok {
			t.Errorf("CheckTarget(%q) = %v, want ok=%v", target, err, ok)
		}
	}
}

func TestPostToChannelReturnsRef(t *testing.T) {
	t.Parallel()
	b := setupChannel(t)
	ref, err := b.ch.Post(context.Background(), notify.Delivery{Request: approval("r1"), Target: "#ops"})
	if err != nil {
		t.Fatal(err)
	}
	var r slack.Ref
	if err := json.Unmarshal(ref, &r); err != nil {
		t.Fatal(err)
	}
	if r.Channel != b.fake.ChannelID("ops") || r.TS == "" {
		t.Fatalf("ref %s, want channel %s and a ts", ref, b.fake.ChannelID("ops"))
	}
	m, ok := b.fake.Message(r.Channel, r.TS)
	if !ok || !strings.Contains(string(m.Blocks), `"action_id":"hitl:r1:approve"`) {
		t.Fatalf("message %+v lacks the approve button", m)
	}
}

func TestPostToUserOpensDM(t *testing.T) {
	t.Parallel()
	b := setupChannel(t)
	ref, err := b.ch.Post(context.Background(), notify.Delivery{Request: approval("r2"), Target: "@U0123ABCD"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.fake.Calls("conversations.open")); n != 1 {
		t.Fatalf("conversations.open called %d times", n)
	}
	var r slack.Ref
	_ = json.Unmarshal(ref, &r)
	if r.Channel != slackfake.DMChannel("U0123ABCD") {
		t.Fatalf("posted in %s, want the DM channel", r.Channel)
	}
}

func TestUpdateShowsOutcomeWithoutButtons(t *testing.T) {
	t.Parallel()
	b := setupChannel(t)
	ctx := context.Background()
	req := approval("r3")
	ref, err := b.ch.Post(ctx, notify.Delivery{Request: req, Target: "#ops"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	req.Status, req.ResolvedAt = events.StatusAnswered, &at
	req.Response = &events.Response{RequestID: req.ID, Outcome: events.StatusAnswered, Responder: "slack:@U0ALICE",
		Data: json.RawMessage(`{"approved":false,"comment":"not on a Friday"}`), At: at}
	if err := b.ch.Update(ctx, notify.Delivery{Request: req, Target: "#ops", Ref: ref}); err != nil {
		t.Fatal(err)
	}
	var r slack.Ref
	_ = json.Unmarshal(ref, &r)
	m, _ := b.fake.Message(r.Channel, r.TS)
	blocks := slackfake.BlockText(m.Blocks)
	if m.Updates != 1 || len(slackfake.Buttons(m.Blocks)) > 0 || strings.Contains(string(m.Blocks), `"actions"`) {
		t.Fatalf("after update (%d): %s", m.Updates, m.Blocks)
	}
	for _, want := range []string{"*Rejected* by <@U0ALICE>", "> not on a Friday", "<!date^1772366400^"} {
		if !strings.Contains(blocks, want) {
			t.Errorf("updated message lacks %q: %s", want, blocks)
		}
	}
}

func TestUpdateWithoutRefIsPermanent(t *testing.T) {
	t.Parallel()
	b := setupChannel(t)
	err := b.ch.Update(context.Background(), notify.Delivery{Request: approval("r4"), Target: "#ops"})
	if !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
}

func TestSlackErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		target    string
		token     string
		breakIt   func(*slackfake.Server)
		permanent bool
		retryIn   time.Duration // a notify.RetryError with at least this delay
		contains  string
	}{
		{name: "unknown channel", target: "#nowhere", permanent: true, contains: "channel_not_found"},
		{name: "not in channel", target: "#ops", breakIt: func(f *slackfake.Server) { f.FailWith("chat.postMessage", "not_in_channel") }, permanent: true, contains: "invite the app"},
		{name: "invalid auth", target: "#ops", token: "xoxb-wrong", permanent: true, contains: "invalid_auth"},
		{name: "ratelimited error", target: "#ops", breakIt: func(f *slackfake.Server) { f.FailWith("chat.postMessage", "ratelimited") }, contains: "ratelimited"},
		{name: "HTTP 429", target: "#ops", breakIt: func(f *slackfake.Server) { f.FailStatus("chat.postMessage", http.StatusTooManyRequests) }, retryIn: time.Second},
		{name: "HTTP 503", target: "#ops", breakIt: func(f *slackfake.Server) { f.FailStatus("*", http.StatusServiceUnavailable) }, contains: "503"},
		{name: "internal_error", target: "#ops", breakIt: func(f *slackfake.Server) { f.FailWith("*", "internal_error") }},
		{name: "DM to a bad user", target: "@U0BAD", breakIt: func(f *slackfake.Server) { f.FailWith("conversations.open", "user_not_found") }, permanent: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := slackfake.New(t, token)
			fake.AddChannel("ops")
			ch, err := slack.New(slack.Config{BotToken: cmpOr(tc.token, token), APIURL: fake.APIURL})
			if err != nil {
				t.Fatal(err)
			}
			if tc.breakIt != nil {
				tc.breakIt(fake)
			}
			_, err = ch.Post(context.Background(), notify.Delivery{Request: approval("r5"), Target: tc.target})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, notify.ErrPermanent); got != tc.permanent {
				t.Fatalf("permanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			var re *notify.RetryError
			if tc.retryIn > 0 && (!errors.As(err, &re) || re.Delay < tc.retryIn) {
				t.Fatalf("err = %v, want a retry after %s", err, tc.retryIn)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err %q lacks %q", err, tc.contains)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestButtonsByType(t *testing.T) {
	t.Parallel()
	opts := []input.Option{{ID: "a", Label: "Alpha"}, {ID: "b", Label: "Beta"}}
	cases := map[string]struct {
		spec input.Spec
		want []string // action id choices, in order
	}{
		"approval":              {input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}}, []string{"approve", "reject"}},
		"approval with comment": {input.Spec{Type: input.Approval, RequireCommentOnReject: true}, []string{"approve", "form-reject"}},
		"editable approval":     {input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{"x":1}`)}, []string{"approve", "reject", "form"}},
		"boolean":               {input.Spec{Type: input.Boolean}, []string{"yes", "no"}},
		"select":                {input.Spec{Type: input.Select, Options: opts}, []string{"opt-0", "opt-1"}},
		"select, custom":        {input.Spec{Type: input.Select, Options: opts, AllowCustom: true}, []string{"opt-0", "opt-1", "form"}},
		"text":                  {input.Spec{Type: input.Text}, []string{"form"}},
		"multiselect":           {input.Spec{Type: input.MultiSelect, Options: opts}, []string{"form"}},
		"skippable number":      {input.Spec{Type: input.Number, Skippable: true}, []string{"form", "skip"}},
	}
	for name, tc := range cases {
		blocks, _ := json.Marshal(slack.RequestBlocks(&events.Request{ID: "rid", Title: "Q", Input: tc.spec}))
		var parsed []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
			} `json:"elements"`
		}
		_ = json.Unmarshal(blocks, &parsed)
		var got []string
		for _, b := range parsed {
			if b.Type != "actions" {
				continue
			}
			for _, e := range b.Elements {
				id, choice, ok := slack.ParseActionID(e.ActionID)
				if !ok || id != "rid" {
					t.Errorf("%s: action id %q", name, e.ActionID)
				}
				got = append(got, choice)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: buttons %v, want %v", name, got, tc.want)
		}
	}
}

func TestMrkdwn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"**12 files** changed":                   "*12 files* changed",
		"see [the PR](https://x.test/1?a=1&b=2)": "see <https://x.test/1?a=1&amp;b=2|the PR>",
		"a < b & c > d":                          "a &lt; b &amp; c &gt; d",
		"# Summary\nok":                          "*Summary*\nok",
		"~~old~~ new":                            "~old~ new",
		"`code` stays":                           "`code` stays",
	} {
		if got := slack.Mrkdwn(in); got != want {
			t.Errorf("Mrkdwn(%q) = %q, want %q", in, got, want)
		}
	}
}
