// Package embedded runs a NATS server with JetStream inside the process: the
// single-machine default of `hitl dev`, and the base of the test servers.
package embedded

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options for an embedded server.
type Options struct {
	// StoreDir holds JetStream's file storage. Required.
	StoreDir string
	// Addr is host:port for clients, e.g. "127.0.0.1:4222". Empty means a random loopback port;
	// "-" means no listener at all (in-process connections only).
	Addr string
	// Name of the server; defaults to the NATS generated id.
	ServerName string
	// User and Password, when set, are the one identity clients must present; Token, when
	// set, the token they must present instead. Default none: any client may connect (the
	// test servers, which listen on loopback only).
	User, Password, Token string
	// Cluster, when set, joins the server to a cluster: its own route listener and its peers.
	Cluster *Cluster
}

// Cluster settings for one node of a cluster.
type Cluster struct {
	Name   string
	Listen string   // host:port for routes
	Routes []string // nats-route://host:port of every node
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	opts := &server.Options{
		ServerName:    o.ServerName,
		JetStream:     true,
		StoreDir:      o.StoreDir,
		NoSigs:        true,
		NoLog:         true,
		Username:      o.User,
		Password:      o.Password,
		Authorization: o.Token,
	}
	switch o.Addr {
	case "-":
		opts.DontListen = true
	case "":
		opts.Host, opts.Port = "127.0.0.1", -1
	default:
		host, port, err := splitHostPort(o.Addr)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if c := o.Cluster; c != nil {
		host, port, err := splitHostPort(c.Listen)
		if err != nil {
			return nil, fmt.Errorf("cluster listen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: port}
		for _, r := range c.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr(r)...)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 30s (is %s in use?)", o.Addr)
	}
	return s, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: bad port", addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}
