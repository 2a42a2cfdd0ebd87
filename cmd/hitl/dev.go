package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples"
	"github.com/hitl-dev/hitl/server"
)

func dev(ctx context.Context, args []string) error {
	d := &server.Dev{Workflows: hitl.NewRegistry(), Console: os.Stdout}
	examples.RegisterAll(d.Workflows)
	if err := server.Parse("hitl dev", d, args); err != nil {
		return err
	}
	d.Ready = func(l server.Listening) {
		base := l.PublicURL
		fmt.Printf(`
hitl dev is ready (data in %s, NATS at %s)
  API       %s/v1/   workflows: %s
  inbox     %s/inbox
  metrics   %s/metrics
  egress    webhooks and callback_url may reach %s besides public addresses (HITL_ALLOW_PRIVATE_TARGETS)
  try       curl -s -X POST %s/v1/runs -H 'Content-Type: application/json' -d '{"workflow": "refund", "input": {"order_id": "A-1001", "reason": "arrived damaged"}}'
  connect   your own services, hosts and NATS tools with:
            export %s
Questions appear below, each with the command that answers it. Ctrl-C stops.
`, d.Data, l.NATS, base, strings.Join(d.Workflows.Names(), ", "), base, base, strings.Join(l.AllowPrivateTargets, ","), base, shellEnv(l.NATSEnv))
	}
	return d.Run(ctx)
}

// shellEnv quotes KEY=value pairs for a POSIX shell's export.
func shellEnv(vars []string) string {
	q := make([]string, len(vars))
	for i, v := range vars {
		k, val, _ := strings.Cut(v, "=")
		q[i] = k + "='" + strings.ReplaceAll(val, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
