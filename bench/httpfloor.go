package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// The HTTP floor: the full cycle's four HTTP hops over the bare floor's four JetStream
// writes, with no hitl logic in between (no auth, no validation, no signatures, no events).
// Per cycle:
//
//  1. the caller POSTs /start: KV create of the checkpoint, publish of the request, 201 with the id;
//  2. a consumer of requests (the notifier's place) POSTs the webhook to the bot, then acks;
//  3. the bot answers 204 and POSTs the answer to the respond_url: publish of the answer, 200;
//  4. a consumer of answers (the orchestrator's place) updates the checkpoint at its revision
//     (the cycle is complete: its latency ends here), POSTs the resolution to the bot as
//     the notifier posts resolved, then acks.
//
// The HTTP clients and servers are configured as in the full cycle: the caller's and the
// bot's client as the harness's, the webhook hops' as the webhook channel's default (128 idle
// connections per host), the servers with hitl's timeouts.
type httpFloor struct {
	cfg     *config
	srv     *natsServer
	nc      *nats.Conn
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	tracker *tracker
	stops   []func()

	client  *http.Client // the world outside: the caller and the bot
	webhook *http.Client // the notifier's place
	apiURL  string
	botURL  string
	servers []*http.Server
	httpWG  sync.WaitGroup
	answers sync.WaitGroup // the bot's answers in flight

	errMu sync.Mutex
	errs  []error
}

const (
	hfStream   = "HFLOOR"
	hfBucket   = "hfloor_runs"
	hfRequest  = "hfloor.req."
	hfAnswer   = "hfloor.ans."
	hfReqCons  = "hfloor-requests"
	hfAnsCons  = "hfloor-answers"
	hfKVStream = "KV_" + hfBucket
)

func startHTTPFloor(ctx context.Context, cfg *config) (_ *httpFloor, err error) {
	f := &httpFloor{cfg: cfg, tracker: newTracker()}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if f.srv, err = startNATS(cfg, "http-floor"); err != nil {
		return f, err
	}
	if f.nc, err = f.srv.connect("http-floor"); err != nil {
		return f, err
	}
	if f.js, err = jetstream.New(f.nc); err != nil {
		return f, err
	}
	if _, err := f.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: hfStream, Subjects: []string{"hfloor.>"},
		Storage: jetstream.FileStorage}); err != nil {
		return f, err
	}
	if f.kv, err = f.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: hfBucket, History: 1,
		Storage: jetstream.FileStorage}); err != nil {
		return f, err
	}
	f.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 4 * cfg.runs, MaxIdleConnsPerHost: 2 * cfg.runs, IdleConnTimeout: time.Minute,
		DisableCompression: true,
	}}
	wt := http.DefaultTransport.(*http.Transport).Clone()
	wt.MaxIdleConnsPerHost = 128
	f.webhook = &http.Client{Timeout: 10 * time.Second, Transport: wt}

	api := http.NewServeMux()
	api.HandleFunc("POST /start", f.start)
	api.HandleFunc("POST /answer/{id}", f.answer)
	if f.apiURL, err = f.serve(api); err != nil {
		return f, err
	}
	if f.botURL, err = f.serve(http.HandlerFunc(f.bot)); err != nil {
		return f, err
	}
	for _, c := range []struct {
		name, filter string
		h            func(context.Context, jetstream.Msg)
	}{{hfReqCons, hfRequest + ">", f.onRequest}, {hfAnsCons, hfAnswer + ">", f.onAnswer}} {
		cons, err := f.js.CreateOrUpdateConsumer(ctx, hfStream, jetstream.ConsumerConfig{Durable: c.name,
			FilterSubject: c.filter, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000})
		if err != nil {
			return f, err
		}
		stop, err := consumePool(cons, cfg.workers, c.h)
		if err != nil {
			return f, err
		}
		f.stops = append(f.stops, stop)
	}
	return f, nil
}

