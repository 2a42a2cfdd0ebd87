package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/surface/webhook"
)

// answerBody is what the bot posts to every respond_url.
const answerBody = `{"data":{"approved":true}}`

// bot is the webhook receiver: it verifies the Standard Webhooks signature, acknowledges the
// delivery, then answers the request through the respond_url it was given, as a bot would.
type bot struct {
	signer  *webhook.Signer
	client  *http.Client
	tracker *tracker
	log     *slog.Logger
	retries *atomic.Int64
	answers sync.WaitGroup // answers in flight

	requests  atomic.Int64 // request_info deliveries
	resolved  atomic.Int64 // resolved deliveries
	badSigs   atomic.Int64
	conflicts atomic.Int64 // answers refused with 409 (a repeated delivery)
	failures  atomic.Int64 // answers that failed otherwise
}

func (b *bot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if err := b.signer.Verify(r.Header, body, time.Now(), 5*time.Minute); err != nil {
		b.badSigs.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			RunID      string `json:"run_id"`
			RespondURL string `json:"respond_url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	switch ev.Type {
	case events.TypeRequestInfo:
		b.requests.Add(1)
		b.answers.Go(func() { b.answer(ev.Data.RunID, ev.Data.RespondURL) })
	case events.TypeResolved:
		b.resolved.Add(1)
	}
}

// answer posts the approval; the cycle's latency starts when the 200 has been read. An answer
// that only got through on a retry and was then refused as already resolved (its first
// attempt won the gate but the 503 hid it) has no start: that cycle has no latency.
func (b *bot) answer(runID, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, _, err := post(ctx, b.client, url, answerBody, "", b.retries)
	if err != nil {
		b.fail(runID, err)
		return
	}
	switch status {
	case http.StatusOK:
		b.tracker.answered(runID, time.Now())
	case http.StatusConflict:
		b.conflicts.Add(1)
	default:
		b.failures.Add(1)
		b.log.Warn("bot answer refused", slog.String("run_id", runID), slog.Int("status", status))
	}
}

func (b *bot) fail(runID string, err error) {
	b.failures.Add(1)
	b.log.Warn("bot answer failed", slog.String("run_id", runID), slog.Any("err", err))
}
