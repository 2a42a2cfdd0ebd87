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

	"github.com/nats-io/nats.go/jetstream"
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

// scaleTimers is the hook for the timer lateness figures of each level: given the
// benchmark's JetStream connection to the filled server (whose orchestrator fires the
// timers) and the pending count, it returns what it measured, which goes into the level's
// "timers" field. Nil (the field is null) until a timer measurement is wired here, e.g.
//
//	scaleTimers = func(ctx context.Context, js jetstream.JetStream, _ int) (any, error) {
//		return measureTimers(ctx, js, timerOptions{Count: 10_000, Window: time.Second})
//	}
var scaleTimers func(ctx context.Context, js jetstream.JetStream, pending int) (any, error)

func (h *harness) timers(ctx context.Context, pending int) (any, error) {
	if scaleTimers == nil {
		return nil, nil
	}
	h.prog.printf("scale: %d pending: timer lateness", pending)
	return scaleTimers(ctx, h.js, pending)
}

// timersNote says in the summary whether the levels' "timers" were measured.
func timersNote() string {
	if scaleTimers == nil {
		return "not measured: no timer measurement is wired to scaleTimers (bench/scale_probe.go)"
	}
	return "measured: see each level's timers"
}

// scrapeErr describes a scrape that failed or did not answer 200.
func scrapeErr(name string, status int, err error) error {
	if err != nil {
		return fmt.Errorf("%s /metrics: %w", name, err)
	}
	return fmt.Errorf("%s /metrics: status %d", name, status)
}
