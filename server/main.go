package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Main is the whole main of a hitl service: it parses os.Args with the flags and HITL_*
// environment variables every hitl command shares, runs role until SIGINT or SIGTERM, and
// exits 0 on a clean stop, 1 on failure and 2 on bad flags.
//
//	func main() {
//		reg := hitl.NewRegistry()
//		hitl.Register(reg, "expense", expense.Run)
//		server.Main(&server.Orchestrator{Workflows: reg})
//	}
func Main(role Role) {
	name := filepath.Base(os.Args[0])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run1(ctx, name, role, os.Args[1:]))
}

// run1 is Main without the process around it.
func run1(ctx context.Context, name string, role Role, args []string) int {
	if err := Parse(name, role, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		return 2
	}
	if err := role.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// Parse fills role's config from args and the environment, as Main does, for a main that
// wants to do more between parsing and running.
func Parse(name string, role Role, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	complete := role.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return complete()
}
