package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/store"
)

// scaleWebhookSecret signs the webhook deliveries to the bench's bot (Standard Webhooks'
// example secret).
const scaleWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// harness is the NATS server, the three services, the bot they deliver to, and the
// benchmark's own connection and store, over which it fills.
type harness struct {
	cfg  *scaleConfig
	dir  string
	prog *progress

	nats      *proc
	storeDir  string
	services  map[string]*service
	nc        *nats.Conn
	js        jetstream.JetStream
	st        *store.Store
	apiToken  string
	apiURL    string // the responder's base URL
	client    *http.Client
	inbox     *http.Client // keeps the operator's session cookie
	botServer *http.Server
	botHits   atomic.Int64 // webhook deliveries the bot acknowledged

	closeOnce sync.Once
	closeErr  error
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func startHarness(ctx context.Context, cfg *scaleConfig, dir string, prog *progress) (_ *harness, err error) {
	h := &harness{cfg: cfg, dir: dir, prog: prog, services: map[string]*service{},
		storeDir: filepath.Join(dir, "jetstream"), apiToken: randomHex(16)}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	binDir := cfg.binDir
	if binDir == "" {
		binDir = filepath.Join(dir, "bin")
		prog.printf("scale: building the services")
		if err := buildServices(ctx, binDir); err != nil {
			return h, err
		}
	}
	natsToken := randomHex(16)
	var natsURL string
	if h.nats, natsURL, err = startNATSChild(ctx, dir, natsToken); err != nil {
		return h, err
	}
	prog.printf("scale: NATS server pid %d on %s", h.nats.pid(), natsURL)

	// The bot acknowledges every webhook delivery and answers nothing: the requests stay
	// pending, each with its delivery recorded.
	botLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return h, err
	}
	h.botServer = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.botHits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = h.botServer.Serve(botLn) }()
	botURL := "http://" + botLn.Addr().String() + "/hook"

	addrs := map[string]string{}
	for _, name := range serviceNames {
		if addrs[name], err = freeAddr(); err != nil {
			return h, err
		}
	}
	h.apiURL = "http://" + addrs["responder"]
	linkSecret := randomHex(16)
	common := []string{"HITL_NATS=" + natsURL, "HITL_NATS_TOKEN=" + natsToken, "HITL_LOG_LEVEL=warn"}
	if cfg.workers > 0 {
		common = append(common, "HITL_WORKERS="+strconv.Itoa(cfg.workers))
	}
	env := map[string][]string{
		"orchestrator": nil,
		"notifier": {"HITL_LINK_SECRET=" + linkSecret, "HITL_PUBLIC_URL=" + h.apiURL, "HITL_WEBHOOKS=bot=" + botURL,
			"HITL_WEBHOOK_SECRET=" + scaleWebhookSecret, "HITL_ALLOW_PRIVATE_TARGETS=127.0.0.1"},
		"responder": {"HITL_LINK_SECRET=" + linkSecret, "HITL_PUBLIC_URL=" + h.apiURL, "HITL_API_TOKENS=scale:admin:" + h.apiToken,
			"HITL_WEBHOOKS=bot=" + botURL, "HITL_ALLOW_PRIVATE_TARGETS=127.0.0.1"},
	}
	for _, name := range serviceNames {
		e := append(append([]string{}, common...), "HITL_HTTP="+addrs[name])
		h.services[name] = &service{name: name, bin: filepath.Join(binDir, name), addr: addrs[name],
			env: append(e, env[name]...), logPath: filepath.Join(dir, name+".log")}
	}
	if _, err := h.startServices(ctx); err != nil {
		return h, err
	}

	h.nc, err = nats.Connect(natsURL, nats.Name("hitl-scale"), nats.Token(natsToken), nats.MaxReconnects(-1))
	if err != nil {
		return h, fmt.Errorf("connect to the NATS server: %w", err)
	}
	if h.js, err = jetstream.New(h.nc); err != nil {
		return h, err
	}
	if h.st, err = store.Open(ctx, h.js); err != nil { // the services ensured the streams
		return h, err
	}
	h.client = &http.Client{Timeout: cfg.httpTimeout}
	jar, _ := cookiejar.New(nil)
	h.inbox = &http.Client{Timeout: cfg.httpTimeout, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if err := h.signIn(ctx); err != nil {
		return h, fmt.Errorf("inbox sign-in: %w", err)
	}
	return h, nil
}

