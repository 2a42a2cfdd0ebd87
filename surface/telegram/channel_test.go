package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/telegramfake"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/surface/telegram"
)

func delivery(target string) notify.Delivery {
	return notify.Delivery{Target: target, ID: "d1", RespondURL: publicURL + "/v1/requests/x/respond?token=t",
		Request: &events.Request{ID: uuid.NewString(), Title: "Approve?", Input: input.Spec{Type: input.Approval}}}
}

// TestErrorClassification holds the channel to notify's contract: answers no retry can
// change are permanent (with a hint), flood control is retried after Telegram's
// retry_after, server errors and the network are retried with backoff.
func TestErrorClassification(t *testing.T) {
	t.Parallel()
	type want int
	const (
		permanent want = iota
		retryAfter
		backoff
	)
	for name, tc := range map[string]struct {
		failure telegramfake.Failure
		target  string
		want    want
		delay   time.Duration
		hint    string
	}{
		"flood control":      {telegramfake.Failure{Code: 429, RetryAfter: 7}, "111", retryAfter, 7 * time.Second, ""},
		"429 without a wait": {telegramfake.Failure{Code: 429, Description: "Too Many Requests"}, "111", retryAfter, time.Second, ""},
		"internal error":     {telegramfake.Failure{Code: 500}, "111", backoff, 0, ""},
		"bad gateway":        {telegramfake.Failure{Code: 502}, "111", backoff, 0, ""},
		"blocked":            {telegramfake.Failure{Code: 403}, "111", permanent, 0, "blocked the bot"},
		"not started":        {telegramfake.Failure{Code: 403, Description: "Forbidden: bot can't initiate conversation with a user"}, "111", permanent, 0, "press Start"},
		"not in the channel": {telegramfake.Failure{Code: 403, Description: "Forbidden: bot is not a member of the channel chat"}, "111", permanent, 0, "add the bot"},
		"group upgraded": {telegramfake.Failure{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat",
			MigrateToChatID: -1009876543210}, "111", permanent, 0, "telegram:-1009876543210"},
		"chat not found (fake's own)": {telegramfake.Failure{}, "555", permanent, 0, "no such chat"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := telegramfake.New(t, botToken)
			fake.AddUser(alice)
			if tc.failure.Code != 0 {
				fake.Fail("sendMessage", tc.failure)
			}
			ch, err := telegram.NewChannel(telegram.Config{BotToken: botToken, APIURL: fake.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ch.Post(context.Background(), delivery(tc.target))
			var re *notify.RetryError
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.want == permanent && !errors.Is(err, notify.ErrPermanent):
				t.Fatalf("%v: not permanent", err)
			case tc.want == permanent && !strings.Contains(err.Error(), tc.hint):
				t.Fatalf("%v: no hint %q", err, tc.hint)
			case tc.want != permanent && errors.Is(err, notify.ErrPermanent):
				t.Fatalf("%v: permanent, want a retry", err)
			case tc.want == retryAfter && (!errors.As(err, &re) || re.Delay != tc.delay):
				t.Fatalf("%v: want a retry after %s", err, tc.delay)
			case tc.want == backoff && errors.As(err, &re):
				t.Fatalf("%v: a fixed retry delay, want backoff", err)
			}
			if strings.Contains(err.Error(), botToken) {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}

func TestWrongTokenAndNetworkErrors(t *testing.T) {
	t.Parallel()
	fake := telegramfake.New(t, botToken)
	fake.AddUser(alice)
	wrong := "987654321:AAwrong_token_for_this_test_000000000"
	ch, _ := telegram.NewChannel(telegram.Config{BotToken: wrong, APIURL: fake.URL})
	_, err := ch.Post(context.Background(), delivery("111"))
	if !errors.Is(err, notify.ErrPermanent) || !strings.Contains(err.Error(), "401 Unauthorized") ||
		!strings.Contains(err.Error(), "HITL_TELEGRAM_BOT_TOKEN") || strings.Contains(err.Error(), wrong) {
		t.Fatalf("wrong token: %v", err)
	}

	// Nothing listening: retried, and the error (which Go's HTTP client words with the URL,
	// token and all) names no token.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	ch, _ = telegram.NewChannel(telegram.Config{BotToken: botToken, APIURL: srv.URL})
	_, err = ch.Post(context.Background(), delivery("111"))
	if err == nil || errors.Is(err, notify.ErrPermanent) || strings.Contains(err.Error(), botToken) {
		t.Fatalf("no answer: %v", err)
	}
	// A proxy's page instead of the Bot API's answer: by its status.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	ch, _ = telegram.NewChannel(telegram.Config{BotToken: botToken, APIURL: proxy.URL})
	_, err = ch.Post(context.Background(), delivery("111"))
	if err == nil || errors.Is(err, notify.ErrPermanent) || !strings.Contains(err.Error(), "502") {
		t.Fatalf("a proxy's 502: %v", err)
	}
}

func TestUpdateIsIdempotent(t *testing.T) {
	t.Parallel()
	fake := telegramfake.New(t, botToken)
	fake.AddUser(alice)
	ch, _ := telegram.NewChannel(telegram.Config{BotToken: botToken, APIURL: fake.URL})
	d := delivery("111")
	ref, err := ch.Post(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var r telegram.Ref
	if json.Unmarshal(ref, &r) != nil || r.ChatID != alice.ID || r.MessageID == 0 {
		t.Fatalf("ref %s", ref)
	}
	now := time.Now().UTC()
	d.Request.Status, d.Request.ResolvedAt = events.StatusAnswered, &now
	d.Request.Response = &events.Response{Data: json.RawMessage(`{"approved":true}`), Responder: "telegram:111"}
	d.Ref = ref
	// A retried update finds the edit made ("message is not modified") and is done.
	for range 2 {
		if err := ch.Update(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	if m, _ := fake.Message(r.ChatID, r.MessageID); m.Edits != 1 || len(m.Buttons()) != 0 {
		t.Fatalf("message %+v", m)
	}
	calls := fake.Calls("editMessageText")
	if len(calls) != 2 || calls[1].Status != http.StatusBadRequest {
		t.Fatalf("edit calls %+v", calls)
	}
	// A deleted message (or a bad ref) is permanent.
	d.Ref = json.RawMessage(`{"chat_id":111,"message_id":4040}`)
	if err := ch.Update(context.Background(), d); !errors.Is(err, notify.ErrPermanent) || !strings.Contains(err.Error(), "message to edit not found") {
		t.Fatalf("missing message: %v", err)
	}
	d.Ref = nil
	if err := ch.Update(context.Background(), d); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("no ref: %v", err)
	}
}

func TestCheckTarget(t *testing.T) {
	for _, ok := range []string{"123456789", "-123456789", "-1001234567890", "@hitl_ops", "@Ops_Channel1", "9223372036854775807"} {
		if err := telegram.CheckTarget(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ops", "#ops", "@ops", "@_ops_channel", "@ops_channel_", "@ops-channel", "0", "-0", "0123",
		"9223372036854775808", "12 34", "+123", "@", "@1opschannel", "telegram:123"} {
		if err := telegram.CheckTarget(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  telegram.Config
		want string
	}{
		"no token":       {telegram.Config{SecretToken: secretToken}, "HITL_TELEGRAM_BOT_TOKEN"},
		"not a token":    {telegram.Config{BotToken: "xoxb-123", SecretToken: secretToken}, "BotFather's form"},
		"no secret":      {telegram.Config{BotToken: botToken}, "HITL_TELEGRAM_SECRET_TOKEN"},
		"short secret":   {telegram.Config{BotToken: botToken, SecretToken: "abc"}, "at least 16"},
		"secret symbols": {telegram.Config{BotToken: botToken, SecretToken: "0123456789abcdef!"}, "A-Z, a-z, 0-9, _ and -"},
		"bad API URL":    {telegram.Config{BotToken: botToken, SecretToken: secretToken, APIURL: "api.telegram.org"}, "HITL_TELEGRAM_API_URL"},
		"no store":       {telegram.Config{BotToken: botToken, SecretToken: secretToken}, "Store is required"},
	} {
		_, err := telegram.NewHandler(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), botToken) || strings.Contains(err.Error(), secretToken)) {
			t.Errorf("%s: the error quotes a token: %v", name, err)
		}
	}
	if c := (telegram.Config{}).WithDefaults(); c.APIURL != telegram.DefaultAPIURL || c.HTTPClient == nil ||
		c.MaxBody != 1<<20 || c.Budget != 5*time.Second || c.Logger == nil {
		t.Fatalf("defaults %+v", c)
	}
}
