package email_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/email"
)

var linkSpecs = []input.Spec{
	{Type: input.Approval, RequireCommentOnReject: true},
	{Type: input.Approval, Options: []input.Option{{ID: "approve", Label: "Ship it"}, {ID: "reject", Label: "Hold"}}},
	{Type: input.Boolean},
	{Type: input.Select, Options: []input.Option{{ID: "full", Label: "Full refund"}, {ID: "none"}}},
	{Type: input.Text},
}

// FuzzLinks posts to an email action link (POST /email/act) on a real server over an
// embedded JetStream (started once), with a token signed for a pending request and bound
// to a fuzzed option, a fuzzed comment and a fuzzed recipient. The answer recorded is
// exactly email.Answer's for that option and comment, by that recipient; every other
// outcome is a page that is not a 5xx and leaves the request pending.
func FuzzLinks(f *testing.F) {
	env := natstest.Single(f)
	_, js := env.Connect(f)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		f.Fatal(err)
	}
	routes, err := routing.New([]string{"email"}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	links, err := email.NewLinks(email.LinksConfig{Store: st, LinkSecret: []byte(linksSecret), Routes: func() *routing.Routes { return routes }})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(links)
	f.Cleanup(srv.Close)
	for i, c := range []struct{ option, comment, to string }{
		{"approve", "", "alice@example.com"}, {"reject", "", "alice@example.com"}, {"reject", "too risky", "alice@example.com"},
		{"approve", "ok", "bob@example.com"}, {"yes", "", "alice@example.com"}, {"full", "  ", "alice@example.com"}, {"none", "x", "alice@example.com"},
		{"maybe", "", "alice@example.com"}, {"", "", "alice@example.com"}, {"approve", strings.Repeat("é", 10_001), "alice@example.com"},
		{"approve", "", ""}, {"approve", "", "ALICE@example.com"},
	} {
		f.Add(uint8(i), c.option, c.comment, c.to)
	}
	pending := make([]string, len(linkSpecs))
	f.Fuzz(func(t *testing.T, which uint8, option, comment, to string) {
		i := int(which) % len(linkSpecs)
		spec := linkSpecs[i]
		ctx := context.Background()
		if pending[i] == "" {
			r := &events.Request{ID: uuid.NewString(), Title: "Fuzz", Input: spec, Assignees: []string{"email:alice@example.com"}}
			if err := st.CreateRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			pending[i] = r.ID
		}
		id := pending[i]
		tok, err := linktoken.Sign([]byte(linksSecret), linktoken.Claims{RequestID: id, Subject: "email:" + to,
			Expires: time.Now().Add(time.Hour).Unix(), Option: option})
		if err != nil {
			return // claims too long for a token
		}
		form := url.Values{"token": {tok}, "comment": {comment}}
		res, err := http.Post(srv.URL+email.ActionPath, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		req, _, err := st.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("option %q comment %q to %q: %d", option, comment, to, res.StatusCode)
		}
		if res.StatusCode != http.StatusOK {
			if req.Resolved() {
				t.Fatalf("answered %d but the request resolved: %+v", res.StatusCode, req.Response)
			}
			return
		}
		pending[i] = ""
		if !req.Resolved() || req.Response == nil {
			t.Fatalf("200 but the request is %s", req.Status)
		}
		if utf8.RuneCountInString(comment) > email.MaxComment {
			t.Fatalf("a comment of %d characters was recorded", utf8.RuneCountInString(comment))
		}
		if !strings.EqualFold(req.Response.Responder, "email:"+to) {
			t.Fatalf("the link was sent to %q, the answer is by %q", to, req.Response.Responder)
		}
		data, respComment, err := email.Answer(spec, option, comment)
		if err != nil {
			t.Fatalf("recorded option %q, which Answer refuses: %v", option, err)
		}
		c1, _ := input.Canonical(data)
		c2, _ := input.Canonical(req.Response.Data)
		if !bytes.Equal(c1, c2) || req.Response.Comment != respComment {
			t.Fatalf("recorded %s %q, want %s %q", req.Response.Data, req.Response.Comment, data, respComment)
		}
	})
}

// FuzzAnswer: an option and comment from a link become an answer only for an option the
// spec offers as a link; the answer is JSON, and the comment goes trimmed into an
// approval's data or the response's comment, never both.
func FuzzAnswer(f *testing.F) {
	for i, s := range []string{"approve", "reject", "yes", "no", "full", "none", "", "Approve"} {
		f.Add(uint8(i), s, " why ")
	}
	f.Fuzz(func(t *testing.T, which uint8, option, comment string) {
		spec := linkSpecs[int(which)%len(linkSpecs)]
		data, respComment, err := email.Answer(spec, option, comment)
		_, offered := email.ActionFor(spec, option)
		if (err == nil) != offered {
			t.Fatalf("option %q offered %v, Answer: %v", option, offered, err)
		}
		if err != nil {
			return
		}
		var a struct {
			Comment string `json:"comment"`
		}
		if !json.Valid(data) {
			t.Fatalf("Answer = %q, not JSON", data)
		}
		_ = json.Unmarshal(data, &a)
		trimmed := strings.TrimSpace(comment)
		switch {
		case spec.Type == input.Approval && (respComment != "" || (a.Comment != trimmed && utf8.ValidString(trimmed))):
			t.Fatalf("approval: data %s, comment %q", data, respComment)
		case spec.Type != input.Approval && respComment != trimmed:
			t.Fatalf("comment %q became %q", comment, respComment)
		}
	})
}
