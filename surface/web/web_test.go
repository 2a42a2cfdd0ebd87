package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
)

const secret = "0123456789abcdef0123456789abcdef"

// bundle is the inbox on a real JetStream, behind a real HTTP server.
type bundle struct {
	t    *testing.T
	st   *store.Store
	srv  *Server
	http *httptest.Server
	logs *logBuffer
}

// setup starts JetStream and the inbox. Without tokens, visitors without a link are
// operators (hitl dev); routes know the email and webhook channels and group "finance".
func setup(t *testing.T, tokens ...string) *bundle {
	t.Helper()
	return setupWith(t, nil, tokens...)
}

// setupWith is setup with more of the inbox's config set by edit.
func setupWith(t *testing.T, edit func(*Config), tokens ...string) *bundle {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := routing.New([]string{"email", "webhook"}, map[string][]string{"finance": {"email:fin@example.com"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{t: t}
	cfg := Config{Store: st, LinkSecret: []byte(secret), Tokens: tokens, Routes: func() *routing.Routes { return rt },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range srv.Routes() {
		mux.Handle(p, h)
	}
	b := &bundle{t: t, st: st, srv: srv, http: httptest.NewServer(mux), logs: logs}
	t.Cleanup(b.http.Close)
	return b
}

// logBuffer sends logs to t.Log and keeps them for assertions.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// create stores a pending request.
func (b *bundle) create(r events.Request) *events.Request {
	b.t.Helper()
	r.ID = uuid.NewString()
	if r.Title == "" {
		r.Title = "Question " + string(r.Input.Type)
	}
	if err := b.st.CreateRequest(context.Background(), &r); err != nil {
		b.t.Fatal(err)
	}
	return &r
}

func (b *bundle) request(id string) *events.Request {
	b.t.Helper()
	r, _, err := b.st.Request(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

func (b *bundle) link(id, subject string, exp time.Time) string {
	b.t.Helper()
	tok, err := linktoken.Sign([]byte(secret), linktoken.Claims{RequestID: id, Subject: subject, Expires: exp.Unix()})
	if err != nil {
		b.t.Fatal(err)
	}
	return tok
}

// client is a browser: it keeps cookies and does not follow redirects, so tests see them.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (b *bundle) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: b.t, base: b.http.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	body   string
	header http.Header
}

func (c *client) do(method, path string, form url.Values, hdr ...string) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func (c *client) get(path string) response { return c.do("GET", path, nil) }

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf reads the form's CSRF token from a page.
func (p response) csrf(t *testing.T) string {
	t.Helper()
	m := csrfField.FindAllStringSubmatch(p.body, -1)
	if m == nil {
		t.Fatalf("no CSRF field in page (%d):\n%s", p.status, p.body)
	}
	return m[len(m)-1][1] // the page's own form comes after the header's sign-out button
}

func (p response) mustContain(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			t.Errorf("page (%d) lacks %q", p.status, w)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", p.body)
	}
}

func (p response) mustNotContain(t *testing.T, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(p.body, w) {
			t.Errorf("page (%d) has %q", p.status, w)
		}
	}
}

// answer opens the request's page and posts fields to it, with the page's CSRF token.
func (c *client) answer(path string, fields url.Values) response {
	c.t.Helper()
	form := c.get(path)
	if form.status != http.StatusOK {
		c.t.Fatalf("GET %s: %d\n%s", path, form.status, form.body)
	}
	fields.Set("_csrf", form.csrf(c.t))
	return c.do("POST", path, fields)
}

func jsonEqual(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	g, err1 := input.Canonical(got)
	w, err2 := input.Canonical(json.RawMessage(want))
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
		t.Errorf("answer = %s, want %s", got, want)
	}
}

func intp(n int) *int           { return &n }
func floatp(f float64) *float64 { return &f }
func vals(kv ...string) url.Values { // "k", "v", "k", "v2": repeated keys give several values
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

var (
	refundMethods = []input.Option{{ID: "original", Label: "Original payment method"},
		{ID: "store_credit", Label: "Store credit", Description: "Spend within a year"}, {ID: "bank", Label: "Bank transfer"}}
	channels = []input.Option{{ID: "email", Label: "Email"}, {ID: "sms", Label: "SMS"}, {ID: "push", Label: "Push"}}
	budget   = input.Spec{Type: input.Form, Fields: []input.Field{
		{ID: "budget", Type: input.FieldNumber, Name: "Approved Budget (USD)", Data: input.FieldData{Description: "Enter the approved budget"}},
		{ID: "notes", Type: input.FieldString, Name: "Reviewer Notes", Data: input.FieldData{Description: "Optional comments"}},
		{ID: "approved", Type: input.FieldBoolean, Name: "Approve", Data: input.FieldData{Description: "Approve this request?"}, Required: true},
		{ID: "tier", Type: input.FieldSelect, Name: "Tier", Options: []input.Option{{ID: "gold", Label: "Gold"}, {ID: "silver", Label: "Silver"}}},
	}}
	proposed     = json.RawMessage(`{"order_id": "A-1001", "amount": 149.99, "method": "original"}`)
	actionSchema = json.RawMessage(`{"type": "object", "properties": {"order_id": {"const": "A-1001"},
		"amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 149.99},
		"method": {"enum": ["original", "store_credit", "bank"]}}, "required": ["order_id", "amount", "method"],
		"additionalProperties": false}`)
	jsonSchema = json.RawMessage(`{"type": "object", "properties": {"confirmation": {"type": "string", "enum": ["yes", "no"]},
		"reason": {"type": "string"}}, "required": ["confirmation"]}`)
)

// TestInboxEveryInputType renders the form of every input type, submits it as a browser
// would, and checks the answer that went through the gate.
func TestInboxEveryInputType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name     string
		spec     input.Spec
		renders  []string // fragments of the form
		submit   url.Values
		want     string // the answer recorded, as JSON
		resolved []string
		verdict  string // the outcome's headline word, "Answered" when empty
	}{
		{name: "approval approve with comment", spec: input.Spec{Type: input.Approval},
			renders: []string{`<button type="submit" name="_action" value="approve" class="approve">Approve</button>`,
				`<button type="submit" name="_action" value="reject" class="reject">Reject</button>`,
				`<label for="comment">Comment</label>`, `<textarea id="comment" name="comment"`},
			submit: vals("_action", "approve", "comment", "lgtm\r\nship it"), want: `{"approved": true, "comment": "lgtm\nship it"}`,
			resolved: []string{"Approve (approved)", "lgtm\nship it"}, verdict: "Approved"},
		{name: "approval labels and reject", spec: input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}, RequireCommentOnReject: true},
			renders: []string{`value="approve" class="approve">Ship it</button>`, `value="reject" class="reject">Hold</button>`, "Required if you reject: say why."},
			submit:  vals("_action", "reject", "comment", "not reversible"), want: `{"approved": false, "comment": "not reversible"}`,
			resolved: []string{"Hold (rejected)"}, verdict: "Rejected"},
		{name: "approval edit then approve", spec: input.Spec{Type: input.Approval, Proposed: proposed, ActionSchema: actionSchema},
			renders: []string{`<textarea id="edited" name="edited"`, `&#34;amount&#34;: 149.99`, `value="edit" class="approve secondary">Approve with my edits</button>`,
				"What the JSON must look like (JSON Schema)"},
			submit:   vals("_action", "edit", "edited", `{"order_id": "A-1001", "amount": 120, "method": "store_credit"}`),
			want:     `{"approved": true, "edited": {"order_id": "A-1001", "amount": 120, "method": "store_credit"}}`,
			resolved: []string{"Approve (approved), with edits", "&#34;amount&#34;: 120"}, verdict: "Approved with changes"},
		{name: "approval approve as proposed", spec: input.Spec{Type: input.Approval, Proposed: proposed},
			submit: vals("_action", "approve", "edited", `{"whatever": 1}`, "comment", "  "), want: `{"approved": true}`, verdict: "Approved"},
		{name: "boolean", spec: input.Spec{Type: input.Boolean},
			renders: []string{`<input type="radio" id="answer-yes" name="answer" value="true"`, `<label for="answer-no">No</label>`},
			submit:  vals("answer", "false"), want: `false`, resolved: []string{`<p class="answer-text">No</p>`}},
		{name: "text", spec: input.Spec{Type: input.Text, MaxLength: intp(12), MinLength: intp(2)},
			renders: []string{`<input type="text" id="answer" name="answer" value="" maxlength="12" minlength="2" required`, "2 to 12 characters."},
			submit:  vals("answer", "120.00"), want: `"120.00"`, resolved: []string{"120.00"}},
		{name: "text multiline", spec: input.Spec{Type: input.Text, Multiline: true, Pattern: "^[a-z\\n]+$"},
			renders: []string{`<textarea id="answer" name="answer" rows="6" maxlength="100000" required`, "Several lines are fine.", "Must match the pattern"},
			submit:  vals("answer", "line\r\nother"), want: `"line\nother"`},
		{name: "number", spec: input.Spec{Type: input.Number, Min: floatp(0), Max: floatp(500), Integer: true},
			renders: []string{`<input type="number" id="answer" name="answer" value="" inputmode="decimal" min="0" max="500" step="1" required`, "A whole number from 0 to 500."},
			submit:  vals("answer", " 120 "), want: `120`, resolved: []string{`<p class="answer-text">120</p>`}},
		{name: "number decimal", spec: input.Spec{Type: input.Number},
			renders: []string{`step="any"`}, submit: vals("answer", "12.5"), want: `12.5`},
		{name: "select", spec: input.Spec{Type: input.Select, Options: refundMethods},
			renders: []string{`<input type="radio" id="answer-1" name="answer" value="store_credit" required aria-describedby="answer-1-desc">`,
				`<label for="answer-1">Store credit</label>`, `<p class="hint choice-hint" id="answer-1-desc">Spend within a year</p>`},
			submit: vals("answer", "store_credit"), want: `"store_credit"`, resolved: []string{`<p class="answer-text">Store credit</p>`}},
		{name: "select other", spec: input.Spec{Type: input.Select, Options: refundMethods, AllowCustom: true},
			renders: []string{`<input type="radio" id="answer-other-choice" name="answer" value=""`, `<input type="text" id="answer-other" name="answer_other" value="" maxlength="1000"`},
			submit:  vals("answer", "", "answer_other", " paypal "), want: `"paypal"`, resolved: []string{"Other: paypal"}},
		{name: "multiselect", spec: input.Spec{Type: input.MultiSelect, Options: channels, MinPicks: intp(1), MaxPicks: intp(2)},
			renders: []string{`<input type="checkbox" id="answer-0" name="answer" value="email"`, `<label for="answer-2">Push</label>`, "Choose 1 to 2."},
			submit:  vals("answer", "email", "answer", "sms"), want: `["email", "sms"]`, resolved: []string{"<li>Email</li><li>SMS</li>"}},
		{name: "multiselect other and none", spec: input.Spec{Type: input.MultiSelect, Options: channels, AllowCustom: true},
			renders: []string{`<label for="answer-other">Other (optional)</label>`},
			submit:  vals("answer", "push", "answer_other", "pigeon"), want: `["push", "pigeon"]`},
		{name: "multiselect nothing", spec: input.Spec{Type: input.MultiSelect, Options: channels},
			submit: vals("_action", "submit"), want: `[]`, resolved: []string{"None chosen."}},
		{name: "form", spec: budget,
			renders: []string{`<label for="field-0">Approved Budget (USD)</label>`, `<p class="hint" id="field-0-hint">Enter the approved budget</p>`,
				`<input type="number" id="field-0" name="f0"`, `<textarea id="field-1" name="f1"`,
				`<legend>Approve <span class="req">(required)</span></legend>`, `<input type="radio" id="field-3-0" name="f3" value="gold"`},
			submit: vals("f0", "1500", "f1", "", "f2", "true", "f3", "gold"), want: `{"budget": 1500, "approved": true, "tier": "gold"}`,
			resolved: []string{"<dt>Approved Budget (USD)</dt><dd>1500</dd>", "<dt>Approve</dt><dd>Yes</dd>", "<dt>Tier</dt><dd>Gold</dd>"}},
		{name: "json", spec: input.Spec{Type: input.JSON, Schema: jsonSchema},
			renders: []string{`<label for="answer">Your answer (JSON) <span class="req">(required)</span></label>`, `<textarea id="answer" name="answer" rows="8" class="mono"`},
			submit:  vals("answer", `{"confirmation": "yes", "reason": "<ok>"}`), want: `{"confirmation": "yes", "reason": "<ok>"}`,
			resolved: []string{"&lt;ok&gt;"}},
		{name: "skippable skip", spec: input.Spec{Type: input.Select, Options: refundMethods, Skippable: true},
			renders: []string{`<button type="submit" name="_action" value="skip" class="secondary">Skip this question</button>`},
			submit:  vals("_action", "skip", "answer", "bank"), want: `null`, resolved: []string{"Skipped: no answer was given."}, verdict: "Skipped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := b.create(events.Request{Title: "Q: " + tc.name, Message: "Line one\nline <two>\n\nSecond paragraph",
				Context: map[string]any{"order_id": "A-1001", "total": 149.99}, Input: tc.spec})
			c := b.client()
			c.t = t
			path := "/inbox/requests/" + req.ID
			form := c.get(path)
			if form.status != http.StatusOK {
				t.Fatalf("GET: %d\n%s", form.status, form.body)
			}
			form.mustContain(t, append(tc.renders, `<html lang="en">`, "<h1>Q: "+tc.name,
				"<p>Line one<br>\nline &lt;two&gt;</p>\n<p>Second paragraph</p>",
				"<dt>order_id</dt><dd>A-1001</dd>", "<dt>total</dt><dd>149.99</dd>", `novalidate`)...)
			if f := tc.submit; !f.Has("_action") {
				f.Set("_action", "submit")
			}
			tc.submit.Set("_csrf", form.csrf(t))
			res := c.do("POST", path, tc.submit)
			if res.status != http.StatusSeeOther {
				t.Fatalf("POST: %d, want 303\n%s", res.status, res.body)
			}
			got := b.request(req.ID)
			if got.Status != events.StatusAnswered || got.Response == nil {
				t.Fatalf("request is %s", got.Status)
			}
			jsonEqual(t, got.Response.Data, tc.want)
			if got.Response.Responder != routing.Operator || got.Response.InputHash == "" {
				t.Errorf("responder %q, input_hash %q", got.Response.Responder, got.Response.InputHash)
			}
			done := c.get(res.header.Get("Location"))
			done.mustContain(t, append(tc.resolved, cmp.Or(tc.verdict, "Answered")+" by <strong>api</strong> (you)")...)
			done.mustNotContain(t, "<form method=\"post\" action=\"/inbox/requests/")
		})
	}
}

