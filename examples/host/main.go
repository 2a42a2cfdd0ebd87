// Command host is a team's own orchestrator: it hosts the host-demo workflow in its own
// binary, with every hitl flag and HITL_* variable, /metrics and /healthz. Point it at the
// NATS of a running `hitl dev` (or a cluster), with the credentials it prints, and start runs
// over that server's REST API:
//
//	HITL_NATS_USER=hitl HITL_NATS_PASSWORD="$(cat ../../data/nats-password)" go run . --nats 127.0.0.1:4222 --http 127.0.0.1:8081
package main

import (
	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/server"
)

func main() {
	reg := hitl.NewRegistry()
	hitl.Register(reg, Name, Run)
	server.Main(&server.Orchestrator{Workflows: reg})
}
