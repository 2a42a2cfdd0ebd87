package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/server"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://ada:s3cret@n1:4222":                         "nats://ada:***@n1:4222",
		"nats://s3cret-token@n1:4222":                       "nats://***@n1:4222",
		"ada:p@ss@n1:4222":                                  "ada:***@n1:4222",
		"nats://n1:4222":                                    "nats://n1:4222",
		"127.0.0.1:4222":                                    "127.0.0.1:4222",
		"tls://a:b@n1:4222, nats://n2:4222,nats://c:d@n3:1": "tls://a:***@n1:4222,nats://n2:4222,nats://c:***@n3:1",
		"nats://u:pw@host:4222/path@x":                      "nats://u:***@host:4222/path@x",
		"":                                                  "",
	} {
		if got := server.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A password in the NATS URL reaches neither the logs nor the error of a failed connect.
func TestNATSPasswordStaysOutOfLogsAndErrors(t *testing.T) {
	var logs bytes.Buffer
	o := &server.Orchestrator{Config: server.Config{NATS: "nats://ada:hunter2-secret@127.0.0.1:1", HTTP: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Workflows: hitl.NewRegistry()}
	err := o.Run(context.Background())
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if strings.Contains(err.Error()+logs.String(), "hunter2") || !strings.Contains(err.Error(), "ada:***@") {
		t.Fatalf("error %q, logs %q", err, logs.String())
	}
}

func TestNATSFlagsAndSecretsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("HITL_NATS_USER", "ada")
	t.Setenv("HITL_NATS_PASSWORD", "pw-from-env")
	t.Setenv("HITL_NATS_TLS_CA", file("ca.pem"))
	t.Setenv("HITL_NATS_TLS_CERT", file("cert.pem"))
	t.Setenv("HITL_NATS_TLS_KEY", file("key.pem"))
	o := &server.Orchestrator{}
	if err := server.Parse("test", o, []string{"--nats-user", "bob"}); err != nil {
		t.Fatal(err)
	}
	a := o.NATSAuth
	if a.User != "bob" || a.Password != "pw-from-env" || a.TLSCA != filepath.Join(dir, "ca.pem") || a.TLSKey != filepath.Join(dir, "key.pem") {
		t.Fatalf("auth from flags and environment: user %q, ca %q, key %q", a.User, a.TLSCA, a.TLSKey)
	}
	// Secrets have no flags, so they never show in a process listing.
	for _, f := range []string{"--nats-password", "--nats-token"} {
		if err := server.Parse("test", &server.Orchestrator{}, []string{f, "x"}); err == nil {
			t.Errorf("%s is a flag", f)
		}
	}
	if err := server.Parse("test", &server.Orchestrator{}, []string{"--nats-creds", filepath.Join(dir, "missing.creds")}); err != nil {
		t.Fatalf("parse: %v", err) // files are checked when the role runs
	}
}

func TestNATSAuthRefusesWhatCannotWork(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		a    server.NATSAuth
		want string
	}{
		"two ways":          {server.NATSAuth{Token: "t0ken-secret", User: "u", Password: "p"}, "not several"},
		"user, no password": {server.NATSAuth{User: "u"}, "go together"},
		"password, no user": {server.NATSAuth{Password: "p"}, "go together"},
		"cert without key":  {server.NATSAuth{TLSCert: f}, "HITL_NATS_TLS_KEY"},
		"missing creds":     {server.NATSAuth{Creds: filepath.Join(dir, "none.creds")}, "HITL_NATS_CREDS"},
		"missing CA":        {server.NATSAuth{TLSCA: filepath.Join(dir, "none.pem")}, "HITL_NATS_TLS_CA"},
	} {
		_, err := tc.a.Options()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "t0ken-secret") {
			t.Errorf("%s: the error shows the token", name)
		}
	}
}

// Each way to authenticate connects to a real server that requires it, and is refused by
// one that requires another.
func TestNATSAuthConnects(t *testing.T) {
	dir := t.TempDir()
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		opts *natsserver.Options
		auth server.NATSAuth
	}{
		"user and password": {&natsserver.Options{Username: "ada", Password: "pw-0123"}, server.NATSAuth{User: "ada", Password: "pw-0123"}},
		"token":             {&natsserver.Options{Authorization: "tok-0123"}, server.NATSAuth{Token: "tok-0123"}},
		"nkey":              {&natsserver.Options{Nkeys: []*natsserver.NkeyUser{{Nkey: pub}}}, server.NATSAuth{NKey: seedFile}},
		"creds":             credsServer(t, dir),
		"mTLS":              tlsServer(t, dir),
	}
	for name, tc := range cases {
		url := startServer(t, tc.opts)
		opts, err := tc.auth.Options()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		nc.Close()
		// Without the credentials the server refuses (for mTLS, without the client certificate).
		bare := server.NATSAuth{TLSCA: tc.auth.TLSCA}
		opts, _ = bare.Options()
		if nc, err := nats.Connect(url, opts...); err == nil {
			nc.Close()
			t.Errorf("%s: connected without credentials", name)
		}
	}
}