// TestInboxValidationErrors: a refused answer shows the form again with what was typed and
// each error beside its field, and changes nothing.
func TestInboxValidationErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		name   string
		spec   input.Spec
		submit url.Values
		want   []string
	}{
		{name: "text too long", spec: input.Spec{Type: input.Text, MaxLength: intp(12)}, submit: vals("answer", "1234567890123"),
			want: []string{`<p class="error" id="answer-error"><span class="visually-hidden">Error: </span>The answer must be at most 12 characters (got 13).</p>`,
				`value="1234567890123"`, `aria-invalid="true" aria-describedby="answer-hint answer-error"`,
				`<a href="#answer">The answer must be at most 12 characters (got 13).</a>`}},
		{name: "nothing selected", spec: input.Spec{Type: input.Select, Options: refundMethods}, submit: vals(),
			want: []string{`<fieldset class="field invalid" id="answer" aria-describedby="answer-error">`,
				"An answer is required (this question cannot be skipped).", `value="original" required aria-invalid="true" aria-describedby="answer-error"`,
				`value="store_credit" required aria-invalid="true" aria-describedby="answer-1-desc answer-error"`,
				`<a href="#answer-0">`}},
		{name: "not a number", spec: input.Spec{Type: input.Number, Max: floatp(10)}, submit: vals("answer", "ten"),
			want: []string{"The answer must be a number, like 42 or 12.5.", `value="ten"`}},
		{name: "number out of range", spec: input.Spec{Type: input.Number, Max: floatp(10)}, submit: vals("answer", "11"),
			want: []string{"The answer must be at most 10.", `value="11"`}},
		{name: "too many picks", spec: input.Spec{Type: input.MultiSelect, Options: channels, MaxPicks: intp(1)},
			submit: vals("answer", "email", "answer", "sms"),
			want:   []string{"The answer must pick at most 1 (got 2).", `value="email" checked aria-invalid="true"`, `value="sms" checked`}},
		{name: "form fields", spec: budget, submit: vals("f0", "lots", "f1", "kept"),
			want: []string{`<p class="error" id="field-0-error"><span class="visually-hidden">Error: </span>Approved Budget (USD) must be a number, like 42 or 12.5.</p>`,
				`<input type="number" id="field-0" name="f0" value="lots"`, `>kept</textarea>`}},
		{name: "form required", spec: budget, submit: vals("f0", "10"),
			want: []string{`<p class="error" id="field-2-error"><span class="visually-hidden">Error: </span>Approve is required.</p>`,
				`<fieldset class="field invalid" id="field-2" aria-describedby="field-2-hint field-2-error">`, `<a href="#field-2-yes">Approve is required.</a>`}},
		{name: "reject needs a comment", spec: input.Spec{Type: input.Approval, RequireCommentOnReject: true},
			submit: vals("_action", "reject", "comment", "  "),
			want:   []string{`<p class="error" id="comment-error"><span class="visually-hidden">Error: </span>Comment is required when rejecting: say why.</p>`}},
		{name: "edited is not JSON", spec: input.Spec{Type: input.Approval, Proposed: proposed},
			submit: vals("_action", "edit", "edited", `{"amount": }`),
			want:   []string{`id="edited-error"`, "Proposed action (JSON) is not valid JSON (at character 12)", `{&#34;amount&#34;: }</textarea>`}},
		{name: "edited breaks the schema", spec: input.Spec{Type: input.Approval, Proposed: proposed, ActionSchema: actionSchema},
			submit: vals("_action", "edit", "edited", `{"order_id": "A-1001", "amount": 500, "method": "cash"}`),
			want:   []string{"amount must be at most 149.99.", `method: &#34;cash&#34; is not one of the options`}},
		{name: "json schema", spec: input.Spec{Type: input.JSON, Schema: jsonSchema}, submit: vals("answer", `{"reason": "x"}`),
			want: []string{"confirmation is required."}},
		{name: "json not json", spec: input.Spec{Type: input.JSON, Schema: jsonSchema}, submit: vals("answer", `yes`),
			want: []string{"The answer is not valid JSON"}},
		{name: "skippable submitted empty", spec: input.Spec{Type: input.Boolean, Skippable: true}, submit: vals(),
			want: []string{"The answer needs an answer: choose or type one, or press “Skip this question”."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := b.create(events.Request{Input: tc.spec})
			c := b.client()
			c.t = t
			if !tc.submit.Has("_action") {
				tc.submit.Set("_action", "submit")
			}
			res := c.answer("/inbox/requests/"+req.ID, tc.submit)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("POST: %d, want 422\n%s", res.status, res.body)
			}
			res.mustContain(t, append(tc.want, `<div class="error-summary" role="alert"`, "<title>Error: ")...)
			if got := b.request(req.ID); got.Status != events.StatusPending {
				t.Errorf("a refused answer changed the request to %s", got.Status)
			}
		})
	}
}

