package notifytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/notify"
	"github.com/hitl-dev/hitl/notify/notifytest"
)

// TestRun runs the suite on a channel written the way one outside this module would be:
// against notify's public contract only.
func TestRun(t *testing.T) {
	notifytest.Run(t, func(t *testing.T) notifytest.Subject {
		rcv := newReceiver(t)
		ch, err := newPostChannel(rcv.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return notifytest.Subject{
			Channel:   ch,
			Assignee:  "post:ops",
			Delivered: func(id string) int { return rcv.count(id, "request") },
			Resolved:  func(id string) int { return rcv.count(id, "resolved") },
			Break:     func() { rcv.broken.Store(true) },
			BadConfigs: map[string]func() error{
				"no URL":       func() error { _, err := newPostChannel(""); return err },
				"relative URL": func() error { _, err := newPostChannel("/hook"); return err },
			},
		}
	})
}

// postChannel POSTs {"id": ..., "phase": "request" | "resolved"} to a URL.
type postChannel struct {
	url    string
	client *http.Client
}

func newPostChannel(u string) (*postChannel, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, fmt.Errorf("post channel: %q is not an absolute http(s) URL", u)
	}
	return &postChannel{url: u, client: &http.Client{Timeout: 10 * time.Second}}, nil
}

func (c *postChannel) Kind() string { return "post" }

func (c *postChannel) Notify(ctx context.Context, d notify.Delivery) error {
	return c.post(ctx, d.Request.ID, "request")
}

func (c *postChannel) Update(ctx context.Context, d notify.Delivery) error {
	return c.post(ctx, d.Request.ID, "resolved")
}

func (c *postChannel) post(ctx context.Context, id, phase string) error {
	body, _ := json.Marshal(map[string]string{"id": id, "phase": phase})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500:
		return errors.New("receiver answered " + resp.Status)
	}
	return notify.Permanent(errors.New("receiver answered " + resp.Status))
}

// receiver counts what it was sent, or answers 503 once broken.
type receiver struct {
	srv    *httptest.Server
	broken atomic.Bool
	mu     sync.Mutex
	got    map[string]int // id/phase → count
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.broken.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var m map[string]string
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got[m["id"]+"/"+m["phase"]]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count(id, phase string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id+"/"+phase]
}
