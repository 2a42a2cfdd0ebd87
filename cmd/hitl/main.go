// Command hitl is hitl's command line: `hitl dev` runs the whole system on one machine, and
// the other commands use the REST API, for people (tables, questions asked field by field)
// and scripts (--json, exit statuses).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `hitl: durable human-in-the-loop on NATS JetStream

Usage:
  hitl dev [flags]                           run JetStream (embedded), orchestrator, notifier and responder in one process

  hitl requests ls [--status S] [--limit N] [--all]
                                             list requests, a page at a time (S: pending, answered, timed_out,
                                             cancelled, resolved, all; filters: --assignee, --workflow, --run,
                                             --search, --created-after, --created-before; --newest)
  hitl requests show ID                      a request: question, context, deadline, answer
  hitl requests wait ID [--timeout D]        wait until a request is resolved
  hitl requests cancel ID [--reason TEXT]    cancel a pending request
  hitl requests create JSON                  create a standalone request (@file, or - for stdin)

  hitl respond ID                            answer in the terminal, field by field
  hitl respond ID --data JSON | --approve | --reject [--comment TEXT] [--responder NAME]

  hitl runs ls [--status S] [--workflow W] [--limit N] [--all]
                                             list runs, a page at a time (S: queued, running, waiting, active,
                                             completed, failed, cancelled, finished, all)
  hitl runs start WORKFLOW [--input JSON] [--wait]
                                             start a run (--wait: until it asks something or ends)
  hitl runs show ID                          a run: status, pending questions, result or error
  hitl runs wait ID [--timeout D] [--done]   wait until a run asks something or ends (--done: until it ends)
  hitl runs cancel ID [--reason TEXT]        cancel a run and its pending requests

  hitl help                                  this text

Flags of the API commands, anywhere on the line:
  --server URL   the hitl API (env HITL_URL, default http://localhost:8080); a token is sent from env HITL_TOKEN
  --json         print the API's JSON as it came, for scripts

Exit status: 0 done, 1 failed (the error is on stderr), 2 bad command line.
Run 'hitl COMMAND -h' for a command's flags; docs/cli.md has examples.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs one command and returns the exit status.
func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	c := newCLI()
	switch args[0] {
	case "dev":
		err := dev(ctx, args[1:])
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hitl:", err)
			return exitFailure
		}
		return exitOK
	case "requests", "request":
		return c.exit(c.requests(ctx, args[1:]))
	case "respond":
		return c.exit(c.respond(ctx, args[1:]))
	case "runs", "run":
		return c.exit(c.runs(ctx, args[1:]))
	case "help", "-h", "--help":
		fmt.Print(usage)
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "hitl: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
