package timeline

import (
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestTimeline(t *testing.T) {
	at := func(m int, s int) time.Time {
		return t0.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	tests := []struct {
		name   string
		span   int
		events []time.Time
		now    time.Time
		want   []uint64
		hour   uint64 // Sum over the last 2 minutes
	}{
		{name: "empty", span: 4, now: t0, want: []uint64{0, 0, 0, 0}},
		{name: "one minute", span: 4, events: []time.Time{at(0, 1), at(0, 59)}, now: at(0, 30), want: []uint64{0, 0, 0, 2}, hour: 2},
		{name: "spread", span: 4, events: []time.Time{at(-3, 0), at(-1, 5), at(-1, 6), at(0, 0)}, now: at(0, 0), want: []uint64{1, 0, 2, 1}, hour: 3},
		{name: "older than the span is gone", span: 4, events: []time.Time{at(-4, 0), at(-3, 0)}, now: at(0, 0), want: []uint64{1, 0, 0, 0}},
		{name: "the ring wraps: a new minute replaces the old one in its bucket", span: 3, events: []time.Time{at(0, 0), at(0, 1), at(3, 0)}, now: at(3, 0), want: []uint64{0, 0, 1}, hour: 1},
		{name: "a late event for a minute whose bucket moved on is dropped", span: 3, events: []time.Time{at(3, 0), at(0, 0)}, now: at(3, 0), want: []uint64{0, 0, 1}, hour: 1},
		{name: "out of order within the span", span: 3, events: []time.Time{at(0, 0), at(-2, 0), at(-1, 0)}, now: at(0, 0), want: []uint64{1, 1, 1}, hour: 2},
		{name: "events after now are not shown yet", span: 3, events: []time.Time{at(1, 0)}, now: at(0, 0), want: []uint64{0, 0, 0}},
		{name: "before 1970 is ignored", span: 3, events: []time.Time{time.Unix(-120, 0)}, now: at(0, 0), want: []uint64{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := New(tt.span)
			for _, e := range tt.events {
				tl.Add(e)
			}
			if got := tl.Counts(tt.now); !slices.Equal(got, tt.want) {
				t.Errorf("Counts = %v, want %v", got, tt.want)
			}
			if got := tl.Sum(tt.now, 2*time.Minute); got != tt.hour {
				t.Errorf("Sum(2m) = %d, want %d", got, tt.hour)
			}
		})
	}
}

// A reader concurrent with the writer sees whole buckets (run with -race).
func TestConcurrentRead(t *testing.T) {
	tl := New(60)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 10000 {
			tl.Add(t0.Add(time.Duration(i) * time.Second))
		}
	})
	for range 100 {
		for _, c := range tl.Counts(t0.Add(10000 * time.Second)) {
			if c > 60 {
				t.Fatalf("a minute holds %d events, at most 60 were added", c)
			}
		}
	}
	wg.Wait()
	// One event a second; 9,999 s is minute 166 and 39 s: the last hour is
	// 59 whole minutes and the 40 events of the current one.
	if got := tl.Sum(t0.Add(9999*time.Second), time.Hour); got != 59*60+40 {
		t.Errorf("Sum = %d, want %d", got, 59*60+40)
	}
}

func TestAddAllocatesNothing(t *testing.T) {
	tl := New(1440)
	at := t0
	if n := testing.AllocsPerRun(1000, func() { tl.Add(at); at = at.Add(time.Second) }); n != 0 {
		t.Errorf("Add allocates %.1f times", n)
	}
}

func BenchmarkAdd(b *testing.B) {
	tl := New(1440)
	at := t0
	for b.Loop() {
		tl.Add(at)
		at = at.Add(10 * time.Millisecond)
	}
}
