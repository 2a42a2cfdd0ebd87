package telegramfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/telegramfake"
)

const token = "123456:TEST-token_abc"

type reply struct {
	Status      int
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func call(t *testing.T, f *telegramfake.Server, tok, method string, params any) reply {
	t.Helper()
	b, _ := json.Marshal(params)
	res, err := http.Post(f.URL+"/bot"+tok+"/"+method, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: not JSON: %s", method, body)
	}
	r.Status = res.StatusCode
	if !r.OK && (r.ErrorCode != res.StatusCode || r.Description == "") {
		t.Fatalf("%s: error envelope %s with status %d", method, body, res.StatusCode)
	}
	return r
}

func TestSendEditAndClick(t *testing.T) {
	t.Parallel()
	f := telegramfake.New(t, token)
	alice := telegramfake.User{ID: 111, FirstName: "Alice", Username: "alice"}
	f.AddUser(alice)
	f.AddChat(telegramfake.Chat{ID: -1001234567890, Type: "supergroup", Title: "Ops", Username: "hitl_ops"})

	r := call(t, f, token, "sendMessage", map[string]any{"chat_id": "@hitl_ops", "parse_mode": "HTML",
		"text": "<b>Deploy?</b> a &lt; b &amp; c",
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{
			{{"text": "Approve", "callback_data": "h:1:a"}, {"text": "Open", "url": "https://hitl.example.com/x"}}}}})
	if !r.OK {
		t.Fatalf("sendMessage: %+v", r)
	}
	var m telegramfake.Message
	_ = json.Unmarshal(r.Result, &m)
	if m.MessageID != 1 || m.Chat.ID != -1001234567890 || m.Text != "Deploy? a < b & c" ||
		len(m.Entities) != 1 || m.Entities[0].Type != "bold" || m.Entities[0].Length != 7 {
		t.Fatalf("message %+v", m)
	}
	if got := strings.Join(m.Buttons(), ","); got != "Approve,Open" {
		t.Fatalf("buttons %s", got)
	}

	// A form body works as well as JSON.
	form := url.Values{"chat_id": {"111"}, "text": {"plain text"}}
	res, err := http.PostForm(f.URL+"/bot"+token+"/sendMessage", form)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("form sendMessage: %v %v", res, err)
	}
	res.Body.Close()

	if _, err := f.Click(m.Chat.ID, m.MessageID, alice, "Open"); err == nil {
		t.Fatal("a URL button was clicked")
	}
	u, err := f.Click(m.Chat.ID, m.MessageID, alice, "Approve")
	if err != nil {
		t.Fatal(err)
	}
	q := u.CallbackQuery
	if q == nil || q.Data != "h:1:a" || q.From.ID != alice.ID || q.Message.MessageID != 1 || q.ID == "" {
		t.Fatalf("update %s", u.Body())
	}
	if a := call(t, f, token, "answerCallbackQuery", map[string]any{"callback_query_id": q.ID, "text": "Recorded"}); !a.OK {
		t.Fatalf("answer: %+v", a)
	}
	if a := call(t, f, token, "answerCallbackQuery", map[string]any{"callback_query_id": q.ID, "text": "again"}); a.OK || !strings.Contains(a.Description, "query is too old") {
		t.Fatalf("second answer: %+v", a)
	}
	if ans := f.Answers(); len(ans) != 1 || ans[0].Text != "Recorded" || ans[0].User.ID != alice.ID {
		t.Fatalf("answers %+v", ans)
	}

	edit := map[string]any{"chat_id": m.Chat.ID, "message_id": m.MessageID, "text": "<b>Approved</b>", "parse_mode": "HTML"}
	if e := call(t, f, token, "editMessageText", edit); !e.OK {
		t.Fatalf("edit: %+v", e)
	}
	got, _ := f.Message(m.Chat.ID, m.MessageID)
	if got.Text != "Approved" || got.Edits != 1 || len(got.Buttons()) != 0 || got.HTML != "<b>Approved</b>" {
		t.Fatalf("edited %+v", got)
	}
	if e := call(t, f, token, "editMessageText", edit); e.OK || !strings.Contains(e.Description, "message is not modified") {
		t.Fatalf("same edit again: %+v", e)
	}
	if _, err := f.Click(m.Chat.ID, m.MessageID, alice, "Approve"); err == nil {
		t.Fatal("clicked a button the edit removed")
	}
}

