package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/client"
)

const runsUsage = `Usage: hitl runs COMMAND [flags]

  ls [--status S] [--workflow W] [--limit N] [--all]
                                          list runs, oldest first, a page at a time (S: queued, running,
                                          waiting, active, completed, failed, cancelled, finished, all)
  start WORKFLOW [--input JSON] [--wait]  start a run (--wait: until it asks something or ends)
  show ID                                 a run: status, pending questions, result or error
  wait ID [--timeout D] [--done] [-q]     wait until the run asks something or ends (--done: until it ends)
  cancel ID [--reason T]                  cancel a run and its pending requests

Run 'hitl runs COMMAND -h' for a command's flags.
`

// runs runs `hitl runs ...`.
func (c *cli) runs(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("runs", "missing command (ls, start, show, wait, cancel)")
	}
	switch args[0] {
	case "ls", "list":
		return c.runsList(ctx, args[1:])
	case "start":
		return c.runsStart(ctx, args[1:])
	case "show", "get":
		return c.runsShow(ctx, args[1:])
	case "wait":
		return c.runsWait(ctx, args[1:])
	case "cancel":
		return c.runsCancel(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.stdout, runsUsage)
		return errHelp
	}
	return usagef("runs", "unknown command %q (ls, start, show, wait, cancel)", args[0])
}

func (c *cli) runsList(ctx context.Context, args []string) error {
	cmd := c.command("runs ls", "", "List runs, oldest first, a page at a time.")
	status := cmd.fs.String("status", "", "only runs with this `status`: queued, running, waiting, active (any of the three), completed, failed, cancelled, finished (any of the three) or all")
	workflow := cmd.fs.String("workflow", "", "only runs of this `workflow`")
	pf := cmd.pageFlags()
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	switch *status {
	case "", "all", "active", "finished", "queued", "running", "waiting", "completed", "failed", "cancelled":
	default:
		return usagef(cmd.name, "--status %q: use queued, running, waiting, active, completed, failed, cancelled, finished or all", *status)
	}
	after, before, err := pf.check(cmd)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	pager := api.RunPager(client.RunListOptions{Status: *status, Workflow: *workflow, CreatedAfter: after, CreatedBefore: before,
		Limit: pf.limit, Newest: pf.newest, Cursor: pf.cursor})
	none := "No runs."
	if *status != "" && *status != "all" {
		none = "No " + *status + " runs."
	}
	return listed(ctx, cmd, pf, pager, "runs", none, func(runs []*client.Run) { runTable(c.stdout, runs, time.Now()) })
}

func (c *cli) runsStart(ctx context.Context, args []string) error {
	cmd := c.command("runs start", "WORKFLOW", "Start a run of a workflow. The API answers at once; with --wait the command waits until\n"+
		"the run asks its first question (and shows it) or ends. A run stays queued until an orchestrator\n"+
		"hosting its workflow takes it.")
	in := cmd.fs.String("input", "", "the run's input as `JSON`, inline, @file, or - for stdin")
	wait := cmd.fs.Bool("wait", false, "wait until the run asks something or ends, then show it")
	timeout := cmd.fs.Duration("timeout", 0, "with --wait, give up after this `duration`; 0 waits as long as it takes")
	quiet := cmd.fs.Bool("q", false, "print only the run's id")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	var input json.RawMessage
	if *in != "" {
		if input, err = c.readJSON(cmd.name, "--input", *in); err != nil {
			return err
		}
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	run, err := api.StartRun(ctx, pos[0], input)
	if err != nil {
		return explain(err, "run", "")
	}
	if *wait {
		id := run.ID
		if run, err = api.WaitRun(ctx, id, *timeout); err != nil {
			return explain(err, "run", id)
		}
	}
	switch {
	case cmd.json:
		err = cmd.printJSON()
	case *quiet:
		_, err = fmt.Fprintln(c.stdout, run.ID)
	default:
		showRun(c.stdout, run, time.Now())
	}
	if err != nil {
		return err
	}
	if *wait && !run.Status.Final() && len(run.Pending) == 0 {
		fmt.Fprintf(c.stderr, "hitl: run %s is still %s after %s\n", run.ID, run.Status, *timeout)
		return errReported
	}
	return runFailed(c, run)
}

func (c *cli) runsShow(ctx context.Context, args []string) error {
	cmd := c.command("runs show", "ID", "Show a run: its status, the questions it waits on, and its result or error.")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	run, err := api.Run(ctx, pos[0])
	if err != nil {
		return explain(err, "run", pos[0])
	}
	if cmd.json {
		return cmd.printJSON()
	}
	showRun(c.stdout, run, time.Now())
	return nil
}

func (c *cli) runsWait(ctx context.Context, args []string) error {
	cmd := c.command("runs wait", "ID", "Wait until the run asks something (it has a pending question) or ends, then show it;\n"+
		"with --done, until it ends. Exits 1 if the run failed, or if it did not get there before --timeout.")
	timeout := cmd.fs.Duration("timeout", 0, "give up after this `duration`; 0 waits as long as it takes")
	quiet := cmd.fs.Bool("q", false, "print only the ids of the pending requests, one a line")
	done := cmd.fs.Bool("done", false, "wait until the run has finished, through any questions it asks")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	wait := api.WaitRun
	if *done {
		wait = api.WaitRunDone
	}
	run, err := wait(ctx, pos[0], *timeout)
	if err != nil {
		return explain(err, "run", pos[0])
	}
	switch {
	case cmd.json:
		err = cmd.printJSON()
	case *quiet:
		for _, p := range run.Pending {
			if _, err = fmt.Fprintln(c.stdout, p.ID); err != nil {
				break
			}
		}
	default:
		showRun(c.stdout, run, time.Now())
	}
	if err != nil {
		return err
	}
	if !run.Status.Final() && (*done || len(run.Pending) == 0) {
		fmt.Fprintf(c.stderr, "hitl: run %s is still %s after %s\n", run.ID, run.Status, *timeout)
		return errReported
	}
	return runFailed(c, run)
}

// runFailed makes a failed run a failure of the command (exit status 1).
func runFailed(c *cli, run *client.Run) error {
	if run.Status == "failed" {
		fmt.Fprintf(c.stderr, "hitl: run %s failed: %s\n", run.ID, clip(run.Error, 300))
		return errReported
	}
	return nil
}

func (c *cli) runsCancel(ctx context.Context, args []string) error {
	cmd := c.command("runs cancel", "ID", "Cancel a run and every request it has pending.")
	reason := cmd.fs.String("reason", "", "why, kept with the cancelled requests")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	if err := api.CancelRun(ctx, pos[0], *reason); err != nil {
		return explain(err, "run", pos[0])
	}
	if cmd.json {
		return cmd.printJSON() // {"id": ..., "status": "cancelling"}: scripts wait with `runs wait --done`
	}
	// The cancel is recorded; the run usually ends a moment later.
	run, err := api.WaitRunDone(ctx, pos[0], 5*time.Second)
	if err == nil && run.Status.Final() {
		fmt.Fprintf(c.stdout, "Cancelled run %s.\n", clean(pos[0], false))
		return nil
	}
	fmt.Fprintf(c.stdout, "Cancelling run %s: it and its pending requests will be cancelled.\n", clean(pos[0], false))
	return nil
}
