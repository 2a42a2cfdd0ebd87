// Command orchestrator runs hitl's orchestrator, hosting the example workflows, against a
// NATS JetStream server (HITL_NATS or NATS_URL). Run as many as needed: instances share
// durable consumers, and each gets only the runs of the workflows it hosts. To host your own
// workflows, see examples/host: a main like this one in your own module.
package main

import (
	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/server"
)

func main() {
	reg := hitl.NewRegistry()
	examples.RegisterAll(reg)
	server.Main(&server.Orchestrator{Workflows: reg})
}