// startServices starts every service at once and waits until each answers /healthz and
// /readyz, returning how long each took.
func (h *harness) startServices(ctx context.Context) (map[string][2]time.Duration, error) {
	for _, name := range serviceNames {
		if err := h.services[name].start(); err != nil {
			return nil, err
		}
	}
	times := map[string][2]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(serviceNames))
	for i, name := range serviceNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hz, rz, err := h.services[name].startTimes(ctx, h.cfg.startDeadline)
			mu.Lock()
			defer mu.Unlock()
			times[name], errs[i] = [2]time.Duration{hz, rz}, err
		}()
	}
	wg.Wait()
	return times, errors.Join(errs...)
}

// stopServices stops every service at once.
func (h *harness) stopServices() error {
	var wg sync.WaitGroup
	errs := make([]error, len(serviceNames))
	for i, name := range serviceNames {
		s := h.services[name]
		if s == nil || s.p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.p.stop(time.Minute)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h *harness) close() error {
	h.closeOnce.Do(func() {
		var errs []error
		errs = append(errs, h.stopServices())
		if h.nc != nil {
			h.nc.Close()
		}
		if h.botServer != nil {
			_ = h.botServer.Close()
		}
		if h.nats != nil {
			errs = append(errs, h.nats.stop(time.Minute))
		}
		h.closeErr = errors.Join(errs...)
	})
	return h.closeErr
}

// fill creates the requests from+1 … to, cfg.concurrency at a time, and returns how long
// it took.
func (h *harness) fill(ctx context.Context, from, to int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	next.Store(int64(from))
	start := time.Now()
	var wg sync.WaitGroup
	for range min(h.cfg.concurrency, to-from) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(to) || ctx.Err() != nil {
					return
				}
				if err := h.create(ctx, int(i)); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	stopTicker := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case <-t.C:
				n := done.Load()
				h.prog.printf("scale: filled %d of %d (%.0f/s); bot acknowledged %d deliveries", from+int(n), to,
					float64(n)/time.Since(start).Seconds(), h.botHits.Load())
			}
		}
	}()
	wg.Wait()
	close(stopTicker)
	took := time.Since(start)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return took, err
	}
	return took, ctx.Err()
}

// create stores request number i as POST /v1/requests would: a standalone approval for the
// bot with a timeout. A call JetStream did not answer is retried with the same id, which
// CreateRequest makes safe.
func (h *harness) create(ctx context.Context, i int) error {
	req := &events.Request{
		ID:        uuid.NewString(),
		Title:     fmt.Sprintf("Approve change #%d?", i),
		Message:   "A change is waiting for an approval before it is rolled out.",
		Input:     input.Spec{Type: input.Approval},
		Assignees: []string{"webhook:bot"},
		Timeout:   events.Duration(h.cfg.timeout),
		Metadata:  map[string]string{"source": "scale"},
	}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := h.st.CreateRequest(cctx, req)
		cancel()
		if err == nil || !store.Unavailable(err) || attempt == 5 || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// behind is how many messages the durable consumers of every stream have not yet been sent
// or not yet acknowledged, and the busiest of them.
func (h *harness) behind(ctx context.Context) (uint64, string, error) {
	var total, most uint64
	busiest := ""
	names := h.js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := h.js.Stream(ctx, name)
		if err != nil {
			return 0, "", err
		}
		list := s.ListConsumers(ctx)
		for ci := range list.Info() {
			if ci.Config.Durable == "" {
				continue // the services' watchers: ordered, ephemeral
			}
			n := ci.NumPending + uint64(ci.NumAckPending)
			total += n
			if n > most {
				most, busiest = n, name+"/"+ci.Name
			}
		}
		if err := list.Err(); err != nil {
			return 0, "", err
		}
	}
	if err := names.Err(); err != nil {
		return 0, "", err
	}
	return total, busiest, nil
}

