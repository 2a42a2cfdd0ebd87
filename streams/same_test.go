package streams

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/embedded"
)

// The server's copy of an ensured stream matches its declaration, so that Ensure skips the
// update (which would race consumers other services create meanwhile); a changed setting
// does not match.
func TestSameStreamMatchesTheServersCopy(t *testing.T) {
	srv, err := embedded.Start(embedded.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	cfg := Config{}
	if err := Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	want := cfg.StreamConfigs()[0]
	st, err := js.Stream(ctx, want.Name)
	if err != nil {
		t.Fatal(err)
	}
	have := st.CachedInfo().Config
	if !sameStream(have, want) {
		t.Fatalf("the server's copy differs from the declaration:\n%+v\n%+v", have, want)
	}
	want.Description = "something else"
	if sameStream(have, want) {
		t.Fatal("a changed description matched")
	}
}
