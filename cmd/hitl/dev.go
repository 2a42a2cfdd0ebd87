package main

import (
	"context"
	"flag"
	"os"

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
	return app.Dev(ctx, cfg, nil)
}
