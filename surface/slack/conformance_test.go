package slack_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/slackfake"
	"github.com/hitl-dev/hitl/notify/notifytest"
	"github.com/hitl-dev/hitl/surface/slack"
)

const token = "xoxb-test-token"

func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
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
		return notifytest.Subject{
			Channel:   ch,
			Assignee:  "slack:#ops",
			Delivered: count("chat.postMessage"),
			Resolved:  count("chat.update"),
			Break:     func() { fake.FailStatus("*", http.StatusServiceUnavailable) },
			BadConfigs: map[string]func() error{
				"no token":          func() error { _, err := slack.New(slack.Config{APIURL: fake.APIURL}); return err },
				"a user token":      func() error { _, err := slack.New(slack.Config{BotToken: "xoxp-1-2", APIURL: fake.APIURL}); return err },
				"relative API URL":  func() error { _, err := slack.New(slack.Config{BotToken: token, APIURL: "/api/"}); return err },
				"target not #/@":    func() error { return slack.CheckTarget("ops") },
				"user name, not id": func() error { return slack.CheckTarget("@alice") },
			},
		}
	})
}
