package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// listPath is the page the listing figure times.
const listPath = "/v1/requests?status=pending&limit=50"

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn signs the inbox client in as an operator with the API token, through the sign-in
// form as a browser does: GET the form (its CSRF token and cookie), POST it, keep the
// session cookie.
func (h *harness) signIn(ctx context.Context) error {
	status, body, err := h.do(ctx, h.inbox, http.MethodGet, h.apiURL+"/inbox/login", nil, nil)
	if err != nil {
		return err
	}
	m := csrfField.FindSubmatch(body)
	if status != http.StatusOK || m == nil {
		return fmt.Errorf("GET /inbox/login: status %d, no CSRF field", status)
	}
	form := url.Values{"token": {h.apiToken}, "name": {"scale"}, "_csrf": {string(m[1])}, "next": {"/inbox"}}
	status, body, err = h.do(ctx, h.inbox, http.MethodPost, h.apiURL+"/inbox/login",
		strings.NewReader(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if err != nil {
		return err
	}
	if status != http.StatusSeeOther {
		return fmt.Errorf("POST /inbox/login: status %d, want 303: %.300s", status, body)
	}
	return nil
}

// do sends one request and reads the whole reply.
func (h *harness) do(ctx context.Context, c *http.Client, method, u string, body io.Reader, hdr http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read %s: %w", u, err)
	}
	return resp.StatusCode, b, nil
}

// listPage times one page of pending requests through the REST API, reply read to the end.
// Whatever the endpoint does with limit is measured: Items says how many came back.
func (h *harness) listPage(ctx context.Context) (pageResult, error) {
	start := time.Now()
	status, body, err := h.do(ctx, h.client, http.MethodGet, h.apiURL+listPath, nil,
		http.Header{"Authorization": {"Bearer " + h.apiToken}})
	took := time.Since(start)
	if err != nil {
		return pageResult{}, fmt.Errorf("GET %s: %w", listPath, err)
	}
	if status != http.StatusOK {
		return pageResult{}, fmt.Errorf("GET %s: status %d: %.300s", listPath, status, body)
	}
	var v struct {
		Requests   []json.RawMessage `json:"requests"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return pageResult{}, fmt.Errorf("GET %s: %w", listPath, err)
	}
	paged := v.NextCursor != ""
	return pageResult{MS: ms(took), Bytes: int64(len(body)), Items: len(v.Requests), Status: status, NextCursor: &paged}, nil
}

// inboxPage times GET /inbox for the signed-in operator, page read to the end.
func (h *harness) inboxPage(ctx context.Context) (pageResult, error) {
	for attempt := 0; ; attempt++ {
		start := time.Now()
		status, body, err := h.do(ctx, h.inbox, http.MethodGet, h.apiURL+"/inbox", nil, nil)
		took := time.Since(start)
		if err != nil {
			return pageResult{}, fmt.Errorf("GET /inbox: %w", err)
		}
		if status == http.StatusSeeOther && attempt == 0 { // the session ended: sign in again
			if err := h.signIn(ctx); err != nil {
				return pageResult{}, err
			}
			continue
		}
		if status != http.StatusOK {
			return pageResult{}, fmt.Errorf("GET /inbox: status %d", status)
		}
		return pageResult{MS: ms(took), Bytes: int64(len(body)), Items: bytes.Count(body, []byte(`href="/inbox/requests/`)),
			Status: status}, nil
	}
}

// scrape is one GET /metrics of s.
func (h *harness) scrape(ctx context.Context, s *service) (time.Duration, []byte, error) {
	start := time.Now()
	status, body, err := h.do(ctx, h.client, http.MethodGet, "http://"+s.addr+"/metrics", nil, nil)
	took := time.Since(start)
	if err != nil || status != http.StatusOK {
		return 0, nil, scrapeErr(s.name, status, err)
	}
	return took, body, nil
}

func (h *harness) scrapes(ctx context.Context, s *service, r *serviceResult) error {
	var d []time.Duration
	for range h.cfg.scrapes {
		t, _, err := h.scrape(ctx, s)
		if err != nil {
			return err
		}
		d = append(d, t)
	}
	r.ScrapeMS, r.ScrapeMaxMS = medianMS(d)
	return nil
}

// gaugeValue finds a metric without labels in Prometheus's text format.
func gaugeValue(body []byte, name string) (float64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// awaitGauge scrapes the restarted responder until hitl_requests_pending equals want, for
// up to two minutes, and returns the last value read.
func (h *harness) awaitGauge(ctx context.Context, want int) (float64, bool, error) {
	end := time.Now().Add(2 * time.Minute)
	last := math.NaN()
	for {
		_, body, err := h.scrape(ctx, h.services["responder"])
		if err != nil && time.Now().After(end) {
			return 0, false, err
		}
		v, ok := gaugeValue(body, "hitl_requests_pending") // none when the scrape failed: try again
		if ok {
			last = v
			if v == float64(want) {
				return v, true, nil
			}
		}
		if time.Now().After(end) {
			if !ok {
				return 0, false, errors.New("the responder's /metrics has no hitl_requests_pending")
			}
			h.prog.printf("scale: WARNING: hitl_requests_pending is %v, not %d, two minutes after the start", last, want)
			return last, false, nil
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(100 * time.Millisecond): // the polling period
		}
	}
}

// timers measures timer lateness at a level with measureTimers (bench/timers.go):
// cfg.timers requests whose deadlines fall within cfg.timersWindow, fired by the restarted
// orchestrator process while the level's requests wait. They end timed_out, so the pending
// count of the next level is unchanged. Off (null) with -timers 0.
func (h *harness) timers(ctx context.Context, pending int) (any, error) {
	if h.cfg.timers == 0 {
		return nil, nil
	}
	h.prog.printf("scale: %d pending: timer lateness, %d deadlines within %s", pending, h.cfg.timers, h.cfg.timersWindow)
	res, err := measureTimers(ctx, h.js, timerOptions{Count: h.cfg.timers, Window: h.cfg.timersWindow, Progress: h.prog.printf})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// A measurement that failed (requests not resolved in time) is a figure of the level,
	// not a reason to lose the run: its error goes into the line.
	out := levelTimers{timerResult: res}
	if err != nil {
		out.Error = err.Error()
		h.prog.printf("scale: %d pending: WARNING: %v", pending, err)
	}
	return out, nil
}

// levelTimers is a level's "timers": measureTimers' result and the error it ended with.
type levelTimers struct {
	timerResult
	Error string `json:"error,omitempty"`
}

// timersNote says in the summary what the levels' "timers" hold.
func timersNote(cfg *scaleConfig) string {
	if cfg.timers == 0 {
		return "not measured (-timers 0)"
	}
	return fmt.Sprintf("each level's timers: %d deadlines within %s (measureTimers, bench/timers.go); cpu_us_per_expiry is the benchmark process's, not the orchestrator's",
		cfg.timers, cfg.timersWindow)
}

// scrapeErr describes a scrape that failed or did not answer 200.
func scrapeErr(name string, status int, err error) error {
	if err != nil {
		return fmt.Errorf("%s /metrics: %w", name, err)
	}
	return fmt.Errorf("%s /metrics: status %d", name, status)
}
