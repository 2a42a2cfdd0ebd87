package telegram

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hitl-dev/hitl/notify"
)

// bot calls the Bot API: POST {APIURL}/bot<token>/<method> with a JSON body, answered
// {"ok": true, "result": ...} or {"ok": false, "error_code": 400, "description": "..."}.
type bot struct {
	base  string // APIURL + "/bot" + token + "/": a secret, never logged
	token string
	hc    *http.Client
}

func newBot(c Config) *bot {
	return &bot{base: c.APIURL + "/bot" + c.BotToken + "/", token: c.BotToken, hc: c.HTTPClient}
}

// APIError is an error answer of the Bot API.
type APIError struct {
	Method      string
	Code        int    // error_code: the HTTP status, 400, 403, 429, ...
	Description string // "Bad Request: chat not found"
	// RetryAfter is parameters.retry_after: how long to wait after a flood-control 429.
	RetryAfter time.Duration
	// MigrateToChatID is parameters.migrate_to_chat_id: the group became this supergroup.
	MigrateToChatID int64
}

func (e *APIError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

// call invokes method with params (JSON) and decodes the result into result (nil: skip).
func (b *bot) call(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %s", method, b.redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := b.hc.Do(req)
	if err != nil {
		// *url.Error names the URL, which holds the token: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &netError{method: method, msg: b.redact(err.Error()), err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	var env struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter      int   `json:"retry_after"`
			MigrateToChatID int64 `json:"migrate_to_chat_id"`
		} `json:"parameters"`
	}
	if err != nil || json.Unmarshal(raw, &env) != nil || (!env.OK && env.Description == "" && env.ErrorCode == 0) {
		// Not the Bot API's answer: a proxy's error page, a cut connection.
		return &APIError{Method: method, Code: res.StatusCode, Description: "HTTP " + res.Status + " without a Bot API answer"}
	}
	if !env.OK {
		return &APIError{Method: method, Code: cmp.Or(env.ErrorCode, res.StatusCode), Description: b.redact(env.Description),
			RetryAfter: time.Duration(env.Parameters.RetryAfter) * time.Second, MigrateToChatID: env.Parameters.MigrateToChatID}
	}
	if result != nil {
		if err := json.Unmarshal(env.Result, result); err != nil {
			return fmt.Errorf("telegram %s: unexpected result: %w", method, err)
		}
	}
	return nil
}

func (b *bot) redact(s string) string { return strings.ReplaceAll(s, b.token, "<bot token>") }

// netError is a call that got no answer: retried.
type netError struct {
	method, msg string
	err         error
}

func (e *netError) Error() string { return "telegram " + e.method + ": " + e.msg }
func (e *netError) Unwrap() error { return e.err }

// classify turns a Bot API error into the notifier's terms: ErrPermanent for answers no
// retry can change (400 Bad Request, 401 Unauthorized, 403 Forbidden, 404), a retry after
// Telegram's retry_after for flood control (429), a plain error (retried with backoff) for
// 5xx and the network.
func classify(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Code == http.StatusTooManyRequests || ae.RetryAfter > 0:
		return notify.RetryAfter(max(ae.RetryAfter, time.Second), err)
	case ae.Code >= 500:
		return err
	}
	return fmt.Errorf("%w: %w%s", notify.ErrPermanent, err, hint(ae))
}

// hint says what to do about the permanent errors people meet while setting up.
func hint(e *APIError) string {
	d := strings.ToLower(e.Description)
	switch {
	case e.MigrateToChatID != 0:
		return fmt.Sprintf(" (the group became a supergroup: assign telegram:%d instead)", e.MigrateToChatID)
	case e.Code == http.StatusUnauthorized || e.Code == http.StatusNotFound:
		return " (check HITL_TELEGRAM_BOT_TOKEN and HITL_TELEGRAM_API_URL)"
	case strings.Contains(d, "can't initiate conversation"):
		return " (the person must open the bot in Telegram and press Start first)"
	case strings.Contains(d, "blocked by the user"):
		return " (the person blocked the bot)"
	case strings.Contains(d, "not a member") || strings.Contains(d, "kicked") || strings.Contains(d, "not enough rights"):
		return " (add the bot to the chat; in a channel, as an administrator that may post and edit messages)"
	case strings.Contains(d, "chat not found"):
		return " (no such chat, or the bot is not in it; a person must have started the bot)"
	}
	return ""
}

// notModified reports the edit Telegram refuses because the message already reads so.
func notModified(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == http.StatusBadRequest && strings.Contains(ae.Description, "message is not modified")
}

// ---- the Bot API's types, as far as hitl uses them ----

type user struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
}

type chat struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"` // private, group, supergroup, channel
	Username string `json:"username,omitempty"`
}

type message struct {
	MessageID int  `json:"message_id"`
	Chat      chat `json:"chat"`
}

type callbackQuery struct {
	ID      string   `json:"id"`
	From    *user    `json:"from"`
	Message *message `json:"message"` // absent for inline messages; may be an inaccessible (old) message
	Data    string   `json:"data"`
}

type update struct {
	UpdateID      *int64         `json:"update_id"`
	CallbackQuery *callbackQuery `json:"callback_query"`
}

// Button is an inline keyboard button: a callback button (CallbackData) or a link (URL).
type Button struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// Keyboard is an inline keyboard, rows of buttons.
type Keyboard struct {
	InlineKeyboard [][]Button `json:"inline_keyboard"`
}

type linkPreview struct {
	IsDisabled bool `json:"is_disabled"`
}

type sendMessage struct {
	ChatID      any          `json:"chat_id"` // int64, or "@channelusername"
	Text        string       `json:"text"`
	ParseMode   string       `json:"parse_mode"`
	LinkPreview *linkPreview `json:"link_preview_options,omitempty"`
	ReplyMarkup *Keyboard    `json:"reply_markup,omitempty"`
}

type editMessageText struct {
	ChatID      int64        `json:"chat_id"`
	MessageID   int          `json:"message_id"`
	Text        string       `json:"text"`
	ParseMode   string       `json:"parse_mode"`
	LinkPreview *linkPreview `json:"link_preview_options,omitempty"`
	ReplyMarkup *Keyboard    `json:"reply_markup"` // an empty keyboard removes the buttons
}

type answerCallbackQuery struct {
	CallbackQueryID string `json:"callback_query_id"`
	Text            string `json:"text,omitempty"`
	ShowAlert       bool   `json:"show_alert,omitempty"`
}
