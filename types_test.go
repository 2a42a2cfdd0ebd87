package hitl_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hitl-dev/hitl"
	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/journal"
)

// The SDK's own types carry the values of the stored records, so that a conversion between
// them never changes what is stored, published or returned by the API.
func TestTypesMatchEvents(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		string(hitl.TimeoutFail):      string(events.TimeoutFail),
		string(hitl.TimeoutDefault):   string(events.TimeoutDefault),
		string(hitl.OutcomeAnswered):  string(events.StatusAnswered),
		string(hitl.OutcomeTimedOut):  string(events.StatusTimedOut),
		string(hitl.OutcomeCancelled): string(events.StatusCancelled),
	} {
		if got != want {
			t.Errorf("SDK value %q, record value %q", got, want)
		}
	}
}

// A request's policy reaches the record, and a recorded outcome the Answer, unchanged.
func TestPolicyAndOutcomeConversions(t *testing.T) {
	t.Parallel()
	reg := hitl.NewRegistry()
	hitl.Register(reg, "w", func(ctx context.Context, _ any) (hitl.Outcome, error) {
		a, err := hitl.AskAll(ctx, hitl.Request{Title: "Q", Timeout: time.Minute, OnTimeout: hitl.TimeoutDefault,
			Default: map[string]bool{"approved": false}})
		if err != nil {
			return "", err
		}
		return a[0].Outcome, nil
	})
	x := &journal.Execution{RunID: runID, Workflow: "w"}
	execute(t, reg, x)
	if len(x.Asked) != 1 || x.Asked[0].OnTimeout != events.TimeoutDefault {
		t.Fatalf("asked %+v", x.Asked)
	}
	resolve(t, x, x.Waiting[0], events.StatusTimedOut, `{"approved":false}`)
	execute(t, reg, x)
	if string(x.Result) != `"timed_out"` {
		t.Errorf("result %s, want the outcome timed_out", x.Result)
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	var in struct {
		A, B, C hitl.Duration
	}
	if err := json.Unmarshal([]byte(`{"A": "90s", "B": 120, "C": null}`), &in); err != nil {
		t.Fatal(err)
	}
	if time.Duration(in.A) != 90*time.Second || time.Duration(in.B) != 2*time.Minute || in.C != 0 {
		t.Errorf("decoded %v %v %v", time.Duration(in.A), time.Duration(in.B), time.Duration(in.C))
	}
	b, err := json.Marshal(hitl.Duration(15 * time.Minute))
	if err != nil || string(b) != `"15m0s"` {
		t.Errorf("encoded %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`"soon"`), &in.A); err == nil {
		t.Error(`"soon" decoded as a duration`)
	}
}
