package stragglers

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestHeavyHittersSurvive(t *testing.T) {
	tests := []struct {
		name   string
		k      int
		heavy  int // requests from each of 3 heavy clients, interleaved
		lights int // distinct one-off clients
	}{
		// Space-Saving guarantees every client seen more than N/k times is kept.
		{"few lights", 10, 100, 5},
		{"many lights", 10, 1000, 5000},
		{"tiny sketch", 4, 1200, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.k)
			at := t0
			for i := range max(tt.heavy*3, tt.lights) {
				at = at.Add(time.Second)
				if i < tt.heavy*3 {
					s.Observe("access", "previous", Client{Subject: fmt.Sprintf("svc-%d", i%3), UserAgent: "batch/1.0"}, at)
				}
				if i < tt.lights {
					s.Observe("access", "previous", Client{Subject: fmt.Sprintf("user-%d", i)}, at)
				}
			}
			snap := s.Top()
			if n := uint64(tt.heavy*3 + tt.lights); uint64(tt.heavy) <= n/uint64(tt.k) {
				t.Fatalf("bad case: %d is not above N/k = %d", tt.heavy, n/uint64(tt.k))
			}
			if len(snap.Clients) > tt.k {
				t.Fatalf("%d clients kept, capacity %d", len(snap.Clients), tt.k)
			}
			if want := uint64(tt.heavy*3 + tt.lights); snap.Observed != want {
				t.Errorf("observed = %d, want %d", snap.Observed, want)
			}
			for i := range 3 {
				e := snap.Clients[i]
				if !strings.HasPrefix(e.Subject, "svc-") {
					t.Fatalf("top %d is %+v, want a heavy client", i, e)
				}
				// Space-Saving: count overestimates by at most err, never underestimates.
				if e.Count < uint64(tt.heavy) || e.Count-e.Error > uint64(tt.heavy) {
					t.Errorf("%s: count %d error %d, true count %d", e.Subject, e.Count, e.Error, tt.heavy)
				}
			}
		})
	}
}

func TestFieldsAreBounded(t *testing.T) {
	s := New(2)
	s.Observe("access", "previous", Client{Subject: "u", UserAgent: strings.Repeat("é", 1000)}, t0)
	e := s.Top().Clients[0]
	if len(e.UserAgent) > maxField || !strings.HasPrefix(e.UserAgent, "é") {
		t.Errorf("user agent kept as %d bytes", len(e.UserAgent))
	}
}

func TestOrderAndReset(t *testing.T) {
	s := New(5)
	s.Observe("access", "previous", Client{Subject: "a"}, t0)
	s.Observe("access", "previous", Client{Subject: "b"}, t0.Add(time.Minute))
	s.Observe("access", "previous", Client{Subject: "b"}, t0.Add(2*time.Minute))
	s.Observe("refresh", "previous", Client{Subject: "a"}, t0.Add(3*time.Minute))
	got := s.Top().Clients
	if len(got) != 3 || got[0].Subject != "b" || got[0].Count != 2 || !got[0].LastSeen.Equal(t0.Add(2*time.Minute)) || got[1].Family != "refresh" {
		t.Errorf("top = %+v", got)
	}
	s.Reset()
	if snap := s.Top(); len(snap.Clients) != 0 || snap.Observed != 0 {
		t.Errorf("after reset: %+v", snap)
	}
}

// A client on the previous key and the same client on a retired key are
// two entries, each with its role, and stay apart through a merge.
func TestRoles(t *testing.T) {
	s := New(5)
	c := Client{Subject: "svc-report", UserAgent: "cron/1.0"}
	s.Observe("access", "previous", c, t0)
	s.Observe("access", "retired", c, t0.Add(time.Minute))
	s.Observe("access", "retired", c, t0.Add(2*time.Minute))
	merged := Restore(s.Top())
	merged.Merge(s.Top())
	for _, tt := range []struct {
		name string
		in   *Sketch
		want []string
	}{
		{"observed", s, []string{"access/retired 2", "access/previous 1"}},
		{"merged with itself", merged, []string{"access/retired 4", "access/previous 2"}},
	} {
		var got []string
		for _, e := range tt.in.Top().Clients {
			got = append(got, fmt.Sprintf("%s/%s %d", e.Family, e.Key, e.Count))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: clients %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	s := New(8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				s.Observe("access", "previous", Client{Subject: fmt.Sprintf("u%d", (g*i)%20)}, t0)
				if i%100 == 0 {
					s.Top()
				}
			}
		}()
	}
	wg.Wait()
	if got := s.Top().Observed; got != 4000 {
		t.Errorf("observed = %d, want 4000", got)
	}
}

// TestMergeExactWhileRoomy splits a stream over two sketches with room for
// every client and checks that merging them gives the sketch of the whole
// stream, and that a full sketch merges with its overcount stated.
func TestMergeExactWhileRoomy(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	whole, a, b := New(10), New(10), New(10)
	for i := range 40 {
		c := Client{Subject: fmt.Sprintf("u%d", i%7), Address: "10.0.0.1"}
		when := at.Add(time.Duration(i) * time.Minute)
		whole.Observe("access", "previous", c, when)
		if i < 25 {
			a.Observe("access", "previous", c, when)
		} else {
			b.Observe("access", "previous", c, when)
		}
	}
	a.Merge(b.Top())
	if got, want := a.Top(), whole.Top(); !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %+v\nwhole %+v", got, want)
	}
	if r := Restore(whole.Top()); !reflect.DeepEqual(r.Top(), whole.Top()) {
		t.Fatal("Restore changed the sketch")
	}

	// Full on both sides: the counts stay upper bounds, Count-Error lower
	// bounds, of the true counts.
	truth := map[string]uint64{}
	x, y := New(3), New(3)
	for i := range 60 {
		sub := fmt.Sprintf("u%d", (i*i)%8)
		truth[sub]++
		if i%2 == 0 {
			x.Observe("access", "previous", Client{Subject: sub}, at)
		} else {
			y.Observe("access", "previous", Client{Subject: sub}, at)
		}
	}
	x.Merge(y.Top())
	snap := x.Top()
	if snap.Observed != 60 || len(snap.Clients) != 3 {
		t.Fatalf("observed %d, %d clients", snap.Observed, len(snap.Clients))
	}
	for _, e := range snap.Clients {
		if n := truth[e.Subject]; e.Count < n || e.Count-e.Error > n {
			t.Errorf("%s: count %d error %d, true count %d", e.Subject, e.Count, e.Error, n)
		}
	}
}

// The sketch allocates as clients arrive, not its whole capacity up front:
// --stragglers.size=10000000 allocated 3 GB at start-up.
func TestAllocatedAsUsed(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New(MaxSize)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("New(%d) allocated %d bytes before any client", MaxSize, got)
	}
	s.Observe("access", "previous", Client{Subject: "u"}, time.Now())
	if got := s.Top().Capacity; got != MaxSize {
		t.Errorf("capacity %d, want %d", got, MaxSize)
	}
	if got := New(MaxSize * 10).Top().Capacity; got != MaxSize {
		t.Errorf("New above the maximum keeps %d, want %d", got, MaxSize)
	}
}
