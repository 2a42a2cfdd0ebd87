package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
)

// Reads on a three-node cluster see the writes just made: a run read back at once after it
// started is found (a follower's direct get may not have it yet; the leader decides a "not
// found"), and a deleted one is not found.
func TestReadYourWritesOnACluster(t *testing.T) {
	env := natstest.Cluster(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 50 {
		run, err := st.StartRun(ctx, "read-your-writes", nil)
		if err != nil {
			t.Fatal(err)
		}
		got, rev, err := st.Run(ctx, run.ID)
		if err != nil || got.ID != run.ID || rev == 0 {
			t.Fatalf("run %s just started: %+v rev %d %v", run.ID, got, rev, err)
		}
	}
	run, err := st.StartRun(ctx, "read-your-writes", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Buckets().Runs.Delete(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Run(ctx, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted run: %v, want ErrNotFound", err)
	}
	if _, _, err := st.Run(ctx, "6f1c2e0a-3d4b-4c5d-8e9f-0a1b2c3d4e5f"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown run: %v, want ErrNotFound", err)
	}
}
