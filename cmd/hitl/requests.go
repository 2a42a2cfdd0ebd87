package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/events"
)

const requestsUsage = `Usage: hitl requests COMMAND [flags]

  ls [--status S] [filters] [--limit N] [--all]
                         list requests, oldest first, a page at a time (S: pending, answered,
                         timed_out, cancelled, resolved, all)
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

// pageFlags are the paging flags of the ls commands.
type pageFlags struct {
	limit                 int
	all, newest           bool
	cursor, after, before string
}

func (cmd *command) pageFlags() *pageFlags {
	p := &pageFlags{}
	cmd.fs.IntVar(&p.limit, "limit", client.DefaultLimit, fmt.Sprintf("list at most `N` per page (1 to %d)", client.MaxLimit))
	cmd.fs.BoolVar(&p.all, "all", false, "page through to the end")
	cmd.fs.BoolVar(&p.newest, "newest", false, "newest first")
	cmd.fs.StringVar(&p.cursor, "cursor", "", "go on from this `cursor` (printed after a page, with the same filters)")
	cmd.fs.StringVar(&p.after, "created-after", "", "only those created at or after `TIME` (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	cmd.fs.StringVar(&p.before, "created-before", "", "only those created before `TIME` (RFC 3339)")
	return p
}

// check validates the flags and parses the times.
func (p *pageFlags) check(cmd *command) (after, before time.Time, err error) {
	if p.limit < 1 || p.limit > client.MaxLimit {
		return after, before, usagef(cmd.name, "--limit %d: use 1 to %d", p.limit, client.MaxLimit)
	}
	for _, f := range []struct {
		name, v string
		t       *time.Time
	}{{"--created-after", p.after, &after}, {"--created-before", p.before, &before}} {
		if f.v == "" {
			continue
		}
		if *f.t, err = time.Parse(time.RFC3339Nano, f.v); err != nil {
			return after, before, usagef(cmd.name, "%s %q: use an RFC 3339 time like 2026-01-02T15:04:05Z", f.name, f.v)
		}
	}
	return after, before, nil
}

// listed prints what an ls command found: a table, or with --json the API's page (with
// --all, one object holding every page's items); without --all, when there is more, the
// flag that reads the next page.
func listed[T any](ctx context.Context, cmd *command, p *pageFlags, pager *client.Pager[T], key, none string, table func([]T)) error {
	var items []T
	for pager.More() {
		page, err := pager.Next(ctx)
		if err != nil {
			return explain(err, key, "")
		}
		if cmd.json && !p.all {
			return cmd.printJSON()
		}
		items = append(items, page...)
		if !p.all {
			break
		}
	}
	if cmd.json {
		if items == nil {
			items = []T{}
		}
		b, err := json.Marshal(map[string]any{key: items, "count": len(items), "next_cursor": ""})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.cli.stdout, "%s\n", b)
		return err
	}
	switch {
	case len(items) > 0:
		table(items)
	case !pager.More():
		fmt.Fprintln(cmd.cli.stdout, none)
	}
	if pager.More() {
		fmt.Fprintf(cmd.cli.stdout, "More: the same command with --cursor %s (or --all)\n", pager.Cursor())
	}
	return nil
}

func (c *cli) requestsList(ctx context.Context, args []string) error {
	cmd := c.command("requests ls", "", "List requests, oldest first, a page at a time.")
	status := cmd.fs.String("status", "", "only requests with this `status`: pending, answered, timed_out, cancelled, resolved (any of the three) or all")
	assignee := cmd.fs.String("assignee", "", "only requests assigned to `WHO`, e.g. email:ann@example.com")
	workflow := cmd.fs.String("workflow", "", "only requests of this `workflow`")
	run := cmd.fs.String("run", "", "only requests of this run `ID`")
	search := cmd.fs.String("search", "", "only requests whose title contains `TEXT` (ignoring case)")
	pf := cmd.pageFlags()
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	switch *status {
	case "", "all", "resolved", string(events.StatusPending), string(events.StatusAnswered), string(events.StatusTimedOut), string(events.StatusCancelled):
	default:
		return usagef(cmd.name, "--status %q: use pending, answered, timed_out, cancelled, resolved or all", *status)
	}
	after, before, err := pf.check(cmd)
	if err != nil {
		return err
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	pager := api.RequestPager(client.ListOptions{Status: *status, Assignee: *assignee, Workflow: *workflow, Run: *run,
		Query: *search, CreatedAfter: after, CreatedBefore: before, Limit: pf.limit, Newest: pf.newest, Cursor: pf.cursor})
	none := "No requests."
	if *status != "" && *status != "all" {
		none = "No " + *status + " requests."
	}
	return listed(ctx, cmd, pf, pager, "requests", none, func(reqs []*events.Request) { requestTable(c.stdout, reqs, time.Now()) })
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
