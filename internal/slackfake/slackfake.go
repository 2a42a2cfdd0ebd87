// Package slackfake is a fake Slack for tests: an httptest server that speaks the Web API's
// wire format (form-encoded or JSON POSTs to /api/<method>, answered with Slack's JSON
// envelope {"ok": true, ...} or {"ok": false, "error": "..."}), plus response_url endpoints,
// and builders of the signed interaction requests Slack sends to an app (block_actions,
// view_submission) in Slack's own format: a form body payload=<url-encoded JSON> with
// X-Slack-Signature and X-Slack-Request-Timestamp.
//
// It keeps what a test needs to look at: every call, every message as it now stands, the
// modals opened and the ephemeral replies. It checks the token (a bearer header, or the
// token form field as slack-go sends it), refuses what real Slack refuses (an unknown
// channel, malformed Block Kit, an unknown or expired trigger_id), and can be told to fail
// a method with a Slack error or an HTTP status.
//
// Methods: chat.postMessage, chat.update, chat.postEphemeral, views.open,
// conversations.open and auth.test; any other answers {"ok": false, "error": "unknown_method"}.
package slackfake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Team, app and bot ids the fake uses in its answers and payloads.
const (
	TeamID   = "T0FAKETEAM"
	TeamName = "fake-team"
	AppID    = "A0FAKEAPP"
	BotID    = "B0FAKEBOT"
	BotUser  = "U0FAKEBOT"
)

// Call is one Web API call as the fake received it.
type Call struct {
	Method string // "chat.postMessage"
	// Args are the form values, or the members of a JSON body (non-strings as JSON text).
	// "blocks" and "view" are JSON text either way.
	Args map[string]string
	// Response is the JSON the fake answered.
	Response string
}

// OK reports whether the call succeeded ({"ok": true}).
func (c Call) OK() bool {
	var r struct {
		OK bool `json:"ok"`
	}
	return json.Unmarshal([]byte(c.Response), &r) == nil && r.OK
}

// Error is the Slack error the call was answered with, or "HTTP <status>", "" on success.
func (c Call) Error() string {
	if strings.HasPrefix(c.Response, "HTTP ") {
		return c.Response
	}
	var r struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal([]byte(c.Response), &r)
	return r.Error
}

// Message is a message as it now stands in a channel.
type Message struct {
	Channel string          // channel id, "C…" or "D…"
	TS      string          // its timestamp, Slack's message id
	Text    string          // fallback text
	Blocks  json.RawMessage // Block Kit, as last posted or updated
	Updates int             // how many chat.update calls changed it
}

// Ephemeral is a reply only one user sees: chat.postEphemeral, or a response_url post.
type Ephemeral struct {
	Via     string // "chat.postEphemeral" or "response_url"
	Channel string
	User    string
	Text    string
	Blocks  json.RawMessage
	// ResponseType and ReplaceOriginal as posted to a response_url.
	ResponseType    string
	ReplaceOriginal bool
}

// View is a modal opened with views.open.
type View struct {
	ID        string
	User      string          // who it was opened for (the trigger's user)
	View      json.RawMessage // the view object as sent, with id, team_id and state added
	TriggerID string
}

type failure struct {
	code   string // Slack error
	status int    // or an HTTP status
}

type trigger struct {
	user    string
	expires time.Time
}

type hook struct {
	channel, user string
	uses          int
}

// Server is the fake. Create with New; it closes with the test.
type Server struct {
	// URL is the server's base URL. The Web API is under APIURL.
	URL string
	// APIURL is the Web API base for slack-go's OptionAPIURL and HITL_SLACK_API_URL: URL+"/api/".
	APIURL string
	// TriggerTTL is how long a trigger_id can open a modal. Default 3 s, as in Slack.
	TriggerTTL time.Duration

	token string
	srv   *httptest.Server

	mu         sync.Mutex
	seq        int
	calls      []Call
	fail       map[string]failure
	channels   map[string]string // name → id
	names      map[string]string // id → name
	messages   map[string]*Message
	order      []*Message
	views      map[string]*View
	viewOrder  []*View
	triggers   map[string]trigger
	ephemerals []Ephemeral
	hooks      map[string]*hook
}

// New starts a fake Slack that accepts token.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{token: token, TriggerTTL: 3 * time.Second, fail: map[string]failure{},
		channels: map[string]string{}, names: map[string]string{}, messages: map[string]*Message{},
		views: map[string]*View{}, triggers: map[string]trigger{}, hooks: map[string]*hook{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.api)
	mux.HandleFunc("POST /response/{id}", s.responseURL)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	s.APIURL = s.srv.URL + "/api/"
	return s
}

// AddChannel makes a public channel named name (without "#") exist, and returns its id.
func (s *Server) AddChannel(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimPrefix(name, "#")
	if id, ok := s.channels[name]; ok {
		return id
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	id := fmt.Sprintf("C%08X", h.Sum32())
	s.channels[name] = id
	s.names[id] = name
	return id
}

// ChannelID returns the id of channel name ("ops" or "#ops"), or "".
func (s *Server) ChannelID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[strings.TrimPrefix(name, "#")]
}

