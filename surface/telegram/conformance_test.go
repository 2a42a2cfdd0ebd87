package telegram_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/surfacetest"
	"github.com/hitl-dev/hitl/surface/telegram"
)

// TestConformance runs both halves: the channel posting to the ops group on a fake
// Telegram, and the webhook handler taking the group members' button clicks as Telegram
// sends them (callback_query updates with the secret header).
func TestConformance(t *testing.T) {
	surfacetest.Run(t, func(t *testing.T, env surfacetest.Env) surfacetest.Subject {
		fake := telegramfake.New(t, botToken)
		fake.AddChat(opsChat)
		cfg := telegram.Config{BotToken: botToken, SecretToken: secretToken, APIURL: fake.URL, Store: env.Store,
			Routes: func() *routing.Routes { return env.Routes }, Logger: env.Logger}
		ch, err := telegram.NewChannel(cfg)
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
		h, err := telegram.NewHandler(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("POST "+telegram.Path, h)
		users := map[string]telegramfake.User{}
		for _, u := range []telegramfake.User{alice, bob, mallory} {
			users["telegram:"+strconv.FormatInt(u.ID, 10)] = u
		}
		group := "telegram:" + strconv.FormatInt(opsChat.ID, 10)
		return surfacetest.Subject{
			Notify: &surfacetest.Notify{
				Channel:   ch,
				Assignee:  group,
				Delivered: count("sendMessage"),
				Resolved:  count("editMessageText"),
				Break:     func() { fake.FailStatus("*", http.StatusServiceUnavailable) },
			},
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
			Answer: &surfacetest.Answer{
				Handler:   mux,
				Assignees: []string{group},
				Allowed:   [2]string{"telegram:" + strconv.FormatInt(alice.ID, 10), "telegram:" + strconv.FormatInt(bob.ID, 10)},
				Refused:   "telegram:" + strconv.FormatInt(mallory.ID, 10), // in the group, but no approver
				Prepare: func(t *testing.T, req *events.Request, identity string, approve bool) surfacetest.Attempt {
					u, ok := users[identity]
					if !ok {
						t.Fatalf("no Telegram user for %s", identity)
					}
					return prepareCallback(t, fake, env.PublicURL+telegram.Path, req, u, approve)
				},
			},
		}
	})
}

// prepareCallback waits for the request's message in the ops group and builds u's press of
// its Approve or Reject button, the callback_query update Telegram will send. Sending it
// posts the update with the secret header; the toast it is answered with says whether the
// answer counted.
func prepareCallback(t *testing.T, fake *telegramfake.Server, target string, req *events.Request, u telegramfake.User, approve bool) surfacetest.Attempt {
	t.Helper()
	var msg telegramfake.Message
	surfacetest.WaitFor(t, "the Telegram message of "+req.ID, func() bool {
		for _, m := range fake.Messages() {
			if m.Chat.ID == opsChat.ID && strings.Contains(m.Text, req.ID) {
				msg = m
				return true
			}
		}
		return false
	})
	choice := telegram.ChoiceReject
	if approve {
		choice = telegram.ChoiceApprove
	}
	data := telegram.CallbackData(req.ID, choice)
	if !hasButton(msg, data) {
		t.Fatalf("the message has no button for %q (buttons %q)", choice, msg.Buttons())
	}
	up := fake.CallbackUpdate(msg, u, data)
	return func(ctx context.Context) (surfacetest.Outcome, error) {
		res, err := http.DefaultClient.Do(up.Request(ctx, target, secretToken))
		if err != nil {
			return surfacetest.Outcome{}, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return surfacetest.Outcome{}, fmt.Errorf("the update was answered %s", res.Status)
		}
		for _, a := range fake.Answers() {
			if a.QueryID == up.CallbackQuery.ID {
				return surfacetest.Outcome{Accepted: strings.HasPrefix(a.Text, "Recorded"), Said: a.Text}, nil
			}
		}
		return surfacetest.Outcome{}, fmt.Errorf("the click of %s was not answered (answerCallbackQuery calls: %+v)", u.FirstName, fake.Calls("answerCallbackQuery"))
	}
}

func hasButton(m telegramfake.Message, data string) bool {
	if m.ReplyMarkup == nil {
		return false
	}
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData == data {
				return true
			}
		}
	}
	return false
}
