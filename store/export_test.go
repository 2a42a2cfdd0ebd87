package store

import "github.com/hitl-dev/hitl/streams"

// WithBuckets is s writing through b: tests wrap the real buckets to inject faults.
func WithBuckets(s *Store, b streams.Buckets) *Store { return &Store{js: s.js, b: b} }