// drain waits until every durable consumer has caught up (twice in a row, half a second
// apart), so that a level is measured at rest.
func (h *harness) drain(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	lastReport := start
	calm := 0
	for {
		n, busiest, err := h.behind(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return 0, ctx.Err()
		case err != nil: // a busy server may not answer an info call in time: ask again
			calm = 0
			if time.Since(lastReport) > 10*time.Second {
				h.prog.printf("scale: waiting for the services: consumer info: %v", err)
				lastReport = time.Now()
			}
		case n == 0:
			if calm++; calm == 2 {
				return time.Since(start), nil
			}
		default:
			calm = 0
		}
		if time.Since(start) > h.cfg.drainTimeout {
			return 0, fmt.Errorf("the services are %d messages behind (most: %s) %s after the fill", n, busiest, h.cfg.drainTimeout)
		}
		if err == nil && time.Since(lastReport) > 10*time.Second {
			h.prog.printf("scale: waiting for the services: %d messages behind (most: %s)", n, busiest)
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond): // the polling period
		}
	}
}

func (h *harness) readMemory(pid int) (memory, error) {
	rss, peak, err := procMemory(pid)
	if err != nil {
		return memory{}, err
	}
	return memory{RSSMiB: mib(rss), PeakMiB: mib(peak), rss: rss, peak: peak}, nil
}

// measure takes one level's figures: memory while running, then a restart of the services
// with their start times, memory once the pending gauge is exact, the pages and scrapes,
// memory after them, and the disk.
func (h *harness) measure(ctx context.Context, res *levelResult) error {
	d, err := h.drain(ctx)
	if err != nil {
		return err
	}
	res.DrainS, res.Delivered = round(d.Seconds()), h.botHits.Load()
	for _, name := range serviceNames {
		m, err := h.readMemory(h.services[name].p.pid())
		if err != nil {
			return err
		}
		res.Services[name] = &serviceResult{RunningMiB: m.RSSMiB, running: m.rss}
	}

	h.prog.printf("scale: %d pending: restarting the services", res.Pending)
	if err := h.stopServices(); err != nil {
		return err
	}
	times, err := h.startServices(ctx)
	if err != nil {
		return err
	}
	var started []string
	for _, name := range serviceNames {
		t := times[name]
		res.Services[name].HealthzMS, res.Services[name].ReadyzMS = ms(t[0]), ms(t[1])
		started = append(started, fmt.Sprintf("%s /healthz %.0f ms, /readyz %.0f ms", name, ms(t[0]), ms(t[1])))
	}
	h.prog.printf("scale: %d pending: started: %s; waiting for the pending gauge", res.Pending, strings.Join(started, "; "))
	res.PendingGauge, res.GaugeExact, err = h.awaitGauge(ctx, res.Pending)
	if err != nil {
		return err
	}
	for _, name := range serviceNames {
		m, err := h.readMemory(h.services[name].p.pid())
		if err != nil {
			return err
		}
		res.Services[name].memory = m
	}
	if res.NATS, err = h.readMemory(h.nats.pid()); err != nil {
		return err
	}

	h.prog.printf("scale: %d pending: listing a page", res.Pending)
	if res.List, err = h.listPage(ctx); err != nil {
		return err
	}
	h.prog.printf("scale: %d pending: listing took %.0f ms; the inbox", res.Pending, res.List.MS)
	if res.Inbox, err = h.inboxPage(ctx); err != nil {
		return err
	}
	h.prog.printf("scale: %d pending: inbox took %.0f ms; scraping", res.Pending, res.Inbox.MS)
	for _, name := range serviceNames {
		if err := h.scrapes(ctx, h.services[name], res.Services[name]); err != nil {
			return err
		}
	}
	for _, name := range serviceNames {
		m, err := h.readMemory(h.services[name].p.pid())
		if err != nil {
			return err
		}
		r := res.Services[name]
		r.AfterProbesMiB, r.PeakMiB, r.peak = m.RSSMiB, m.PeakMiB, m.peak
	}
	if m, err := h.readMemory(h.nats.pid()); err == nil {
		res.NATS.PeakMiB, res.NATS.peak = m.PeakMiB, m.peak
	}
	if res.diskBytes, err = diskUsage(h.storeDir); err != nil {
		return err
	}
	res.DiskMiB = mib(res.diskBytes)
	if res.Timers, err = h.timers(ctx, res.Pending); err != nil {
		return fmt.Errorf("timers: %w", err)
	}
	return nil
}
