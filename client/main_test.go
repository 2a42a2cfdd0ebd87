package client_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/internal/app"
)

// hitlURL is the API of the `hitl dev` every test and example of this package talks to: a
// real embedded JetStream with all services and the example workflows, started by TestMain.
var hitlURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hitl-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, err := startDev(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start hitl dev:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// startDev runs `hitl dev` in this process, on free ports, with its data in dir.
func startDev(dir string) (stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	natsAddr := l.Addr().String()
	l.Close()
	fs := flag.NewFlagSet("hitl dev", flag.ContinueOnError)
	cfg, complete := app.Flags(fs, true)
	if err := fs.Parse([]string{"--http", "127.0.0.1:0", "--data", dir, "--nats", natsAddr}); err != nil {
		return nil, err
	}
	if err := complete(); err != nil {
		return nil, err
	}
	cfg.Registry = hitl.NewRegistry()
	examples.RegisterAll(cfg.Registry)
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Dev(ctx, cfg, func(a net.Addr) { ready <- a.String() }) }()
	select {
	case addr := <-ready:
		hitlURL = "http://" + addr
	case err := <-done:
		cancel()
		return nil, err
	case <-time.After(30 * time.Second):
		cancel()
		return nil, fmt.Errorf("not ready in 30s")
	}
	return func() { cancel(); <-done }, nil
}
