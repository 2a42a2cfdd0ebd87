package journal

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
)

// Entry is one position in a run's journal: an Ask (with its answer once resolved) or a Step
// (with its result). The journal is the whole durable state of a run's progress.
type Entry struct {
	Kind      string           `json:"kind"` // KindAsk or KindStep
	Name      string           `json:"name"` // the request title or the step name, checked on replay
	RequestID string           `json:"request_id,omitempty"`
	Answer    *events.Response `json:"answer,omitempty"`
	Result    json.RawMessage  `json:"result,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// Entry kinds.
const (
	KindAsk  = "ask"
	KindStep = "step"
)

var (
	// ErrNondeterministic means a replay called Ask or Step in a different order than the
	// journal records: the workflow's code or its inputs changed under a running run.
	ErrNondeterministic = errors.New("workflow is not deterministic")
	// ErrUnknownWorkflow means no workflow is registered under the run's workflow name.
	ErrUnknownWorkflow = errors.New("unknown workflow")
	// ErrNoEntry means a run's journal has no Ask of a request: the checkpoint written after
	// asking it is not there yet.
	ErrNoEntry = errors.New("no journal entry for the request")
)

// RequestID is the id a run's Ask at a journal position gets: derived, so that re-asking on
// replay after a crash publishes the same request again and JetStream drops the duplicate.
func RequestID(runID string, pos int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "hitl/%s/ask/%d", runID, pos)).String()
}

// Index returns the position of the Ask of requestID in j, or -1.
func Index(j []Entry, requestID string) int {
	for i := range j {
		if j[i].Kind == KindAsk && j[i].RequestID == requestID {
			return i
		}
	}
	return -1
}
