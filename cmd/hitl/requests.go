package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/events"
)

const requestsUsage = `Usage: hitl requests COMMAND [flags]

  ls [--status S]        list requests, oldest first (S: pending, answered, timed_out, cancelled)
  show ID                one request: its question, context, deadline and answer
  wait ID [--timeout D]  wait until the request is answered, times out or is cancelled
  cancel ID [--reason T] cancel a pending request
  create JSON            create a standalone request (the POST /v1/requests body; @file or - for stdin)

Run 'hitl requests COMMAND -h' for a command's flags.
`

// requests runs `hitl requests ...`.
func (c *cli) requests(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("requests", "missing command (ls, show, wait, cancel, create)")
	}
	switch args[0] {
	case "ls", "list":
		return c.requestsList(ctx, args[1:])
	case "show", "get":
		return c.requestsShow(ctx, args[1:])
	case "wait":
		return c.requestsWait(ctx, args[1:])
	case "cancel":
		return c.requestsCancel(ctx, args[1:])
	case "create":
		return c.requestsCreate(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(c.stdout, requestsUsage)
		return errHelp
	}
	return usagef("requests", "unknown command %q (ls, show, wait, cancel, create)", args[0])
}

func (c *cli) requestsList(ctx context.Context, args []string) error {
	cmd := c.command("requests ls", "", "List requests, oldest first.")
	status := cmd.fs.String("status", "", "only requests with this `status`: pending, answered, timed_out or cancelled")
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	switch events.Status(*status) {
	case "", events.StatusPending, events.StatusAnswered, events.StatusTimedOut, events.StatusCancelled:
	default:
		return usagef(cmd.name, "--status %q: use pending, answered, timed_out or cancelled", *status)
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	reqs, err := api.Requests(ctx, events.Status(*status))
	if err != nil {
		return explain(err, "requests", "")
	}
	if cmd.json {
		return cmd.printJSON()
	}
	if len(reqs) == 0 {
		if *status != "" {
			*status += " "
		}
		fmt.Fprintf(c.stdout, "No %srequests.\n", *status)
		return nil
	}
	requestTable(c.stdout, reqs, time.Now())
	return nil
}

func (c *cli) requestsShow(ctx context.Context, args []string) error {
	cmd := c.command("requests show", "ID", "Show one request: its question, context, deadline and, once resolved, the answer.")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	req, err := api.Request(ctx, pos[0])
	if err != nil {
		return explain(err, "request", pos[0])
	}
	if cmd.json {
		return cmd.printJSON()
	}
	showRequest(c.stdout, req, time.Now())
	return nil
}

func (c *cli) requestsWait(ctx context.Context, args []string) error {
	cmd := c.command("requests wait", "ID", "Wait until the request is answered, times out or is cancelled, then show it.\n"+
		"Exits 1 if it is still pending when --timeout passes.")
	timeout := cmd.fs.Duration("timeout", 0, "give up after this `duration` (e.g. 30s, 10m); 0 waits as long as it takes")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	req, err := api.Wait(ctx, pos[0], *timeout)
	if err != nil {
		return explain(err, "request", pos[0])
	}
	if cmd.json {
		if err := cmd.printJSON(); err != nil {
			return err
		}
	} else {
		showRequest(c.stdout, req, time.Now())
	}
	if !req.Resolved() {
		fmt.Fprintf(c.stderr, "hitl: request %s is still pending after %s\n", req.ID, *timeout)
		return errReported
	}
	return nil
}

func (c *cli) requestsCancel(ctx context.Context, args []string) error {
	cmd := c.command("requests cancel", "ID", "Cancel a pending request. A workflow waiting on it sees the cancellation.")
	reason := cmd.fs.String("reason", "", "why, kept with the request")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	req, err := api.Cancel(ctx, pos[0], *reason)
	if err != nil {
		return explain(err, "request", pos[0])
	}
	if cmd.json {
		return cmd.printJSON()
	}
	fmt.Fprintf(c.stdout, "Cancelled request %s.\n", clean(req.ID, false))
	return nil
}

func (c *cli) requestsCreate(ctx context.Context, args []string) error {
	cmd := c.command("requests create", "JSON", "Create a standalone request. JSON is the body of POST /v1/requests, inline, @file, or - for stdin:\n"+
		`  {"title": "Deploy 1.4?", "input": {"type": "approval"}, "timeout": "30m"}`)
	quiet := cmd.fs.Bool("q", false, "print only the new request's id")
	pos, err := cmd.parse(args, 1)
	if err != nil {
		return err
	}
	body, err := c.readJSON(cmd.name, "JSON", pos[0])
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	var req events.Request // the body is sent as given: fields this version does not know included
	if err := api.Do(ctx, "POST", "/v1/requests", body, &req); err != nil {
		return explain(err, "request", "")
	}
	switch {
	case cmd.json:
		return cmd.printJSON()
	case *quiet:
		fmt.Fprintln(c.stdout, req.ID)
		return nil
	}
	fmt.Fprintf(c.stdout, "Created request %s.\n\n", clean(req.ID, false))
	showRequest(c.stdout, &req, time.Now())
	return nil
}