func (f *httpFloor) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	f.servers = append(f.servers, s)
	f.httpWG.Add(1)
	go func() {
		defer f.httpWG.Done()
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.addErr(err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

func (f *httpFloor) addErr(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	f.errs = append(f.errs, err)
}

// cycle is hop 1; the others follow from it.
func (f *httpFloor) cycle(ctx context.Context) error {
	status, b, err := postOnce(ctx, f.client, f.apiURL+"/start", `{"workflow":"`+workflowName+`","input":{}}`, "")
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("start: %d: %s", status, b)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return fmt.Errorf("start: no id in %s", b)
	}
	return f.tracker.wait(ctx, v.ID, f.cfg.cycleTimeout)
}

// start creates the checkpoint and publishes the request (hop 1's work).
func (f *httpFloor) start(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := nuid.Next()
	rev, err := f.kv.Create(r.Context(), id, []byte(`{"status":"waiting"}`))
	if err == nil {
		_, err = f.js.Publish(r.Context(), hfRequest+id, strconv.AppendUint(nil, rev, 10))
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"id":"` + id + `"}`))
}

// onRequest posts the webhook (hop 2), then acks.
func (f *httpFloor) onRequest(ctx context.Context, msg jetstream.Msg) {
	id := strings.TrimPrefix(msg.Subject(), hfRequest)
	body := `{"type":"request_info","data":{"run_id":"` + id + `","respond_url":"` + f.apiURL + "/answer/" + id +
		"?rev=" + string(msg.Data()) + `"}}`
	if err := f.post(ctx, body); err != nil {
		f.tracker.finish(id, time.Now(), fmt.Errorf("webhook: %w", err))
		_ = msg.Term()
		return
	}
	_ = msg.Ack()
}

func (f *httpFloor) post(ctx context.Context, body string) error {
	status, b, err := postOnce(ctx, f.webhook, f.botURL+"/hook", body, "")
	if err == nil && status != http.StatusNoContent {
		err = fmt.Errorf("%d: %s", status, b)
	}
	return err
}

// bot answers 204 and, for a request, POSTs the answer (hop 3).
func (f *httpFloor) bot(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
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
	if ev.Type != "request_info" {
		return
	}
	f.answers.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		status, b, err := postOnce(ctx, f.client, ev.Data.RespondURL, answerBody, "")
		switch {
		case err != nil:
			f.tracker.finish(ev.Data.RunID, time.Now(), fmt.Errorf("answer: %w", err))
		case status != http.StatusOK:
			f.tracker.finish(ev.Data.RunID, time.Now(), fmt.Errorf("answer: %d: %s", status, b))
		default:
			f.tracker.answered(ev.Data.RunID, time.Now())
		}
	})
}

// answer publishes the answer (hop 3's work).
func (f *httpFloor) answer(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !bytes.HasPrefix(body, []byte("{")) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	if _, err := f.js.Publish(r.Context(), hfAnswer+id, []byte(r.URL.Query().Get("rev"))); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"` + id + `","status":"answered"}`))
}

// onAnswer updates the checkpoint (the cycle is complete), posts the resolution (hop 4),
// then acks.
func (f *httpFloor) onAnswer(ctx context.Context, msg jetstream.Msg) {
	id := strings.TrimPrefix(msg.Subject(), hfAnswer)
	rev, err := strconv.ParseUint(string(msg.Data()), 10, 64)
	if err == nil {
		_, err = f.kv.Update(ctx, id, []byte(`{"status":"completed"}`), rev)
	}
	if err != nil {
		f.tracker.finish(id, time.Now(), fmt.Errorf("update checkpoint: %w", err))
		_ = msg.Term()
		return
	}
	f.tracker.finish(id, time.Now(), nil)
	if err := f.post(ctx, `{"type":"resolved","data":{"run_id":"`+id+`"}}`); err != nil {
		f.addErr(fmt.Errorf("resolved webhook: %w", err))
	}
	_ = msg.Ack()
}

func (f *httpFloor) close() error {
	for _, stop := range f.stops {
		stop()
	}
	f.answers.Wait()
	if f.client != nil {
		f.client.CloseIdleConnections()
	}
	if f.webhook != nil {
		f.webhook.CloseIdleConnections()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range f.servers {
		if err := s.Shutdown(sctx); err != nil {
			f.addErr(fmt.Errorf("http shutdown: %w", err))
		}
	}
	f.httpWG.Wait()
	if f.nc != nil {
		f.nc.Close()
	}
	if f.srv != nil {
		f.srv.shutdown()
	}
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return errors.Join(f.errs...)
}

func (f *httpFloor) parts() (*natsServer, *nats.Conn, *tracker) { return f.srv, f.nc, f.tracker }
func (f *httpFloor) streams() []string                          { return []string{hfStream, hfKVStream} }

func (f *httpFloor) counters(ctx context.Context) counters {
	return readCounters(ctx, f.srv, f.nc, f.streams(), [][2]string{{hfStream, hfReqCons}, {hfStream, hfAnsCons}})
}
