package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/server"
)

// TestHostModule builds examples/host, a module of its own that imports only public
// packages, and runs it as a team would: its binary hosts host-demo against the NATS of a
// running `hitl dev` that does not host it, and a run started over dev's REST API
// completes there.
func TestHostModule(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "host")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "examples", "host")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/host as its own module: %v\n%s", err, out)
	}

	// hitl dev with no workflow of its own.
	d := &server.Dev{}
	natsAddr := "127.0.0.1:" + freePort(t)
	if err := server.Parse("hitl dev", d, []string{"--http", "127.0.0.1:0", "--data", t.TempDir(), "--nats", natsAddr}); err != nil {
		t.Fatal(err)
	}
	d.Logger = testLogger(t)
	ready := make(chan server.Listening, 1)
	d.Ready = func(l server.Listening) { ready <- l }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var dev server.Listening
	select {
	case dev = <-ready:
	case err := <-done:
		t.Fatalf("hitl dev: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("hitl dev did not start")
	}
	t.Cleanup(func() { cancel(); <-done })
	api := "http://" + dev.HTTP.String()

	// The team's binary, configured like every hitl service, with the credentials dev prints.
	if len(dev.NATSEnv) < 3 {
		t.Fatalf("dev gave no NATS credentials: %q", dev.NATSEnv)
	}
	hostHTTP := "127.0.0.1:" + freePort(t)
	host := exec.Command(bin, "--http", hostHTTP)
	host.Env = append(append(os.Environ(), "HITL_LOG_LEVEL=debug"), dev.NATSEnv...)
	host.Stdout, host.Stderr = tWriter{t}, tWriter{t}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- host.Wait() }()
	t.Cleanup(func() {
		_ = host.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("host binary did not stop cleanly: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = host.Process.Kill()
			t.Error("host binary did not stop on SIGTERM")
		}
	})
	eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + hostHTTP + "/healthz")
		if err != nil {
			return false // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, func() string { return "the host binary's /healthz" })

	r := doCall(t, "POST", api+"/v1/runs", "", map[string]any{"workflow": "host-demo",
		"input": map[string]any{"employee": "ada", "amount": 42.5, "reason": "conference taxi"}})
	if r.Status != 202 && r.Status != 201 && r.Status != 200 {
		t.Fatalf("start host-demo on hitl dev: %d %s", r.Status, r.Body)
	}
	var run struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Result  json.RawMessage
		Pending []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"pending"`
	}
	if err := json.Unmarshal(r.Body, &run); err != nil {
		t.Fatal(err)
	}
	id := run.ID
	eventually(t, 30*time.Second, func() bool {
		_ = json.Unmarshal(doCall(t, "GET", api+"/v1/runs/"+id, "", nil).Body, &run)
		return len(run.Pending) == 1
	}, func() string { return "the approval of run " + id + " (status " + run.Status + ")" })
	if !strings.Contains(run.Pending[0].Title, "42.50 for ada") {
		t.Fatalf("question %q", run.Pending[0].Title)
	}
	if a := doCall(t, "POST", api+"/v1/requests/"+run.Pending[0].ID+"/respond", "", map[string]any{
		"data": map[string]any{"approved": true, "comment": "ok"}}); a.Status != 200 {
		t.Fatalf("answer: %d %s", a.Status, a.Body)
	}
	eventually(t, 30*time.Second, func() bool {
		_ = json.Unmarshal(doCall(t, "GET", api+"/v1/runs/"+id, "", nil).Body, &run)
		return run.Status == "completed"
	}, func() string { return "run " + id + " to complete (status " + run.Status + ")" })
	var result struct{ Status, Payment string }
	if err := json.Unmarshal(run.Result, &result); err != nil || result.Status != "paid" || result.Payment != "pay-"+id+"/step/1" {
		t.Fatalf("result %s", run.Result)
	}
}