// TestInboxCSRF: a POST must carry the CSRF token of its request, identity and link.
func TestInboxCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.create(events.Request{Input: input.Spec{Type: input.Boolean}, Assignees: []string{"email:a@example.com", "email:b@example.com"}})
	other := b.create(events.Request{Input: input.Spec{Type: input.Boolean}})
	c := b.client()
	exp := time.Now().Add(time.Hour)
	linkA := "/inbox/requests/" + req.ID + "?token=" + url.QueryEscape(b.link(req.ID, "email:a@example.com", exp))
	linkB := "/inbox/requests/" + req.ID + "?token=" + url.QueryEscape(b.link(req.ID, "email:b@example.com", exp))
	csrfA := c.get(linkA).csrf(t)
	csrfOther := c.get("/inbox/requests/" + other.ID).csrf(t)
	csrfOperator := c.get("/inbox/requests/" + req.ID).csrf(t)
	for name, tc := range map[string]struct {
		path, csrf string
		hdr        []string
	}{
		"missing":                 {path: linkA},
		"garbage":                 {path: linkA, csrf: "bm9wZQ"},
		"of another request":      {path: "/inbox/requests/" + req.ID, csrf: csrfOther},
		"of another identity":     {path: linkB, csrf: csrfA},
		"of a link, as operator":  {path: "/inbox/requests/" + req.ID, csrf: csrfA},
		"of the operator, a link": {path: linkA, csrf: csrfOperator},
		"cross-site browser post": {path: linkA, csrf: csrfA, hdr: []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		f := vals("_action", "submit", "answer", "true")
		if tc.csrf != "" {
			f.Set("_csrf", tc.csrf)
		}
		res := c.do("POST", tc.path, f, tc.hdr...)
		if res.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, res.status)
		}
	}
	if got := b.request(req.ID); got.Status != events.StatusPending {
		t.Fatalf("a refused POST changed the request to %s", got.Status)
	}
	if !strings.Contains(b.logs.String(), "missing or wrong CSRF token") {
		t.Error("CSRF refusals are not logged")
	}
	// The right token works.
	res := c.do("POST", linkA, vals("_action", "submit", "answer", "true", "_csrf", csrfA))
	if res.status != http.StatusSeeOther {
		t.Fatalf("with the right token: %d\n%s", res.status, res.body)
	}
	if got := b.request(req.ID); got.Response == nil || got.Response.Responder != "email:a@example.com" {
		t.Fatalf("answered by %+v", got.Response)
	}
}

