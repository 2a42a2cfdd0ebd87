package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/server"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

// natsServerBinary builds the nats-server of hitl's module dependency once per version,
// into the temporary directory, and returns its path.
var natsServerBinary = sync.OnceValues(func() (string, error) {
	version := "unknown" // test binaries carry no module versions: go.mod says
	if mod, err := os.ReadFile("../go.mod"); err == nil {
		for line := range strings.Lines(string(mod)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/nats-io/nats-server/v2" {
				version = f[1]
			}
		}
	}
	bin := filepath.Join(os.TempDir(), "hitl-e2e-nats-server-"+version)
	if version != "unknown" {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	tmp := fmt.Sprintf("%s.%d", bin, os.Getpid())
	build := exec.Command("go", "build", "-o", tmp, "github.com/nats-io/nats-server/v2")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build nats-server: %v\n%s", err, out)
	}
	return bin, os.Rename(tmp, bin)
})

// The roles' passwords, given to nats-server through the variables deploy/nats reads.
var rolePasswords = map[string]string{
	"orchestrator": "orchestrator-" + uuid.NewString(),
	"notifier":     "notifier-" + uuid.NewString(),
	"responder":    "responder-" + uuid.NewString(),
	"dashboard":    "dashboard-" + uuid.NewString(),
	"admin":        "admin-" + uuid.NewString(),
}

