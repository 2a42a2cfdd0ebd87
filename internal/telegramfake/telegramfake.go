// Package telegramfake is a fake Telegram for tests: an httptest server that speaks the
// Bot API's wire format (POST /bot<token>/<method> with a JSON, form or query-string body,
// answered with {"ok":true,"result":...} or {"ok":false,"error_code":400,"description":
// "Bad Request: ..."} and the same HTTP status), and builders of the webhook updates
// Telegram sends to a bot (an Update JSON with a callback_query, POSTed with the
// X-Telegram-Bot-Api-Secret-Token header).
//
// It keeps what a test needs to look at: every call, every message as it now stands (its
// plain text and entities as Telegram returns them, the HTML as sent, the inline keyboard,
// how often it was edited) and the answers to callback queries. It refuses what Telegram
// refuses: a wrong token (401 Unauthorized), an unknown chat, a person who has not started
// the bot or blocked it, malformed HTML, a text over 4096 characters, callback data over
// 64 bytes, a button URL whose host has no dot (Telegram's "Wrong HTTP URL"), an edit
// that changes nothing ("message is not modified"), a callback query answered twice. It
// can be told to fail a method with any error, for example 429 with
// parameters.retry_after, or 500.
//
// Methods: sendMessage, editMessageText, answerCallbackQuery and getMe; any other answers
// 404 {"ok":false,"error_code":404,"description":"Not Found"}.
package telegramfake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Bot is the fake's bot account, as getMe returns it and as the sender of its messages.
var Bot = User{ID: 7000000001, IsBot: true, FirstName: "hitl", Username: "hitl_test_bot"}

// User is a Telegram account.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a conversation: "private" (with one person; its id is theirs), "group",
// "supergroup" or "channel" (negative ids, e.g. -1001234567890).
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"` // public groups and channels, without "@"
	FirstName string `json:"first_name,omitempty"`
}

// Button is an inline keyboard button: a callback button or a URL button.
type Button struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
}

// Keyboard is an InlineKeyboardMarkup.
type Keyboard struct {
	InlineKeyboard [][]Button `json:"inline_keyboard"`
}

// Message is a message as Telegram returns it, plus what the fake keeps about it.
type Message struct {
	MessageID   int       `json:"message_id"`
	From        *User     `json:"from,omitempty"`
	SenderChat  *Chat     `json:"sender_chat,omitempty"` // channel posts
	Chat        Chat      `json:"chat"`
	Date        int64     `json:"date"`
	EditDate    int64     `json:"edit_date,omitempty"`
	Text        string    `json:"text,omitempty"` // plain, after parsing
	Entities    []Entity  `json:"entities,omitempty"`
	ReplyMarkup *Keyboard `json:"reply_markup,omitempty"`

	// HTML is the text as last sent, before parsing (with parse_mode HTML).
	HTML string `json:"-"`
	// ParseMode is the parse_mode it was last sent with ("" for plain text).
	ParseMode string `json:"-"`
	// Edits counts the editMessageText calls that changed it.
	Edits int `json:"-"`
}

// Buttons lists the texts of the message's inline keyboard buttons, row by row.
func (m Message) Buttons() []string {
	var out []string
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				out = append(out, b.Text)
			}
		}
	}
	return out
}

// Button finds a button by its text.
func (m Message) Button(text string) (Button, bool) {
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.Text == text {
					return b, true
				}
			}
		}
	}
	return Button{}, false
}

func (m *Message) clone() Message {
	c := *m
	if m.ReplyMarkup != nil {
		k := Keyboard{}
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			k.InlineKeyboard = append(k.InlineKeyboard, append([]Button(nil), row...))
		}
		c.ReplyMarkup = &k
	}
	c.Entities = append([]Entity(nil), m.Entities...)
	return c
}

// Call is one Bot API call as the fake received it.
type Call struct {
	Method string // as in the path: "sendMessage"
	// Params are the parameters: form values, or the members of a JSON body (strings
	// unquoted, anything else as JSON text).
	Params map[string]string
	// Status is the HTTP status answered; Response the JSON body.
	Status   int
	Response string
}

