package streams

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// An identity that may only read stream and consumer info (a notifier or responder under
// the shipped NATS permissions) passes Ensure once everything exists as declared, and gets
// an error that says why when it does not.
func TestEnsureNeedsOnlyInfoWhenUnchanged(t *testing.T) {
	reader := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"$JS.API.STREAM.INFO.*", "$JS.API.CONSUMER.INFO.*.*"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoSigs: true, NoLog: true, Users: []*server.User{
			{Username: "admin", Password: "admin-pw"},
			{Username: "reader", Password: "reader-pw", Permissions: reader},
		}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	connect := func(user, pw string) jetstream.JetStream {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, pw), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return js
	}
	admin, read := connect("admin", "admin-pw"), connect("reader", "reader-pw")
	cfg := Config{}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = Ensure(ctx, read, cfg)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "start an orchestrator first") {
		t.Fatalf("Ensure without the right to create on an empty server: %v", err)
	}

	if err := Ensure(context.Background(), admin, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ensure(ctx, read, cfg); err != nil {
		t.Fatalf("Ensure with info rights once everything exists: %v", err)
	}
	// A changed declaration is an update, which the reader may not make.
	cfg.MaxDeliver = 3
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Ensure(ctx, read, cfg); err == nil {
		t.Fatal("a changed consumer passed without an update")
	}
}
