// Command notifier runs hitl's notifier against a NATS JetStream server (HITL_NATS or
// NATS_URL). Run as many as needed: instances share their work through one durable consumer.
package main

import "github.com/hitl-dev/hitl/server"

func main() { server.Main(&server.Notifier{}) }
