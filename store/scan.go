package store

import (
	"context"
	"fmt"
	"time"
)

// Listings read a page of a stream with batch direct gets, from a position (the cursor) in
// one direction, and bound what one call reads: at most ScanBudget × limit messages and
// maxRounds round trips for the scan, plus one multi_last batch for the records of the page.
// A filter checked here rather than in the server (an assignee, a status the subject does
// not carry, a title) may leave a call short of its limit, even empty: the page then comes
// with a cursor to go on from, so a call costs a page and a bound, never the history.
const (
	// DefaultListLimit is a page's size when the caller names none.
	DefaultListLimit = 50
	// MaxListLimit is the largest page.
	MaxListLimit = 500
	// ScanBudget × limit is how many stream messages one call reads at most.
	ScanBudget = 20
	// maxRounds bounds the batches one call sends for its scan.
	maxRounds = 16
	// clockSlack widens the seeks and stops by time: a message's time is the server's clock
	// when it was stored, the created_at in it the service's clock a moment before.
	clockSlack = time.Minute
)

// scanSpec says what to read: which messages, from where, which way, and what to keep.
type scanSpec[T any] struct {
	// filter is the subjects to read ("": every message of the stream, which the server
	// serves cheapest).
	stream, filter string
	newest         bool
	// from is the cursor's position: oldest first, the next sequence to read; newest first,
	// the sequence to read below. 0: the start (or the end).
	from uint64
	// seek, without a cursor, starts the scan at a time: oldest first, the first message
	// stored at or after it; newest first, below the first message stored at or after it.
	seek time.Time
	// stop ends the listing at a time: oldest first, at a message stored after it; newest
	// first, at a message stored before it.
	stop  time.Time
	limit int
	// sparse: match or resolve drop some messages (a filter the server does not apply), so
	// a batch reads ahead of what the page still needs.
	sparse bool
	// match is the check of one message that needs nothing else (nil keeps every one).
	match func(m *directMsg) bool
	// resolve turns the matched messages into the page's items, reading what it must (the
	// current records, in one batch); a nil item is dropped (gone, or no longer matching).
	resolve func(ctx context.Context, ms []directMsg) ([]*T, error)
}

// scanned is one call's result: the items and the position to go on from (0: the end).
type scanned[T any] struct {
	items []*T
	next  uint64
}

func (sp *scanSpec[T]) keep(m *directMsg) bool { return sp.match == nil || sp.match(m) }

// scanList runs sp: oldest first forward from sp.from, newest first backwards below it.
func scanList[T any](ctx context.Context, s *Store, sp scanSpec[T]) (scanned[T], error) {
	if sp.newest {
		return scanBackward(ctx, s, sp)
	}
	return scanForward(ctx, s, sp)
}

func scanForward[T any](ctx context.Context, s *Store, sp scanSpec[T]) (scanned[T], error) {
	budget := ScanBudget * sp.limit
	var out scanned[T]
	seq := max(sp.from, 1)
	seek := sp.from == 0 && !sp.seek.IsZero()
	read := 0
	for round := 0; round < maxRounds && read < budget; round++ {
		need := sp.limit - len(out.items)
		n := need
		if sp.sparse {
			n = 2 * need
		}
		n = min(n, budget-read, MaxMultiLast)
		req := directRequest{NextBySubj: sp.filter, Batch: n}
		if seek {
			t := sp.seek.UTC()
			req.StartTime, seek = &t, false
		} else {
			req.Seq = seq
		}
		b, err := s.direct(ctx, sp.stream, req)
		if err != nil {
			return scanned[T]{}, err
		}
		if len(b.Msgs) == 0 {
			return out, nil // the end
		}
		// Take the matches up to what the page needs, then resolve them in one batch.
		var matched []directMsg
		ended := false
		examined := 0
		for i := range b.Msgs {
			m := &b.Msgs[i]
			if !sp.stop.IsZero() && m.Time.After(sp.stop) {
				ended = true
				break
			}
			examined++
			if sp.keep(m) {
				matched = append(matched, *m)
				if len(matched) == need {
					break
				}
			}
		}
		read += examined
		items, err := resolveAll(ctx, sp, matched)
		if err != nil {
			return scanned[T]{}, err
		}
		for i, it := range items {
			if it == nil {
				continue
			}
			out.items = append(out.items, it)
			if len(out.items) == sp.limit {
				last := i == len(items)-1 && examined == len(b.Msgs) && b.NumPending == 0
				if ended || last {
					return out, nil
				}
				out.next = matched[i].Seq + 1
				return out, nil
			}
		}
		if ended {
			return out, nil
		}
		if examined > 0 {
			seq = b.Msgs[examined-1].Seq + 1
		}
		if examined == len(b.Msgs) && b.NumPending == 0 {
			return out, nil
		}
	}
	out.next = seq
	return out, nil
}

