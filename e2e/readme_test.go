package e2e_test

import (
	"context"
	"flag"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/server"
)

// TestReadmeWalkthrough runs the README's curl walk-through verbatim (only the port changes)
// against `hitl dev`, then restarts it on the same data directory and checks the run survived.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README's commands (.ci/run installs it)")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- walkthrough")
	if !ok {
		t.Fatal("README has no walkthrough marker")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	script, _, _ := strings.Cut(rest, "```")

	data := t.TempDir()
	addr, stop := startDev(t, data)
	script = strings.ReplaceAll(script, "localhost:8080", addr)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	out, err := cmd.CombinedOutput()
	t.Logf("walk-through output:\n%s", out)
	if err != nil {
		t.Fatalf("walk-through failed: %v", err)
	}
	last := strings.TrimSpace(string(out))
	last = last[strings.LastIndex(last, "\n")+1:]
	for _, want := range []string{`"status":"completed"`, `"status":"refunded"`, `"amount":120`, `"method":"store_credit"`, `"notified_via":["email","sms"]`} {
		if !strings.Contains(last, want) {
			t.Errorf("final run %s lacks %s", last, want)
		}
	}
	runID := strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "run ")
	stop()

	// Same data directory: the run and its requests are all still there.
	addr, _ = startDev(t, data)
	r := doCall(t, "GET", "http://"+addr+"/v1/runs/"+runID, "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"completed"`) {
		t.Fatalf("after restart: %d %s", r.Status, r.Body)
	}
	r = doCall(t, "GET", "http://"+addr+"/v1/requests?status=answered", "", nil)
	if !strings.Contains(string(r.Body), `"count":5`) {
		t.Fatalf("answered requests after restart: %s", r.Body)
	}
}

func startDev(t *testing.T, data string) (string, func()) {
	t.Helper()
	l, stop := startDevListening(t, data)
	return l.HTTP.String(), stop
}

// startDevListening is startDev, telling where dev listens (HTTP and NATS).
func startDevListening(t *testing.T, data string) (server.Listening, func()) {
	t.Helper()
	natsPort := freePort(t)
	d := &server.Dev{Workflows: hitl.NewRegistry(), Console: tWriter{t}}
	if err := server.Parse("hitl dev", d, []string{"--http", "127.0.0.1:0", "--data", data, "--nats", "127.0.0.1:" + natsPort}); err != nil {
		t.Fatal(err)
	}
	examples.RegisterAll(d.Workflows)
	d.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan server.Listening, 1)
	done := make(chan error, 1)
	d.Ready = func(l server.Listening) { ready <- l }
	go func() { done <- d.Run(ctx) }()
	var addr server.Listening
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("hitl dev: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("hitl dev did not start in 30s")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hitl dev stopped with: %v", err)
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("hitl dev", flag.ContinueOnError) }