// TestInboxLinks: link tokens identify people; bad, expired and foreign ones are refused,
// and people only see and answer what routing allows them.
func TestInboxLinks(t *testing.T) {
	t.Parallel()
	b := setup(t, "operator-token-1234")
	exp := time.Now().Add(time.Hour)
	mine := b.create(events.Request{Title: "For alice", Input: input.Spec{Type: input.Boolean}, Assignees: []string{"email:alice@example.com"}})
	group := b.create(events.Request{Title: "For finance", Input: input.Spec{Type: input.Boolean}, Assignees: []string{"group:finance"}})
	approvers := b.create(events.Request{Title: "Alice asked, Bob approves", Input: input.Spec{Type: input.Boolean},
		Assignees: []string{"email:alice@example.com"}, Approvers: []string{"email:bob@example.com"}})
	open := b.create(events.Request{Title: "Anyone", Input: input.Spec{Type: input.Boolean}})
	alsoMine := b.create(events.Request{Title: "Also for alice", Input: input.Spec{Type: input.Boolean}, Assignees: []string{"email:alice@example.com"}})
	c := b.client()
	reqPath := func(id, tok string) string { return "/inbox/requests/" + id + "?token=" + url.QueryEscape(tok) }
	aliceTok := b.link(mine.ID, "email:alice@example.com", exp)

	t.Run("a link opens its own request only", func(t *testing.T) {
		// Even another request sent to the same person: a forwarded link must not open it.
		p := c.get("/inbox?token=" + url.QueryEscape(aliceTok))
		p.mustNotContain(t, "Also for alice")
		if r := c.get(reqPath(alsoMine.ID, aliceTok)); r.status != http.StatusForbidden {
			t.Fatalf("another request of alice's opened with her link to the first: %d", r.status)
		}
	})

	t.Run("the inbox of a link", func(t *testing.T) {
		p := c.get("/inbox?token=" + url.QueryEscape(aliceTok))
		if p.status != http.StatusOK {
			t.Fatalf("%d\n%s", p.status, p.body)
		}
		p.mustContain(t, "For alice", "Signed in as <strong>email:alice@example.com</strong>", "1 request is waiting for you")
		// A request asked of nobody in particular is not opened by somebody's link: one leaked
		// link must not open every such request.
		p.mustNotContain(t, "For finance", "Bob approves", "Anyone", "Sign out")
		m := regexp.MustCompile(`href="/inbox/requests/` + mine.ID + `\?token=([^"]+)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatal("no link to alice's request")
		}
		// Each row links with a token of its own, for alice, expiring with hers.
		tok, _ := url.QueryUnescape(strings.ReplaceAll(m[1], "&amp;", "&"))
		claims, err := linktoken.Verify([]byte(secret), tok, time.Now())
		if err != nil || claims.RequestID != mine.ID || claims.Subject != "email:alice@example.com" || claims.Expires != exp.Unix() {
			t.Fatalf("row link %+v, %v", claims, err)
		}
		if r := c.get(reqPath(mine.ID, tok)); r.status != http.StatusOK {
			t.Fatalf("row link opens %d", r.status)
		}
		openTok := b.link(open.ID, "email:alice@example.com", exp)
		if r := c.get(reqPath(open.ID, openTok)); r.status != http.StatusOK {
			t.Fatalf("a link made for the open request itself opens %d", r.status)
		}
	})
	t.Run("a group member", func(t *testing.T) {
		p := c.get(reqPath(group.ID, b.link(group.ID, "email:fin@example.com", exp)))
		if p.status != http.StatusOK {
			t.Fatalf("%d", p.status)
		}
		p.mustContain(t, "Your answer will be recorded as <strong>email:fin@example.com</strong>")
	})
	t.Run("not allowed", func(t *testing.T) {
		tok := b.link(approvers.ID, "email:alice@example.com", exp)
		for _, method := range []string{"GET", "POST"} {
			p := c.do(method, reqPath(approvers.ID, tok), vals("_action", "submit", "answer", "true",
				"_csrf", b.srv.csrf(approvers.ID, viewer{identity: "email:alice@example.com", link: &linktoken.Claims{}, token: tok})))
			if p.status != http.StatusForbidden {
				t.Fatalf("%s: %d, want 403", method, p.status)
			}
			p.mustContain(t, "This request is for someone else", "Your attempt has been logged")
		}
		if !strings.Contains(b.logs.String(), `web: answer refused: not allowed to answer this request" request_id=`+approvers.ID+" identity=email:alice@example.com") {
			t.Errorf("refusal not logged:\n%s", b.logs.String())
		}
		if got := b.request(approvers.ID); got.Status != events.StatusPending {
			t.Fatalf("status %s", got.Status)
		}
		bob := c.answer(reqPath(approvers.ID, b.link(approvers.ID, "email:bob@example.com", exp)), vals("_action", "submit", "answer", "false"))
		if bob.status != http.StatusSeeOther {
			t.Fatalf("bob: %d", bob.status)
		}
	})
	t.Run("bad tokens", func(t *testing.T) {
		forged, _ := linktoken.Sign([]byte("another-secret-of-32-bytes-long!"), linktoken.Claims{RequestID: mine.ID, Subject: "email:alice@example.com", Expires: exp.Unix()})
		oneAnswer, _ := linktoken.Sign([]byte(secret), linktoken.Claims{RequestID: mine.ID, Subject: "email:alice@example.com", Expires: exp.Unix(), Option: "approve"})
		for name, tc := range map[string]struct {
			path   string
			status int
			say    string
		}{
			"forged":            {reqPath(mine.ID, forged), http.StatusUnauthorized, "This link is not valid"},
			"cut short":         {reqPath(mine.ID, aliceTok[:len(aliceTok)-4]), http.StatusUnauthorized, "This link is not valid"},
			"expired":           {reqPath(mine.ID, b.link(mine.ID, "email:alice@example.com", time.Now().Add(-time.Minute))), http.StatusUnauthorized, "This link has expired"},
			"expired inbox":     {"/inbox?token=" + url.QueryEscape(b.link(mine.ID, "email:alice@example.com", time.Now().Add(-time.Minute))), http.StatusUnauthorized, "This link has expired"},
			"another request":   {reqPath(open.ID, aliceTok), http.StatusForbidden, "This link is for another request"},
			"one-answer link":   {reqPath(mine.ID, oneAnswer), http.StatusUnauthorized, "This link gives one answer only"},
			"unknown request":   {reqPath("0f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f", b.link("0f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f", "email:alice@example.com", exp)), http.StatusNotFound, "Request not found"},
			"no token, no auth": {"/inbox/requests/" + mine.ID, http.StatusSeeOther, ""},
		} {
			p := c.get(tc.path)
			if p.status != tc.status || !strings.Contains(p.body, tc.say) {
				t.Errorf("%s: %d, want %d with %q\n%s", name, p.status, tc.status, tc.say, p.body)
			}
		}
		for _, tok := range []string{forged, b.link(mine.ID, "email:alice@example.com", time.Now().Add(-time.Minute))} {
			if p := c.do("POST", reqPath(mine.ID, tok), vals("_action", "submit", "answer", "true")); p.status != http.StatusUnauthorized {
				t.Errorf("POST with a bad token: %d", p.status)
			}
		}
		if got := b.request(mine.ID); got.Status != events.StatusPending {
			t.Fatalf("status %s", got.Status)
		}
	})
}

