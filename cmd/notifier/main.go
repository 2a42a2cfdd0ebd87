// Command notifier runs hitl's notifier against a NATS JetStream server (HITL_NATS or NATS_URL).
// Run as many as needed: instances share their work through one durable consumer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hitl-dev/hitl/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("notifier", flag.ContinueOnError)
	cfg, complete := app.Flags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := complete(); err != nil {
		return err
	}
	return app.Run(ctx, cfg, app.Services{Notifier: true}, nil)
}