// startShippedNATS runs a real nats-server process on deploy/nats/single.conf, changed only
// in where it listens (loopback, a free port, no monitoring port) and stores, and returns
// its URL.
func startShippedNATS(t *testing.T) string {
	t.Helper()
	bin, err := natsServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf, err := os.ReadFile("../deploy/nats/single.conf")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	text := string(conf)
	for old, repl := range map[string]string{
		"listen: 127.0.0.1:4222":   "listen: 127.0.0.1:" + port,
		"http: 127.0.0.1:8222":     "",
		"store_dir: /var/lib/nats": "store_dir: " + strings.ReplaceAll(filepath.Join(dir, "js"), `\`, `/`),
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("single.conf no longer has %q", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	accounts, err := os.ReadFile("../deploy/nats/accounts.inc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "single.conf"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.inc"), accounts, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "single.conf"))
	cmd.Env = os.Environ()
	for role, pw := range rolePasswords {
		cmd.Env = append(cmd.Env, "HITL_"+strings.ToUpper(role)+"_NATS_PASSWORD="+pw)
	}
	cmd.Stdout, cmd.Stderr = tWriter{t}, tWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	url := "nats://127.0.0.1:" + port
	eventually(t, 30*time.Second, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("nats-server exited: %v", err)
		default:
		}
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, func() string { return "nats-server listening" })
	return url
}

// roleAuth is a role's identity as a service's config takes it.
func roleAuth(role string) server.NATSAuth {
	return server.NATSAuth{User: role, Password: rolePasswords[role]}
}

// natsErrors counts the "nats error" lines a service logs: a permission violation of its
// own identity shows there.
type natsErrors struct {
	slog.Handler
	mu   *sync.Mutex
	seen *[]string
}

func (h natsErrors) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "nats error" {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		h.mu.Lock()
		*h.seen = append(*h.seen, b.String())
		h.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h natsErrors) WithAttrs(as []slog.Attr) slog.Handler {
	return natsErrors{h.Handler.WithAttrs(as), h.mu, h.seen}
}

// rawConn connects as role, with the permission violations it receives sent to the channel.
func rawConn(t *testing.T, url, role string) (*nats.Conn, chan error) {
	t.Helper()
	errs := make(chan error, 16)
	nc, err := nats.Connect(url, nats.UserInfo(role, rolePasswords[role]),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// refused publishes to subject as the connection's identity and waits for the server's
// permissions violation.
func refused(t *testing.T, role string, nc *nats.Conn, errs chan error, subject string, body []byte) {
	t.Helper()
	if err := nc.Publish(subject, body); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
			t.Fatalf("%s publishing %s: %v, want a permissions violation", role, subject, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s published to %s: no permissions violation", role, subject)
	}
}

// TestShippedNATSPermissions runs every role with its own identity against a real
// nats-server on the shipped single.conf: together they complete a run over REST (a
// question emailed, answered, followed up) and time a request out; none logs a permission
// violation. A notifier's and a dashboard's identity cannot answer a request, start a run
// or write a record; nothing they send resolves anything.
func TestShippedNATSPermissions(t *testing.T) {
	url := startShippedNATS(t)
	smtp := emailtest.Start(t, emailtest.Options{})
	t.Setenv("HITL_SMTP_URL", smtp.URL())
	t.Setenv("HITL_EMAIL_FROM", "hitl <hitl@example.com>")

	type in struct {
		Timeout string `json:"timeout"`
	}
	reg := hitl.NewRegistry()
	hitl.Register(reg, "nats-auth", func(ctx context.Context, in in) (string, error) {
		d, _ := time.ParseDuration(in.Timeout)
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Deploy?", Assignees: []string{"email:ops@example.com"},
			Timeout: d, Input: input.Spec{Type: input.Approval}})
		if errors.Is(err, hitl.ErrTimeout) {
			return "timed out", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("approved=%v", a.Approved), nil
	})

	var mu sync.Mutex
	var violations []string
	logger := slog.New(natsErrors{slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}), &mu, &violations})
	const token = "nats-auth-api-token-0123456789"
	base := func(role string) server.Config {
		return server.Config{NATS: url, NATSAuth: roleAuth(role), HTTP: "127.0.0.1:0", LinkSecret: "nats-auth-link-secret-0123456789",
			APITokens: []string{token}, Logger: logger.With("role", role)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	start := func(name string, run func(context.Context) error, ready chan server.Listening) server.Listening {
		t.Helper()
		done := make(chan error, 1)
		wg.Add(1)
		go func() { defer wg.Done(); done <- run(ctx) }()
		select {
		case l := <-ready:
			go func() {
				if err := <-done; err != nil && ctx.Err() == nil {
					t.Errorf("%s stopped: %v", name, err)
				}
			}()
			return l
		case err := <-done:
			t.Fatalf("%s: %v", name, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not start", name)
		}
		return server.Listening{}
	}
	// The orchestrator first: its identity creates the streams; the others' may only read them.
	readyO, readyN, readyR := make(chan server.Listening, 1), make(chan server.Listening, 1), make(chan server.Listening, 1)
	o := &server.Orchestrator{Config: base("orchestrator"), Workflows: reg}
	o.Ready = func(l server.Listening) { readyO <- l }
	start("orchestrator", o.Run, readyO)
	n := &server.Notifier{Config: base("notifier")}
	n.Ready = func(l server.Listening) { readyN <- l }
	start("notifier", n.Run, readyN)
	r := &server.Responder{Config: base("responder")}
	r.Ready = func(l server.Listening) { readyR <- l }
	resp := start("responder", r.Run, readyR)
	api := "http://" + resp.HTTP.String()

	startRun := func(timeout string) string {
		t.Helper()
		res := doCall(t, "POST", api+"/v1/runs", token, map[string]any{"workflow": "nats-auth", "input": in{Timeout: timeout}})
		if res.Status >= 300 {
			t.Fatalf("start a run as the responder: %d %s", res.Status, res.Body)
		}
		var run struct{ ID string }
		res.decode(t, &run)
		return run.ID
	}
	type view struct {
		Status  string
		Result  json.RawMessage
		Pending []struct{ ID string }
	}
	getRun := func(id string) view {
		var v view
		doCall(t, "GET", api+"/v1/runs/"+id, token, nil).decode(t, &v)
		return v
	}
	runID := startRun("")
	var v view
	// A long-poll (a watch of the run's record under the responder's identity) until the
	// run asks.
	eventually(t, 30*time.Second, func() bool {
		doCall(t, "GET", api+"/v1/runs/"+runID+"/wait?timeout=5s", token, nil).decode(t, &v)
		return len(v.Pending) == 1
	}, func() string { return "the run's question (status " + v.Status + ")" })
	reqID := v.Pending[0].ID
	smtp.Wait(t, "the notifier's email", func() bool { return smtp.Count(reqID, "request") == 1 })

	// Forgeries: a response at the gate, a run start, record writes, stream deletes.
	forged, _ := json.Marshal(events.Response{RequestID: reqID, Data: json.RawMessage(`{"approved":false}`), Responder: "attacker",
		At: time.Now().UTC()})
	notifier, notifierErrs := rawConn(t, url, "notifier")
	dashboard, dashboardErrs := rawConn(t, url, "dashboard")
	for _, subject := range []string{streams.SubjectResponse + reqID, streams.RunSubject(streams.SubjectRunStarted, "nats-auth", uuid.NewString()),
		streams.RunSubject(streams.SubjectRunCancel, "nats-auth", runID), streams.SubjectResolved + reqID,
		"$KV." + streams.BucketRequests + "." + reqID, "$KV." + streams.BucketRuns + "." + runID, "$JS.API.STREAM.DELETE.HITL",
		"$JS.API.CONSUMER.DELETE.HITL." + streams.ConsumerOrchestrator} {
		refused(t, "notifier", notifier, notifierErrs, subject, forged)
		refused(t, "dashboard", dashboard, dashboardErrs, subject, forged)
	}
	refused(t, "dashboard", dashboard, dashboardErrs, "$KV."+streams.BucketDeliveries+"."+reqID, forged)
	responder, responderErrs := rawConn(t, url, "responder")
	refused(t, "responder", responder, responderErrs, streams.RunSubject(streams.SubjectRunResume, "nats-auth", runID), forged)
	refused(t, "responder", responder, responderErrs, "$JS.API.STREAM.DELETE.HITL", nil)
	orchestrator, orchestratorErrs := rawConn(t, url, "orchestrator")
	refused(t, "orchestrator", orchestrator, orchestratorErrs, "$JS.API.STREAM.DELETE.HITL", nil)

	// Nothing reached the gate: the request is pending, its response subject empty. The
	// dashboard's identity reads that much.
	djs, _ := jetstream.New(dashboard)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	st, err := djs.Stream(rctx, streams.Stream)
	if err != nil {
		t.Fatalf("the dashboard reads the stream's info: %v", err)
	}
	if _, err := st.GetLastMsgForSubject(rctx, streams.SubjectResponse+reqID); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the gate of %s after the forgeries: %v, want empty", reqID, err)
	}
	kv, err := djs.KeyValue(rctx, streams.BucketRequests)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(rctx, reqID)
	if err != nil {
		t.Fatalf("the dashboard reads the request record: %v", err)
	}
	var rec events.Request
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Status != events.StatusPending {
		t.Fatalf("request %s after the forgeries: %s (%v)", reqID, rec.Status, err)
	}

	// Listings are batch direct gets: the dashboard's identity pages through requests and
	// runs, and so does the responder's, serving GET /v1/requests and /v1/runs.
	dst, err := store.Open(rctx, djs)
	if err != nil {
		t.Fatal(err)
	}
	if page, err := dst.ListRequests(rctx, store.RequestQuery{Status: "pending"}); err != nil ||
		!slices.ContainsFunc(page.Requests, func(r *events.Request) bool { return r.ID == reqID }) {
		t.Fatalf("the dashboard lists the pending requests: %v", err)
	}
	if page, err := dst.ListRuns(rctx, store.RunQuery{Workflow: "nats-auth", Newest: true}); err != nil ||
		!slices.ContainsFunc(page.Runs, func(r *store.Run) bool { return r.ID == runID }) {
		t.Fatalf("the dashboard lists the runs: %v", err)
	}
	for _, path := range []string{"/v1/requests?status=pending&workflow=nats-auth", "/v1/requests?status=all&order=newest", "/v1/runs?status=waiting"} {
		if r := doCall(t, "GET", api+path, token, nil); r.Status != 200 || !strings.Contains(string(r.Body), reqID) && !strings.Contains(string(r.Body), runID) {
			t.Fatalf("GET %s through the responder: %d %s", path, r.Status, r.Body)
		}
	}

	// The real answer, over REST through the responder; the orchestrator resumes the run and
	// the notifier sends the follow-up.
	if a := doCall(t, "POST", api+"/v1/requests/"+reqID+"/respond", token, map[string]any{"data": map[string]any{"approved": true}}); a.Status != 200 {
		t.Fatalf("answer: %d %s", a.Status, a.Body)
	}
	eventually(t, 30*time.Second, func() bool { v = getRun(runID); return v.Status == "completed" },
		func() string { return "the run to complete (status " + v.Status + ")" })
	if string(v.Result) != `"approved=true"` {
		t.Fatalf("result %s", v.Result)
	}
	smtp.Wait(t, "the notifier's follow-up", func() bool { return smtp.Count(reqID, "resolved") == 1 })

	// The orchestrator's timeout path: a deadline passes, its identity publishes the timeout.
	timed := startRun("1s")
	eventually(t, 30*time.Second, func() bool { v = getRun(timed); return v.Status == "completed" },
		func() string { return "the run to time out (status " + v.Status + ")" })
	if string(v.Result) != `"timed out"` {
		t.Fatalf("result of the timed-out run %s", v.Result)
	}

	// Cancels: a run's (the orchestrator cancels its pending request at the gate) and a
	// standalone request's (the responder's), after a request listing.
	cancelled := startRun("")
	eventually(t, 30*time.Second, func() bool { v = getRun(cancelled); return len(v.Pending) == 1 },
		func() string { return "the question of the run to cancel (status " + v.Status + ")" })
	if c := doCall(t, "POST", api+"/v1/runs/"+cancelled+"/cancel", token, nil); c.Status != 202 {
		t.Fatalf("cancel the run: %d %s", c.Status, c.Body)
	}
	eventually(t, 30*time.Second, func() bool { v = getRun(cancelled); return v.Status == "cancelled" },
		func() string { return "the run to be cancelled (status " + v.Status + ")" })
	sr := doCall(t, "POST", api+"/v1/requests", token, map[string]any{"title": "Standalone?", "timeout": "30m"})
	if sr.Status != 201 {
		t.Fatalf("a standalone request: %d %s", sr.Status, sr.Body)
	}
	var standalone struct{ ID string }
	sr.decode(t, &standalone)
	if l := doCall(t, "GET", api+"/v1/requests?status=pending", token, nil); l.Status != 200 || !strings.Contains(string(l.Body), standalone.ID) {
		t.Fatalf("list pending requests: %d %s", l.Status, l.Body)
	}
	if c := doCall(t, "POST", api+"/v1/requests/"+standalone.ID+"/cancel", token, nil); c.Status != 200 {
		t.Fatalf("cancel the standalone request: %d %s", c.Status, c.Body)
	}
	var sv struct{ Status string }
	doCall(t, "GET", api+"/v1/requests/"+standalone.ID, token, nil).decode(t, &sv)
	if sv.Status != string(events.StatusCancelled) {
		t.Fatalf("the standalone request after its cancel: %s", sv.Status)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("the services met NATS errors under their own identities:\n%s", strings.Join(violations, "\n"))
	}
}
