package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/embedded"
)

// natsServer is an embedded JetStream server with file storage in its own directory.
type natsServer struct {
	s         *server.Server
	inProcess bool
}

func startNATS(cfg *config, name string) (*natsServer, error) {
	addr := ""
	if cfg.inProcess {
		addr = "-"
	}
	s, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(cfg.dataDir, name), Addr: addr, ServerName: "bench-" + name})
	if err != nil {
		return nil, err
	}
	return &natsServer{s: s, inProcess: cfg.inProcess}, nil
}

func (n *natsServer) connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	url := n.s.ClientURL()
	if n.inProcess {
		opts = append(opts, nats.InProcessServer(n.s))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	return nc, nil
}

func (n *natsServer) shutdown() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

// counters are read before and after the measured window.
type counters struct {
	at          time.Time
	inMsgs      int64  // messages the server received from every client
	apiRequests uint64 // JetStream API requests (not counting direct gets and publishes)
	svcOut      uint64 // messages the services' connection sent
	svcIn       uint64 // messages the services' connection received
	streamSeq   map[string]uint64
	consumerSeq map[string]uint64 // deliveries, redeliveries included
}

// readCounters snapshots the server's and one connection's message counts and the last
// sequence of each stream, so that a window's writes per cycle can be told.
func readCounters(ctx context.Context, srv *natsServer, nc *nats.Conn, names []string, consumers [][2]string) counters {
	c := counters{at: time.Now(), streamSeq: map[string]uint64{}}
	if v, err := srv.s.Varz(nil); err == nil {
		c.inMsgs = v.InMsgs
	}
	if j, err := srv.s.Jsz(nil); err == nil {
		c.apiRequests = j.API.Total
	}
	st := nc.Stats()
	c.svcOut, c.svcIn = st.OutMsgs, st.InMsgs
	js, err := jetstream.New(nc)
	if err != nil {
		return c
	}
	for _, name := range names {
		s, err := js.Stream(ctx, name)
		if err != nil {
			continue
		}
		c.streamSeq[name] = s.CachedInfo().State.LastSeq
	}
	c.consumerSeq = map[string]uint64{}
	for _, sc := range consumers {
		cons, err := js.Consumer(ctx, sc[0], sc[1])
		if err != nil {
			continue
		}
		c.consumerSeq[sc[1]] = cons.CachedInfo().Delivered.Consumer
	}
	return c
}

// perCycle turns the difference of two snapshots into counts per cycle.
func perCycle(before, after counters, cycles int, names []string) map[string]float64 {
	n := float64(cycles)
	out := map[string]float64{
		"server_msgs_in":    float64(after.inMsgs-before.inMsgs) / n,
		"js_api_requests":   float64(after.apiRequests-before.apiRequests) / n,
		"service_conn_out":  float64(after.svcOut-before.svcOut) / n,
		"service_conn_in":   float64(after.svcIn-before.svcIn) / n,
		"stream_writes_all": 0,
	}
	for _, name := range names {
		w := float64(after.streamSeq[name]-before.streamSeq[name]) / n
		out["writes "+name] = w
		out["stream_writes_all"] += w
	}
	for name, seq := range after.consumerSeq {
		out["deliveries to consumer "+name] = float64(seq-before.consumerSeq[name]) / n
	}
	return out
}
