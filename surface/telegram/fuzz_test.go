package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/telegram"
)

// placeholder in a fuzzed update stands for the id of a pending request, so that the
// fuzzer's clicks can land on one.
const placeholder = "REQUEST_ID_PLACEHOLDER_0000000000000"

var updateSpecs = []input.Spec{
	{Type: input.Approval},
	{Type: input.Boolean, Skippable: true},
	{Type: input.Select, Options: []input.Option{{ID: "eu"}, {ID: "us"}}},
	{Type: input.Text},
}

// FuzzUpdate posts updates to the bot's webhook on a real server over an embedded JetStream
// (started once). Only telegram:111 may answer the requests. With the wrong secret the
// answer is 401; otherwise 200 or 400, never a 5xx. A request resolves only from a click by
// someone who may answer it, recorded as that person, with a valid answer; nothing else
// changes it.
func FuzzUpdate(f *testing.F) {
	env := natstest.Single(f)
	_, js := env.Connect(f)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		f.Fatal(err)
	}
	// The Bot API's reply to answerCallbackQuery, the one call a click makes. (The fake
	// Telegram records every call, which a long fuzzing run would pile up.)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"result":true}`))
	}))
	f.Cleanup(api.Close)
	routes, err := routing.New([]string{"telegram"}, nil, map[string]func(string) error{"telegram": telegram.CheckTarget})
	if err != nil {
		f.Fatal(err)
	}
	h, err := telegram.NewHandler(telegram.Config{BotToken: botToken, SecretToken: secretToken, APIURL: api.URL, Store: st,
		Routes: func() *routing.Routes { return routes }})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h)
	f.Cleanup(srv.Close)

	fake := telegramfake.New(f, botToken) // builds updates in Telegram's own format
	private := telegramfake.Message{MessageID: 7, Chat: telegramfake.Chat{ID: alice.ID, Type: "private", FirstName: "Alice"}, Text: "Deploy?"}
	group := telegramfake.Message{MessageID: 8, Chat: opsChat, Text: "Deploy?"}
	for i, u := range []telegramfake.Update{
		fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.ChoiceApprove)),
		fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.ChoiceYes)),
		fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.OptionChoice(1))),
		fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.ChoiceSkip)),
		fake.CallbackUpdate(group, mallory, telegram.CallbackData(placeholder, telegram.ChoiceReject)),
		fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.OptionChoice(5))),
		fake.CallbackUpdate(private, alice, "h:not-a-request:a"),
		fake.TextMessage(opsChat, alice, "/start"),
	} {
		f.Add(uint8(i), u.Body(), secretToken)
	}
	for _, s := range []string{`{}`, `{"update_id": 1}`, `{"update_id": 1, "callback_query": {}}`, `{"update_id": 1, "callback_query": {"id": "q", "from": {"id": 0}}}`, `[]`, ``} {
		f.Add(uint8(0), []byte(s), secretToken)
	}
	f.Add(uint8(0), fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.ChoiceApprove)).Body(), "wrong")
	f.Add(uint8(0), fake.CallbackUpdate(private, alice, telegram.CallbackData(placeholder, telegram.ChoiceApprove)).Body(), "")

	pending := make([]string, len(updateSpecs))
	f.Fuzz(func(t *testing.T, which uint8, body []byte, secret string) {
		i := int(which) % len(updateSpecs)
		ctx := context.Background()
		if pending[i] == "" {
			r := &events.Request{ID: uuid.NewString(), Title: "Fuzz", Input: updateSpecs[i], Assignees: []string{"telegram:111"}}
			if err := st.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			pending[i] = r.ID
		}
		id := pending[i]
		body = bytes.ReplaceAll(body, []byte(placeholder), []byte(id))
		if !headerValue(secret) {
			return // not a request HTTP can carry
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+telegram.Path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set(telegram.SecretHeader, secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got, _, err := st.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		authentic := strings.Trim(secret, " \t") == secretToken // HTTP drops the spaces around a header value
		switch {
		case !authentic && res.StatusCode != http.StatusUnauthorized:
			t.Fatalf("secret %q: %d", secret, res.StatusCode)
		case authentic && res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest:
			t.Fatalf("update %q: %d", body, res.StatusCode)
		}
		if !got.Resolved() {
			return
		}
		pending[i] = ""
		var u struct {
			CallbackQuery struct {
				From    struct{ ID int64 }
				Message *struct {
					Chat struct {
						ID   int64
						Type string
					}
				}
			} `json:"callback_query"`
		}
		if !authentic || res.StatusCode != http.StatusOK || json.Unmarshal(body, &u) != nil {
			t.Fatalf("resolved by %q (secret %q, %d): %+v", body, secret, res.StatusCode, got.Response)
		}
		from := u.CallbackQuery.From.ID
		// Whoever clicks in an assigned group chat may answer, so a "chat" 111 would pass too
		// (Telegram's group ids are negative, so it never sends one).
		m := u.CallbackQuery.Message
		inChat := m != nil && m.Chat.ID == alice.ID && m.Chat.ID != from && m.Chat.Type != "private"
		if from != alice.ID && !inChat {
			t.Fatalf("telegram:%d answered a request only telegram:111 may answer: %q", from, body)
		}
		if got.Response.Responder != "telegram:"+strconv.FormatInt(from, 10) {
			t.Fatalf("answered by telegram:%d, recorded as %q", from, got.Response.Responder)
		}
		if err := got.Input.Validate(got.Response.Data); err != nil {
			t.Fatalf("recorded an invalid answer %s: %v", got.Response.Data, err)
		}
	})
}

// headerValue reports whether net/http sends v as a header value.
func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
