package jobapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hitl-dev/hitl/engine"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/jobapi"
	"github.com/hitl-dev/hitl/store"
)

// A finished job removed after the retention (2 s here) is 410 gone: its status, and an
// input provided late, which changes nothing.
func TestJobRemovedAfterRetentionIsGone(t *testing.T) {
	t.Parallel()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	st, err := store.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	st.SetRetention(2 * time.Second) // before anything uses the store
	s := &system{t: t, st: st, reg: registry()}
	o, err := engine.New(engine.Config{Store: st, Registry: s.reg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- o.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	s.url = s.serve(jobapi.Config{})

	id := start(t, s.url, map[string]any{"text": "hello"}, "")
	v := awaiting(t, s.url, id, "Approve Processing")
	provide(t, s.url, map[string]any{"job_id": id, "input_data": map[string]any{"approve": true}})
	done(t, s.url, id)

	deadline := time.Now().Add(30 * time.Second)
	for {
		r := call(t, "GET", s.url+"/status?job_id="+id, "", nil)
		if r.status == http.StatusGone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the finished job was not removed: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := call(t, "POST", s.url+"/provide_input", "", map[string]any{"job_id": id, "input_data": map[string]any{"approve": false}})
	if r.status != http.StatusGone {
		t.Fatalf("late provide_input: %d %s, want 410", r.status, r.body)
	}
	if _, _, err := st.Request(context.Background(), v.RequestID); !errors.Is(err, store.ErrPurged) {
		t.Fatalf("the job's request after a late input: %v, want removed", err)
	}
}
