// Package examples registers every example workflow, for `hitl dev` and the orchestrator.
package examples

import (
	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples/refund"
)

// RegisterAll adds every example workflow to reg.
func RegisterAll(reg *hitl.Registry) {
	refund.Register(reg)
}
