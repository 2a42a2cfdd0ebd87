package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hitl-dev/hitl/internal/natstest"
)

// directEnv is a store on a real JetStream with a stream T (subjects t.>) that allows
// direct gets.
func directEnv(t *testing.T, allowDirect bool) (*Store, jetstream.JetStream) {
	t.Helper()
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowDirect: allowDirect}); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return st, js
}

func seqs(b directBatch) []uint64 {
	var out []uint64
	for _, m := range b.Msgs {
		out = append(out, m.Seq)
	}
	return out
}

func TestDirectBatchOfAnEmptyStream(t *testing.T) {
	st, _ := directEnv(t, true)
	ctx := context.Background()
	for _, req := range []directRequest{
		{Seq: 1, Batch: 10},
		{NextBySubj: "t.>", Batch: 10},
		{MultiLast: []string{"t.a", "t.b"}, Batch: 2},
	} {
		b, err := st.direct(ctx, "T", req)
		if err != nil || len(b.Msgs) != 0 || b.NumPending != 0 {
			t.Fatalf("%+v: %d messages, %d pending, %v; want none and no error", req, len(b.Msgs), b.NumPending, err)
		}
	}
}

func TestDirectBatchSkipsDeletedMessages(t *testing.T) {
	st, js := directEnv(t, true)
	ctx := context.Background()
	for i := range 10 {
		subj := "t.even"
		if i%2 == 1 {
			subj = "t.odd"
		}
		if _, err := js.Publish(ctx, subj, fmt.Appendf(nil, "m%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{3, 4, 5} {
		if err := s.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	b, err := st.direct(ctx, "T", directRequest{Seq: 1, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(b), []uint64{1, 2, 6, 7, 8, 9, 10}; !slices.Equal(got, want) || b.NumPending != 0 {
		t.Fatalf("all: %v with %d pending, want %v and 0", got, b.NumPending, want)
	}
	if m := b.Msgs[2]; m.Subject != "t.odd" || string(m.Data) != "m6" || m.Time.IsZero() {
		t.Fatalf("message 6: %+v", m)
	}
	// From a deleted sequence, filtered, cut by the batch size: the rest is counted.
	b, err = st.direct(ctx, "T", directRequest{Seq: 3, NextBySubj: "t.even", Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(b), []uint64{7, 9}; !slices.Equal(got, want) || b.NumPending != 0 {
		t.Fatalf("even from 3: %v with %d pending, want %v and 0", got, b.NumPending, want)
	}
	b, err = st.direct(ctx, "T", directRequest{Seq: 2, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(b), []uint64{2, 6}; !slices.Equal(got, want) || b.NumPending != 4 {
		t.Fatalf("two from 2: %v with %d pending, want %v and 4", got, b.NumPending, want)
	}
	// Past the end.
	if b, err = st.direct(ctx, "T", directRequest{Seq: 11, Batch: 5}); err != nil || len(b.Msgs) != 0 {
		t.Fatalf("past the end: %v, %v", seqs(b), err)
	}
}

func TestDirectBatchStopsAtMaxBytes(t *testing.T) {
	st, js := directEnv(t, true)
	ctx := context.Background()
	body := []byte(strings.Repeat("x", 1000))
	for range 10 {
		if _, err := js.Publish(ctx, "t.big", body); err != nil {
			t.Fatal(err)
		}
	}
	// The server sends the message that reaches the limit, then stops: 3 of 1,005 bytes
	// reach 2,500.
	b, err := st.direct(ctx, "T", directRequest{Seq: 1, Batch: 10, MaxBytes: 2500})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(b), []uint64{1, 2, 3}; !slices.Equal(got, want) || b.NumPending != 7 {
		t.Fatalf("cut at 2,500 bytes: %v with %d pending, want %v and 7", got, b.NumPending, want)
	}
}

// multi_last reads the current values of many keys at once: deleted and missing keys are
// absent, and a batch cut off by its byte limit is continued.
func TestLastRecords(t *testing.T) {
	st, _ := directEnv(t, true)
	ctx := context.Background()
	kv := st.Buckets().Deliveries
	var keys []string
	for i := range 12 {
		k := fmt.Sprintf("k%02d", i)
		keys = append(keys, k)
		if _, err := kv.Put(ctx, k, fmt.Appendf(nil, "%s-%s", k, strings.Repeat("v", 500))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Put(ctx, "k00", []byte("k00-new")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "k01"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, "k02"); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { directMaxBytes = n }(directMaxBytes)
	for _, limit := range []int{8 << 20, 1200} { // one batch; then two values a batch
		directMaxBytes = limit
		got, err := st.lastRecords(ctx, kv.Bucket(), append(slices.Clone(keys), "missing", "k03"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 || string(got["k00"]) != "k00-new" || got["k01"] != nil || got["k02"] != nil || got["missing"] != nil {
			t.Fatalf("max bytes %d: %d records, k00 %q, k01 %q, k02 %q", limit, len(got), got["k00"], got["k01"], got["k02"])
		}
		for _, k := range keys[3:] {
			if !strings.HasPrefix(string(got[k]), k+"-") {
				t.Fatalf("max bytes %d: %s is %q", limit, k, got[k])
			}
		}
	}
}

func TestDirectGetWithoutAllowDirect(t *testing.T) {
	st, js := directEnv(t, false)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "t.a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	_, err := st.direct(ctx, "T", directRequest{Seq: 1, Batch: 1})
	if !errors.Is(err, nats.ErrNoResponders) || !Unavailable(err) {
		t.Fatalf("a stream without AllowDirect: %v, want no responders", err)
	}
}

// BenchmarkDirectBatchPage reads a page of 50 from the middle of a stream of 100,000
// single-message subjects with every seventh purged, as the pending index is: with
// MaxMsgsPerSubject 1 the server counts the batch's pending messages over every subject
// (O(stream)); without the limit, over the blocks from the page on.
func BenchmarkDirectBatchPage(b *testing.B) {
	const n = 100_000
	for _, perSubject := range []int64{1, -1} {
		b.Run(fmt.Sprintf("MaxMsgsPerSubject=%d", perSubject), func(b *testing.B) {
			env := natstest.Single(b)
			_, js := env.Connect(b)
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "P", Subjects: []string{"p.>"}, AllowDirect: true,
				MaxMsgsPerSubject: perSubject}); err != nil {
				b.Fatal(err)
			}
			st, err := Open(ctx, js)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				if i%2000 == 0 {
					<-js.PublishAsyncComplete()
				}
				if _, err := js.PublishAsync(fmt.Sprintf("p.wf.run.%08d", i), []byte(`{"id":"x","title":"a request's title"}`)); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			s, err := js.Stream(ctx, "P")
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; i += 7 {
				if err := s.Purge(ctx, jetstream.WithPurgeSubject(fmt.Sprintf("p.wf.run.%08d", i))); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				page, err := st.direct(ctx, "P", directRequest{Seq: n / 2, Batch: 50})
				if err != nil || len(page.Msgs) != 50 {
					b.Fatalf("%d messages, %v", len(page.Msgs), err)
				}
			}
		})
	}
}

// Direct gets go where the JetStream context sends its API requests.
func TestAPIPrefix(t *testing.T) {
	env := natstest.Single(t)
	nc, _ := env.Connect(t)
	for want, mk := range map[string]func() (jetstream.JetStream, error){
		"$JS.API.":     func() (jetstream.JetStream, error) { return jetstream.New(nc) },
		"$JS.hub.API.": func() (jetstream.JetStream, error) { return jetstream.NewWithAPIPrefix(nc, "$JS.hub.API") },
		"$JS.x.API.":   func() (jetstream.JetStream, error) { return jetstream.NewWithAPIPrefix(nc, "$JS.x.API.") },
		"$JS.leaf.API.": func() (jetstream.JetStream, error) {
			return jetstream.NewWithDomain(nc, "leaf")
		},
	} {
		js, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		if got := apiPrefix(js); got != want {
			t.Errorf("apiPrefix = %q, want %q", got, want)
		}
	}
}

// A key whose TTL ran out leaves a marker as its last message: multi_last reads it as gone.
func TestLastRecordsSkipsExpiryMarkers(t *testing.T) {
	st, _ := directEnv(t, true)
	ctx := context.Background()
	kv := st.Buckets().Timers // the bucket with LimitMarkerTTL
	if _, err := kv.Create(ctx, "gone", []byte("x"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "kept", []byte("y")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := st.direct(ctx, "KV_"+kv.Bucket(), directRequest{MultiLast: []string{"$KV." + kv.Bucket() + ".gone"}, Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Msgs) == 1 && b.Msgs[0].Header.Get(jetstream.MarkerReasonHeader) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no expiry marker within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, err := st.lastRecords(ctx, kv.Bucket(), []string{"gone", "kept"})
	if err != nil || len(got) != 1 || string(got["kept"]) != "y" {
		t.Fatalf("records %v, %v; want only kept", got, err)
	}
}
