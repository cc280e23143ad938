package rotation

import (
	"fmt"
	"testing"
	"time"
)

// TestRecentSubjectsSlots: lines may arrive out of time order (several
// sources), a line older than every slot kept is outside the window, and
// the slots are reused as time moves on.
func TestRecentSubjectsSlots(t *testing.T) {
	const window = 10 * time.Minute
	r := newRecentSubjects(window)
	for i := range 30 {
		// Minutes 0..29, out of order.
		m := (i * 7) % 30
		r.insert(fmt.Sprintf("user-%d", m), t0.Add(time.Duration(m)*time.Minute))
	}
	r.insert("ancient", t0.Add(-time.Hour))
	tests := []struct {
		now  time.Duration
		want uint64
	}{
		{30 * time.Minute, 9}, // minutes 21..29
		{25 * time.Minute, 6}, // the slots hold minutes 20..29: 20..25 (the ancient line and 0..19 are gone)
		{45 * time.Minute, 0},
	}
	for _, tt := range tests {
		if got := r.estimate(t0.Add(tt.now), window); got != tt.want {
			t.Errorf("at +%s: %d subjects, want %d", tt.now, got, tt.want)
		}
	}
}
