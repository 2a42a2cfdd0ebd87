package e2e_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/respond"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/surface/email"
	"github.com/hitl-dev/hitl/surface/web"
)

// With JetStream gone, the API says so: 503 with Retry-After, nothing changed, never a 500.
// (Each call waits out the JetStream request timeout, 5 s.)
func TestJetStreamUnavailableIs503(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	nc, err := nats.Connect(env.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	api, err := respond.New(respond.Config{Store: st, Tokens: []string{apiToken}, LinkSecret: []byte(linkSecret), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	inbox, err := web.New(web.Config{Store: st, LinkSecret: []byte(linkSecret), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	links, err := email.NewLinks(email.LinksConfig{Store: st, LinkSecret: []byte(linkSecret), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	pages := http.NewServeMux()
	pages.Handle("/inbox/", inbox)
	pages.Handle("/email/act", links)
	pagesSrv := httptest.NewServer(pages)
	t.Cleanup(pagesSrv.Close)
	tok, err := linktoken.Sign([]byte(linkSecret), linktoken.Claims{RequestID: uuid.NewString(), Subject: "email:ada@example.com", Option: "approve",
		Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	env.Servers[0].Shutdown()
	env.Servers[0].WaitForShutdown()

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/requests/" + uuid.NewString(), ""},
		{"POST", "/v1/requests/" + uuid.NewString() + "/respond", `{"data": {"approved": true}}`},
	} {
		r := doCall(t, c.method, srv.URL+c.path, apiToken, c.body)
		if r.Status != 503 || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), `"unavailable"`) {
			t.Errorf("%s %s: %d Retry-After %q %s", c.method, c.path, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	// The pages people answer on say so too: the inbox (no tokens: every visitor is an
	// operator) and an email link.
	for _, path := range []string{"/inbox/requests/" + uuid.NewString(), "/email/act?token=" + tok} {
		res, err := http.Get(pagesSrv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s: %d Retry-After %q", path, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
}