// TestInboxResolved: a resolved request shows its outcome instead of the form, and a late
// answer changes nothing.
func TestInboxResolved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.create(events.Request{Input: input.Spec{Type: input.Select, Options: refundMethods}, Assignees: []string{"email:a@example.com"}})
	c := b.client()
	path := "/inbox/requests/" + req.ID + "?token=" + url.QueryEscape(b.link(req.ID, "email:a@example.com", time.Now().Add(time.Hour)))
	late := c.get(path) // a second tab, opened before the answer
	if _, err := b.st.Respond(context.Background(), events.Response{RequestID: req.ID, Outcome: events.StatusAnswered,
		Data: json.RawMessage(`"bank"`), Responder: "slack:@U123"}); err != nil {
		t.Fatal(err)
	}
	p := c.get(path)
	if p.status != http.StatusOK {
		t.Fatalf("%d", p.status)
	}
	p.mustContain(t, "Answered by <strong>slack:@U123</strong> at", "Bank transfer")
	p.mustNotContain(t, "(you)", "<form method=\"post\" action=\"/inbox/requests/")

	res := c.do("POST", path, vals("_csrf", late.csrf(t), "_action", "submit", "answer", "original"))
	if res.status != http.StatusConflict {
		t.Fatalf("late POST: %d, want 409", res.status)
	}
	res.mustContain(t, "This request was already decided by slack:@U123 (answered). Your answer was not recorded; nothing was changed.", "Bank transfer")
	if got := b.request(req.ID); got.Response.Responder != "slack:@U123" || string(got.Response.Data) != `"bank"` {
		t.Fatalf("the late answer changed the record: %+v", got.Response)
	}

	// The inbox no longer lists it.
	inbox := c.get("/inbox")
	inbox.mustNotContain(t, req.ID)

	// Timed out and cancelled requests say so.
	cancelled := b.create(events.Request{Input: input.Spec{Type: input.Boolean}})
	if _, err := b.st.Respond(context.Background(), events.Response{RequestID: cancelled.ID, Outcome: events.StatusCancelled,
		Responder: "api", Comment: "no longer needed"}); err != nil {
		t.Fatal(err)
	}
	c.get("/inbox/requests/"+cancelled.ID).mustContain(t, "Cancelled by <strong>api</strong>", "no longer needed")
	timedOut := b.create(events.Request{Input: input.Spec{Type: input.Boolean}})
	if _, err := b.st.Respond(context.Background(), events.Response{RequestID: timedOut.ID, Outcome: events.StatusTimedOut,
		Data: json.RawMessage(`false`)}); err != nil {
		t.Fatal(err)
	}
	c.get("/inbox/requests/"+timedOut.ID).mustContain(t, "Timed out", "No answer came before the deadline; hitl decided, not a person. The default answer was used:", "No")
}

