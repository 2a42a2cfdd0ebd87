package events

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrInvalidWorkflowName matches every error of ValidWorkflowName.
var ErrInvalidWorkflowName = errors.New("invalid workflow name")

// MaxWorkflowName is the longest workflow name, in bytes.
const MaxWorkflowName = 64

var workflowName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// WorkflowNameError says why a workflow name is refused. It matches ErrInvalidWorkflowName.
type WorkflowNameError struct {
	Name   string
	Reason string // e.g. `use 1 to 64 letters, digits, "-" or "_", starting with a letter or a digit`
}

func (e *WorkflowNameError) Error() string {
	name := e.Name
	if len(name) > 80 {
		name = name[:80] + "…"
	}
	return fmt.Sprintf("%s %q: %s", ErrInvalidWorkflowName, name, e.Reason)
}

func (e *WorkflowNameError) Is(err error) bool { return err == ErrInvalidWorkflowName }

// ValidWorkflowName checks that name can name a workflow. A run's commands travel on
// subjects that carry the workflow's name as one token (hitl.run.started.<workflow>.<run>),
// and each workflow has a durable consumer named after it, so a name is 1 to 64 letters,
// digits, "-" or "_", starting with a letter or a digit: no dots, spaces or wildcards. A
// refused name is a *WorkflowNameError.
func ValidWorkflowName(name string) error {
	if workflowName.MatchString(name) {
		return nil
	}
	why := `use 1 to 64 letters, digits, "-" or "_", starting with a letter or a digit`
	switch {
	case name == "":
		why = "it is empty"
	case len(name) > MaxWorkflowName:
		why = fmt.Sprintf("it is %d bytes, over the %d limit", len(name), MaxWorkflowName)
	}
	return &WorkflowNameError{Name: name, Reason: why}
}
