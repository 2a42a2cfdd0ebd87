package store

import (
	"errors"
	"testing"
)

// FuzzDecodeCursor: a cursor from a client is either refused with a *QueryError naming the
// cursor, or is exactly the canonical encoding of a position for this query: no other
// spelling is accepted, and a cursor of another query never is.
func FuzzDecodeCursor(f *testing.F) {
	q := RequestQuery{Status: "pending", Assignee: "email:a@example.com"}
	h := q.hash()
	other := (&RunQuery{Status: "all"}).hash()
	for _, seed := range []string{
		encodeCursor(1, h), encodeCursor(1<<40, h), encodeCursor(7, other), encodeCursor(0, h),
		encodeCursor(3, h) + "=", encodeCursor(3, h) + "\n", "", "AQ", "not-a-cursor", "////",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		pos, err := decodeCursor(c, h)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Field != "cursor" || !errors.Is(err, ErrBadQuery) || pos != 0 {
				t.Fatalf("decodeCursor(%q) = %d, %v; want a QueryError on the cursor", c, pos, err)
			}
			return
		}
		if c == "" {
			if pos != 0 {
				t.Fatalf("the empty cursor is position %d", pos)
			}
			return
		}
		if pos == 0 || encodeCursor(pos, h) != c {
			t.Fatalf("decodeCursor(%q) = %d, whose cursor is %q", c, pos, encodeCursor(pos, h))
		}
		if _, err := decodeCursor(c, other); err == nil {
			t.Fatalf("cursor %q is accepted for another query", c)
		}
	})
}

// Every query field is part of the hash: a cursor made for one query is refused by each
// query that differs in one filter or the order.
func TestCursorBelongsToItsQuery(t *testing.T) {
	base := RequestQuery{Status: "pending"}
	c := encodeCursor(42, base.hash())
	if pos, err := decodeCursor(c, base.hash()); err != nil || pos != 42 {
		t.Fatalf("own query: %d, %v", pos, err)
	}
	for name, q := range map[string]RequestQuery{
		"status": {Status: "all"}, "assignee": {Status: "pending", Assignee: "x"}, "workflow": {Status: "pending", Workflow: "w"},
		"run": {Status: "pending", RunID: "r"}, "title": {Status: "pending", TitleContains: "t"}, "order": {Status: "pending", Newest: true},
	} {
		if _, err := decodeCursor(c, q.hash()); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%s changed: %v, want a bad query", name, err)
		}
	}
	// The limit is not part of it.
	if _, err := decodeCursor(c, (&RequestQuery{Status: "pending", Limit: 7}).hash()); err != nil {
		t.Errorf("another limit: %v", err)
	}
}
