package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/egress"
	"github.com/hitl-dev/hitl/internal/egress/egresstest"
	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// TestLiteralPrivateTargetsAreRefusedAtStart: a target whose URL names a non-public address
// or localhost fails New, so the operator learns at start; the allow-list opens it.
func TestLiteralPrivateTargetsAreRefusedAtStart(t *testing.T) {
	t.Parallel()
	urls := []string{"http://127.0.0.1:9000/x", "http://[::1]/x", "http://169.254.169.254/latest", "http://localhost:8080/x",
		"http://10.1.2.3/x", "http://[::ffff:192.168.0.1]/x"}
	for _, u := range urls {
		_, err := webhook.New(webhook.Config{Targets: map[string]string{"bot": u}})
		if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), `webhook target "bot"`) {
			t.Errorf("target %s: %v, want refused naming the target", u, err)
		}
	}
	allow := []string{"127.0.0.0/8", "::1", "169.254.169.254", "localhost", "10.0.0.0/8", "192.168.0.0/16"}
	for _, u := range urls {
		if _, err := webhook.New(webhook.Config{Targets: map[string]string{"bot": u}, AllowPrivate: allow}); err != nil {
			t.Errorf("allow-listed target %s: %v", u, err)
		}
	}
	if _, err := webhook.New(webhook.Config{AllowPrivate: []string{"10.0.0.0/99"}}); err == nil {
		t.Error("a malformed allow-list is accepted")
	}
	if _, err := webhook.NewCallbacks(webhook.CallbacksConfig{AllowPrivate: []string{"no such thing!"}}); err == nil {
		t.Error("a malformed callbacks allow-list is accepted")
	}
}

// TestTargetResolvingToPrivateAddressIsRefusedAtDial: a target named by a host that passes
// the start check but resolves to a loopback or private address is never connected to; the
// failure is permanent (no retry can help) and says why. Allow-listed, the same name delivers.
func TestTargetResolvingToPrivateAddressIsRefusedAtDial(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func(int) int { return http.StatusNoContent })
	_, port, _ := net.SplitHostPort(rcv.srv.Listener.Addr().String())
	dns := egresstest.StartDNS(t, map[string][]string{
		"bot.example.test":      {"127.0.0.1"},
		"internal.example.test": {"10.0.0.1"},
	})
	targets := map[string]string{"bot": "http://bot.example.test:" + port + "/hook", "internal": "http://internal.example.test/hook"}
	r := &events.Request{ID: uuid.NewString(), Title: "Ship it?", Input: input.Spec{Type: input.Approval}}
	ctx := context.Background()

	strict, err := webhook.New(webhook.Config{Targets: targets, Secret: secret, Resolver: dns.Resolver()})
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{"bot": "127.0.0.1 is a loopback address", "internal": "10.0.0.1 is a private address"} {
		err := strict.Notify(ctx, notify.Delivery{Request: r, Target: target, ID: "d-" + target})
		if !errors.Is(err, notify.ErrPermanent) || !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("notify %s: %v, want a permanent refusal saying %q", target, err, want)
		}
	}
	if n := len(rcv.deliveries()); n != 0 {
		t.Fatalf("the receiver on loopback got %d deliveries", n)
	}

	open, err := webhook.New(webhook.Config{Targets: targets, Secret: secret, Resolver: dns.Resolver(), AllowPrivate: loopback})
	if err != nil {
		t.Fatal(err)
	}
	if err := open.Notify(ctx, notify.Delivery{Request: r, Target: "bot", ID: "d-bot"}); err != nil {
		t.Fatalf("allow-listed: %v", err)
	}
	if got := rcv.deliveries(); len(got) != 1 || !got[0].verified || got[0].path != "/hook" {
		t.Fatalf("deliveries %+v, want one signed delivery", got)
	}
	if err := open.Notify(ctx, notify.Delivery{Request: r, Target: "internal", ID: "d-internal"}); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("10.0.0.1 is outside the allow-list of 127.0.0.1: %v", err)
	}
}

// TestCallbacksAreSignedWithTheirOwnSecret: a callback verifies with the callback secret and
// not with the bots' webhook secret, keeps the Standard Webhooks headers, and a callback_url
// on loopback is refused unless allow-listed.
func TestCallbacksAreSignedWithTheirOwnSecret(t *testing.T) {
	t.Parallel()
	const cbSecret = "whsec_Y2FsbGJhY2stc2VjcmV0LWZvci10aGUtdGVzdHM="
	rcv := newReceiver(t, func(int) int { return http.StatusOK }) // verifies with the webhook secret
	r := &events.Request{ID: uuid.NewString(), Title: "Ship it?", Input: input.Spec{Type: input.Approval}, Status: events.StatusAnswered}
	ctx := context.Background()

	strict, err := webhook.NewCallbacks(webhook.CallbacksConfig{Secret: cbSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := strict.Update(ctx, notify.Delivery{Request: r, Target: rcv.srv.URL + "/cb", ID: "cb-1"}); !errors.Is(err, notify.ErrPermanent) || !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("callback to loopback by default: %v, want a permanent refusal", err)
	}
	if n := len(rcv.deliveries()); n != 0 {
		t.Fatalf("%d callbacks reached loopback", n)
	}

	cb, err := webhook.NewCallbacks(webhook.CallbacksConfig{Secret: cbSecret, AllowPrivate: loopback})
	if err != nil {
		t.Fatal(err)
	}
	if err := cb.Update(ctx, notify.Delivery{Request: r, Target: rcv.srv.URL + "/cb", ID: "cb-1"}); err != nil {
		t.Fatal(err)
	}
	got := rcv.deliveries()
	if len(got) != 1 || got[0].typ != events.TypeResolved || got[0].webhookID != "cb-1" {
		t.Fatalf("callbacks %+v", got)
	}
	if got[0].verified {
		t.Fatal("the webhook secret verifies a callback")
	}
	own, _ := webhook.NewSigner(cbSecret)
	hdr := got[0].header
	if err := own.Verify(hdr, got[0].body, time.Now(), time.Minute); err != nil {
		t.Fatalf("the callback secret does not verify the callback: %v", err)
	}
	for _, h := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		if hdr.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
}
