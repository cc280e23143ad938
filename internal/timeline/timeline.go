// Package timeline counts events per minute over a fixed span, in a ring of
// buckets that never grows: what the status page draws as a sparkline and
// sums as "in the last hour".
package timeline

import (
	"sync/atomic"
	"time"
)

// Timeline is a ring of per-minute counts covering its last len(buckets)
// minutes. Each bucket packs the minute it counts (Unix minutes, upper 32
// bits) with the count (lower 32 bits) into one word, so a reader never sees
// a count of one minute under the label of another. Add is for one writer
// at a time (the pipeline, under its lock); Counts and Sum may run
// concurrently with it.
type Timeline struct {
	buckets []atomic.Uint64
}

// New returns a timeline of the given number of minutes.
func New(minutes int) *Timeline {
	return &Timeline{buckets: make([]atomic.Uint64, max(minutes, 1))}
}

func minuteOf(t time.Time) uint64 { return uint64(t.Unix() / 60) }

// Add counts one event at time at. An event older than the span is dropped.
// It does not allocate.
func (tl *Timeline) Add(at time.Time) {
	if at.Unix() < 0 {
		return
	}
	m := minuteOf(at)
	b := &tl.buckets[m%uint64(len(tl.buckets))]
	w := b.Load()
	switch held := w >> 32; {
	case held == m:
		if w&0xffffffff != 0xffffffff { // saturate rather than spill into the minute
			b.Add(1)
		}
	case held < m:
		b.Store(m<<32 | 1)
	}
}

// Counts returns the count of each of the span's minutes up to and
// including now's, oldest first.
func (tl *Timeline) Counts(now time.Time) []uint64 {
	n := uint64(len(tl.buckets))
	out := make([]uint64, n)
	end := minuteOf(now)
	for i := range n {
		m := end - (n - 1 - i)
		if w := tl.buckets[m%n].Load(); w>>32 == m {
			out[i] = w & 0xffffffff
		}
	}
	return out
}

// Sum returns the number of events in the last d up to now, in whole
// minutes (now's minute included), at most the span.
func (tl *Timeline) Sum(now time.Time, d time.Duration) uint64 {
	c := tl.Counts(now)
	k := min(int(d/time.Minute), len(c))
	var s uint64
	for _, v := range c[len(c)-k:] {
		s += v
	}
	return s
}
