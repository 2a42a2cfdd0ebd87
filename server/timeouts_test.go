package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/server"
)

// startResponder runs a responder with cfg's timeouts on a real JetStream and returns its
// address.
func startResponder(t *testing.T, timeouts server.HTTPTimeouts) string {
	t.Helper()
	env := natstest.Single(t)
	r := &server.Responder{Config: server.Config{NATS: env.URL, HTTP: "127.0.0.1:0", LinkSecret: secret,
		APITokens: []string{apiToken}, HTTPTimeouts: timeouts, Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))}}
	return serve(t, r, &r.Config).String()
}

// serve runs role (whose config is cfg) until the test ends and returns where it listens;
// the test fails when it does not start, or stops with an error.
func serve(t *testing.T, role interface{ Run(context.Context) error }, cfg *server.Config) net.Addr {
	t.Helper()
	ready := make(chan net.Addr, 1)
	cfg.Ready = func(l server.Listening) { ready <- l.HTTP }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- role.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("did not start in 30s")
	}
	return nil
}

// A client that sends its headers and then trickles, or stops sending, its body is cut off
// by the read timeout: the server answers (or closes) long before the client would have
// finished, and nothing is created. A long-poll outlives the write timeout.
func TestReadTimeoutCutsSlowBodiesAndLongPollsOutliveWriteTimeout(t *testing.T) {
	addr := startResponder(t, server.HTTPTimeouts{Read: time.Second, Write: time.Second})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Promise 1000 bytes, send 1.
	_, err = io.WriteString(conn, "POST /v1/requests HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "+apiToken+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	if err != nil {
		t.Fatal(err)
	}
	// Generous: only a server without a read timeout would wait this long.
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatal("the server was still waiting for the body after 60s")
	case err == nil:
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("slow body answered %d, want 400", resp.StatusCode)
		}
	case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		t.Fatalf("slow body: %v", err)
	}
	code, body := call(t, "GET", "http://"+addr+"/v1/requests", "")
	if code != http.StatusOK || !strings.Contains(body, `"count":0`) {
		t.Fatalf("the cut request created something: %d %s", code, body)
	}

	// A long-poll of 3 s, with a write timeout of 1 s, still gets its answer.
	code, body = call(t, "POST", "http://"+addr+"/v1/requests", `{"title": "wait for me"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var req struct{ ID, Status string }
	_ = json.Unmarshal([]byte(body), &req)
	code, body = call(t, "GET", "http://"+addr+"/v1/requests/"+req.ID+"/wait?timeout=3s", "")
	if code != http.StatusOK || !strings.Contains(body, `"status":"pending"`) {
		t.Fatalf("long-poll past the write timeout: %d %s", code, body)
	}
}
