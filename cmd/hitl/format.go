package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
)

// table writes aligned columns.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// clean makes text from the API safe for a terminal: control characters (escape sequences
// included) and bidi overrides become spaces; newlines stay only when keepLines.
func clean(s string, keepLines bool) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' && keepLines:
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r) || r == utf8.RuneError,
			r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069': // bidi overrides reorder what is shown
			return ' '
		}
		return r
	}, s)
}

// clip shortens s to n characters on one line.
func clip(s string, n int) string {
	return input.Truncate(strings.Join(strings.Fields(clean(s, false)), " "), n)
}

// age is how long ago t was, in one unit: 45s, 12m, 5h, 3d.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return shortDuration(now.Sub(t))
}

func shortDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// when is a time with how long ago (or until) it is.
func when(t, now time.Time) string {
	s := t.Local().Format("2006-01-02 15:04:05")
	if d := now.Sub(t); d >= 0 {
		return s + " (" + shortDuration(d) + " ago)"
	}
	return s + " (in " + shortDuration(t.Sub(now)) + ")"
}

// compact is JSON on one line.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return clean(string(raw), false)
	}
	return clean(b.String(), false)
}

// pretty is JSON indented, at most maxLines lines.
func pretty(raw json.RawMessage, maxLines int) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return clip(string(raw), 200)
	}
	lines := strings.Split(clean(b.String(), true), "\n")
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], "…")
	}
	return strings.Join(lines, "\n")
}

// inputSummary names the input type and its choices: "select: approve, modify, reject".
func inputSummary(s input.Spec) string {
	var parts []string
	switch s.Type {
	case input.Select, input.MultiSelect:
		for _, o := range s.Options {
			parts = append(parts, o.ID)
		}
		if s.AllowCustom {
			parts = append(parts, "or your own")
		}
	case input.Form:
		for _, f := range s.Fields {
			parts = append(parts, f.ID)
		}
	}
	out := string(s.Type)
	if len(parts) > 0 {
		out += ": " + strings.Join(parts, ", ")
	}
	if s.Skippable {
		out += " (skippable)"
	}
	return clip(out, 120)
}

// requestTable lists requests, one a line.
func requestTable(w io.Writer, reqs []*events.Request, now time.Time) {
	tw := table(w)
	fmt.Fprintln(tw, "ID\tSTATUS\tINPUT\tAGE\tWORKFLOW\tTITLE")
	for _, r := range reqs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", clean(r.ID, false), clip(string(r.Status), 12), clip(string(r.Input.Type), 12),
			age(r.CreatedAt, now), clip(cmp.Or(r.Workflow, "-"), 20), clip(r.Title, 60))
	}
	tw.Flush()
}

func runTable(w io.Writer, runs []*client.Run, now time.Time) {
	tw := table(w)
	fmt.Fprintln(tw, "ID\tSTATUS\tAGE\tPENDING\tWORKFLOW")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", clean(r.ID, false), clip(string(r.Status), 12), age(r.CreatedAt, now),
			len(r.Pending), clip(r.Workflow, 40))
	}
	tw.Flush()
}

// showRequest writes everything about one request.
func showRequest(w io.Writer, r *events.Request, now time.Time) {
	tw := table(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Request", clean(r.ID, false))
	row("Title", clip(r.Title, 200))
	row("Status", string(r.Status))
	row("Input", inputSummary(r.Input))
	if r.RunID != "" {
		row("Run", clean(r.RunID+" ("+r.Workflow+")", false))
	}
	if len(r.Assignees) > 0 {
		row("Assignees", clean(strings.Join(r.Assignees, ", "), false))
	}
	row("Created", when(r.CreatedAt, now))
	if r.Deadline != nil {
		d := when(*r.Deadline, now)
		if r.OnTimeout == events.TimeoutDefault {
			d += ", then answers " + clip(compact(r.Default), 60)
		}
		row("Deadline", d)
	}
	if r.Response != nil {
		resp := r.Response
		by := string(resp.Outcome)
		if resp.Responder != "" {
			by += " by " + clean(resp.Responder, false)
		}
		if r.ResolvedAt != nil {
			by += ", " + when(*r.ResolvedAt, now)
		}
		row("Resolved", by)
		if len(resp.Data) > 0 {
			row("Answer", clip(compact(resp.Data), 500))
		}
		if resp.Comment != "" {
			row("Comment", clip(resp.Comment, 500))
		}
		if resp.InputHash != "" {
			row("Input hash", resp.InputHash)
		}
	}
	tw.Flush()
	if r.Message != "" {
		fmt.Fprintf(w, "\n%s\n", indent(clean(r.Message, true), "  "))
	}
	writeContext(w, r.Context)
	if !r.Resolved() {
		fmt.Fprintf(w, "\nAnswer with: hitl respond %s\n", clean(r.ID, false))
	}
}

// writeContext writes the facts shown beside a question, sorted by key.
func writeContext(w io.Writer, ctx map[string]any) {
	if len(ctx) == 0 {
		return
	}
	fmt.Fprintln(w, "\nContext:")
	tw := table(w)
	for _, k := range slices.Sorted(maps.Keys(ctx)) {
		var v string
		if s, ok := ctx[k].(string); ok {
			v = clip(s, 200)
		} else {
			b, _ := json.Marshal(ctx[k])
			v = clip(string(b), 200)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", clip(k, 40), v)
	}
	tw.Flush()
}

// indent prefixes every line that is not blank.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = prefix + l
		} else {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// showRun writes a run, its pending questions and its result.
func showRun(w io.Writer, r *client.Run, now time.Time) {
	tw := table(w)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Run", clean(r.ID, false))
	row("Workflow", clean(r.Workflow, false))
	row("Status", string(r.Status))
	row("Steps", fmt.Sprint(r.Steps))
	row("Started", when(r.CreatedAt, now))
	if !r.UpdatedAt.IsZero() {
		row("Updated", when(r.UpdatedAt, now))
	}
	if len(r.Input) > 0 {
		row("Input", clip(compact(r.Input), 200))
	}
	if len(r.Result) > 0 {
		row("Result", clip(compact(r.Result), 500))
	}
	if r.Error != "" {
		row("Error", clip(r.Error, 500))
	}
	tw.Flush()
	if r.Status == events.RunQueued {
		fmt.Fprintf(w, "\nQueued: no orchestrator hosting workflow %s has taken the run yet; it starts when one does.\n",
			clean(r.Workflow, false))
	}
	if len(r.Pending) > 0 {
		fmt.Fprintln(w, "\nPending:")
		tw := table(w)
		for _, p := range r.Pending {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", clean(p.ID, false), clip(string(p.Input.Type), 12), age(p.CreatedAt, now), clip(p.Title, 60))
		}
		tw.Flush()
		fmt.Fprintf(w, "\nAnswer with: hitl respond %s\n", clean(r.Pending[0].ID, false))
	}
}
