package telegram_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/notify/notifytest"
	"github.com/hitl-dev/hitl/surface/telegram"
)

func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
		fake := telegramfake.New(t, botToken)
		fake.AddChat(opsChat)
		ch, err := telegram.NewChannel(telegram.Config{BotToken: botToken, APIURL: fake.URL})
		if err != nil {
			t.Fatal(err)
		}
		// count counts the successful calls of method whose text names the request.
		count := func(method string) func(string) int {
			return func(requestID string) int {
				n := 0
				for _, c := range fake.Calls(method) {
					if c.OK() && strings.Contains(c.Params["text"], requestID) {
						n++
					}
				}
				return n
			}
		}
		handler := func(c telegram.Config) func() error {
			return func() error { _, err := telegram.NewHandler(c); return err }
		}
		return notifytest.Subject{
			Channel:   ch,
			Assignee:  "telegram:-1001234567890",
			Delivered: count("sendMessage"),
			Resolved:  count("editMessageText"),
			Break:     func() { fake.FailStatus("*", http.StatusServiceUnavailable) },
			BadConfigs: map[string]func() error{
				"no token": func() error { _, err := telegram.NewChannel(telegram.Config{APIURL: fake.URL}); return err },
				"not a bot token": func() error {
					_, err := telegram.NewChannel(telegram.Config{BotToken: "xoxb-1-2", APIURL: fake.URL})
					return err
				},
				"relative API URL": func() error {
					_, err := telegram.NewChannel(telegram.Config{BotToken: botToken, APIURL: "/bot"})
					return err
				},
				"handler without secret":    handler(telegram.Config{BotToken: botToken}),
				"handler with short secret": handler(telegram.Config{BotToken: botToken, SecretToken: "short"}),
				"secret with a space":       handler(telegram.Config{BotToken: botToken, SecretToken: "a secret with spaces in it"}),
				"target without id":         func() error { return telegram.CheckTarget("ops") },
				"username too short":        func() error { return telegram.CheckTarget("@ops") },
				"chat id out of range":      func() error { return telegram.CheckTarget("99999999999999999999") },
			},
		}
	})
}
