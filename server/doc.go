// Package server runs hitl's services: each role (Orchestrator, Notifier, Responder, and the
// all-in-one Dev on an embedded JetStream) is a documented config plus Run(ctx). hitl's own
// commands are built on it, and so is a team's binary that hosts its own workflows:
//
//	func main() {
//		reg := hitl.NewRegistry()
//		hitl.Register(reg, "expense", expense.Run)
//		server.Main(&server.Orchestrator{Workflows: reg})
//	}
//
// Main parses the flags and HITL_* environment variables every hitl command shares (see
// Config), logs to stderr, serves /metrics, /healthz and /readyz, and stops cleanly on SIGINT or
// SIGTERM.
package server
