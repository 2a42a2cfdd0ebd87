package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/internal/app"
)

func dev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hitl dev", flag.ContinueOnError)
	cfg, complete := app.Flags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := complete(); err != nil {
		return err
	}
	cfg.Registry = hitl.NewRegistry()
	examples.RegisterAll(cfg.Registry)
	cfg.Console = os.Stdout
	return app.Dev(ctx, cfg, func(net.Addr) {
		base := cfg.PublicURL
		fmt.Printf(`
hitl dev is ready (data in %s, NATS at %s)
  API       %s/v1/   workflows: %s
  inbox     %s/inbox
  metrics   %s/metrics
  try       curl -s -X POST %s/v1/runs -H 'Content-Type: application/json' -d '{"workflow": "refund", "input": {"order_id": "A-1001", "reason": "arrived damaged"}}'
Questions appear below, each with the command that answers it. Ctrl-C stops.
`, cfg.Data, cfg.NATS, base, strings.Join(cfg.Registry.Names(), ", "), base, base, base)
	})
}
