package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hitl-dev/hitl"
)

// Main is the whole main of a service command: flags and environment, signals, Run, and
// the exit code (0, 1 on failure, 2 on bad flags). registry is nil for services that host
// no workflows.
func Main(name string, svc Services, registry func() *hitl.Registry) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg, complete := Flags(fs, false)
	err := fs.Parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err == nil {
		err = complete()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	if registry != nil {
		cfg.Registry = registry()
	}
	if err := Run(ctx, cfg, svc, nil); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
