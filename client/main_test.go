package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/server"
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
	d := &server.Dev{Workflows: hitl.NewRegistry()}
	if err := server.Parse("hitl dev", d, []string{"--http", "127.0.0.1:0", "--data", dir, "--nats", natsAddr}); err != nil {
		return nil, err
	}
	examples.RegisterAll(d.Workflows)
	d.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	d.Ready = func(l server.Listening) { ready <- l.HTTP.String() }
	go func() { done <- d.Run(ctx) }()
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
