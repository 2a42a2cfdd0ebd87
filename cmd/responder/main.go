// Command responder runs hitl's responder (the REST API, the job API, Slack interactions,
// email links and the web inbox) against a NATS JetStream server (HITL_NATS or NATS_URL).
// Run as many as needed: they share nothing but JetStream.
package main

import "github.com/hitl-dev/hitl/server"

func main() { server.Main(&server.Responder{}) }
