package rotation

import (
	"time"

	"github.com/axiomhq/hyperloglog"
)

// DefaultReloginWindow is the re-login window when Policy.ReloginWindow is
// not set: a user whose stale session got a 401 logs in again within
// minutes, so a quarter of an hour without one means that user is done.
const DefaultReloginWindow = 15 * time.Minute

// reloginSlots is how many slots a window is cut into: a subject leaves the
// count between the window and a tenth more after its last request.
const reloginSlots = 10

// recentSubjects counts the distinct subjects seen within a sliding window
// of line time, in slots of a tenth of the window, each a dense HyperLogLog
// sketch like the per-key ones: right after an immediate rotation every
// line may be a stale session, and a dense insert costs ~40 ns where the
// sparse form's costs ~1 µs (BenchmarkRecordWave: 135 against 590 ns a
// line). A slot takes 16 KiB once a retired-key token falls in it, so a
// family's wave holds at most 160 KiB; a family that never sees one, none.
type recentSubjects struct {
	width time.Duration
	slots [reloginSlots]struct {
		start  time.Time
		sketch *hyperloglog.Sketch
	}
}

func newRecentSubjects(window time.Duration) *recentSubjects {
	return &recentSubjects{width: max(window/reloginSlots, time.Nanosecond)}
}

// insert counts sub seen at time at: in the slot of at, which replaces the
// oldest slot when it is new.
func (r *recentSubjects) insert(sub string, at time.Time) {
	start := at.Truncate(r.width)
	free := -1 // an empty slot, else the oldest
	for i := range r.slots {
		s := &r.slots[i]
		switch {
		case s.sketch != nil && s.start.Equal(start):
			s.sketch.Insert([]byte(sub))
			return
		case free >= 0 && r.slots[free].sketch == nil:
		case s.sketch == nil || free < 0 || s.start.Before(r.slots[free].start):
			free = i
		}
	}
	s := &r.slots[free]
	if s.sketch != nil && s.start.After(start) {
		return // older than every slot kept: outside the window anyway
	}
	s.start, s.sketch = start, newSketch()
	s.sketch.Insert([]byte(sub))
}

// estimate returns the distinct subjects of the slots that start within
// window before now (not after it).
func (r *recentSubjects) estimate(now time.Time, window time.Duration) uint64 {
	var all *hyperloglog.Sketch
	for _, s := range r.slots {
		if s.sketch == nil || !s.start.After(now.Add(-window)) || s.start.After(now) {
			continue
		}
		if all == nil {
			all = newSketch()
		}
		// Same precision, so Merge cannot fail.
		_ = all.Merge(s.sketch)
	}
	if all == nil {
		return 0
	}
	return all.Estimate()
}
