package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/client"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/natstest"
)

// hitlCLI runs the hitl binary against one API.
type hitlCLI struct {
	bin, url string
	env      []string // extra environment
}

type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs hitl with args and stdin; it fails the test only if the binary cannot run.
func (h hitlCLI) run(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append(os.Environ(), "HITL_URL="+h.url, "HITL_TOKEN=", "HITL_RESPONDER=cli-test")
	cmd.Env = append(cmd.Env, h.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("hitl %q: %v", args, err)
	}
	t.Logf("$ hitl %s\n%s%s(exit %d)", strings.Join(args, " "), res.stdout, res.stderr, res.code)
	return res
}

// ok runs hitl and fails the test unless it exits 0.
func (h hitlCLI) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := h.run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("hitl %q exited %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// fails runs hitl and checks its exit status and that stderr holds want.
func (h hitlCLI) fails(t *testing.T, code int, want string, args ...string) cliResult {
	t.Helper()
	r := h.run(t, "", args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("hitl %q: exit %d, stderr %q; want exit %d and %q", args, r.code, r.stderr, code, want)
	}
	return r
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// buildHitl builds cmd/hitl once for the test.
func buildHitl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hitl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/hitl-dev/hitl/cmd/hitl").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// wantContains checks that got holds each of wants, with runs of spaces (the alignment of
// columns) counting as one.
func wantContains(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(squeeze(got), squeeze(w)) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

var spaces = regexp.MustCompile(` {2,}`)

func squeeze(s string) string { return spaces.ReplaceAllString(s, " ") }

// TestCLI drives the hitl binary against a live `hitl dev`, as people and scripts use it.
func TestCLI(t *testing.T) {
	bin := buildHitl(t)
	addr, _ := startDev(t, t.TempDir())
	h := hitlCLI{bin: bin, url: "http://" + addr}
	const unknownID = "6f1c0000-0000-4000-8000-000000000000"

	t.Run("Usage", func(t *testing.T) {
		t.Parallel()
		r := h.run(t, "")
		if r.code != 2 {
			t.Fatalf("no args: exit %d", r.code)
		}
		wantContains(t, r.stderr, "hitl dev", "hitl requests ls", "hitl requests show ID", "hitl respond ID",
			"--approve", "hitl runs start WORKFLOW", "hitl runs show ID", "hitl runs cancel ID", "HITL_URL", "HITL_TOKEN")
		help := h.ok(t, "", "help")
		if help != r.stderr {
			t.Errorf("hitl help differs from the usage of hitl alone")
		}
		wantContains(t, h.ok(t, "", "requests", "show", "-h"), "Usage: hitl requests show ID", "-server URL", "-json")
		wantContains(t, h.ok(t, "", "respond", "--help"), "field by field", "-approve", "-responder")

		h.fails(t, 2, `hitl: unknown command "frobnicate"`, "frobnicate")
		h.fails(t, 2, `unknown command "bogus"`, "requests", "bogus")
		r = h.fails(t, 2, "hitl requests ls: flag provided but not defined: -bogus", "requests", "ls", "--bogus")
		if lines := strings.Count(r.stderr, "\n"); lines != 2 || r.stdout != "" {
			t.Errorf("bad flag: want the error and a pointer to -h, got %q", r.stderr)
		}
		h.fails(t, 2, "hitl requests show: missing ID", "requests", "show")
		h.fails(t, 2, `unexpected argument "extra"`, "runs", "show", unknownID, "extra")
		h.fails(t, 2, `--status "done"`, "requests", "ls", "--status", "done")
		h.fails(t, 2, "use one of --data, --approve and --reject", "respond", unknownID, "--approve", "--reject")
		h.fails(t, 2, "--data is not valid JSON", "respond", unknownID, "--data", "approve")
		h.fails(t, 2, "--input is not valid JSON", "runs", "start", "refund", "--input", "{order_id: 1}")
		h.fails(t, 2, "--server", "requests", "ls", "--server", "localhost:8080")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		r := h.fails(t, 1, "", "requests", "show", unknownID)
		if r.stderr != "hitl: request "+unknownID+" not found\n" || r.stdout != "" {
			t.Errorf("unknown request: %q", r.stderr)
		}
		r = h.fails(t, 1, "", "runs", "show", unknownID, "--json")
		if r.stderr != "hitl: run "+unknownID+" not found\n" || r.stdout != "" {
			t.Errorf("unknown run, --json: stdout %q stderr %q", r.stdout, r.stderr)
		}
		h.fails(t, 1, "hitl: run "+unknownID+" not found", "runs", "cancel", unknownID)
		h.fails(t, 1, "hitl: request "+unknownID+" not found", "respond", unknownID, "--approve")
		h.fails(t, 1, "hitl: request "+unknownID+" not found", "requests", "cancel", unknownID)
		h.fails(t, 1, "workflow: is not a valid workflow name", "runs", "start", "no.pe")
		closed := "http://127.0.0.1:" + freePort(t)
		h.fails(t, 1, "hitl: cannot reach the hitl API at "+closed+": ", "requests", "ls", "--server", closed)
	})

	t.Run("RefundByFlags", func(t *testing.T) {
		t.Parallel()
		// Start and wait for the first question, for scripts.
		run := decodeJSON[client.Run](t, h.ok(t, "", "runs", "start", "refund", "--input", `{"order_id": "F-1", "reason": "late"}`, "--wait", "--json"))
		if run.Status != events.RunWaiting || len(run.Pending) != 1 || run.Pending[0].Input.Type != "select" {
			t.Fatalf("run after --wait: %+v", run)
		}
		q := run.Pending[0].ID

		// Tables and JSON.
		out := h.ok(t, "", "requests", "ls", "--status", "pending")
		if !regexp.MustCompile(`ID\s+STATUS\s+INPUT\s+AGE\s+WORKFLOW\s+TITLE\n`).MatchString(out) ||
			!regexp.MustCompile(q+`\s+pending\s+select\s+\d+s\s+refund\s+Refund decision for F-1\n`).MatchString(out) {
			t.Errorf("requests ls:\n%s", out)
		}
		list := decodeJSON[struct {
			Requests []events.Request `json:"requests"`
			Count    int              `json:"count"`
		}](t, h.ok(t, "", "requests", "ls", "--json"))
		if list.Count != len(list.Requests) || list.Count == 0 {
			t.Errorf("requests ls --json: %+v", list)
		}
		// Pages: --limit, the cursor it prints, --all, and the runs' listing.
		page := h.ok(t, "", "requests", "ls", "--status", "pending", "--workflow", "refund", "--run", run.ID, "--limit", "1", "--newest")
		if !regexp.MustCompile(q + `\s+pending\s+select`).MatchString(page) {
			t.Errorf("requests ls --limit 1 --newest:\n%s", page)
		}
		all := decodeJSON[struct {
			Requests []events.Request `json:"requests"`
		}](t, h.ok(t, "", "requests", "ls", "--all", "--limit", "1", "--run", run.ID, "--json"))
		if len(all.Requests) != 1 || all.Requests[0].ID != q {
			t.Errorf("requests ls --all --run: %+v", all)
		}
		h.fails(t, 2, "--limit 0", "requests", "ls", "--limit", "0")
		h.fails(t, 2, `--created-after "yesterday"`, "requests", "ls", "--created-after", "yesterday")
		h.fails(t, 1, "cursor", "requests", "ls", "--cursor", "bogus")
		runs := h.ok(t, "", "runs", "ls", "--workflow", "refund", "--status", "waiting", "--all")
		if !regexp.MustCompile(`ID\s+STATUS\s+AGE\s+PENDING\s+WORKFLOW\n`).MatchString(runs) ||
			!regexp.MustCompile(run.ID+`\s+waiting\s+\d+s\s+1\s+refund\n`).MatchString(runs) {
			t.Errorf("runs ls:\n%s", runs)
		}
		h.fails(t, 2, `--status "lost"`, "runs", "ls", "--status", "lost")
		wantContains(t, h.ok(t, "", "requests", "show", q), "Request:   "+q, "Title:     Refund decision for F-1",
			"Status:    pending", "Input:     select: approve, modify, reject", "Run:       "+run.ID+" (refund)",
			"Reason: late", "order_id     F-1", "Answer with: hitl respond "+q)
		if got := decodeJSON[events.Request](t, h.ok(t, "", "requests", "show", q, "--json")); got.ID != q || got.RunID != run.ID {
			t.Errorf("requests show --json: %+v", got)
		}
		wantContains(t, h.ok(t, "", "runs", "show", run.ID), "Run:       "+run.ID, "Workflow:  refund", "Status:    waiting",
			`Input:     {"order_id":"F-1","reason":"late"}`, "Pending:", q, "Answer with: hitl respond "+q)

		// A wrong answer is refused locally, then by the server (--no-check), each naming the field.
		r := h.fails(t, 1, `answer: "maybe" is not one of the options (approve, modify, reject)`, "respond", q, "--data", `"maybe"`)
		if !strings.HasPrefix(r.stderr, "hitl: the answer does not fit request "+q) {
			t.Errorf("local refusal: %q", r.stderr)
		}
		h.fails(t, 1, "hitl: the answer does not match the request's input\n  data: \"maybe\" is not one of the options",
			"respond", q, "--data", `"maybe"`, "--no-check")
		h.fails(t, 1, "asks for a select answer, not an approval", "respond", q, "--approve")

		out = h.ok(t, "", "respond", q, "--data", `"approve"`, "--responder", "bob", "--comment", "regular")
		if out != "Answered request "+q+`: "approve" (as bob)`+"\nRun "+run.ID+" (refund) continues: hitl runs show "+run.ID+"\n" {
			t.Errorf("respond: %q", out)
		}
		h.fails(t, 1, "hitl: request "+q+" is already answered by bob", "respond", q, "--data", `"reject"`)
		wantContains(t, h.ok(t, "", "requests", "show", q), "Status:    answered", "Resolved:  answered by bob", `Answer:    "approve"`, "Comment:   regular")

		// Method, channels, then reject the confirmation: the run ends "cancelled".
		next := func() events.Request {
			t.Helper()
			v := decodeJSON[client.Run](t, h.ok(t, "", "runs", "wait", run.ID, "--timeout", "10s", "--json"))
			if len(v.Pending) != 1 {
				t.Fatalf("run is %s with %d pending", v.Status, len(v.Pending))
			}
			return *v.Pending[0]
		}
		h.ok(t, "", "respond", next().ID, "--data", `"bank"`)
		resolved := decodeJSON[struct {
			events.Request
			InputHash string `json:"input_hash"`
		}](t, h.ok(t, "", "respond", next().ID, "--data", `["sms"]`, "--json"))
		if resolved.Status != events.StatusAnswered || len(resolved.InputHash) != 64 {
			t.Errorf("respond --json: %+v", resolved)
		}
		confirm := next()
		if confirm.Input.Type != "approval" {
			t.Fatalf("last question is %s", confirm.Input.Type)
		}
		h.ok(t, "", "respond", confirm.ID, "--reject", "--comment", "customer withdrew")
		got := decodeJSON[events.Request](t, h.ok(t, "", "requests", "show", confirm.ID, "--json"))
		if string(got.Response.Data) != `{"approved":false,"comment":"customer withdrew"}` {
			t.Errorf("--reject sent %s", got.Response.Data)
		}
		out = h.ok(t, "", "runs", "wait", run.ID, "--timeout", "10s")
		wantContains(t, out, "Status:    completed", `Result:    {"status":"cancelled","order_id":"F-1"}`)
	})

	t.Run("RefundInteractive", func(t *testing.T) {
		t.Parallel()
		runID := strings.TrimSpace(h.ok(t, "", "runs", "start", "refund", "--input", `{"order_id": "I-7", "reason": "broken"}`, "-q"))
		next := func() string {
			t.Helper()
			v := decodeJSON[client.Run](t, h.ok(t, "", "runs", "wait", runID, "--timeout", "10s", "--json"))
			if len(v.Pending) != 1 {
				t.Fatalf("run is %s with %d pending", v.Status, len(v.Pending))
			}
			return v.Pending[0].ID
		}
		// Select: an invalid answer, then one by number.
		q := next()
		out := h.ok(t, "maybe\n2\n", "respond", q, "--responder", "carol")
		wantContains(t, out, "Refund decision for I-7", "request "+q+" · run "+runID+" (refund)", "Reason: broken",
			"order_id     I-7", "Input: select: approve, modify, reject",
			"  1) Approve full refund  [approve]\n  2) Approve with a different amount  [modify]\n  3) Reject refund  [reject]\n",
			"Choose 1-3: maybe\n  ! \"maybe\" is not one of the choices", "Choose 1-3: 2\n",
			`Answered request `+q+`: "modify" (as carol)`)
		// Text: too long (checked locally against max_length 12), then right.
		out = h.ok(t, "1234567890.123\n120.00\n", "respond", next())
		wantContains(t, out, "Answer (at most 12 characters): 1234567890.123\nThat answer does not fit:\n  ! answer: must be at most 12 characters (got 14)\n",
			`: "120.00"`)
		// Select by id; multiselect with a wrong pick first; approval with a comment.
		wantContains(t, h.ok(t, "store_credit\n", "respond", next()), `: "store_credit"`)
		out = h.ok(t, "1, 4\n1,push\n", "respond", next())
		wantContains(t, out, `Type "skip" to skip this question.`, `"4": not among the choices`, `: ["email","push"]`)
		out = h.ok(t, "sure\ny\nregular customer\n", "respond", next())
		wantContains(t, out, "  y) Approve\n  n) Reject\n", "answer y to approve or n to reject",
			`: {"approved":true,"comment":"regular customer"}`)

		v := decodeJSON[client.Run](t, h.ok(t, "", "runs", "wait", runID, "--timeout", "10s", "--json"))
		if v.Status != events.RunCompleted || string(v.Result) != `{"status":"refunded","order_id":"I-7","amount":120,"method":"store_credit","notified_via":["email","push"]}` {
			t.Fatalf("run ended %s: %s %s", v.Status, v.Result, v.Error)
		}

		// Input that ends before an answer: nothing is sent, exit 1.
		runID = strings.TrimSpace(h.ok(t, "", "runs", "start", "refund", "--input", `{"order_id": "I-8"}`, "-q"))
		q = next()
		r := h.run(t, "maybe\n", "respond", q)
		if r.code != 1 || !strings.Contains(r.stderr, "hitl: no answer given: the input ended") {
			t.Fatalf("input ended: %v", r)
		}
		wantContains(t, h.ok(t, "", "requests", "show", q), "Status:    pending")
	})

	// With --no-check the server is the only judge: its field errors are shown and the
	// question asked again. With --json the session is on stderr and stdout is the API's JSON.
	t.Run("ServerRefusalAskedAgain", func(t *testing.T) {
		t.Parallel()
		id := strings.TrimSpace(h.ok(t, "", "requests", "create", "-q",
			`{"title": "Ticket code?", "input": {"type": "text", "max_length": 4}}`))
		r := h.run(t, "ABCDE\nAB-1\n", "respond", id, "--no-check", "--json")
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if got := decodeJSON[events.Request](t, r.stdout); string(got.Response.Data) != `"AB-1"` || got.Response.Responder != "cli-test" {
			t.Fatalf("answer %s by %s", got.Response.Data, got.Response.Responder)
		}
		wantContains(t, r.stderr, "Ticket code?", "Answer (at most 4 characters): ABCDE\n"+
			"The server did not accept that answer:\n  ! answer: must be at most 4 characters (got 5)\n"+
			"Answer (at most 4 characters): AB-1\n")
		r = h.run(t, "AB-2\n", "respond", id) // answered now: refused before asking anything
		if r.code != 1 || r.stderr != "hitl: request "+id+" is already answered by cli-test\n" || r.stdout != "" {
			t.Fatalf("%v", r)
		}
	})

	t.Run("FormInteractive", func(t *testing.T) {
		t.Parallel()
		out := h.ok(t, `{
			"title": "Shipping details",
			"message": "Where should the replacement go?",
			"input": {"type": "form", "fields": [
				{"id": "name", "type": "string", "name": "Recipient", "data": {"description": "full name"}, "required": true},
				{"id": "floor", "type": "number", "name": "Floor"},
				{"id": "express", "type": "boolean", "name": "Express", "required": true},
				{"id": "carrier", "type": "select", "name": "Carrier", "options": [{"id": "dhl", "label": "DHL"}, {"id": "ups", "label": "UPS"}]}
			]}}`, "requests", "create", "-", "--json")
		id := decodeJSON[events.Request](t, out).ID
		out = h.ok(t, "\nAda Lovelace\nthird\n3\nmaybe\ny\n\n", "respond", id)
		wantContains(t, out, "Input: form: name, floor, express, carrier", "4 fields; Enter leaves out an optional one.",
			"Recipient (name: string, required)\n  full name\n> \n  ! this field is required\n> Ada Lovelace\n",
			"Floor (floor: number, optional)\n> third\n  ! \"third\" is not a number\n> 3\n",
			"Express (express: boolean, required)\n[y/n]: maybe\n  ! answer y or n\n[y/n]: y\n",
			"Carrier (carrier: select, optional)\n  1) DHL  [dhl]\n  2) UPS  [ups]\nChoose 1-2 (Enter to leave out): \n",
			`: {"name":"Ada Lovelace","floor":3,"express":true}`)
		got := decodeJSON[events.Request](t, h.ok(t, "", "requests", "wait", id, "--json"))
		if got.Status != events.StatusAnswered || string(got.Response.Data) != `{"name":"Ada Lovelace","floor":3,"express":true}` {
			t.Fatalf("stored %s %s", got.Status, got.Response.Data)
		}
	})

	// Edit then approve, labels and a required rejection comment; a json answer against a
	// schema, pasted over several lines. Refusals name the fields inside the answer.
	t.Run("ApprovalEditAndJSON", func(t *testing.T) {
		t.Parallel()
		id := strings.TrimSpace(h.ok(t, "", "requests", "create", "-q", `{"title": "Refund as proposed?", "input": {
			"type": "approval", "labels": {"approve": "Refund", "reject": "Hold"}, "require_comment_on_reject": true,
			"proposed": {"amount": 149.99, "method": "original"},
			"action_schema": {"type": "object", "required": ["amount", "method"], "properties": {
				"amount": {"type": "number", "maximum": 149.99}, "method": {"enum": ["original", "store_credit"]}}}}}`))
		out := h.ok(t, "e\n{\"amount\": 500, \"method\": \"cash\"}\n\ne\n{\"amount\": 120,\n \"method\": \"store_credit\"}\nregular\n", "respond", id)
		wantContains(t, out, "Proposed action:\n  {\n    \"amount\": 149.99,", "  y) Refund\n  n) Hold\n  e) Edit the action, then refund\n",
			"That answer does not fit:\n  ! edited.amount: must be at most 149.99\n",
			`Answered request `+id+`: {"approved":true,"comment":"regular","edited":{"amount":120,"method":"store_credit"}}`)

		id = strings.TrimSpace(h.ok(t, "", "requests", "create", "-q", `{"title": "Hold it?", "input": {"type": "approval", "require_comment_on_reject": true}}`))
		h.fails(t, 1, "comment: is required when rejecting", "respond", id, "--reject")
		wantContains(t, h.ok(t, "n\n\nnot reversible\n", "respond", id), "  ! a rejection needs a comment",
			`: {"approved":false,"comment":"not reversible"}`)

		id = strings.TrimSpace(h.ok(t, "", "requests", "create", "-q", `{"title": "Config?", "input": {"type": "json",
			"schema": {"type": "object", "required": ["replicas"], "properties": {"replicas": {"type": "integer", "minimum": 1}}}}}`))
		out = h.ok(t, "{\"replicas\": 0}\n{\n  \"replicas\": 3\n}\n", "respond", id)
		wantContains(t, out, "Input: json\nThe answer is JSON matching this schema:\n  {\n", "Answer as JSON: {\"replicas\": 0}\n",
			"  ! replicas: must be at least 1\n", `: {"replicas":3}`)
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		runID := strings.TrimSpace(h.ok(t, "", "runs", "start", "refund", "--input", `{"order_id": "X-9"}`, "--wait", "-q"))
		out := h.ok(t, "", "runs", "cancel", runID, "--reason", "duplicate")
		if out != "Cancelled run "+runID+".\n" {
			t.Errorf("runs cancel: %q", out)
		}
		wantContains(t, h.ok(t, "", "runs", "show", runID), "Status:    cancelled", "Error:     cancelled: duplicate")

		// --json answers at once; runs wait --done waits for the end.
		runID = strings.TrimSpace(h.ok(t, "", "runs", "start", "refund", "--input", `{"order_id": "X-10"}`, "--wait", "-q"))
		if got := decodeJSON[map[string]string](t, h.ok(t, "", "runs", "cancel", runID, "--json")); got["status"] != "cancelling" {
			t.Errorf("runs cancel --json: %v", got)
		}
		wantContains(t, h.ok(t, "", "runs", "wait", runID, "--done", "--timeout", "10s"), "Status:    cancelled")
		h.fails(t, 1, "hitl: run "+runID+" is already cancelled", "runs", "cancel", runID)
		if got := decodeJSON[map[string]any](t, h.ok(t, "", "runs", "show", runID, "--json")); got["status"] != "cancelled" {
			t.Errorf("runs show --json: %v", got)
		}

		id := strings.TrimSpace(h.ok(t, "", "requests", "create", "-q", `{"title": "Still needed?"}`))
		r := h.fails(t, 1, "hitl: request "+id+" is still pending after 200ms", "requests", "wait", id, "--timeout", "200ms")
		wantContains(t, r.stdout, "Status:    pending")
		got := decodeJSON[events.Request](t, h.ok(t, "", "requests", "cancel", id, "--reason", "obsolete", "--json"))
		if got.Status != events.StatusCancelled || got.Response.Comment != "obsolete" {
			t.Errorf("requests cancel --json: %+v", got)
		}
		wantContains(t, h.ok(t, "", "requests", "wait", id), "Status:    cancelled")
		wantContains(t, h.ok(t, "", "requests", "ls", "--status", "cancelled"), id)
		h.fails(t, 1, "hitl: request "+id+" is already cancelled", "requests", "cancel", id)
	})

	// hitl dev accepts runs of a workflow it does not host (another orchestrator on the same
	// JetStream may): they wait, queued, and can be cancelled while they do.
	t.Run("QueuedRun", func(t *testing.T) {
		t.Parallel()
		runID := strings.TrimSpace(h.ok(t, "", "runs", "start", "expense", "--input", `{"amount": 12}`, "-q"))
		wantContains(t, h.ok(t, "", "runs", "show", runID), "Status:    queued",
			"Queued: no orchestrator hosting workflow expense has taken the run yet")
		r := h.fails(t, 1, "hitl: run "+runID+" is still queued after 300ms", "runs", "wait", runID, "--timeout", "300ms")
		wantContains(t, r.stdout, "Status:    queued")
		if out := h.ok(t, "", "runs", "cancel", runID, "--reason", "wrong system"); out != "Cancelled run "+runID+".\n" {
			t.Errorf("runs cancel of a queued run: %q", out)
		}
		wantContains(t, h.ok(t, "", "runs", "show", runID), "Status:    cancelled", "Error:     cancelled: wrong system")
	})

	// An Ask naming an assignee nobody can reach fails its run, naming the assignee, as the
	// REST API refuses such a request.
	t.Run("UnknownAssignee", func(t *testing.T) {
		t.Parallel()
		r := h.fails(t, 1, `assignee "webhook:nobody-here"`, "runs", "start", "refund", "--input",
			`{"order_id": "A-7", "assignees": ["webhook:nobody-here"]}`, "--wait", "--timeout", "20s")
		wantContains(t, r.stdout, "Status:    failed")
		wantContains(t, r.stderr, "failed: ask", `no webhook named "nobody-here" is configured`)
	})

	// The script in docs/cli.md, verbatim, with this hitl on PATH.
	t.Run("DocsScript", func(t *testing.T) {
		t.Parallel()
		doc, err := os.ReadFile("../docs/cli.md")
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(doc), "<!-- script")
		if !ok {
			t.Fatal("docs/cli.md has no script marker")
		}
		_, rest, _ = strings.Cut(rest, "```sh\n")
		script, _, _ := strings.Cut(rest, "```")
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"HITL_URL="+h.url, "HITL_TOKEN=", "HITL_RESPONDER=alice")
		out, err := cmd.CombinedOutput()
		t.Logf("docs/cli.md script:\n%s", out)
		if err != nil {
			t.Fatalf("script failed: %v", err)
		}
		wantContains(t, string(out), `: "modify" (as alice)`, `: {"approved":true,"comment":"customer is a regular"} (as alice)`,
			"Status: completed", `Result: {"status":"refunded","order_id":"A-1001","amount":120,"method":"store_credit","notified_via":["email","sms"]}`)
	})

	// Outside dev the API wants a token: HITL_TOKEN is sent as a bearer token.
	t.Run("Token", func(t *testing.T) {
		t.Parallel()
		sys := newSystem(t, natstest.Single(t), hitl.NewRegistry())
		secured := hitlCLI{bin: bin, url: sys.api.URL}
		secured.fails(t, 1, "hitl: a valid API token (Authorization: Bearer ...) or link token is required (set HITL_TOKEN", "requests", "ls")
		secured.env = []string{"HITL_TOKEN=" + apiToken}
		if out := secured.ok(t, "", "requests", "ls"); out != "No requests.\n" {
			t.Errorf("requests ls with a token: %q", out)
		}
	})
}
