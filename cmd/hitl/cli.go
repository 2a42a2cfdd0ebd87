package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/hitl-dev/hitl/client"
)

// cli is where an API command reads and writes, and its environment: main passes the
// process's, tests could pass others.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// interactive reports whether stdin is a terminal (answers are then not echoed).
	interactive bool
}

func newCLI() *cli {
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if fi, err := os.Stdin.Stat(); err == nil {
		c.interactive = fi.Mode()&os.ModeCharDevice != 0
	}
	return c
}

// Exit statuses.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitInterrupt = 130
)

// usageError is a mistake in the command line: exit status 2.
type usageError struct {
	cmd string // "requests show"
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// errHelp: the command printed its help; exit status 0.
var errHelp = errors.New("help printed")

// errReported: the command already explained the failure on stderr; exit status 1.
var errReported = errors.New("failure reported")

// exit prints err, if any, as one line on stderr (field errors indented below it) and
// returns the exit status.
func (c *cli) exit(err error) int {
	var ue *usageError
	var urlErr *url.Error
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errReported):
		return exitFailure
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "hitl %s: %s\nRun 'hitl %s -h' for usage.\n", ue.cmd, ue.msg, ue.cmd)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(c.stderr, "hitl: interrupted")
		return exitInterrupt
	case errors.As(err, &urlErr) && !errors.Is(err, context.DeadlineExceeded):
		base := urlErr.URL
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			base = u.Scheme + "://" + u.Host
		}
		fmt.Fprintf(c.stderr, "hitl: cannot reach the hitl API at %s: %v (is it running? set --server or HITL_URL)\n", base, urlErr.Err)
		return exitFailure
	}
	fmt.Fprintln(c.stderr, "hitl: "+err.Error())
	return exitFailure
}

// explain rewords an API error for people: it names the request or run ("request 6f1c… not
// found"), adds a hint for 401, and lists each failing field on its own line.
func explain(err error, what, id string) error {
	var ae *client.Error
	if !errors.As(err, &ae) {
		return err
	}
	msg := clean(ae.Message, false)
	if id != "" && strings.HasPrefix(msg, what+" ") {
		msg = what + " " + clean(id, false) + msg[len(what):]
		msg = strings.ReplaceAll(msg, "timed_out", "timed out")
	}
	if errors.Is(ae, client.ErrUnauthorized) {
		msg += " (set HITL_TOKEN to one of the server's API tokens)"
	}
	for _, f := range ae.Fields {
		msg += "\n  " + clip(f.Path, 100) + ": " + clip(f.Message, 300)
	}
	return &explained{msg: msg, err: err}
}

type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// command is one API command's flags: its own plus --server and --json, accepted anywhere
// among the arguments.
type command struct {
	cli    *cli
	name   string // "requests show"
	args   string // "ID"
	about  string // what it does, for -h
	fs     *flag.FlagSet
	server string
	json   bool
	rec    *recorder
}

func (c *cli) command(name, args, about string) *command {
	cmd := &command{cli: c, name: name, args: args, about: about, fs: flag.NewFlagSet("hitl "+name, flag.ContinueOnError)}
	cmd.fs.SetOutput(io.Discard)
	cmd.fs.StringVar(&cmd.server, "server", cmp.Or(c.getenv("HITL_URL"), client.DefaultURL), "base `URL` of the hitl API (env HITL_URL); the token is read from env HITL_TOKEN")
	cmd.fs.BoolVar(&cmd.json, "json", false, "print the API's JSON instead of text")
	return cmd
}

// parse reads flags wherever they are among args and returns the positional arguments,
// which must number exactly n.
func (cmd *command) parse(args []string, n int) ([]string, error) {
	var pos []string
	for {
		if err := cmd.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				cmd.help(cmd.cli.stdout)
				return nil, errHelp
			}
			return nil, usagef(cmd.name, "%v", err)
		}
		rest := cmd.fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < n:
		return nil, usagef(cmd.name, "missing %s", strings.Fields(cmd.args)[len(pos)])
	case len(pos) > n:
		return nil, usagef(cmd.name, "unexpected argument %q", pos[n])
	}
	return pos, nil
}

func (cmd *command) help(w io.Writer) {
	args := ""
	if cmd.args != "" {
		args = cmd.args + " "
	}
	fmt.Fprintf(w, "Usage: hitl %s %s[flags]\n\n%s\n\nFlags:\n", cmd.name, args, cmd.about)
	cmd.fs.SetOutput(w)
	cmd.fs.PrintDefaults()
	cmd.fs.SetOutput(io.Discard)
}

// client builds the API client; it records each answer's body for --json.
func (cmd *command) client() (*client.Client, error) {
	cmd.rec = &recorder{rt: http.DefaultTransport}
	c, err := client.New(client.Config{URL: cmd.server, Token: cmd.cli.getenv("HITL_TOKEN"),
		HTTPClient: &http.Client{Transport: cmd.rec}, UserAgent: "hitl-cli"})
	if err != nil {
		return nil, usagef(cmd.name, "--server: %q is not an http(s) URL like %s", cmd.server, client.DefaultURL)
	}
	return c, nil
}

// printJSON writes the body of the API's last answer, as it came.
func (cmd *command) printJSON() error {
	b := bytes.TrimSpace(cmd.rec.last())
	_, err := fmt.Fprintf(cmd.cli.stdout, "%s\n", b)
	return err
}

// recorder is a transport that keeps the body of the last answer, for --json: the CLI prints
// exactly what the API sent, fields this version does not know included.
type recorder struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	body []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.body = b
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (r *recorder) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body
}

// readJSON reads a JSON argument: inline, "@file", or "-" for stdin.
func (c *cli) readJSON(cmd, flagName, v string) (json.RawMessage, error) {
	var b []byte
	switch {
	case v == "-":
		var err error
		if b, err = io.ReadAll(c.stdin); err != nil {
			return nil, fmt.Errorf("read %s from stdin: %w", flagName, err)
		}
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, usagef(cmd, "%s: %v", flagName, err)
		}
	default:
		b = []byte(v)
	}
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, usagef(cmd, "%s is not valid JSON (a string is quoted: '\"text\"'): %s", flagName, clip(string(b), 60))
	}
	return b, nil
}
