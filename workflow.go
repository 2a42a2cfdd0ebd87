package hitl

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/hitl-dev/hitl/events"
)

// Registry maps workflow names to their functions. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	workflows map[string]workflowFunc
}

type workflowFunc func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{workflows: map[string]workflowFunc{}} }

// Register adds a workflow under name. Its input is decoded from the run's JSON input and its
// result encoded as the run's JSON result. Registering a name twice panics: it is a
// programming error that would make runs resume into the wrong code. So does a name that
// events.ValidWorkflowName refuses (1 to 64 letters, digits, "-" or "_"): the name routes the
// run's commands, as one token of their NATS subjects, to the orchestrators that host it.
func Register[In, Out any](r *Registry, name string, fn func(ctx context.Context, in In) (Out, error)) {
	if err := events.ValidWorkflowName(name); err != nil {
		panic("hitl: " + err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.workflows[name]; dup {
		panic("hitl: workflow " + name + " registered twice")
	}
	r.workflows[name] = func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, fmt.Errorf("workflow %s: decode input: %w", name, err)
			}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("workflow %s: encode result: %w", name, err)
		}
		return b, nil
	}
}

// Has reports whether a workflow is registered under name.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.workflows[name]
	return ok
}

// Names lists the registered workflows, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.workflows))
	for n := range r.workflows {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) get(name string) (workflowFunc, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.workflows[name]
	return fn, ok
}