func resolveAll[T any](ctx context.Context, sp scanSpec[T], ms []directMsg) ([]*T, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	items, err := sp.resolve(ctx, ms)
	if err != nil {
		return nil, err
	}
	if len(items) != len(ms) {
		return nil, fmt.Errorf("list: %d items for %d messages", len(items), len(ms))
	}
	return items, nil
}

// scanBackward reads windows of sequences below the position, each read forward in one or a
// few batches and then taken from its end; a window that held too little is followed by one
// four times as wide, so a sparse filter still reaches back far in a few round trips.
func scanBackward[T any](ctx context.Context, s *Store, sp scanSpec[T]) (scanned[T], error) {
	budget := ScanBudget * sp.limit
	var out scanned[T]
	hi := sp.from
	rounds := 0
	if hi == 0 {
		var err error
		if hi, err = upperBound(ctx, s, sp); err != nil || hi <= 1 {
			return out, err
		}
		rounds++
	}
	window := uint64(2 * sp.limit) // holds at most 2×limit messages: always within the budget
	read := 0
	floor := uint64(1) // the stream's first sequence, once a window came back empty
	for rounds < maxRounds && read < budget {
		lo := floor
		if hi > window && hi-window > floor {
			lo = hi - window
		}
		// Read [lo, hi) forward.
		var win []directMsg
		seq, complete := lo, false
		for rounds < maxRounds && read+len(win) < budget {
			n := min(budget-read-len(win), MaxMultiLast)
			if span := hi - seq; span < uint64(n) {
				n = int(span)
			}
			b, err := s.direct(ctx, sp.stream, directRequest{NextBySubj: sp.filter, Batch: n, Seq: seq})
			rounds++
			if err != nil {
				return scanned[T]{}, err
			}
			for _, m := range b.Msgs {
				if m.Seq >= hi {
					complete = true
					break
				}
				win = append(win, m)
				seq = m.Seq + 1
			}
			if complete || len(b.Msgs) == 0 || b.NumPending == 0 || seq >= hi {
				complete = true
				break
			}
		}
		read += len(win)
		if !complete {
			// The window held more than the budget left: go on from hi next call, with a
			// fresh budget and the narrow first window.
			out.next = hi
			return out, nil
		}
		// Take the window from its end, need matches at a time.
		i, ended := len(win)-1, false
		for i >= 0 && !ended {
			need := sp.limit - len(out.items)
			var matched []directMsg
			for ; i >= 0 && len(matched) < need; i-- {
				m := &win[i]
				if !sp.stop.IsZero() && m.Time.Before(sp.stop) {
					ended = true // the listing ends here
					break
				}
				if sp.keep(m) {
					matched = append(matched, *m)
				}
			}
			items, err := resolveAll(ctx, sp, matched)
			if err != nil {
				return scanned[T]{}, err
			}
			for j, it := range items {
				if it == nil {
					continue
				}
				out.items = append(out.items, it)
				if len(out.items) == sp.limit {
					atEnd := j == len(items)-1 && (ended || (i < 0 && lo <= floor))
					if !atEnd {
						out.next = matched[j].Seq
					}
					return out, nil
				}
			}
		}
		if ended {
			return out, nil
		}
		if lo <= floor {
			return out, nil
		}
		if len(win) == 0 && floor == 1 {
			// Nothing here: below may be only purged sequences, which windows would cross
			// four times wider each round. Ask where the stream starts.
			st, err := s.js.Stream(ctx, sp.stream)
			if err != nil {
				return scanned[T]{}, fmt.Errorf("list: %w", err)
			}
			rounds++
			if floor = max(st.CachedInfo().State.FirstSeq, 1); lo <= floor {
				return out, nil
			}
		}
		hi = lo
		window *= 4
	}
	out.next = hi
	return out, nil
}

// upperBound is where a newest-first scan without a cursor starts: below the first message
// stored at or after sp.seek, or past the stream's last message.
func upperBound[T any](ctx context.Context, s *Store, sp scanSpec[T]) (uint64, error) {
	if !sp.seek.IsZero() {
		t := sp.seek.UTC()
		b, err := s.direct(ctx, sp.stream, directRequest{NextBySubj: sp.filter, Batch: 1, StartTime: &t})
		if err != nil {
			return 0, err
		}
		if len(b.Msgs) > 0 {
			return b.Msgs[0].Seq, nil
		}
	}
	st, err := s.js.Stream(ctx, sp.stream)
	if err != nil {
		return 0, fmt.Errorf("list: %w", err)
	}
	return st.CachedInfo().State.LastSeq + 1, nil
}
