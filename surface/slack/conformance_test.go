package slack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/slack"
	"github.com/hitl-dev/hitl/surface/surfacetest"
)

const token = "xoxb-test-token"

// TestConformance runs both halves: the channel posting to #ops on a fake Slack, and the
// interactions handler taking signed button clicks from people in #ops.
func TestConformance(t *testing.T) {
	surfacetest.Run(t, func(t *testing.T, env surfacetest.Env) surfacetest.Subject {
		fake := slackfake.New(t, token)
		fake.AddChannel("ops")
		ch, err := slack.New(slack.Config{BotToken: token, APIURL: fake.APIURL})
		if err != nil {
			t.Fatal(err)
		}
		// count counts the successful calls of method whose blocks carry the request's id.
		count := func(method string) func(string) int {
			return func(requestID string) int {
				n := 0
				for _, c := range fake.Calls(method) {
					if strings.Contains(c.Args["blocks"], requestID) && c.OK() {
						n++
					}
				}
				return n
			}
		}
		h, err := slack.NewHandler(slack.HandlerConfig{Store: env.Store, SigningSecret: signingSecret, API: ch.API(),
			Routes: func() *routing.Routes { return env.Routes }, Logger: env.Logger})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("POST "+slack.Path, h)
		users := map[string]slackfake.User{}
		for _, u := range []slackfake.User{alice, bob, mallory} {
			users["slack:@"+u.ID] = u
		}
		return surfacetest.Subject{
			Notify: &surfacetest.Notify{
				Channel:   ch,
				Assignee:  "slack:#ops",
				Delivered: count("chat.postMessage"),
				Resolved:  count("chat.update"),
				Break:     func() { fake.FailStatus("*", http.StatusServiceUnavailable) },
			},
			BadConfigs: map[string]func() error{
				"no token":          func() error { _, err := slack.New(slack.Config{APIURL: fake.APIURL}); return err },
				"a user token":      func() error { _, err := slack.New(slack.Config{BotToken: "xoxp-1-2", APIURL: fake.APIURL}); return err },
				"relative API URL":  func() error { _, err := slack.New(slack.Config{BotToken: token, APIURL: "/api/"}); return err },
				"target not #/@":    func() error { return slack.CheckTarget("ops") },
				"user name, not id": func() error { return slack.CheckTarget("@alice") },
				"handler without signing secret": func() error {
					_, err := slack.NewHandler(slack.HandlerConfig{Store: env.Store, API: ch.API()})
					return err
				},
			},
			Answer: &surfacetest.Answer{
				Handler:   mux,
				Assignees: []string{"slack:#ops"},
				Allowed:   [2]string{"slack:@" + alice.ID, "slack:@" + bob.ID},
				Refused:   "slack:@" + mallory.ID, // in #ops, but no approver
				Prepare: func(t *testing.T, req *events.Request, identity string, approve bool) surfacetest.Attempt {
					u, ok := users[identity]
					if !ok {
						t.Fatalf("no Slack user for %s", identity)
					}
					return prepareClick(t, fake, env.PublicURL+slack.Path, req, u, approve)
				},
			},
		}
	})
}

// prepareClick waits for the request's message in #ops and builds u's click on its Approve
// or Reject button, as Slack will send it. Sending it posts the signed interaction; Slack
// shows nothing but the edited message for an answer that counted, and replies to the
// person only when it did not.
func prepareClick(t *testing.T, fake *slackfake.Server, target string, req *events.Request, u slackfake.User, approve bool) surfacetest.Attempt {
	t.Helper()
	var msg slackfake.Message
	surfacetest.WaitFor(t, "the Slack message of "+req.ID, func() bool {
		for _, m := range fake.Messages() {
			if m.Channel == fake.ChannelID("ops") && strings.Contains(string(m.Blocks), req.ID) {
				msg = m
				return true
			}
		}
		return false
	})
	choice := slack.ChoiceReject
	if approve {
		choice = slack.ChoiceApprove
	}
	click, err := fake.Click(msg.Channel, msg.TS, u, slack.ActionID(req.ID, choice))
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context) (surfacetest.Outcome, error) {
		before := len(repliesTo(fake, u.ID))
		res, err := http.DefaultClient.Do(click.Request(ctx, target, signingSecret))
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return surfacetest.Outcome{}, fmt.Errorf("the interaction was answered %s", res.Status)
		}
		replies := repliesTo(fake, u.ID)[before:]
		if len(replies) == 0 {
			return surfacetest.Outcome{Accepted: true, Said: "no reply: the answer counted"}, nil
		}
		return surfacetest.Outcome{Said: "replied: " + replies[0].Text}, nil
	}
}

// repliesTo lists what only user was shown (ephemeral replies), oldest first.
func repliesTo(fake *slackfake.Server, user string) []slackfake.Ephemeral {
	var out []slackfake.Ephemeral
	for _, e := range fake.Ephemerals() {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}