func TestRefusesWhatTelegramRefuses(t *testing.T) {
	t.Parallel()
	f := telegramfake.New(t, token)
	f.AddUser(telegramfake.User{ID: 111, FirstName: "Alice"})
	f.AddUser(telegramfake.User{ID: 222, FirstName: "Bob"})
	f.Block(222)
	long := strings.Repeat("x", 4097)
	for name, tc := range map[string]struct {
		tok, method string
		params      map[string]any
		status      int
		want        string
	}{
		"wrong token":        {"123456:wrong", "sendMessage", map[string]any{"chat_id": 111, "text": "x"}, 401, "Unauthorized"},
		"unknown method":     {token, "sendTelepathy", map[string]any{}, 404, "Not Found"},
		"unknown chat":       {token, "sendMessage", map[string]any{"chat_id": 999, "text": "x"}, 400, "chat not found"},
		"blocked":            {token, "sendMessage", map[string]any{"chat_id": 222, "text": "x"}, 403, "blocked by the user"},
		"empty text":         {token, "sendMessage", map[string]any{"chat_id": 111, "text": "  "}, 400, "message text is empty"},
		"too long":           {token, "sendMessage", map[string]any{"chat_id": 111, "text": long}, 400, "message is too long"},
		"unsupported tag":    {token, "sendMessage", map[string]any{"chat_id": 111, "text": "<div>x</div>", "parse_mode": "HTML"}, 400, "Unsupported start tag \"div\""},
		"unclosed tag":       {token, "sendMessage", map[string]any{"chat_id": 111, "text": "<b>x", "parse_mode": "HTML"}, 400, "Can't find end tag"},
		"crossed tags":       {token, "sendMessage", map[string]any{"chat_id": 111, "text": "<b><i>x</b></i>", "parse_mode": "HTML"}, 400, "Unmatched end tag"},
		"unescaped <":        {token, "sendMessage", map[string]any{"chat_id": 111, "text": "a < b", "parse_mode": "HTML"}, 400, "can't parse entities"},
		"unescaped &":        {token, "sendMessage", map[string]any{"chat_id": 111, "text": "R&D", "parse_mode": "HTML"}, 400, "can't parse entities"},
		"callback data > 64": {token, "sendMessage", map[string]any{"chat_id": 111, "text": "x", "reply_markup": kb(map[string]string{"text": "A", "callback_data": strings.Repeat("d", 65)})}, 400, "BUTTON_DATA_INVALID"},
		"localhost button":   {token, "sendMessage", map[string]any{"chat_id": 111, "text": "x", "reply_markup": kb(map[string]string{"text": "A", "url": "http://localhost:8080/x"})}, 400, "Wrong HTTP URL"},
		"text button":        {token, "sendMessage", map[string]any{"chat_id": 111, "text": "x", "reply_markup": kb(map[string]string{"text": "A"})}, 400, "Text buttons are unallowed"},
		"edit unknown":       {token, "editMessageText", map[string]any{"chat_id": 111, "message_id": 77, "text": "x"}, 400, "message to edit not found"},
		"unknown query":      {token, "answerCallbackQuery", map[string]any{"callback_query_id": "42"}, 400, "query is too old"},
	} {
		r := call(t, f, tc.tok, tc.method, tc.params)
		if r.OK || r.Status != tc.status || !strings.Contains(r.Description, tc.want) {
			t.Errorf("%s: %d %q, want %d %q", name, r.Status, r.Description, tc.status, tc.want)
		}
	}
	if len(f.Messages()) != 0 {
		t.Fatalf("refused calls left messages: %+v", f.Messages())
	}
}

func kb(buttons ...map[string]string) map[string]any {
	return map[string]any{"inline_keyboard": [][]map[string]string{buttons}}
}

func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	f := telegramfake.New(t, token)
	f.AddUser(telegramfake.User{ID: 111, FirstName: "Alice"})
	f.Fail("sendMessage", telegramfake.Failure{Code: 429, RetryAfter: 3, Times: 1})
	r := call(t, f, token, "sendMessage", map[string]any{"chat_id": 111, "text": "x"})
	if r.Status != 429 || r.Parameters.RetryAfter != 3 || r.Description != "Too Many Requests: retry after 3" {
		t.Fatalf("429: %+v", r)
	}
	if r := call(t, f, token, "sendMessage", map[string]any{"chat_id": 111, "text": "x"}); !r.OK {
		t.Fatalf("a failure for one call lasted: %+v", r)
	}
	f.FailStatus("*", 500)
	if r := call(t, f, token, "getMe", nil); r.Status != 500 || r.Description != "Internal Server Error" {
		t.Fatalf("500: %+v", r)
	}
	f.Heal("*")
	if r := call(t, f, token, "getMe", nil); !r.OK || !strings.Contains(string(r.Result), `"is_bot":true`) {
		t.Fatalf("healed getMe: %+v", r)
	}
	if n := len(f.Calls("sendMessage")); n != 2 {
		t.Fatalf("%d sendMessage calls recorded", n)
	}
}
