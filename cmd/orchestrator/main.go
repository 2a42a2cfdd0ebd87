// Command orchestrator runs hitl's orchestrator against a NATS JetStream server (HITL_NATS or NATS_URL).
// Run as many as needed: instances share their work through one durable consumer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("orchestrator", flag.ContinueOnError)
	cfg, complete := app.Flags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := complete(); err != nil {
		return err
	}
	cfg.Registry = hitl.NewRegistry()
	examples.RegisterAll(cfg.Registry) // register your own workflows here
	return app.Run(ctx, cfg, app.Services{Orchestrator: true}, nil)
}
