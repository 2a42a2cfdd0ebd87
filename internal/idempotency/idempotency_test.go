package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/idempotency"
	"github.com/hitl-dev/hitl/internal/natstest"
	"github.com/hitl-dev/hitl/store"
	"github.com/hitl-dev/hitl/streams"
)

func TestFromRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  []string
		want    string
		wantErr error
	}{
		{"absent", nil, "", nil},
		{"bare", []string{"order-1"}, "order-1", nil},
		{"structured string", []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", nil},
		{"longest", []string{strings.Repeat("k", idempotency.MaxKeyLen)}, strings.Repeat("k", idempotency.MaxKeyLen), nil},
		{"too long", []string{strings.Repeat("k", idempotency.MaxKeyLen+1)}, "", idempotency.ErrInvalidKey},
		{"empty", []string{""}, "", idempotency.ErrInvalidKey},
		{"empty string", []string{`""`}, "", idempotency.ErrInvalidKey},
		{"space", []string{"a b"}, "", idempotency.ErrInvalidKey},
		{"non-ASCII", []string{"caf\u00e9"}, "", idempotency.ErrInvalidKey},
		{"inner quote", []string{`"a"b"`}, "", idempotency.ErrInvalidKey},
		{"repeated", []string{"a", "b"}, "", idempotency.ErrInvalidKey},
	} {
		r, _ := http.NewRequest("POST", "/", nil)
		for _, v := range tc.values {
			r.Header.Add(idempotency.Header, v)
		}
		got, err := idempotency.FromRequest(r)
		if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestScope(t *testing.T) {
	r := func(auth string) *http.Request {
		req, _ := http.NewRequest("POST", "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
	a, b := idempotency.Scope(r("Bearer token-a")), idempotency.Scope(r("Bearer token-b"))
	if a == b || a != idempotency.Scope(r("Bearer token-a")) || strings.Contains(a, "token-a") {
		t.Fatalf("scopes %q, %q", a, b)
	}
	if got := idempotency.Scope(r("")); got != "anonymous" {
		t.Fatalf("no token: %q", got)
	}
}

func TestClaim(t *testing.T) {
	env := natstest.Single(t)
	_, js := env.Connect(t)
	ctx := context.Background()
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	kv := st.Buckets().Idempotency
	if status, err := kv.Status(ctx); err != nil || status.TTL() != streams.IdempotencyTTL {
		t.Fatalf("bucket TTL: %v %v, want %s", status, err, streams.IdempotencyTTL)
	}
	type body struct {
		A string         `json:"a"`
		M map[string]any `json:"m"`
	}
	id, replayed, err := idempotency.Claim(ctx, kv, "runs", "s1", "k", body{A: "x", M: map[string]any{"b": 1, "a": 2}})
	if err != nil || replayed || !store.ValidID(id) {
		t.Fatalf("first claim: %q %v %v", id, replayed, err)
	}
	again, replayed, err := idempotency.Claim(ctx, kv, "runs", "s1", "k", body{A: "x", M: map[string]any{"a": 2, "b": 1}})
	if err != nil || !replayed || again != id {
		t.Fatalf("same body: %q %v %v, want %q replayed", again, replayed, err, id)
	}
	if _, _, err := idempotency.Claim(ctx, kv, "runs", "s1", "k", body{A: "y"}); !errors.Is(err, idempotency.ErrKeyReused) {
		t.Fatalf("another body: %v, want ErrKeyReused", err)
	}
	// Another caller, or another endpoint, has its own key space.
	for _, c := range [][2]string{{"runs", "s2"}, {"requests", "s1"}} {
		other, replayed, err := idempotency.Claim(ctx, kv, c[0], c[1], "k", body{A: "y"})
		if err != nil || replayed || other == id {
			t.Fatalf("%v: %q %v %v", c, other, replayed, err)
		}
	}
}