// DMChannel is the id of the bot's direct-message channel with user.
func DMChannel(user string) string { return "D" + strings.TrimLeft(user, "UW") + "DM" }

// FailWith makes every call of method ("*" for all) answer {"ok": false, "error": code}
// from now on, as Slack does for channel_not_found, not_in_channel, invalid_auth,
// ratelimited, ...
func (s *Server) FailWith(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = failure{code: code}
}

// FailStatus makes every call of method ("*" for all) answer with HTTP status from now on:
// 429 (with Retry-After: 1, as Slack rate limits), or 5xx.
func (s *Server) FailStatus(method string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = failure{status: status}
}

// Heal undoes FailWith and FailStatus for method ("*" for all).
func (s *Server) Heal(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fail, method)
}

// Calls returns the calls of method ("" for all), oldest first.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
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
		out[i] = *m
	}
	return out
}

// Message returns the message at channel id and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel+"/"+ts]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Views returns the modals opened, oldest first.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, len(s.viewOrder))
	for i, v := range s.viewOrder {
		out[i] = *v
	}
	return out
}

// Ephemerals returns the ephemeral replies, oldest first.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.ephemerals...)
}

// ---- the Web API ----

type args map[string]string

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	a, bearer, err := readArgs(r)
	if err != nil {
		s.answer(w, method, a, http.StatusOK, obj{"ok": false, "error": "invalid_arguments"})
		return
	}
	tok := bearer
	if tok == "" {
		tok = a["token"]
	}
	delete(a, "token")
	switch {
	case tok == "":
		s.answer(w, method, a, http.StatusOK, obj{"ok": false, "error": "not_authed"})
		return
	case tok != s.token:
		s.answer(w, method, a, http.StatusOK, obj{"ok": false, "error": "invalid_auth"})
		return
	}
	s.mu.Lock()
	f, failing := s.fail[method]
	if !failing {
		f, failing = s.fail["*"]
	}
	s.mu.Unlock()
	if failing {
		if f.status != 0 {
			if f.status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			s.record(method, a, fmt.Sprintf("HTTP %d", f.status))
			http.Error(w, http.StatusText(f.status), f.status)
			return
		}
		s.answer(w, method, a, http.StatusOK, obj{"ok": false, "error": f.code})
		return
	}
	var res obj
	switch method {
	case "chat.postMessage":
		res = s.postMessage(a)
	case "chat.update":
		res = s.update(a)
	case "chat.postEphemeral":
		res = s.postEphemeral(a)
	case "views.open":
		res = s.openView(a)
	case "conversations.open":
		res = s.openConversation(a)
	case "auth.test":
		res = obj{"ok": true, "url": "https://" + TeamName + ".slack.com/", "team": TeamName, "user": "hitl",
			"team_id": TeamID, "user_id": BotUser, "bot_id": BotID}
	default:
		res = obj{"ok": false, "error": "unknown_method"}
	}
	s.answer(w, method, a, http.StatusOK, res)
}

type obj = map[string]any

func (s *Server) answer(w http.ResponseWriter, method string, a args, status int, res obj) {
	b, _ := json.Marshal(res)
	s.record(method, a, string(b))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) record(method string, a args, res string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: method, Args: a, Response: res})
}

// readArgs reads a form or JSON body, and the bearer token if one is given.
func readArgs(r *http.Request) (args, string, error) {
	a := args{}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return a, bearer, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return a, bearer, err
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				a[k] = str
			} else {
				a[k] = string(v)
			}
		}
		return a, bearer, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return a, bearer, err
	}
	for k := range vals {
		a[k] = vals.Get(k)
	}
	return a, bearer, nil
}

// nextTS returns a fresh message timestamp; s.mu is held.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
}

// resolveChannel maps a chat.postMessage channel argument to a channel id; s.mu is held.
func (s *Server) resolveChannel(ch string, allowNames bool) (string, bool) {
	switch {
	case ch == "":
		return "", false
	case strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W"):
		return DMChannel(ch), allowNames // posting to a user id posts in the app's DM with them
	case strings.HasPrefix(ch, "D"):
		return ch, true
	}
	if _, ok := s.names[ch]; ok {
		return ch, true
	}
	if !allowNames {
		return "", false
	}
	id, ok := s.channels[strings.TrimPrefix(ch, "#")]
	return id, ok
}

