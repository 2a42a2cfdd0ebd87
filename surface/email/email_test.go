package email_test

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/surface/email"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

func newChannel(t *testing.T, srv *emailtest.Server, smtpURL string) *email.Channel {
	t.Helper()
	ch, err := email.New(email.Config{SMTPURL: smtpURL, From: "hitl <hitl@example.com>", PublicURL: "https://hitl.example.com/",
		LinkSecret: []byte(secret), TLSConfig: srv.ClientTLS(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func request(spec input.Spec) *events.Request {
	return &events.Request{ID: uuid.NewString(), Title: "Deploy release 1.4 to production?", Input: spec,
		Message: "All checks passed.\n12 files changed.", Context: map[string]any{"service": "billing", "risk": "low", "replicas": 3},
		Assignees: []string{"email:alice@example.com"}, Status: events.StatusPending, CreatedAt: time.Now().UTC()}
}

func TestEmailTransports(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    emailtest.Options
		wantTLS bool
	}{
		{"plain", emailtest.Options{}, false},
		{"STARTTLS required", emailtest.Options{StartTLS: true}, true},
		{"implicit TLS", emailtest.Options{Implicit: true}, true},
		{"AUTH PLAIN over STARTTLS", emailtest.Options{StartTLS: true, User: "hitl", Pass: "s3cret:pass"}, true},
		{"AUTH PLAIN to localhost without TLS", emailtest.Options{User: "hitl", Pass: "s3cret"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := emailtest.Start(t, tc.opts)
			ch := newChannel(t, srv, srv.URL())
			r := request(input.Spec{Type: input.Approval})
			if err := ch.Notify(context.Background(), notify.Delivery{Request: r, Target: "alice@example.com"}); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Find(r.ID, "request")
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			if msgs[0].TLS != tc.wantTLS {
				t.Errorf("TLS = %v, want %v", msgs[0].TLS, tc.wantTLS)
			}
			if msgs[0].To != "alice@example.com" || msgs[0].From != "hitl@example.com" {
				t.Errorf("envelope %s → %s", msgs[0].From, msgs[0].To)
			}
		})
	}
}

func TestEmailSMTPFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	deliver := func(ch *email.Channel) error {
		return ch.Notify(ctx, notify.Delivery{Request: request(input.Spec{Type: input.Boolean}), Target: "alice@example.com"})
	}
	t.Run("5xx is permanent", func(t *testing.T) {
		t.Parallel()
		srv := emailtest.Start(t, emailtest.Options{})
		srv.Refuse(550)
		err := deliver(newChannel(t, srv, srv.URL()))
		if !errors.Is(err, notify.ErrPermanent) || !strings.Contains(err.Error(), "550") {
			t.Fatalf("err = %v, want a permanent 550", err)
		}
	})
	t.Run("4xx is retried", func(t *testing.T) {
		t.Parallel()
		srv := emailtest.Start(t, emailtest.Options{})
		srv.Refuse(451)
		err := deliver(newChannel(t, srv, srv.URL()))
		if err == nil || errors.Is(err, notify.ErrPermanent) {
			t.Fatalf("err = %v, want a retryable error", err)
		}
	})
	t.Run("wrong password is permanent", func(t *testing.T) {
		t.Parallel()
		srv := emailtest.Start(t, emailtest.Options{User: "hitl", Pass: "right"})
		u, _ := url.Parse(srv.URL())
		u.User = url.UserPassword("hitl", "wrong")
		err := deliver(newChannel(t, srv, u.String()))
		if !errors.Is(err, notify.ErrPermanent) || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err = %v, want a permanent 535 that does not show the password", err)
		}
	})
	t.Run("no server is retried", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		srv := emailtest.Start(t, emailtest.Options{})
		err = deliver(newChannel(t, srv, "smtp://"+addr+"?tls=none"))
		if err == nil || errors.Is(err, notify.ErrPermanent) {
			t.Fatalf("err = %v, want a retryable error", err)
		}
	})
	t.Run("STARTTLS required but not offered is retried", func(t *testing.T) {
		t.Parallel()
		srv := emailtest.Start(t, emailtest.Options{})
		err := deliver(newChannel(t, srv, "smtp://"+srv.Addr()+"?tls=required"))
		if err == nil || errors.Is(err, notify.ErrPermanent) || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v, want a retryable STARTTLS error", err)
		}
	})
	t.Run("a target that is not an address is permanent", func(t *testing.T) {
		t.Parallel()
		srv := emailtest.Start(t, emailtest.Options{})
		ch := newChannel(t, srv, srv.URL())
		err := ch.Notify(ctx, notify.Delivery{Request: request(input.Spec{Type: input.Boolean}), Target: "Alice <alice@example.com>"})
		if !errors.Is(err, notify.ErrPermanent) {
			t.Fatalf("err = %v, want permanent", err)
		}
		if ch.HasTarget("alice") || !ch.HasTarget("alice@example.com") {
			t.Error("HasTarget accepts a non-address or refuses an address")
		}
	})
}

