package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/server"
)

// countingWriter is the test log that also counts lines containing a phrase.
type countingWriter struct {
	t      *testing.T
	phrase string
	n      *atomic.Int32
}

func (w countingWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.phrase) {
		w.n.Add(1)
	}
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Ensure during a leader election: the JetStream meta leader of a three-node cluster (and
// a second node, so that the election lasts) is killed as the services start. They retry
// instead of exiting, /readyz says 503 until they run and 200 after, and a run completes.
func TestEnsureDuringLeaderElection(t *testing.T) {
	env := natstest.Cluster(t)
	reg := hitl.NewRegistry()
	hitl.Register(reg, "echo", func(_ context.Context, in struct{ Text string }) (string, error) { return in.Text, nil })
	var retries atomic.Int32
	logger := slog.New(slog.NewTextHandler(countingWriter{t: t, phrase: "ensure streams failed; retrying", n: &retries}, nil))
	base := server.Config{NATS: env.URL, Replicas: 3, LinkSecret: secret, APITokens: []string{apiToken}, Logger: logger}

	leader := -1
	for i, s := range env.Servers {
		if s.JetStreamIsLeader() {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no meta leader")
	}
	// Kill the meta leader and one more node: the election cannot finish until the second
	// comes back, so the services' first attempts at Ensure surely fail.
	follower := (leader + 1) % 3
	env.Servers[leader].Shutdown()
	env.Servers[follower].Shutdown()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	oc, rc := base, base
	oc.HTTP, rc.HTTP = freeAddr(t), freeAddr(t)
	var readies atomic.Int32
	oc.Ready = func(server.Listening) { readies.Add(1) }
	rc.Ready = func(server.Listening) { readies.Add(1) }
	go func() { done <- (&server.Orchestrator{Config: oc, Workflows: reg}).Run(ctx) }()
	go func() { done <- (&server.Responder{Config: rc}).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})

	exited := func() {
		select {
		case err := <-done:
			done <- err // for the cleanup, which waits for both
			t.Fatalf("a service exited during the election: %v", err)
		default:
		}
	}
	// Not ready while the election cannot finish; the services retry and stay up.
	deadline := time.Now().Add(30 * time.Second)
	for retries.Load() < 2 { // a failed Ensure of each service
		exited()
		if time.Now().After(deadline) {
			t.Fatalf("Ensure did not fail and retry within 30s (%d retries)", retries.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, addr := range []string{oc.HTTP, rc.HTTP} {
		if code, body := get(addr + "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"starting"`) {
			t.Fatalf("%s /readyz during the election: %d %s", addr, code, body)
		}
		if code, _ := get(addr + "/healthz"); code != http.StatusOK {
			t.Fatalf("%s /healthz during the election: %d, want 200 (connected)", addr, code)
		}
	}
	if code, body := call(t, "POST", "http://"+rc.HTTP+"/v1/runs", `{"workflow":"echo"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("the API while starting: %d %s", code, body)
	}
	if n := readies.Load(); n != 0 {
		t.Fatalf("Ready called %d times before the services run", n)
	}

	env.Restart(t, follower) // quorum again: a new meta leader is elected
	deadline = time.Now().Add(60 * time.Second)
	for _, addr := range []string{oc.HTTP, rc.HTTP} {
		for {
			exited()
			code, body := get(addr + "/readyz")
			if code == http.StatusOK && strings.Contains(body, `"ready"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready after the election: %d %s", addr, code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := readies.Load(); n != 2 {
		t.Fatalf("Ready called %d times, want 2", n)
	}

	api := "http://" + rc.HTTP
	// Ready means the streams are ensured; a stream's own leader may still be in election
	// for a moment, which the API answers 503 with Retry-After: a client retries.
	var code int
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body = call(t, "POST", api+"/v1/runs", `{"workflow":"echo","input":{"Text":"after the election"}}`)
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
	}
	if code != http.StatusCreated {
		t.Fatalf("start run: %d %s", code, body)
	}
	var run struct{ ID string }
	if err := json.Unmarshal([]byte(body), &run); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to complete", func() bool {
		_, body := call(t, "GET", api+"/v1/runs/"+run.ID, "")
		return strings.Contains(body, `"completed"`) && strings.Contains(body, "after the election")
	})
}

// get is a GET that reports a refused connection as code 0.
func get(addr string) (int, string) {
	resp, err := http.Get("http://" + addr)
	if err != nil {
		return 0, fmt.Sprint(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
