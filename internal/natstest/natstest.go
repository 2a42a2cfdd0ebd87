// Package natstest starts real JetStream servers for tests: one embedded node, or a
// three-node cluster on loopback for the cases where failover matters.
package natstest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/embedded"
	"github.com/hitl-dev/hitl/streams"
)

// Env is a running JetStream with hitl's streams in place.
type Env struct {
	Servers  []*server.Server
	URL      string // client URL of every node, comma separated
	Replicas int
	AckWait  time.Duration // of the durable consumers; zero means the default
	opts     []embedded.Options
}

// Single starts one node with file storage in a temp dir.
func Single(t testing.TB) *Env { return SingleAckWait(t, 0) }

// SingleAckWait is Single with the consumers' AckWait set, so that tests of crashed
// handlers see the redelivery quickly.
func SingleAckWait(t testing.TB, ackWait time.Duration) *Env {
	t.Helper()
	s, err := embedded.Start(embedded.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	e := &Env{Servers: []*server.Server{s}, URL: s.ClientURL(), Replicas: 1, AckWait: ackWait}
	e.ensure(t)
	return e
}

// Cluster starts three nodes routed together on loopback and waits for a JetStream meta leader.
func Cluster(t testing.TB) *Env {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	e := &Env{Replicas: 3}
	name := fmt.Sprintf("hitl-test-%d", ports[0])
	for i, p := range ports {
		dir := t.TempDir()
		s, err := embedded.Start(embedded.Options{
			StoreDir:   dir,
			ServerName: fmt.Sprintf("n%d", i+1),
			Cluster:    &embedded.Cluster{Name: name, Listen: fmt.Sprintf("127.0.0.1:%d", p), Routes: routes},
		})
		if err != nil {
			t.Fatal(err)
		}
		e.Servers = append(e.Servers, s)
		e.opts = append(e.opts, embedded.Options{StoreDir: dir, ServerName: s.Name(),
			Addr: s.Addr().String(), Cluster: &embedded.Cluster{Name: name, Listen: fmt.Sprintf("127.0.0.1:%d", p), Routes: routes}})
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for i, s := range e.Servers {
		if i > 0 {
			e.URL += ","
		}
		e.URL += s.ClientURL()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, peers := false, 0
		for _, s := range e.Servers {
			if s.JetStreamIsLeader() {
				leader = true
			}
			if s.JetStreamIsCurrent() {
				peers++
			}
		}
		if leader && peers == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cluster: no JetStream meta leader with 3 current peers after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.ensure(t)
	return e
}

// Restart starts node i of a Cluster again after its Shutdown, with its name, storage,
// client address and routes, so that it rejoins the cluster as the same peer.
func (e *Env) Restart(t testing.TB, i int) {
	t.Helper()
	e.Servers[i].WaitForShutdown()
	s, err := embedded.Start(e.opts[i])
	if err != nil {
		t.Fatalf("restart node %d: %v", i, err)
	}
	e.Servers[i] = s
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
}

// Connect opens a client connection closed at the end of the test.
func (e *Env) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(e.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// StreamsConfig is the streams configuration matching this environment.
func (e *Env) StreamsConfig() streams.Config {
	return streams.Config{Replicas: e.Replicas, AckWait: e.AckWait}
}

func (e *Env) ensure(t testing.TB) {
	t.Helper()
	_, js := e.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil { // a fresh cluster may refuse the first requests while it elects
		if err = streams.Ensure(ctx, js, e.StreamsConfig()); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("ensure streams: %v", err)
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
