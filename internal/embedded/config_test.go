package embedded_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/hitl-dev/hitl/internal/testcerts"
)

// deployEnv is what the shipped configs read from nats-server's environment.
var deployEnv = map[string]string{
	"HITL_ORCHESTRATOR_NATS_PASSWORD": "orchestrator-pw",
	"HITL_NOTIFIER_NATS_PASSWORD":     "notifier-pw",
	"HITL_RESPONDER_NATS_PASSWORD":    "responder-pw",
	"HITL_DASHBOARD_NATS_PASSWORD":    "dashboard-pw",
	"HITL_ADMIN_NATS_PASSWORD":        "admin-pw",
	"HITL_ROUTE_PASSWORD":             "route-pw",
	"HITL_ROUTES":                     `["nats-route://route:route-pw@n1:6222", "nats-route://route:route-pw@n2:6222", "nats-route://route:route-pw@n3:6222"]`,
}

// deployCopy copies deploy/nats's configs and accounts.inc into a temporary directory, with
// the certificate directory /etc/nats/tls/ replaced by one holding the certificates
// gen-certs.sh would make (nats-server loads them while it parses), and returns the configs.
func deployCopy(t *testing.T) []string {
	t.Helper()
	dir, certs := t.TempDir(), t.TempDir()
	if err := testcerts.Write(certs, []string{"n1", "n2", "n3"}, nil); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../deploy/nats/*.conf")
	if err != nil || len(files) < 4 {
		t.Fatalf("want single.conf and three cluster configs, found %v (%v)", files, err)
	}
	var out []string
	for _, f := range append(files, "../../deploy/nats/accounts.inc") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/etc/nats/tls/", filepath.ToSlash(certs)+"/")
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".conf") {
			out = append(out, dst)
		}
	}
	return out
}

// The server configs in deploy/nats parse, enable JetStream, and admit only hitl's
// identities, each with its permissions; cluster routes need the route password, and the
// cluster configs require TLS of clients and of routes (routes verify each other's
// certificates; client certificates are optional).
func TestDeployConfigsParse(t *testing.T) {
	for k, v := range deployEnv {
		t.Setenv(k, v)
	}
	for _, f := range deployCopy(t) {
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !opts.JetStream {
			t.Errorf("%s: JetStream is not enabled", f)
		}
		users := map[string]*server.User{}
		for _, u := range opts.Users {
			users[u.Username] = u
			if u.Account == nil || u.Account.Name != "HITL" {
				t.Errorf("%s: user %s is not in account HITL", f, u.Username)
			}
		}
		for _, role := range []string{"orchestrator", "notifier", "responder", "dashboard"} {
			u := users[role]
			if u == nil || u.Password != role+"-pw" || u.Permissions == nil || u.Permissions.Publish == nil {
				t.Errorf("%s: user %s missing, without its password from the environment, or without permissions", f, role)
				continue
			}
			may := slices.Contains(u.Permissions.Publish.Allow, "hitl.response.>") || slices.Contains(u.Permissions.Publish.Allow, "hitl.>")
			if want := role == "orchestrator" || role == "responder"; may != want {
				t.Errorf("%s: %s may publish to the response gate: %v, want %v", f, role, may, want)
			}
		}
		if users["admin"] == nil || len(users) != 5 {
			t.Errorf("%s: users %v, want the four roles and admin", f, len(users))
		}
		if filepath.Base(f) == "single.conf" {
			if opts.Host != "127.0.0.1" {
				t.Errorf("%s: listens on %q, want loopback", f, opts.Host)
			}
			continue
		}
		if c := opts.TLSConfig; c == nil || c.MinVersion < tls.VersionTLS12 || c.ClientAuth != tls.NoClientCert {
			t.Errorf("%s: client TLS is off, below TLS 1.2, or requires client certificates (want them optional)", f)
		}
		if c := opts.Cluster.TLSConfig; c == nil || c.ClientAuth != tls.RequireAndVerifyClientCert {
			t.Errorf("%s: route TLS is off or does not verify the peer node", f)
		}
		if opts.Cluster.Name != "hitl" || len(opts.Routes) != 3 {
			t.Errorf("%s: cluster %q with %d routes, want hitl with 3", f, opts.Cluster.Name, len(opts.Routes))
		}
		if opts.Cluster.Username != "route" || opts.Cluster.Password != "route-pw" {
			t.Errorf("%s: routes are not authenticated (user %q)", f, opts.Cluster.Username)
		}
		for _, r := range opts.Routes {
			if p, _ := r.User.Password(); r.User == nil || p != "route-pw" {
				t.Errorf("%s: route %s carries no credentials", f, r.Host)
			}
		}
	}
}

// A password variable may hold a bcrypt hash instead, so the server keeps no plain password.
func TestDeployConfigTakesBcryptHashes(t *testing.T) {
	for k, v := range deployEnv {
		t.Setenv(k, v)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("notifier-pw"), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HITL_NOTIFIER_NATS_PASSWORD", string(hash))
	opts, err := server.ProcessConfigFile("../../deploy/nats/single.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range opts.Users {
		if u.Username == "notifier" && u.Password != string(hash) {
			t.Fatalf("notifier's password %q, want the hash", u.Password)
		}
	}
}

// mTLS is one line per cluster node, as deploy/nats/README.md says: with the client tls
// block's `verify: true` uncommented, the node requires a client certificate signed by its CA.
func TestDeployClusterConfigsTurnOnMTLS(t *testing.T) {
	for k, v := range deployEnv {
		t.Setenv(k, v)
	}
	for _, f := range deployCopy(t) {
		if filepath.Base(f) == "single.conf" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), "  # verify: true\n") != 1 {
			t.Fatalf("%s: want one commented `verify: true` line in the client tls block", f)
		}
		if err := os.WriteFile(f, []byte(strings.Replace(string(b), "  # verify: true\n", "  verify: true\n", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatalf("%s with mTLS: %v", f, err)
		}
		if c := opts.TLSConfig; c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil {
			t.Errorf("%s with verify: true does not require client certificates (client auth %v)", f, c.ClientAuth)
		}
	}
}
