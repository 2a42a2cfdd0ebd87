// Package examples registers every example workflow, for `hitl dev` and the orchestrator.
package examples

import (
	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/examples/approvalgate"
	"github.com/hitl-dev/hitl/examples/bulkreview"
	"github.com/hitl-dev/hitl/examples/contentreview"
	"github.com/hitl-dev/hitl/examples/refund"
	"github.com/hitl-dev/hitl/examples/toolapproval"
)

// RegisterAll adds every example workflow to reg.
func RegisterAll(reg *hitl.Registry) {
	refund.Register(reg)
	approvalgate.Register(reg)
	contentreview.Register(reg)
	bulkreview.Register(reg)
	toolapproval.Register(reg)
}