func (s *Server) postMessage(a args) obj {
	if a["text"] == "" && a["blocks"] == "" {
		return obj{"ok": false, "error": "no_text"}
	}
	blocks, err := checkBlocks(a["blocks"], "message")
	if err != nil {
		return obj{"ok": false, "error": "invalid_blocks", "errors": []string{err.Error()}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.resolveChannel(a["channel"], true)
	if !ok {
		return obj{"ok": false, "error": "channel_not_found"}
	}
	m := &Message{Channel: ch, TS: s.nextTS(), Text: a["text"], Blocks: blocks}
	s.messages[ch+"/"+m.TS] = m
	s.order = append(s.order, m)
	return obj{"ok": true, "channel": ch, "ts": m.TS, "message": wireMessage(m)}
}

func wireMessage(m *Message) obj {
	out := obj{"type": "message", "subtype": "bot_message", "text": m.Text, "user": BotUser, "bot_id": BotID,
		"app_id": AppID, "team": TeamID, "ts": m.TS}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	return out
}

func (s *Server) update(a args) obj {
	blocks, err := checkBlocks(a["blocks"], "message")
	if err != nil {
		return obj{"ok": false, "error": "invalid_blocks", "errors": []string{err.Error()}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.resolveChannel(a["channel"], false)
	if !ok {
		return obj{"ok": false, "error": "channel_not_found"}
	}
	m, ok := s.messages[ch+"/"+a["ts"]]
	if !ok {
		return obj{"ok": false, "error": "message_not_found"}
	}
	if a["text"] == "" && a["blocks"] == "" {
		return obj{"ok": false, "error": "no_text"}
	}
	m.Text = a["text"]
	if a["blocks"] != "" {
		m.Blocks = blocks
	}
	m.Updates++
	return obj{"ok": true, "channel": ch, "ts": m.TS, "text": m.Text, "message": wireMessage(m)}
}

func (s *Server) postEphemeral(a args) obj {
	if a["text"] == "" && a["blocks"] == "" {
		return obj{"ok": false, "error": "no_text"}
	}
	blocks, err := checkBlocks(a["blocks"], "message")
	if err != nil {
		return obj{"ok": false, "error": "invalid_blocks", "errors": []string{err.Error()}}
	}
	if a["user"] == "" {
		return obj{"ok": false, "error": "user_not_found"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.resolveChannel(a["channel"], true)
	if !ok {
		return obj{"ok": false, "error": "channel_not_found"}
	}
	s.ephemerals = append(s.ephemerals, Ephemeral{Via: "chat.postEphemeral", Channel: ch, User: a["user"],
		Text: a["text"], Blocks: blocks})
	return obj{"ok": true, "message_ts": s.nextTS()}
}

func (s *Server) openConversation(a args) obj {
	users := a["users"]
	if users == "" || strings.Contains(users, ",") {
		return obj{"ok": false, "error": "users_list_not_supplied"}
	}
	if !strings.HasPrefix(users, "U") && !strings.HasPrefix(users, "W") {
		return obj{"ok": false, "error": "user_not_found"}
	}
	return obj{"ok": true, "channel": obj{"id": DMChannel(users), "is_im": true, "user": users}}
}

func (s *Server) openView(a args) obj {
	tid := a["trigger_id"]
	s.mu.Lock()
	tr, known := s.triggers[tid]
	s.mu.Unlock()
	switch {
	case tid == "" || !known:
		return obj{"ok": false, "error": "invalid_trigger_id"}
	case time.Now().After(tr.expires):
		return obj{"ok": false, "error": "expired_trigger_id"}
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(a["view"]), &view); err != nil {
		return obj{"ok": false, "error": "invalid_arguments"}
	}
	if err := checkView(view); err != nil {
		return obj{"ok": false, "error": "invalid_arguments", "response_metadata": obj{"messages": []string{err.Error()}}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.triggers, tid) // a trigger opens one modal
	s.seq++
	id := fmt.Sprintf("V%09d", s.seq)
	view["id"], view["team_id"], view["app_id"], view["bot_id"] = id, TeamID, AppID, BotID
	view["state"] = obj{"values": obj{}}
	view["hash"] = fmt.Sprintf("%d.%08x", time.Now().Unix(), s.seq)
	view["root_view_id"] = id
	b, _ := json.Marshal(view)
	v := &View{ID: id, User: tr.user, View: b, TriggerID: tid}
	s.views[id] = v
	s.viewOrder = append(s.viewOrder, v)
	return obj{"ok": true, "view": json.RawMessage(b)}
}

// ---- response_url ----

// newHook registers a response_url for a user in a channel; s.mu is held.
func (s *Server) newHook(channel, user string) string {
	s.seq++
	id := strconv.Itoa(s.seq) + "x" + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	s.hooks[id] = &hook{channel: channel, user: user}
	return s.URL + "/response/" + id
}

func (s *Server) responseURL(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hooks[r.PathValue("id")]
	switch {
	case !ok:
		http.Error(w, "no_active_hooks", http.StatusNotFound)
		return
	case h.uses >= 5: // Slack allows five uses of a response_url
		http.Error(w, "used_url", http.StatusNotFound)
		return
	}
	if body.Blocks != nil && string(body.Blocks) != "null" {
		if _, err := checkBlocks(string(body.Blocks), "message"); err != nil {
			http.Error(w, "invalid_blocks", http.StatusBadRequest)
			return
		}
	}
	h.uses++
	s.ephemerals = append(s.ephemerals, Ephemeral{Via: "response_url", Channel: h.channel, User: h.user,
		Text: body.Text, Blocks: body.Blocks, ResponseType: body.ResponseType, ReplaceOriginal: body.ReplaceOriginal})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}
