package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/store"
)

func TestUnavailable(t *testing.T) {
	for _, err := range []error{
		context.DeadlineExceeded,
		fmt.Errorf("read request x: %w", nats.ErrTimeout),
		fmt.Errorf("publish: %w", jetstream.ErrNoStreamResponse),
		nats.ErrNoResponders,
		&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"},
	} {
		if !store.Unavailable(err) {
			t.Errorf("%v: not unavailable", err)
		}
	}
	for _, err := range []error{nil, errors.New("boom"), store.ErrNotFound, store.ErrAlreadyResolved,
		&jetstream.APIError{Code: 400, ErrorCode: 10071, Description: "wrong last sequence"}} {
		if store.Unavailable(err) {
			t.Errorf("%v: unavailable", err)
		}
	}
}