func startServer(t *testing.T, o *natsserver.Options) string {
	t.Helper()
	o.Host, o.Port, o.NoSigs, o.NoLog = "127.0.0.1", -1, true, true
	s, err := natsserver.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// credsServer is a server in operator mode that trusts one account, and a creds file of a
// user of it.
func credsServer(t *testing.T, dir string) struct {
	opts *natsserver.Options
	auth server.NATSAuth
} {
	t.Helper()
	op, acc, user := mustKP(nkeys.CreateOperator), mustKP(nkeys.CreateAccount), mustKP(nkeys.CreateUser)
	opPub, _ := op.PublicKey()
	accPub, _ := acc.PublicKey()
	userPub, _ := user.PublicKey()
	opJWT, err1 := jwt.NewOperatorClaims(opPub).Encode(op)
	accJWT, err2 := jwt.NewAccountClaims(accPub).Encode(op)
	uc := jwt.NewUserClaims(userPub)
	uc.IssuerAccount = accPub
	userJWT, err3 := uc.Encode(acc)
	seed, _ := user.Seed()
	creds, err4 := jwt.FormatUserConfig(userJWT, seed)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(dir, "user.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	opClaims, err := jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	res := &natsserver.MemAccResolver{}
	if err := res.Store(accPub, accJWT); err != nil {
		t.Fatal(err)
	}
	return struct {
		opts *natsserver.Options
		auth server.NATSAuth
	}{&natsserver.Options{TrustedOperators: []*jwt.OperatorClaims{opClaims}, AccountResolver: res}, server.NATSAuth{Creds: credsFile}}
}

func mustKP(f func() (nkeys.KeyPair, error)) nkeys.KeyPair {
	kp, err := f()
	if err != nil {
		panic(err)
	}
	return kp
}

// tlsServer is a server that requires a client certificate signed by its CA, and the
// files of a client that has one.
func tlsServer(t *testing.T, dir string) struct {
	opts *natsserver.Options
	auth server.NATSAuth
} {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hitl test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "EC PRIVATE KEY", kb)
		return certFile, keyFile
	}
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", caDER)
	srvCert, srvKey := issue("server", 2, x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := issue("client", 3, x509.ExtKeyUsageClientAuth)
	tc, err := natsserver.GenTLSConfig(&natsserver.TLSConfigOpts{CertFile: srvCert, KeyFile: srvKey, CaFile: caFile, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	return struct {
		opts *natsserver.Options
		auth server.NATSAuth
	}{&natsserver.Options{TLSConfig: tc, TLSVerify: true, TLSTimeout: 2}, server.NATSAuth{TLSCA: caFile, TLSCert: cliCert, TLSKey: cliKey}}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hitl dev's embedded NATS refuses a client without its credentials, listens on loopback,
// keeps the generated password (mode 0600) across restarts, and hands the variables that
// connect to it to Ready, without the password in Listening.NATS.
func TestDevNATSRequiresCredentials(t *testing.T) {
	data := t.TempDir()
	var first []string
	for i := range 2 {
		l, stop := startDev(t, data)
		if !strings.HasPrefix(l.NATS, "nats://127.0.0.1:") {
			t.Fatalf("dev's NATS at %s, want loopback", l.NATS)
		}
		url := strings.TrimPrefix(l.NATS, "nats://")
		if nc, err := nats.Connect(l.NATS); err == nil || !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Fatalf("an unauthenticated connect to dev's NATS: %v, want an authorization error", err)
		}
		env := map[string]string{}
		for _, kv := range l.NATSEnv {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if env["HITL_NATS"] != l.NATS || env["HITL_NATS_USER"] != server.DevUser || len(env["HITL_NATS_PASSWORD"]) < 16 ||
			strings.Contains(l.NATS, env["HITL_NATS_PASSWORD"]) {
			t.Fatalf("dev's NATS variables %v (url %s, at %s)", slices.Sorted(maps.Keys(env)), l.NATS, url)
		}
		nc, err := nats.Connect(l.NATS, nats.UserInfo(env["HITL_NATS_USER"], env["HITL_NATS_PASSWORD"]))
		if err != nil {
			t.Fatalf("connect with dev's credentials: %v", err)
		}
		nc.Close()
		if i == 0 {
			first = l.NATSEnv[1:]
		} else if !slices.Equal(first, l.NATSEnv[1:]) {
			t.Fatal("dev's NATS credentials changed across a restart on the same data")
		}
		stop()
	}
	fi, err := os.Stat(filepath.Join(data, "nats-password"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the kept password: %v, mode %v", err, fi.Mode())
	}
}

// startDev runs `hitl dev` on data until stop, or the test's end.
func startDev(t *testing.T, data string) (l server.Listening, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	d := &server.Dev{}
	// A host-less address means loopback, not every interface.
	if err := server.Parse("hitl dev", d, []string{"--http", "127.0.0.1:0", "--data", data, "--nats", ":" + port}); err != nil {
		t.Fatal(err)
	}
	d.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ready := make(chan server.Listening, 1)
	d.Ready = func(l server.Listening) { ready <- l }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	select {
	case got := <-ready:
		return got, stop
	case err := <-done:
		t.Fatalf("hitl dev: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("hitl dev did not start")
	}
	return server.Listening{}, stop
}

// Dev's --nats is one address to listen on: a URL with credentials or a list is refused,
// without showing the password.
func TestDevRefusesAListenURLWithCredentials(t *testing.T) {
	for _, addr := range []string{"nats://ada:hunter2-secret@127.0.0.1:4222", "127.0.0.1:4222,127.0.0.1:4223"} {
		d := &server.Dev{Data: t.TempDir(), Config: server.Config{NATS: addr, HTTP: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}}
		err := d.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "one host:port") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("dev on %s: %v", server.RedactURL(addr), err)
		}
	}
}
