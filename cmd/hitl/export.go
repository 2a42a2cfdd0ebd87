package main

import (
	"context"
	"errors"
	"time"
)

// export runs `hitl export --since T --until T`: finished requests and runs as JSON lines on
// stdout, for archiving before the retention removes them.
func (c *cli) export(ctx context.Context, args []string) error {
	cmd := c.command("export", "--since T [--until T]",
		"Write every request resolved and every run finished in [since, until) that the server still keeps, oldest first, "+
			"as JSON lines on stdout: {\"kind\": \"request\" or \"run\", \"finished_at\", \"request\" or \"run\"}.")
	since := cmd.fs.String("since", "", "start `time`, RFC 3339 (2026-01-31T00:00:00Z) or a duration back from now (24h)")
	until := cmd.fs.String("until", "", "end `time`, excluded, as --since; default now")
	if _, err := cmd.parse(args, 0); err != nil {
		return err
	}
	now := time.Now()
	if *since == "" {
		return usagef(cmd.name, "--since is required")
	}
	from, err := parseWhen(*since, now)
	if err != nil {
		return usagef(cmd.name, "--since %q: %v", *since, err)
	}
	to := now
	if *until != "" {
		if to, err = parseWhen(*until, now); err != nil {
			return usagef(cmd.name, "--until %q: %v", *until, err)
		}
	}
	if !to.After(from) {
		return usagef(cmd.name, "--until must be after --since")
	}
	api, err := cmd.client()
	if err != nil {
		return err
	}
	return explain(api.Export(ctx, from, to, c.stdout), "export", "")
}

// parseWhen reads an RFC 3339 time, or a duration that many ago.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, errBadWhen
	}
	return now.Add(-d), nil
}

var errBadWhen = errors.New("use an RFC 3339 time like 2026-01-31T00:00:00Z, or a duration back from now like 24h")
