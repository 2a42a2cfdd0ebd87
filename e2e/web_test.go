package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/internal/linktoken"
	"github.com/hitl-dev/hitl/respond"
)

// TestWebInboxInBrowser answers the refund workflow's questions in headless Chromium, the
// way a person who got an email link would: a wrong answer shows its error beside the
// field and changes nothing; a right one shows the resolved page and the run goes on.
// HITL_SCREENSHOTS=1 writes docs/img/web-*.png.
func TestWebInboxInBrowser(t *testing.T) {
	t.Parallel()
	browser := newBrowser(t)
	data := t.TempDir()
	addr, _ := startDev(t, data)
	base := "http://" + addr
	secret := devLinkSecret(t, data)

	r := doCall(t, "POST", base+"/v1/runs", "", map[string]any{"workflow": "refund",
		"input": map[string]any{"order_id": "A-1001", "reason": "arrived damaged"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("start run: %d %s", r.Status, r.Body)
	}
	var run respond.RunView
	r.decode(t, &run)

	// The link an email would carry: the request's page, signed for the recipient.
	const who = "email:agent@example.com"
	link := func(req *events.Request) string {
		tok, err := linktoken.Sign([]byte(secret), linktoken.Claims{RequestID: req.ID, Subject: who, Expires: time.Now().Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return base + "/inbox/requests/" + req.ID + "?token=" + url.QueryEscape(tok)
	}

	// Pause 1, a select: nothing chosen is refused beside the options.
	decide := nextQuestion(t, base, run.ID, "Refund decision for A-1001")
	browser.open(link(decide))
	browser.screenshot("web-form.png")
	browser.submit(`button[value="submit"]`, http.StatusUnprocessableEntity)
	if msg := browser.text("#answer-error"); !strings.Contains(msg, "An answer is required") {
		t.Errorf("error beside the options: %q", msg)
	}
	if v := browser.attr("#answer-0", "aria-invalid"); v != "true" {
		t.Errorf("aria-invalid = %q", v)
	}
	if v := browser.attr("#answer-0", "aria-describedby"); v != "answer-error" {
		t.Errorf("aria-describedby = %q", v)
	}
	browser.screenshot("web-form-error.png")
	if got := getRequest(t, base, decide.ID); got.Status != events.StatusPending {
		t.Fatalf("a refused answer changed the request: %s", got.Status)
	}
	browser.click(`label[for="answer-1"]`) // "Approve with a different amount"
	browser.submit(`button[value="submit"]`, http.StatusOK)
	if got := browser.text(".outcome"); !strings.Contains(got, "Answered by "+who+" (you)") || !strings.Contains(got, "Approve with a different amount") {
		t.Errorf("resolved page: %q", got)
	}
	browser.screenshot("web-resolved.png")

	// Pause 2, text of at most 12 characters: the browser stops typing at 12; a longer
	// value (set as a script or an older browser would) is refused by the server.
	amount := nextQuestion(t, base, run.ID, "Refund amount for A-1001")
	browser.open(link(amount))
	browser.do(chromedp.SendKeys(chromedp.CSS("#answer"), "1234567890123"))
	if v, err := chromedp.Run(browser.ctx, chromedp.Value(chromedp.CSS("#answer"))); err != nil || v != "123456789012" {
		t.Errorf("maxlength: typed value %q, %v", v, err)
	}
	browser.do(chromedp.SetValue(chromedp.CSS("#answer"), "1234567890123"))
	browser.submit(`button[value="submit"]`, http.StatusUnprocessableEntity)
	if msg := browser.text("#answer-error"); msg != "Error: The answer must be at most 12 characters (got 13)." {
		t.Errorf("error beside the field: %q", msg)
	}
	if v, err := chromedp.Run(browser.ctx, chromedp.Value(chromedp.CSS("#answer"))); err != nil || v != "1234567890123" {
		t.Errorf("the typed value was not kept: %q, %v", v, err)
	}
	browser.do(chromedp.SetValue(chromedp.CSS("#answer"), "120.00"))
	browser.submit(`button[value="submit"]`, http.StatusOK)
	if got := browser.text(".outcome"); !strings.Contains(got, "120.00") {
		t.Errorf("resolved page: %q", got)
	}

	// The run resumed: it now asks for the method, and the inbox of the link lists it.
	method := nextQuestion(t, base, run.ID, "Refund method for A-1001")
	browser.open(base + "/inbox?token=" + url.QueryEscape(strings.SplitN(link(method), "token=", 2)[1]))
	if got := browser.text("table.inbox"); !strings.Contains(got, "Refund method for A-1001") {
		t.Errorf("inbox: %q", got)
	}
	browser.screenshot("web-inbox.png")
	answered := getRequest(t, base, amount.ID)
	if answered.Response == nil || string(answered.Response.Data) != `"120.00"` || answered.Response.Responder != who {
		t.Fatalf("recorded answer: %+v", answered.Response)
	}
}

// nextQuestion waits until the run asks something and checks that it is title.
func nextQuestion(t *testing.T, base, runID, title string) *events.Request {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := doCall(t, "GET", base+"/v1/runs/"+runID+"/wait?timeout=10s", "", nil)
		var v respond.RunView
		r.decode(t, &v)
		if len(v.Pending) > 0 && v.Pending[0].Title == title {
			return v.Pending[0]
		}
		if v.Status.Final() || time.Now().After(deadline) {
			t.Fatalf("waiting for %q: run is %s, pending %d, error %q", title, v.Status, len(v.Pending), v.Error)
		}
		time.Sleep(50 * time.Millisecond) // the previous question may still be listed
	}
}

func getRequest(t *testing.T, base, id string) *events.Request {
	t.Helper()
	r := doCall(t, "GET", base+"/v1/requests/"+id, "", nil)
	var req events.Request
	if err := json.Unmarshal(r.Body, &req); err != nil {
		t.Fatalf("request %s: %d %s", id, r.Status, r.Body)
	}
	return &req
}

// devLinkSecret is the link secret hitl dev uses: HITL_LINK_SECRET, else the one it keeps
// in the data directory.
func devLinkSecret(t *testing.T, data string) string {
	if s := os.Getenv("HITL_LINK_SECRET"); s != "" {
		return s
	}
	b, err := os.ReadFile(filepath.Join(data, "link-secret"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts headless Chromium with an empty profile and the extra flags given.
// Chromium must be installed: CI installs it (.ci/run), so its absence fails the test
// rather than skipping it.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("chromium is not installed (/usr/bin/chromium): .ci/run installs it (apt-get install chromium); " +
				"the web inbox test drives it headless")
		}
	}
	profile := t.TempDir()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // small /dev/shm in containers
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1000, 900),
		chromedp.UserDataDir(profile),
	}, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() }) // before the profile directory is removed
	// The first action starts the browser, which lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// timed runs an action with a time limit, failing the test on an error.
func timed[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	timed(b, "browser", chromedp.Steps(steps...))
}

func (b *browser) open(u string) {
	b.t.Helper()
	resp := timed(b, "open "+u, chromedp.NavigateResponse(u))
	if resp.Status != http.StatusOK {
		b.t.Fatalf("open %s: HTTP %d", u, resp.Status)
	}
}

// submit clicks a submit button and waits for the page it leads to, which must come with
// status (after redirects).
func (b *browser) submit(sel string, status int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("submit %s: %v", sel, err)
	}
	if resp.Status != status {
		b.t.Fatalf("submit %s: HTTP %d, want %d", sel, resp.Status, status)
	}
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.Join(strings.Fields(timed(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))), " ")
}

func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	return timed(b, "attribute "+name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

// screenshot writes docs/img/name when HITL_SCREENSHOTS=1, so that ordinary runs leave the
// committed images alone.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("HITL_SCREENSHOTS") != "1" {
		return
	}
	png := timed(b, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join("..", "docs", "img", name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