// OK reports whether the call succeeded.
func (c Call) OK() bool { return c.Status == http.StatusOK }

// Answer is an answerCallbackQuery call that Telegram accepted: the toast a person saw.
type Answer struct {
	QueryID   string
	User      User // who clicked
	Text      string
	ShowAlert bool
}

// Failure is an error the fake answers a method with. Code is the HTTP status and
// error_code; Description defaults to Telegram's for the code ("Too Many Requests: retry
// after 1" for 429, "Internal Server Error" for 500, ...); RetryAfter (429, default 1) and
// MigrateToChatID go in parameters. Times is how many calls fail; 0 means every call until
// Heal.
type Failure struct {
	Code            int
	Description     string
	RetryAfter      int
	MigrateToChatID int64
	Times           int
}

type query struct {
	user     User
	answered bool
}

// Server is the fake. Create with New; it closes with the test.
type Server struct {
	// URL is the server's base URL, the Bot API base for HITL_TELEGRAM_API_URL: methods
	// are at URL + "/bot<token>/<method>".
	URL string

	token string
	srv   *httptest.Server

	mu       sync.Mutex
	seq      int64
	calls    []Call
	fail     map[string]*Failure // by lowercase method, "*" for all
	chats    map[int64]*Chat
	users    map[int64]User
	blocked  map[int64]bool
	messages map[string]*Message // "chat/message_id"
	order    []*Message
	next     map[int64]int // next message_id per chat
	queries  map[string]*query
	answers  []Answer
}

// New starts a fake Telegram whose bot has the given token ("123456:ABC-DEF…").
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{token: token, fail: map[string]*Failure{}, chats: map[int64]*Chat{}, users: map[int64]User{},
		blocked: map[int64]bool{}, messages: map[string]*Message{}, next: map[int64]int{}, queries: map[string]*query{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

// AddUser makes u a person who has started the bot: the bot can write to them in their
// private chat, whose id is u.ID.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
	s.chats[u.ID] = &Chat{ID: u.ID, Type: "private", FirstName: u.FirstName, Username: u.Username}
}

// Block makes the person with this id block the bot: sending to them fails with 403.
func (s *Server) Block(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[userID] = true
}

// AddChat makes a group, supergroup or channel the bot is a member of.
func (s *Server) AddChat(c Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[c.ID] = &c
}

// Fail makes calls of method ("*" for all) answer with f from now on.
func (s *Server) Fail(method string, f Failure) {
	if f.Description == "" {
		switch f.Code {
		case http.StatusTooManyRequests:
			f.RetryAfter = max(f.RetryAfter, 1)
			f.Description = "Too Many Requests: retry after " + strconv.Itoa(f.RetryAfter)
		case http.StatusBadRequest:
			f.Description = "Bad Request: chat not found"
		case http.StatusForbidden:
			f.Description = "Forbidden: bot was blocked by the user"
		case http.StatusUnauthorized:
			f.Description = "Unauthorized"
		case http.StatusBadGateway:
			f.Description = "Bad Gateway"
		default:
			f.Description = http.StatusText(f.Code)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[strings.ToLower(method)] = &f
}

// FailStatus is Fail with Telegram's description for the code, every call until Heal.
func (s *Server) FailStatus(method string, code int) { s.Fail(method, Failure{Code: code}) }

// Heal undoes Fail for method ("*" for all).
func (s *Server) Heal(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fail, strings.ToLower(method))
}

// Calls returns the calls of method ("" for all), oldest first.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || strings.EqualFold(c.Method, method) {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns every message as it now stands, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.order))
	for i, m := range s.order {
		out[i] = m.clone()
	}
	return out
}

// Message returns the message with id in chat.
func (s *Server) Message(chat int64, id int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[msgKey(chat, id)]
	if !ok {
		return Message{}, false
	}
	return m.clone(), true
}

// Answers returns the accepted answerCallbackQuery calls, oldest first.
func (s *Server) Answers() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Answer(nil), s.answers...)
}

func msgKey(chat int64, id int) string { return strconv.FormatInt(chat, 10) + "/" + strconv.Itoa(id) }

// ---- the Bot API ----

type obj = map[string]any

