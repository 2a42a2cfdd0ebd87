package respond

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/metrics"
	"github.com/hitl-dev/hitl/store"
)

// Defaults of the long-poll caps. The total bounds the memory the waits can hold (see
// docs/design.md for the cost of one); the per-caller cap keeps one token, one bot's links or
// one address from taking more than a tenth of it.
const (
	DefaultMaxWaits          = 5_000
	DefaultMaxWaitsPerCaller = 1_000
)

// WaitRetryAfter is the Retry-After, in seconds, of a 429 past a long-poll cap: a slot frees
// whenever any wait answers, and a refused wait costs the server next to nothing.
const WaitRetryAfter = 5

// waits counts the long-polls held, in total and per caller. The map holds only callers with
// a wait in progress.
type waits struct {
	total, perCaller int
	metrics          *metrics.Metrics

	mu  sync.Mutex
	n   int
	per map[string]int
}

func newWaits(total, perCaller int, m *metrics.Metrics) *waits {
	return &waits{total: total, perCaller: perCaller, metrics: m, per: map[string]int{}}
}

// acquire takes a slot for who, or answers why not (429 with Retry-After); release gives it back.
func (ws *waits) acquire(w http.ResponseWriter, who string) (release func(), _ *apiError) {
	ws.mu.Lock()
	limit := ""
	switch {
	case ws.n >= ws.total:
		limit = "total"
	case ws.per[who] >= ws.perCaller:
		limit = "caller"
	default:
		ws.n++
		ws.per[who]++
	}
	ws.mu.Unlock()
	if limit != "" {
		ws.metrics.WaitRefused(limit)
		w.Header().Set("Retry-After", strconv.Itoa(WaitRetryAfter))
		msg := "this server holds as many long-polls as it may (" + strconv.Itoa(ws.total) + "); retry later"
		if limit == "caller" {
			msg = "you hold as many long-polls as one caller may (" + strconv.Itoa(ws.perCaller) + "); retry when one ends"
		}
		return nil, errorf(http.StatusTooManyRequests, "too_many_waits", msg)
	}
	ws.metrics.WaitStarted()
	var once sync.Once
	return func() {
		once.Do(func() {
			ws.mu.Lock()
			ws.n--
			if ws.per[who]--; ws.per[who] <= 0 {
				delete(ws.per, who)
			}
			ws.mu.Unlock()
			ws.metrics.WaitEnded()
		})
	}, nil
}

// waitCaller is whom a long-poll counts against: the link token's subject (every link sent
// to one bot or person shares it), the API token (by a hash, never the token itself), or,
// when the API runs without tokens, the client as the rate limits count it (its address,
// an IPv6 client by its /64; X-Forwarded-For only from HITL_TRUSTED_PROXIES).
func (s *Server) waitCaller(r *http.Request, c caller) string {
	if c.link != nil {
		return "link:" + c.link.Subject
	}
	// Only with tokens configured has authenticate checked the bearer: without, any header
	// would pass and a caller could pick a new allowance per wait.
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && len(s.cfg.Tokens) > 0 {
		sum := sha256.Sum256([]byte(tok))
		return "token:" + hex.EncodeToString(sum[:8])
	}
	return "ip:" + s.cfg.AuthFailures.Client(r) // as the rate limits count clients: an IPv6 /64, trusted proxies
}

// waitTimeout reads the timeout query parameter of the long-polls.
func (s *Server) waitTimeout(r *http.Request) (time.Duration, *apiError) {
	v := r.URL.Query().Get("timeout")
	if v == "" {
		return min(30*time.Second, s.cfg.MaxWait), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "bad timeout " + v,
			Fields: []input.FieldError{{Path: "timeout", Message: `must be a duration like "30s"`}}}
	}
	return min(d, s.cfg.MaxWait), nil
}

// waitRun long-polls until the run needs an answer (it has a pending request) or has
// finished, or the timeout passes; then it returns the run as it stands.
func (s *Server) waitRun(w http.ResponseWriter, r *http.Request, c caller) *apiError {
	timeout, aerr := s.waitTimeout(r)
	if aerr != nil {
		return aerr
	}
	id := r.PathValue("id")
	st := s.cfg.Store
	run, _, err := st.Run(r.Context(), id)
	if err != nil {
		return storeError(err, "run")
	}
	settled := func(v RunView) bool { return v.Status.Final() || len(v.Pending) > 0 }
	if timeout == 0 {
		writeJSON(w, http.StatusOK, s.view(r.Context(), run))
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if v := s.view(ctx, run); settled(v) {
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	release, aerr := s.waits.acquire(w, s.waitCaller(r, c))
	if aerr != nil {
		return aerr
	}
	defer release()
	// Register, then read: a change after the read is delivered to the waiter.
	wt := s.runHub.Wait(id)
	defer wt.Stop()
	if run, _, err = st.RunLatest(ctx, id); err != nil {
		if r.Context().Err() != nil {
			return nil // the client went away
		}
		if ctx.Err() != nil { // the wait was too short to read again
			return s.getRun(w, r, caller{})
		}
		return storeError(err, "run")
	}
	v := s.view(ctx, run)
	for !settled(v) {
		select {
		case <-ctx.Done():
			writeJSON(w, http.StatusOK, s.view(r.Context(), run))
			return nil
		case e, ok := <-wt.C():
			if !ok { // the server is shutting down: answer with what we have
				writeJSON(w, http.StatusOK, s.view(r.Context(), run))
				return nil
			}
			if e == nil { // the watch was (re)armed: what changed meanwhile is read here
				if next, _, err := st.RunLatest(ctx, id); err == nil {
					run = next
					v = s.view(ctx, run)
				}
				continue
			}
			var next store.Run
			if json.Unmarshal(e.Value(), &next) == nil {
				run = &next
				v = s.view(ctx, run)
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// waitRequest long-polls until the request resolves or the timeout passes, then returns the
// request as it stands.
func (s *Server) waitRequest(w http.ResponseWriter, r *http.Request, c caller) *apiError {
	timeout, aerr := s.waitTimeout(r)
	if aerr != nil {
		return aerr
	}
	id := r.PathValue("id")
	st := s.cfg.Store
	req, _, err := st.Request(r.Context(), id)
	if err != nil {
		return storeError(err, "request")
	}
	if !req.Resolved() && timeout > 0 {
		release, aerr := s.waits.acquire(w, s.waitCaller(r, c))
		if aerr != nil {
			return aerr
		}
		defer release()
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		// Register, then read again, so a resolution in between is not missed.
		wt := s.reqHub.Wait(id)
		defer wt.Stop()
		switch next, _, err := st.RequestLatest(ctx, id); {
		case err == nil:
			req = next
		case r.Context().Err() != nil:
			return nil // the client went away
		case ctx.Err() == nil:
			return storeError(err, "request")
		} // else the wait was too short to read again: answer with what we have
	wait:
		for !req.Resolved() {
			select {
			case <-ctx.Done():
				break wait
			case e, ok := <-wt.C():
				if !ok {
					break wait // the server is shutting down: answer with what we have
				}
				if e == nil { // the watch was (re)armed: what changed meanwhile is read here
					if next, _, err := st.RequestLatest(ctx, id); err == nil {
						req = next
					}
					continue
				}
				var next events.Request
				if json.Unmarshal(e.Value(), &next) == nil {
					req = &next
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}
