package e2e_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/server"
)

// TestMasumiWalkthrough runs the curl sequence of docs/masumi.md, which is the Masumi HITL
// seed's verbatim, against `hitl dev`: only the port and <JOB_ID> are substituted. The job
// starts asynchronously, so steps 3 and 5 are polled until the status they promise.
func TestMasumiWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the documented commands (.ci/run installs it)")
	}
	steps := masumiSteps(t)
	data := t.TempDir()
	addr, _ := startDev(t, data)
	_, port, _ := net.SplitHostPort(addr)

	run := func(n int, jobID string) map[string]any {
		t.Helper()
		script := strings.ReplaceAll(steps[n], "localhost:8080", "localhost:"+port)
		script = strings.ReplaceAll(script, "<JOB_ID>", jobID)
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("step %d failed: %v\n%s\n%s", n, err, script, stderr.Bytes())
		}
		var v map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
			t.Fatalf("step %d printed %q, not a JSON object: %v", n, stdout.Bytes(), err)
		}
		t.Logf("step %d: %s", n, bytes.TrimSpace(stdout.Bytes()))
		return v
	}
	poll := func(n int, jobID, status string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			v := run(n, jobID)
			if v["status"] == status {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %d: the job is %v, not %s", n, v["status"], status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 2. Start a job.
	started := run(2, "")
	jobID, _ := started["job_id"].(string)
	if jobID == "" || started["status"] != "running" || started["identifier_from_purchaser"] != "test-123" {
		t.Fatalf("start_job answered %v", started)
	}

	// 3. The status shows awaiting_input with the approval form.
	st := poll(3, jobID, "awaiting_input")
	schema, _ := json.Marshal(st["input_schema"])
	want := `{"input_data":[{"data":{"description":"Approve processing for: 'hello world'?"},"id":"approve","name":"Approve Processing","type":"boolean"}]}`
	if string(schema) != want || st["job_id"] != jobID || st["message"] != "Please review and approve this request." {
		t.Fatalf("awaiting status: %v\n input_schema %s\n         want %s", st, schema, want)
	}

	// 4. Provide the input: its hash and signature come back.
	provided := run(4, jobID)
	hash, _ := provided["input_hash"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
		t.Fatalf("input_hash %q is not 64 hex digits: %v", hash, provided)
	}
	if sum := sha256.Sum256([]byte(`{"approve":true}`)); hash != hex.EncodeToString(sum[:]) {
		t.Errorf("input_hash %s is not the SHA-256 of the canonical input_data", hash)
	}
	secret, err := server.DevLinkSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(hash))
	if provided["signature"] != hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %v is not the HMAC-SHA256 of the input_hash with the link secret", provided["signature"])
	}

	// 5. The job completes with the text uppercased.
	final := poll(5, jobID, "completed")
	if final["result"] != "HELLO WORLD" {
		t.Fatalf("final status: %v", final)
	}
}

// masumiSteps reads the walk-through block of docs/masumi.md into its numbered steps
// ("# 2. Start a job ..." up to the next "# N." line).
func masumiSteps(t *testing.T) map[int]string {
	t.Helper()
	doc, err := os.ReadFile("../docs/masumi.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- walkthrough")
	if !ok {
		t.Fatal("docs/masumi.md has no walkthrough marker")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	block, _, _ := strings.Cut(rest, "```")
	heading := regexp.MustCompile(`^# (\d+)\. `)
	steps := map[int]string{}
	n := 0
	for line := range strings.Lines(block) {
		if m := heading.FindStringSubmatch(line); m != nil {
			n, _ = strconv.Atoi(m[1])
			continue
		}
		steps[n] += line
	}
	for i := 2; i <= 5; i++ {
		if !strings.HasPrefix(strings.TrimSpace(steps[i]), "curl ") {
			t.Fatalf("step %d of the walk-through is not a curl command: %q", i, steps[i])
		}
	}
	return steps
}

// TestMasumiJobWorkflowAndTokensOnDev configures `hitl dev` through the environment: the job
// API runs the two-step job (HITL_JOB_WORKFLOW) and takes the REST API's tokens.
func TestMasumiJobWorkflowAndTokensOnDev(t *testing.T) {
	t.Setenv("HITL_JOB_WORKFLOW", "approval-gate-two-step")
	t.Setenv("HITL_API_TOKENS", "masumi-token-0123456789")
	addr, _ := startDev(t, t.TempDir())
	base := "http://" + addr
	call := func(method, path string, body any) map[string]any {
		t.Helper()
		r := doCall(t, method, base+path, "masumi-token-0123456789", body)
		var v map[string]any
		if err := json.Unmarshal(r.Body, &v); err != nil || r.Status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		return v
	}
	if r := doCall(t, "POST", base+"/start_job", "", map[string]any{"input_data": map[string]any{"text": "x"}}); r.Status != 401 {
		t.Fatalf("start_job without the token: %d %s", r.Status, r.Body)
	}
	if v := call("GET", "/availability", nil); v["message"] != "hitl job API: jobs run workflow approval-gate-two-step" {
		t.Fatalf("availability: %v", v)
	}

	jobID, _ := call("POST", "/start_job", map[string]any{"input_data": map[string]any{"text": "two steps"}})["job_id"].(string)
	awaitTitle := func(title string) {
		t.Helper()
		eventually(t, 15*time.Second, func() bool {
			v := call("GET", "/status?job_id="+jobID, nil)
			p, _ := v["pending_inputs"].([]any)
			return v["status"] == "awaiting_input" && len(p) == 1 && p[0].(map[string]any)["title"] == title
		}, func() string { return "job " + jobID + " never asked " + title })
	}
	awaitTitle("Begin?")
	call("POST", "/provide_input", map[string]any{"job_id": jobID, "input_data": map[string]any{"start": true}})
	awaitTitle("Accept result?")
	call("POST", "/provide_input", map[string]any{"job_id": jobID, "input_data": map[string]any{"accept": true, "feedback": "good"}})
	eventually(t, 15*time.Second, func() bool {
		v := call("GET", "/status?job_id="+jobID, nil)
		return v["status"] == "completed" && v["result"] == "TWO STEPS"
	}, func() string { return "job " + jobID + " did not complete with TWO STEPS" })
}