type apiError struct {
	code        int
	description string
	parameters  obj
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		s.reply(w, "", nil, nil, &apiError{code: http.StatusNotFound, description: "Not Found"})
		return
	}
	params, err := readParams(r)
	if tok != s.token {
		s.reply(w, method, params, nil, &apiError{code: http.StatusUnauthorized, description: "Unauthorized"})
		return
	}
	if err != nil {
		s.reply(w, method, params, nil, badRequest("%v", err))
		return
	}
	lower := strings.ToLower(method)
	s.mu.Lock()
	f := s.fail[lower]
	if f == nil {
		f = s.fail["*"]
	}
	var injected *apiError
	if f != nil {
		injected = &apiError{code: f.Code, description: f.Description}
		p := obj{}
		if f.RetryAfter > 0 {
			p["retry_after"] = f.RetryAfter
		}
		if f.MigrateToChatID != 0 {
			p["migrate_to_chat_id"] = f.MigrateToChatID
		}
		if len(p) > 0 {
			injected.parameters = p
		}
		if f.Times > 0 {
			if f.Times--; f.Times == 0 {
				for k, v := range s.fail {
					if v == f {
						delete(s.fail, k)
					}
				}
			}
		}
	}
	s.mu.Unlock()
	if injected != nil {
		s.reply(w, method, params, nil, injected)
		return
	}
	var result any
	var aerr *apiError
	switch lower {
	case "sendmessage":
		result, aerr = s.sendMessage(params)
	case "editmessagetext":
		result, aerr = s.editMessageText(params)
	case "answercallbackquery":
		result, aerr = s.answerCallbackQuery(params)
	case "getme":
		result = Bot
	default:
		aerr = &apiError{code: http.StatusNotFound, description: "Not Found"}
	}
	s.reply(w, method, params, result, aerr)
}

