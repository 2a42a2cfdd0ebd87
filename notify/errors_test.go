package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hitl-dev/hitl/events"
	"github.com/hitl-dev/hitl/input"
	"github.com/hitl-dev/hitl/internal/consume"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// failing is a channel whose every delivery ends with err.
type failing struct{ err error }

func (f failing) Kind() string                           { return "failing" }
func (f failing) Notify(context.Context, Delivery) error { return f.err }

func TestPermanentAndRetryAfterWrap(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	if Permanent(nil) != nil || RetryAfter(time.Second, nil) != nil {
		t.Fatal("wrapping nil must stay nil")
	}
	if p := Permanent(boom); !errors.Is(p, ErrPermanent) || !errors.Is(p, boom) {
		t.Fatalf("Permanent(boom) = %v: want ErrPermanent and boom inside", p)
	}
	var re *RetryError
	if r := RetryAfter(3*time.Second, boom); !errors.As(r, &re) || re.Delay != 3*time.Second || !errors.Is(r, boom) || errors.Is(r, ErrPermanent) {
		t.Fatalf("RetryAfter(3s, boom) = %v: want a RetryError of 3s around boom, not permanent", r)
	}
}

// TestDeliveryErrorContract checks how the notifier treats each kind of error a channel
// returns: what it hands the consumer (which acks, naks with a delay, or naks with backoff)
// and what it records.
func TestDeliveryErrorContract(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	const maxDeliver = 3
	n, err := New(Config{Store: st, LinkSecret: []byte("0123456789abcdef0123"), PublicURL: "http://hitl.test", MaxDeliver: maxDeliver})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	cases := []struct {
		name       string
		err        error
		attempt    int
		wantErr    bool          // the consumer is asked to redeliver
		wantDelay  time.Duration // ... after this delay (0: with its backoff)
		wantStatus string        // what the deliveries bucket records
	}{
		{name: "delivered", err: nil, attempt: 1, wantStatus: "delivered"},
		{name: "plain error", err: boom, attempt: 1, wantErr: true},
		{name: "retry after", err: RetryAfter(7*time.Second, boom), attempt: 1, wantErr: true, wantDelay: 7 * time.Second},
		{name: "retry after, wrapped", err: fmt.Errorf("slack chat.postMessage: %w", RetryAfter(2*time.Second, boom)), attempt: 2, wantErr: true, wantDelay: 2 * time.Second},
		{name: "retry after zero", err: RetryAfter(0, boom), attempt: 1, wantErr: true},
		{name: "permanent", err: Permanent(boom), attempt: 1, wantStatus: "dead_letter"},
		{name: "retry after on the last attempt", err: RetryAfter(7*time.Second, boom), attempt: maxDeliver, wantStatus: "dead_letter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &events.Request{ID: uuid.NewString(), Title: "Deploy?", Status: events.StatusPending,
				Input: input.Spec{Type: input.Approval}, Assignees: []string{"failing:x"}}
			got := n.deliver(ctx, failing{tc.err}, "x", req, "notify", tc.attempt)
			if (got != nil) != tc.wantErr {
				t.Fatalf("deliver = %v, want an error: %v", got, tc.wantErr)
			}
			var re *consume.RetryError
			isRetry := errors.As(got, &re)
			switch {
			case tc.wantDelay > 0 && (!isRetry || re.Delay != tc.wantDelay):
				t.Fatalf("deliver = %v, want the consumer's retry after %s", got, tc.wantDelay)
			case tc.wantDelay == 0 && isRetry:
				t.Fatalf("deliver = %v, want the consumer's own backoff, not a fixed delay", got)
			case tc.wantErr && !errors.Is(got, boom):
				t.Fatalf("deliver = %v, lost the channel's error", got)
			}
			status, reason, err := DeliveryStatus(ctx, st, req.ID, "failing:x", "notify")
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus {
				t.Fatalf("recorded %q, want %q", status, tc.wantStatus)
			}
			if status == "dead_letter" && !strings.Contains(reason, "boom") {
				t.Fatalf("dead-letter reason %q lacks the channel's error", reason)
			}
		})
	}
}
