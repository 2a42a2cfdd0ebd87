package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/testcerts"
	"github.com/hitl-dev/hitl/server"
	"github.com/hitl-dev/hitl/streams"
	"github.com/hitl-dev/hitl/surface/email/emailtest"
)

// shippedCluster is three nats-server processes on the shipped cluster-n1..3.conf.
type shippedCluster struct {
	urls  []string // client URL of each node
	ca    string   // ca.pem that signs the nodes' certificates
	certs string   // directory of the certificates gen-certs.sh would make
	kill  []func() // kill -9 of each node, waiting for it to exit
}

// cert is the client certificate and key of role.
func (c *shippedCluster) cert(role string) (certFile, keyFile string) {
	return filepath.Join(c.certs, role+".pem"), filepath.Join(c.certs, role+"-key.pem")
}

// url is every node's client URL, comma separated, as services take HITL_NATS.
func (c *shippedCluster) url() string { return strings.Join(c.urls, ",") }

// startShippedCluster runs deploy/nats/cluster-n1..3.conf as three real nats-server
// processes on loopback, each config changed only in its ports (no monitoring port), its
// store directory and the certificate directory, with TLS on for clients and routes and
// the routes authenticated; with mtls, the client tls block's `verify: true` is uncommented.
// It returns once every node serves JetStream to a TLS client.
func startShippedCluster(t *testing.T, mtls bool) *shippedCluster {
	t.Helper()
	bin, err := natsServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &shippedCluster{certs: filepath.Join(dir, "tls")}
	c.ca = filepath.Join(c.certs, "ca.pem")
	if err := os.Mkdir(c.certs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := testcerts.Write(c.certs, []string{"n1", "n2", "n3"}, []string{"orchestrator", "notifier", "responder", "dashboard", "admin"}); err != nil {
		t.Fatal(err)
	}
	accounts, err := os.ReadFile("../deploy/nats/accounts.inc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.inc"), accounts, 0o600); err != nil {
		t.Fatal(err)
	}
	const routePassword = "route-secret-0123456789"
	var routes []string
	clientPorts, routePorts := make([]string, 3), make([]string, 3)
	for i := range 3 {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
		routes = append(routes, fmt.Sprintf(`"nats-route://route:%s@127.0.0.1:%s"`, routePassword, routePorts[i]))
	}
	slash := func(p string) string { return strings.ReplaceAll(p, `\`, `/`) }
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		conf, err := os.ReadFile("../deploy/nats/cluster-" + name + ".conf")
		if err != nil {
			t.Fatal(err)
		}
		text := string(conf)
		for old, repl := range map[string]string{
			"server_name: hitl-" + name: "server_name: hitl-" + name,
			"listen: 0.0.0.0:4222":      "listen: 127.0.0.1:" + clientPorts[i],
			"listen: 0.0.0.0:6222":      "listen: 127.0.0.1:" + routePorts[i],
			"http: 127.0.0.1:8222":      "",
			"store_dir: /var/lib/nats":  "store_dir: " + slash(filepath.Join(dir, name)),
		} {
			if !strings.Contains(text, old) {
				t.Fatalf("cluster-%s.conf no longer has %q", name, old)
			}
			text = strings.Replace(text, old, repl, 1)
		}
		if n := strings.Count(text, "/etc/nats/tls/"); n < 6 {
			t.Fatalf("cluster-%s.conf names /etc/nats/tls/ %d times, want the client and the route tls blocks", name, n)
		}
		text = strings.ReplaceAll(text, "/etc/nats/tls/", slash(c.certs)+"/")
		if mtls {
			if !strings.Contains(text, "  # verify: true\n") {
				t.Fatalf("cluster-%s.conf has no commented `verify: true` in its client tls block", name)
			}
			text = strings.Replace(text, "  # verify: true\n", "  verify: true\n", 1)
		}
		path := filepath.Join(dir, "cluster-"+name+".conf")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", path)
		cmd.Env = append(os.Environ(), "HITL_ROUTE_PASSWORD="+routePassword, "HITL_ROUTES=["+strings.Join(routes, ", ")+"]")
		for role, pw := range rolePasswords {
			cmd.Env = append(cmd.Env, "HITL_"+strings.ToUpper(role)+"_NATS_PASSWORD="+pw)
		}
		cmd.Stdout, cmd.Stderr = tWriter{t}, tWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		kill := sync.OnceFunc(func() { _ = cmd.Process.Kill(); <-exited })
		t.Cleanup(kill)
		c.kill = append(c.kill, kill)
		c.urls = append(c.urls, "nats://127.0.0.1:"+clientPorts[i])
	}
	// Each node answers a JetStream request over TLS: the routes are up and a meta leader
	// was elected.
	for i, u := range c.urls {
		var last error
		eventually(t, 60*time.Second, func() bool {
			opts := []nats.Option{nats.UserInfo("admin", rolePasswords["admin"]), nats.RootCAs(c.ca), nats.NoReconnect(),
				nats.Timeout(2 * time.Second)}
			if mtls {
				opts = append(opts, nats.ClientCert(c.cert("admin")))
			}
			nc, err := nats.Connect(u, opts...)
			if err != nil {
				last = err
				return false
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, last = js.AccountInfo(ctx)
			return last == nil
		}, func() string { return fmt.Sprintf("node n%d serving JetStream over TLS: %v", i+1, last) })
	}
	return c
}

// TestShippedNATSCluster runs the shipped three-node cluster configs with TLS on for clients
// and routes, and an orchestrator, a notifier and a responder, each with its own identity,
// the cluster's CA and three replicas: a run completes over REST (asked by email, answered,
// followed up), its streams are replicated on three nodes, and a second run completes after
// a node is killed. A plaintext client and a wrong password are refused.
func TestShippedNATSCluster(t *testing.T) {
	cl := startShippedCluster(t, false)
	smtp := emailtest.Start(t, emailtest.Options{})
	t.Setenv("HITL_SMTP_URL", smtp.URL())
	t.Setenv("HITL_EMAIL_FROM", "hitl <hitl@example.com>")

	// Refusals first, on every node: plain TCP gets no further than the server's INFO
	// (the TLS handshake fails on the CONNECT line, so no password is read), and TLS with a
	// wrong password is an authorization violation.
	for _, u := range cl.urls {
		refusedPlaintext(t, strings.TrimPrefix(u, "nats://"))
		_, err := nats.Connect(u, nats.UserInfo("responder", "wrong-"+uuid.NewString()), nats.RootCAs(cl.ca), nats.NoReconnect())
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("%s: a wrong password over TLS: %v, want an authorization violation", u, err)
		}
		// The right password, but without the cluster's CA: the node's certificate is not trusted.
		_, err = nats.Connect(u, nats.UserInfo("responder", rolePasswords["responder"]), nats.NoReconnect())
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("%s: a client that does not trust the CA: %v, want a certificate error", u, err)
		}
	}

	type in struct{ Deploy string }
	reg := hitl.NewRegistry()
	hitl.Register(reg, "nats-cluster", func(ctx context.Context, in in) (string, error) {
		a, err := hitl.Ask[input.ApprovalAnswer](ctx, hitl.Request{Title: "Deploy " + in.Deploy + "?",
			Assignees: []string{"email:ops@example.com"}, Input: input.Spec{Type: input.Approval}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s approved=%v", in.Deploy, a.Approved), nil
	})

	var mu sync.Mutex
	var violations []string
	logger := slog.New(natsErrors{slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}), &mu, &violations})
	const token = "nats-cluster-api-token-0123456789"
	base := func(role string) server.Config {
		auth := roleAuth(role)
		auth.TLSCA = cl.ca
		return server.Config{NATS: cl.url(), NATSAuth: auth, Replicas: 3, HTTP: "127.0.0.1:0",
			LinkSecret: "nats-cluster-link-secret-0123456789", APITokens: []string{token}, Logger: logger.With("role", role)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	start := func(name string, run func(context.Context) error, ready chan server.Listening) string {
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
			return "http://" + l.HTTP.String()
		case err := <-done:
			t.Fatalf("%s: %v", name, err)
		case <-time.After(90 * time.Second):
			t.Fatalf("%s did not start", name)
		}
		return ""
	}
	// The orchestrator first: its identity creates the streams, replicated three times.
	readyO, readyN, readyR := make(chan server.Listening, 1), make(chan server.Listening, 1), make(chan server.Listening, 1)
	o := &server.Orchestrator{Config: base("orchestrator"), Workflows: reg}
	o.Ready = func(l server.Listening) { readyO <- l }
	oHTTP := start("orchestrator", o.Run, readyO)
	n := &server.Notifier{Config: base("notifier")}
	n.Ready = func(l server.Listening) { readyN <- l }
	nHTTP := start("notifier", n.Run, readyN)
	r := &server.Responder{Config: base("responder")}
	r.Ready = func(l server.Listening) { readyR <- l }
	api := start("responder", r.Run, readyR)
	for _, h := range []string{oHTTP, nHTTP, api} {
		res, err := http.Get(h + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s/readyz: %d", h, res.StatusCode)
		}
	}

	// The dashboard's identity, over TLS, sees the stream on three nodes.
	dash, err := nats.Connect(cl.url(), nats.UserInfo("dashboard", rolePasswords["dashboard"]), nats.RootCAs(cl.ca))
	if err != nil {
		t.Fatalf("the dashboard connects over TLS: %v", err)
	}
	t.Cleanup(dash.Close)
	djs, _ := jetstream.New(dash)
	var replicas, streamLeader string
	eventually(t, 30*time.Second, func() bool {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		st, err := djs.Stream(rctx, streams.Stream)
		if err != nil {
			replicas = err.Error()
			return false
		}
		i := st.CachedInfo()
		if i.Cluster == nil {
			replicas = "no cluster info"
			return false
		}
		streamLeader = i.Cluster.Leader
		replicas = fmt.Sprintf("R%d, leader %q, %d peers", i.Config.Replicas, i.Cluster.Leader, len(i.Cluster.Replicas))
		return i.Config.Replicas == 3 && i.Cluster.Leader != "" && len(i.Cluster.Replicas) == 2
	}, func() string { return "stream " + streams.Stream + " on three nodes: " + replicas })

	type view struct {
		Status  string
		Result  json.RawMessage
		Pending []struct{ ID string }
	}
	complete := func(deploy string) {
		t.Helper()
		// 503 while a stream leader moves: retried as a client would, with an Idempotency-Key
		// so that a retry cannot start a second run.
		key, body := uuid.NewString(), map[string]any{"workflow": "nats-cluster", "input": in{Deploy: deploy}}
		var res apiResp
		eventually(t, 60*time.Second, func() bool {
			res = keyedCall(t, api+"/v1/runs", token, key, body)
			return res.Status != http.StatusServiceUnavailable
		}, func() string { return "the run started: " + string(res.Body) })
		if res.Status != http.StatusCreated {
			t.Fatalf("start a run: %d %s", res.Status, res.Body)
		}
		var run struct{ ID string }
		res.decode(t, &run)
		var v view
		eventually(t, 60*time.Second, func() bool {
			doCall(t, "GET", api+"/v1/runs/"+run.ID+"/wait?timeout=5s", token, nil).decode(t, &v)
			return len(v.Pending) == 1
		}, func() string { return "the run's question (status " + v.Status + ")" })
		reqID := v.Pending[0].ID
		smtp.Wait(t, "the notifier's email", func() bool { return smtp.Count(reqID, "request") == 1 })
		var a apiResp
		eventually(t, 60*time.Second, func() bool {
			a = doCall(t, "POST", api+"/v1/requests/"+reqID+"/respond", token, map[string]any{"data": map[string]any{"approved": true}})
			return a.Status != http.StatusServiceUnavailable // a stream leader moving: retry, as a client would
		}, func() string { return "the answer accepted" })
		if a.Status != http.StatusOK {
			t.Fatalf("answer: %d %s", a.Status, a.Body)
		}
		eventually(t, 60*time.Second, func() bool {
			doCall(t, "GET", api+"/v1/runs/"+run.ID, token, nil).decode(t, &v)
			return v.Status == "completed"
		}, func() string { return "the run to complete (status " + v.Status + ")" })
		if want := fmt.Sprintf("%q", deploy+" approved=true"); string(v.Result) != want {
			t.Fatalf("result %s, want %s", v.Result, want)
		}
		smtp.Wait(t, "the notifier's follow-up", func() bool { return smtp.Count(reqID, "resolved") == 1 })
	}
	complete("v1")

	// The node that leads the stream goes down (kill -9): the two other replicas keep a
	// quorum and elect a new leader, services connected to it reconnect to the others, and
	// the next run completes.
	var leader int
	if _, err := fmt.Sscanf(strings.TrimPrefix(streamLeader, "hitl-n"), "%d", &leader); err != nil || leader < 1 || leader > 3 {
		t.Fatalf("stream leader %q is not one of hitl-n1..3", streamLeader)
	}
	cl.kill[leader-1]()
	complete("v2")

	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("the services met NATS errors under their own identities:\n%s", strings.Join(violations, "\n"))
	}
}

// refusedPlaintext speaks plain NATS to addr with a valid password: the server's INFO
// demands TLS, and the CONNECT is never answered; the connection is closed.
func refusedPlaintext(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	rd := bufio.NewReader(c)
	info, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(info, "INFO ") || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("%s: first line %q (%v), want INFO with tls_required", addr, info, err)
	}
	connect, _ := json.Marshal(map[string]any{"user": "responder", "pass": rolePasswords["responder"], "verbose": true})
	if _, err := fmt.Fprintf(c, "CONNECT %s\r\nPING\r\n", connect); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := rd.ReadString('\n')
		if strings.HasPrefix(line, "+OK") || strings.HasPrefix(line, "PONG") {
			t.Fatalf("%s: a plaintext client was answered %q", addr, line)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: a plaintext client's connection is still open", addr)
		}
		if err != nil {
			return // closed
		}
	}
}

// TestShippedNATSClusterMTLS turns on the client certificates the cluster configs leave
// optional (one line per node, as deploy/nats/README.md says): a client with the right
// password but no certificate is refused, and an orchestrator with its role's certificate
// (HITL_NATS_TLS_CERT/_KEY) creates the streams with three replicas and is ready.
func TestShippedNATSClusterMTLS(t *testing.T) {
	cl := startShippedCluster(t, true)
	_, err := nats.Connect(cl.url(), nats.UserInfo("orchestrator", rolePasswords["orchestrator"]), nats.RootCAs(cl.ca), nats.NoReconnect())
	// TLS 1.3 reports the missing certificate after the handshake: the alert
	// (certificate required) or, when the client writes first, a closed connection.
	if err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("a client without a certificate: %v, want refused in TLS", err)
	}

	auth := roleAuth("orchestrator")
	auth.TLSCA = cl.ca
	auth.TLSCert, auth.TLSKey = cl.cert("orchestrator")
	o := &server.Orchestrator{Config: server.Config{NATS: cl.url(), NATSAuth: auth, Replicas: 3, HTTP: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}, Workflows: hitl.NewRegistry()}
	ready := make(chan server.Listening, 1)
	o.Ready = func(l server.Listening) { ready <- l }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case l := <-ready:
		res, err := http.Get("http://" + l.HTTP.String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("/readyz: %d", res.StatusCode)
		}
	case err := <-done:
		t.Fatalf("orchestrator with its client certificate: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("orchestrator with its client certificate did not start")
	}

	nc, err := nats.Connect(cl.url(), nats.UserInfo("dashboard", rolePasswords["dashboard"]), nats.RootCAs(cl.ca),
		nats.ClientCert(cl.cert("dashboard")))
	if err != nil {
		t.Fatalf("the dashboard with its certificate: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	st, err := js.Stream(rctx, streams.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream %s has %d replicas, want 3", streams.Stream, r)
	}
}