// TestInboxOperatorLogin: with API tokens, operators sign in to a signed session cookie and
// see and answer everything.
func TestInboxOperatorLogin(t *testing.T) {
	t.Parallel()
	b := setup(t, "first-token-123456", "second-token-123456")
	req := b.create(events.Request{Title: "Only for bob", Input: input.Spec{Type: input.Boolean}, Approvers: []string{"email:bob@example.com"}})
	c := b.client()

	p := c.get("/inbox")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/inbox/login?next=%2Finbox" {
		t.Fatalf("GET /inbox signed out: %d %s", p.status, p.header.Get("Location"))
	}
	login := c.get("/inbox/login?next=" + url.QueryEscape("/inbox/requests/"+req.ID))
	login.mustContain(t, `<input type="password" id="token" name="token"`, `<label for="token">API token`, `<label for="name">Your name</label>`)
	csrf := login.csrf(t)
	next := "/inbox/requests/" + req.ID

	if r := c.do("POST", "/inbox/login", vals("token", "first-token-123456", "next", next)); r.status != http.StatusForbidden {
		t.Errorf("sign-in without CSRF: %d", r.status)
	}
	login = c.get("/inbox/login?next=" + url.QueryEscape(next))
	csrf = login.csrf(t)
	if r := c.do("POST", "/inbox/login", vals("_csrf", csrf, "token", "wrong-token-1234567", "next", next)); r.status != http.StatusUnauthorized ||
		!strings.Contains(r.body, "That API token is not valid.") || r.header.Get("Set-Cookie") == "" {
		t.Errorf("wrong token: %d", r.status)
	} else {
		csrf = r.csrf(t) // the page offers a new form
	}
	if strings.Contains(b.logs.String(), "wrong-token") {
		t.Error("a token was logged")
	}
	r := c.do("POST", "/inbox/login", vals("_csrf", csrf, "token", "second-token-123456", "name", "Alice Ops", "next", next))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != next {
		t.Fatalf("sign-in: %d → %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
	var cookie string
	for _, sc := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, sessionCookie+"=") {
			cookie = sc
		}
	}
	for _, attr := range []string{"Path=/inbox", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}

	inbox := c.get("/inbox")
	inbox.mustContain(t, "Only for bob", "Signed in as <strong>Alice Ops (operator)</strong>", "Sign out")
	res := c.answer("/inbox/requests/"+req.ID, vals("_action", "submit", "answer", "true"))
	if res.status != http.StatusSeeOther {
		t.Fatalf("operator answer: %d\n%s", res.status, res.body)
	}
	if got := b.request(req.ID); got.Response.Responder != "Alice Ops" {
		t.Fatalf("responder %q", got.Response.Responder)
	}

	// A session is bound to its token: without that token configured, it is no session.
	u, _ := url.Parse(b.http.URL + "/inbox")
	var value string
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			value = ck.Value
		}
	}
	if se, err := b.srv.verifySession(value, time.Now()); err != nil || se.Name != "Alice Ops" {
		t.Fatalf("session: %+v %v", se, err)
	}
	other, _ := New(Config{Store: b.st, LinkSecret: []byte(secret), Tokens: []string{"first-token-123456"}})
	if _, err := other.verifySession(value, time.Now()); err == nil {
		t.Error("a session outlived its API token")
	}
	if _, err := b.srv.verifySession(value, time.Now().Add(13*time.Hour)); err == nil {
		t.Error("a session outlived its expiry")
	}
	if _, err := b.srv.verifySession(value[:len(value)-2], time.Now()); err == nil {
		t.Error("a tampered session was accepted")
	}
	expired := b.srv.signSession(session{Nonce: "n", Token: b.srv.tokenFingerprint("first-token-123456"), Exp: time.Now().Add(-time.Second).Unix()})
	c2 := b.client()
	c2.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: expired, Path: "/inbox"}})
	if p := c2.get("/inbox"); p.status != http.StatusSeeOther {
		t.Errorf("expired session: %d", p.status)
	}

	// Sign out needs the CSRF token of the session.
	if r := c.do("POST", "/inbox/logout", vals()); r.status != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d", r.status)
	}
	logout := inbox.csrf(t)
	if r := c.do("POST", "/inbox/logout", vals("_csrf", logout)); r.status != http.StatusSeeOther {
		t.Errorf("logout: %d", r.status)
	}
	if p := c.get("/inbox"); p.status != http.StatusSeeOther {
		t.Errorf("after logout: %d", p.status)
	}
}

