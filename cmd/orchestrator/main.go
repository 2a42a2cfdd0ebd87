// Command orchestrator runs hitl's orchestrator, hosting the example workflows, against a
// NATS JetStream server (HITL_NATS or NATS_URL). Run as many as needed: instances share
// durable consumers, and each gets only the runs of the workflows it hosts. To host your own
// workflows, copy this main and register them instead.
package main

import (
	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/internal/app"
)

func main() {
	app.Main("orchestrator", app.Services{Orchestrator: true}, func() *hitl.Registry {
		reg := hitl.NewRegistry()
		examples.RegisterAll(reg)
		return reg
	})
}
