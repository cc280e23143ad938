package rotation

import (
	"slices"
	"testing"
	"time"
)

// Clears agrees with the removal rule: a reason that blocks now clears
// later, one that does not block has cleared (or never applied).
func TestClearsAgreesWithBlocking(t *testing.T) {
	p := Policy{MinWindow: 7 * 24 * time.Hour, QuietPeriod: 24 * time.Hour}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		started time.Time
		prev    KeyReport
		since   time.Time // RemovableSince when nothing blocks
	}{
		{name: "fresh rotation, key in use", started: now.Add(-time.Hour), prev: KeyReport{LastValid: now.Add(-time.Minute), MaxExpiry: now.Add(time.Hour)}},
		{name: "window passed, still used", started: now.Add(-8 * 24 * time.Hour), prev: KeyReport{LastValid: now.Add(-time.Hour), MaxExpiry: now.Add(-time.Minute)}},
		{name: "quiet, one token left", started: now.Add(-8 * 24 * time.Hour), prev: KeyReport{LastValid: now.Add(-25 * time.Hour), MaxExpiry: now.Add(time.Hour)}},
		{name: "all clear", started: now.Add(-8 * 24 * time.Hour), prev: KeyReport{LastValid: now.Add(-48 * time.Hour), MaxExpiry: now.Add(-47 * time.Hour)}, since: now.Add(-24 * time.Hour)},
		{name: "never used since rotation", started: now.Add(-8 * 24 * time.Hour), since: now.Add(-24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks := blocking(p, now, tt.started, tt.prev)
			for _, r := range BlockingReasons {
				c := p.Clears(r, tt.started, tt.prev)
				if slices.Contains(blocks, r) != c.After(now) {
					t.Errorf("%s: blocks=%v but clears at %s (now %s)", r, slices.Contains(blocks, r), c, now)
				}
			}
			if len(blocks) == 0 {
				if got := p.RemovableSince(tt.started, tt.prev); !got.Equal(tt.since) {
					t.Errorf("RemovableSince = %s, want %s", got, tt.since)
				}
			}
		})
	}
}