func (s *Server) reply(w http.ResponseWriter, method string, params map[string]string, result any, aerr *apiError) {
	status := http.StatusOK
	body := obj{"ok": true, "result": result}
	if aerr != nil {
		status = aerr.code
		body = obj{"ok": false, "error_code": aerr.code, "description": aerr.description}
		if aerr.parameters != nil {
			body["parameters"] = aerr.parameters
		}
	}
	b, _ := json.Marshal(body)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Params: params, Status: status, Response: string(b)})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests {
		if ra, ok := aerr.parameters["retry_after"].(int); ok {
			w.Header().Set("Retry-After", strconv.Itoa(ra))
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readParams reads the query string and a JSON or form body, as the Bot API accepts them.
func readParams(r *http.Request) (map[string]string, error) {
	p := map[string]string{}
	for k := range r.URL.Query() {
		p[k] = r.URL.Query().Get(k)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil || len(body) == 0 {
		return p, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return p, fmt.Errorf("can't parse JSON: %v", err)
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p[k] = str
			} else {
				p[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded", "":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return p, fmt.Errorf("can't parse form: %v", err)
		}
		for k := range vals {
			p[k] = vals.Get(k)
		}
	default:
		return p, fmt.Errorf("content type %q is not supported by the fake", ct)
	}
	return p, nil
}

// chat resolves a chat_id parameter; s.mu is held.
func (s *Server) chat(param string) (*Chat, *apiError) {
	if param == "" {
		return nil, badRequest("chat_id is empty")
	}
	if name, ok := strings.CutPrefix(param, "@"); ok {
		for _, c := range s.chats {
			if c.Type != "private" && strings.EqualFold(c.Username, name) {
				return c, nil
			}
		}
		return nil, badRequest("chat not found")
	}
	id, err := strconv.ParseInt(param, 10, 64)
	if err != nil {
		return nil, badRequest("chat not found")
	}
	if s.blocked[id] {
		return nil, &apiError{code: http.StatusForbidden, description: "Forbidden: bot was blocked by the user"}
	}
	c, ok := s.chats[id]
	if !ok {
		return nil, badRequest("chat not found")
	}
	return c, nil
}

// text parses a text parameter with its parse_mode.
func text(p map[string]string) (string, []Entity, *apiError) {
	raw := p["text"]
	var plain string
	var ents []Entity
	switch strings.ToLower(p["parse_mode"]) {
	case "":
		plain = raw
	case "html":
		var err error
		if plain, ents, err = ParseHTML(raw); err != nil {
			return "", nil, badRequest("can't parse entities: %v", err)
		}
	default:
		return "", nil, badRequest("unsupported parse_mode %q (the fake speaks HTML and plain text)", p["parse_mode"])
	}
	switch {
	case strings.TrimSpace(plain) == "":
		return "", nil, badRequest("message text is empty")
	case utf16Len(plain) > 4096:
		return "", nil, badRequest("message is too long")
	}
	return plain, ents, nil
}

// keyboard parses a reply_markup parameter: nil for none (or an empty inline keyboard).
func keyboard(raw string) (*Keyboard, *apiError) {
	if raw == "" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	if _, ok := m["force_reply"]; ok {
		return nil, nil
	}
	ik, ok := m["inline_keyboard"]
	if !ok {
		return nil, badRequest("reply markup other than inline_keyboard and force_reply is not supported by the fake")
	}
	var rows [][]map[string]json.RawMessage
	if err := json.Unmarshal(ik, &rows); err != nil {
		return nil, badRequest("can't parse inline keyboard button: field \"inline_keyboard\" must be an Array of Arrays")
	}
	k := &Keyboard{}
	total := 0
	for _, row := range rows {
		var out []Button
		for _, raw := range row {
			var b Button
			for field, v := range raw {
				var sv string
				if err := json.Unmarshal(v, &sv); err != nil {
					return nil, badRequest("can't parse inline keyboard button: field %q must be of type String", field)
				}
				switch field {
				case "text":
					b.Text = sv
				case "url":
					b.URL = sv
				case "callback_data":
					b.CallbackData = sv
				default:
					return nil, badRequest("inline keyboard button field %q is not supported by the fake", field)
				}
			}
			_, hasURL := raw["url"]
			_, hasData := raw["callback_data"]
			switch {
			case b.Text == "":
				return nil, badRequest("can't parse inline keyboard button: Text must be non-empty")
			case !hasURL && !hasData:
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			case hasURL && hasData:
				return nil, badRequest("can't parse inline keyboard button: only one of the optional fields must be used")
			case hasData && (len(b.CallbackData) == 0 || len(b.CallbackData) > 64 || !utf8.ValidString(b.CallbackData)):
				return nil, badRequest("BUTTON_DATA_INVALID")
			case hasURL && !buttonURL(b.URL):
				return nil, badRequest("inline keyboard button URL '%s' is invalid: Wrong HTTP URL", b.URL)
			}
			out = append(out, b)
			total++
		}
		if len(out) > 0 {
			k.InlineKeyboard = append(k.InlineKeyboard, out)
		}
	}
	if total > 100 {
		return nil, badRequest("reply markup is too long")
	}
	if total == 0 {
		return nil, nil
	}
	return k, nil
}

// buttonURL reports whether Telegram takes u as a button's URL: http(s) with a host that
// has a dot (so not "localhost"), or tg://.
func buttonURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch p.Scheme {
	case "tg":
		return true
	case "http", "https":
		return strings.Contains(p.Hostname(), ".")
	}
	return false
}

func (s *Server) sendMessage(p map[string]string) (any, *apiError) {
	plain, ents, aerr := text(p)
	if aerr != nil {
		return nil, aerr
	}
	kb, aerr := keyboard(p["reply_markup"])
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.chat(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	s.next[c.ID]++
	m := &Message{MessageID: s.next[c.ID], Chat: *c, Date: time.Now().Unix(), Text: plain, Entities: ents,
		ReplyMarkup: kb, HTML: p["text"], ParseMode: p["parse_mode"]}
	if c.Type == "channel" {
		sc := *c
		m.SenderChat = &sc
	} else {
		bot := Bot
		m.From = &bot
	}
	s.messages[msgKey(c.ID, m.MessageID)] = m
	s.order = append(s.order, m)
	return m.clone(), nil
}

func (s *Server) editMessageText(p map[string]string) (any, *apiError) {
	if p["inline_message_id"] != "" {
		return nil, badRequest("inline messages are not supported by the fake")
	}
	plain, ents, aerr := text(p)
	if aerr != nil {
		return nil, aerr
	}
	kb, aerr := keyboard(p["reply_markup"])
	if aerr != nil {
		return nil, aerr
	}
	id, err := strconv.Atoi(p["message_id"])
	if err != nil || id <= 0 {
		return nil, badRequest("message identifier is not specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.chat(p["chat_id"])
	if aerr != nil {
		return nil, aerr
	}
	m, ok := s.messages[msgKey(c.ID, id)]
	if !ok {
		return nil, badRequest("message to edit not found")
	}
	if m.Text == plain && reflect.DeepEqual(normEntities(m.Entities), normEntities(ents)) && reflect.DeepEqual(m.ReplyMarkup, kb) {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.Entities, m.ReplyMarkup, m.HTML, m.ParseMode = plain, ents, kb, p["text"], p["parse_mode"]
	m.EditDate = time.Now().Unix()
	m.Edits++
	return m.clone(), nil
}

func normEntities(e []Entity) []Entity {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (s *Server) answerCallbackQuery(p map[string]string) (any, *apiError) {
	if utf8.RuneCountInString(p["text"]) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queries[p["callback_query_id"]]
	if !ok || q.answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	q.answered = true
	s.answers = append(s.answers, Answer{QueryID: p["callback_query_id"], User: q.user, Text: p["text"],
		ShowAlert: p["show_alert"] == "true"})
	return true, nil
}

// ---- updates ----

// CallbackQuery is what a click on a callback button sends to the bot.
type CallbackQuery struct {
	ID              string   `json:"id"`
	From            User     `json:"from"`
	Message         *Message `json:"message,omitempty"`
	InlineMessageID string   `json:"inline_message_id,omitempty"`
	ChatInstance    string   `json:"chat_instance"`
	Data            string   `json:"data,omitempty"`
}

// Update is one webhook update, as Telegram POSTs it to the bot's webhook.
type Update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *Message       `json:"message,omitempty"`
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`
}

// Click builds the update of u clicking, in the message as it now stands, the callback
// button whose text is label. The callback query it carries can be answered once.
func (s *Server) Click(chat int64, messageID int, u User, label string) (Update, error) {
	s.mu.Lock()
	m, ok := s.messages[msgKey(chat, messageID)]
	var msg Message
	if ok {
		msg = m.clone()
	}
	s.mu.Unlock()
	if !ok {
		return Update{}, fmt.Errorf("no message %d in chat %d", messageID, chat)
	}
	b, ok := msg.Button(label)
	switch {
	case !ok:
		return Update{}, fmt.Errorf("no button %q in message %d of chat %d (buttons: %q)", label, messageID, chat, msg.Buttons())
	case b.URL != "":
		return Update{}, fmt.Errorf("button %q opens %s: a URL button sends no callback", label, b.URL)
	}
	return s.CallbackUpdate(msg, u, b.CallbackData), nil
}

// CallbackUpdate builds the update of u clicking a button with data on msg, whatever the
// message's buttons are (for data no button carries).
func (s *Server) CallbackUpdate(msg Message, u User, data string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := strconv.FormatInt(time.Now().UnixNano()%1e12, 10) + strconv.FormatInt(s.seq, 10)
	s.queries[id] = &query{user: u}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", msg.Chat.ID, u.ID)
	inst := strconv.FormatInt(int64(h.Sum64()>>1), 10)
	m := msg.clone()
	return Update{UpdateID: 100000 + s.seq, CallbackQuery: &CallbackQuery{ID: id, From: u, Message: &m, ChatInstance: inst, Data: data}}
}

// TextMessage builds the update of u writing text in chat.
func (s *Server) TextMessage(chat Chat, u User, text string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	from := u
	return Update{UpdateID: 100000 + s.seq, Message: &Message{MessageID: 90000 + int(s.seq), From: &from, Chat: chat,
		Date: time.Now().Unix(), Text: text}}
}

// Body is the update's JSON.
func (u Update) Body() []byte {
	b, _ := json.Marshal(u)
	return b
}