// verify checks a link's token and returns its claims.
func verify(t *testing.T, link string) linktoken.Claims {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	c, err := linktoken.Verify([]byte(secret), u.Query().Get("token"), time.Now())
	if err != nil {
		t.Fatalf("link %s: %v", link, err)
	}
	return c
}

func TestEmailLinksPerInputType(t *testing.T) {
	t.Parallel()
	srv := emailtest.Start(t, emailtest.Options{})
	ch := newChannel(t, srv, srv.URL())
	options := []input.Option{{ID: "refund", Label: "Refund", Description: "money back"}, {ID: "replace", Label: "Replace"}}
	for _, tc := range []struct {
		name   string
		spec   input.Spec
		labels []string // action links, in order
		opts   []string // the options bound into their tokens
		form   string   // label of the web form link, if any
	}{
		{"approval", input.Spec{Type: input.Approval}, []string{"Approve", "Reject"}, []string{"approve", "reject"}, ""},
		{"approval with labels", input.Spec{Type: input.Approval, Labels: input.Labels{Approve: "Ship it", Reject: "Hold"}},
			[]string{"Ship it", "Hold"}, []string{"approve", "reject"}, ""},
		{"editable approval", input.Spec{Type: input.Approval, Proposed: json.RawMessage(`{"amount":120}`)},
			[]string{"Approve", "Reject"}, []string{"approve", "reject"}, "Review or edit in your browser"},
		{"boolean", input.Spec{Type: input.Boolean}, []string{"Yes", "No"}, []string{"yes", "no"}, ""},
		{"select", input.Spec{Type: input.Select, Options: options}, []string{"Refund", "Replace"}, []string{"refund", "replace"}, ""},
		{"text", input.Spec{Type: input.Text}, nil, nil, "Answer in your browser"},
		{"multiselect", input.Spec{Type: input.MultiSelect, Options: options}, nil, nil, "Answer in your browser"},
		{"number", input.Spec{Type: input.Number}, nil, nil, "Answer in your browser"},
	} {
		r := request(tc.spec)
		deadline := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		r.Deadline = &deadline
		if err := ch.Notify(context.Background(), notify.Delivery{Request: r, Target: "alice@example.com"}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m := srv.Find(r.ID, "request")[0]
		for i, label := range tc.labels {
			link := m.Link(label)
			if !strings.HasPrefix(link, "https://hitl.example.com/email/act?token=") {
				t.Errorf("%s: link %q is %q", tc.name, label, link)
				continue
			}
			c := verify(t, link)
			want := linktoken.Claims{RequestID: r.ID, Subject: "email:alice@example.com", Expires: deadline.Add(time.Minute).Unix(), Option: tc.opts[i]}
			if c != want {
				t.Errorf("%s: %q claims %+v, want %+v", tc.name, label, c, want)
			}
			if !strings.Contains(m.Text, link) {
				t.Errorf("%s: the text part lacks the %q link", tc.name, label)
			}
		}
		wantLinks := len(tc.labels)
		if tc.form != "" {
			wantLinks++
		}
		if got := len(m.Links()); got != wantLinks {
			t.Errorf("%s: %d links: %v", tc.name, got, m.Links())
		}
		if tc.form != "" {
			link := m.Link(tc.form)
			if !strings.HasPrefix(link, "https://hitl.example.com/inbox/requests/"+r.ID+"?token=") {
				t.Errorf("%s: form link %q", tc.name, link)
			} else if c := verify(t, link); c.Option != "" || c.Subject != "email:alice@example.com" || c.RequestID != r.ID {
				t.Errorf("%s: form link claims %+v", tc.name, c)
			}
		}
	}
}

func TestEmailMessageAndFollowUp(t *testing.T) {
	t.Parallel()
	srv := emailtest.Start(t, emailtest.Options{})
	ch := newChannel(t, srv, srv.URL())
	r := request(input.Spec{Type: input.Approval})
	r.Title = `Refund <script>alert(1)</script> & "more"`
	r.Context["note"] = `<img src=x onerror=alert(1)>`
	ctx := context.Background()
	d := notify.Delivery{Request: r, Target: "alice@example.com"}
	for range 2 { // a retry sends the same Message-ID
		if err := ch.Notify(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Find(r.ID, "request")
	if len(msgs) != 2 || msgs[0].Header.Get("Message-Id") != msgs[1].Header.Get("Message-Id") {
		t.Fatalf("retries should keep the Message-ID: %d messages", len(msgs))
	}
	m := msgs[0]
	if got, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); got != `[hitl] `+r.Title {
		t.Errorf("subject %q", got)
	}
	for _, bad := range []string{"<script>", "<img src=x"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML holds %q unescaped", bad)
		}
	}
	for _, want := range []string{`lang="en"`, "&lt;script&gt;", `<th scope="row"`, "replicas", "billing", "nothing is decided until"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, want := range []string{"Approval requested: Refund <script>", "  service: billing", "  Approve:\n  https://"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Error("no Auto-Submitted header")
	}

	at := time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)
	r.Status, r.ResolvedAt = events.StatusAnswered, &at
	r.Response = &events.Response{RequestID: r.ID, Outcome: events.StatusAnswered, Data: json.RawMessage(`{"approved":true,"comment":"ship it"}`),
		Responder: "email:bob@example.com", At: at}
	if err := ch.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	f := srv.Find(r.ID, "resolved")
	if len(f) != 1 {
		t.Fatalf("%d follow-ups", len(f))
	}
	if f[0].Header.Get("In-Reply-To") != m.Header.Get("Message-Id") {
		t.Errorf("In-Reply-To %q, want the request's %q", f[0].Header.Get("In-Reply-To"), m.Header.Get("Message-Id"))
	}
	want := "Decided: Approved by email:bob@example.com at 4 Mar 2026 10:30 UTC."
	if !strings.Contains(f[0].Text, want) || !strings.Contains(f[0].Text, "ship it") {
		t.Errorf("follow-up text lacks %q and the comment:\n%s", want, f[0].Text)
	}
	if len(f[0].Links()) != 0 {
		t.Errorf("the follow-up has links: %v", f[0].Links())
	}
}

func TestEmailDecided(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	sel := input.Spec{Type: input.Select, Options: []input.Option{{ID: "refund", Label: "Refund"}}}
	for _, tc := range []struct {
		spec   input.Spec
		status events.Status
		data   string
		want   string
	}{
		{input.Spec{Type: input.Approval}, events.StatusAnswered, `{"approved":false}`, "This request was rejected by email:a@b.c at 2 Jan 2026 15:04 UTC."},
		{input.Spec{Type: input.Boolean}, events.StatusAnswered, `true`, "This request was answered “Yes” by email:a@b.c at 2 Jan 2026 15:04 UTC."},
		{sel, events.StatusAnswered, `"refund"`, "This request was answered “Refund” by email:a@b.c at 2 Jan 2026 15:04 UTC."},
		{input.Spec{Type: input.Text}, events.StatusAnswered, `"120.00"`, "This request was answered “120.00” by email:a@b.c at 2 Jan 2026 15:04 UTC."},
		{input.Spec{Type: input.Approval}, events.StatusTimedOut, ``, "This request timed out at 2 Jan 2026 15:04 UTC."},
		{input.Spec{Type: input.Approval}, events.StatusTimedOut, `{"approved":false}`, "This request timed out at 2 Jan 2026 15:04 UTC; the default answer was used: rejected."},
		{input.Spec{Type: input.Approval}, events.StatusCancelled, ``, "This request was cancelled by email:a@b.c at 2 Jan 2026 15:04 UTC."},
	} {
		r := &events.Request{Input: tc.spec, Status: tc.status, ResolvedAt: &at}
		responder := "email:a@b.c"
		if tc.status == events.StatusTimedOut {
			responder = ""
		}
		r.Response = &events.Response{Outcome: tc.status, Data: json.RawMessage(tc.data), Responder: responder, At: at}
		if got := email.Decided(r).Sentence(); got != tc.want {
			t.Errorf("%s %s %s: %q, want %q", tc.spec.Type, tc.status, tc.data, got, tc.want)
		}
	}
}