// TestInboxDevMode: without API tokens, operators need no sign-in.
func TestInboxDevMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.create(events.Request{Title: "Deploy?", Input: input.Spec{Type: input.Approval}, Assignees: []string{"webhook:ops"}})
	c := b.client()
	p := c.get("/inbox")
	if p.status != http.StatusOK {
		t.Fatalf("%d", p.status)
	}
	p.mustContain(t, "Deploy?", "operator (development mode: no sign-in needed)", "1 request is waiting for an answer")
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if !strings.Contains(p.header.Get(name), want) {
			t.Errorf("%s: %q", name, p.header.Get(name))
		}
	}
	css := c.get("/inbox/static/style.css")
	if css.status != http.StatusOK || !strings.Contains(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, ":focus-visible") {
		t.Errorf("style.css: %d %s", css.status, css.header.Get("Content-Type"))
	}
	if p := c.get("/inbox/nothing"); p.status != http.StatusNotFound {
		t.Errorf("unknown page: %d", p.status)
	}
	login := c.get("/inbox/login")
	login.mustContain(t, "development mode")
	login.mustNotContain(t, `name="token"`)
}

// hrefs are the page's links with rel, unescaped.
func (p response) href(t *testing.T, rel string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]+)" rel="` + rel + `">`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// rows are the titles of the inbox's table, in order.
func (p response) rows() []string {
	var out []string
	for _, m := range regexp.MustCompile(`<th scope="row"><a href="[^"]+">([^<]+)</a></th>`).FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// The operator's inbox pages (next, previous, first), filters by status and assignee, and
// searches titles within the scan budget, with a "Search further" link.
func TestInboxPagesAndFilters(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *Config) { c.PageSize = 5 })
	var titles, bobs []string
	for i := range 12 {
		who := []string{"email:ann@example.com", "email:bob@example.com"}[i%2]
		r := b.create(events.Request{Title: fmt.Sprintf("Question %02d", i), Input: input.Spec{Type: input.Boolean}, Assignees: []string{who}})
		titles = append(titles, r.Title)
		if i%2 == 1 {
			bobs = append(bobs, r.Title)
		}
	}
	done := b.create(events.Request{Title: "Already decided", Input: input.Spec{Type: input.Boolean}})
	if _, err := b.st.Respond(context.Background(), events.Response{RequestID: done.ID, Outcome: events.StatusCancelled, Responder: "api"}); err != nil {
		t.Fatal(err)
	}
	c := b.client()

	p1 := c.get("/inbox")
	if got := p1.rows(); !slices.Equal(got, titles[:5]) {
		t.Fatalf("first page: %v", got)
	}
	p1.mustContain(t, "5 requests are waiting for an answer on this page", `rel="next">Next page</a>`)
	p1.mustNotContain(t, "Previous page", "First page", "Already decided")
	p2 := c.get(p1.href(t, "next"))
	if got := p2.rows(); !slices.Equal(got, titles[5:10]) {
		t.Fatalf("second page: %v", got)
	}
	p3 := c.get(p2.href(t, "next"))
	if got := p3.rows(); !slices.Equal(got, titles[10:]) || p3.href(t, "next") != "" {
		t.Fatalf("last page: %v, next %q", got, p3.href(t, "next"))
	}
	back := c.get(p3.href(t, "prev"))
	if got := back.rows(); !slices.Equal(got, titles[5:10]) {
		t.Fatalf("previous of the last page: %v", got)
	}
	if got := c.get(back.href(t, "prev")).rows(); !slices.Equal(got, titles[:5]) {
		t.Fatalf("previous of the second page: %v", got)
	}
	if got := c.get(p3.href(t, "first")).rows(); !slices.Equal(got, titles[:5]) {
		t.Fatalf("first page from the last: %v", got)
	}

	// By assignee, every page of it.
	var got []string
	for path := "/inbox?assignee=" + url.QueryEscape("email:bob@example.com"); path != ""; {
		p := c.get(path)
		got = append(got, p.rows()...)
		path = p.href(t, "next")
	}
	if !slices.Equal(got, bobs) {
		t.Fatalf("bob's: %v, want %v", got, bobs)
	}
	// By status: finished requests, with their status.
	p := c.get("/inbox?status=cancelled")
	if got := p.rows(); !slices.Equal(got, []string{"Already decided"}) {
		t.Fatalf("cancelled: %v", got)
	}
	p.mustContain(t, "<h1>Requests</h1>", `<td data-label="Status">Cancelled</td>`, `<option value="cancelled" selected>`)

	// A title search reads at most ScanBudget × PageSize entries a page: past them, an empty
	// page offers to search further, and that finds it.
	for i := range store.ScanBudget * 5 {
		b.create(events.Request{Title: fmt.Sprintf("Filler %03d", i), Input: input.Spec{Type: input.Boolean}})
	}
	b.create(events.Request{Title: "The needle", Input: input.Spec{Type: input.Boolean}})
	u, err := url.Parse(p1.href(t, "next"))
	if err != nil {
		t.Fatal(err)
	}
	p = c.get("/inbox?q=needle&cursor=" + url.QueryEscape(u.Query().Get("cursor")))
	if p.status != http.StatusBadRequest {
		t.Fatalf("a cursor of other filters: %d", p.status)
	}
	p.mustContain(t, "This list cannot be shown", "cursor")
	p = c.get("/inbox?q=NEEDLE")
	if len(p.rows()) != 0 {
		t.Fatalf("the first search page: %v, want none within its budget", p.rows())
	}
	p.mustContain(t, "Nothing found yet", `rel="next">Search further</a>`)
	p = c.get(p.href(t, "next"))
	if got := p.rows(); !slices.Equal(got, []string{"The needle"}) {
		t.Fatalf("searching further: %v", got)
	}
	if p := c.get("/inbox?status=lost"); p.status != http.StatusBadRequest {
		t.Fatalf("a bad status: %d", p.status)
	}
}
