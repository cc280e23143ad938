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
	watched := now.Add(-30 * 24 * time.Hour) // the log read for long enough
	tests := []struct {
		name     string
		started  time.Time
		watching time.Time // the first log line; zero means watched
		never    bool      // no log line read
		prev     KeyReport
		since    time.Time // RemovableSince when nothing blocks
	}{
		{name: "fresh rotation, key in use", started: now.Add(-time.Hour), prev: KeyReport{LastValid: now.Add(-time.Minute), MaxExpiry: now.Add(time.Hour)}},
		{name: "window passed, still used", started: now.Add(-8 * 24 * time.Hour), prev: KeyReport{LastValid: now.Add(-time.Hour), MaxExpiry: now.Add(-time.Minute)}},
		{name: "quiet, one token left", started: now.Add(-8 * 24 * time.Hour), prev: KeyReport{LastValid: now.Add(-25 * time.Hour), MaxExpiry: now.Add(time.Hour)}},
		{name: "all clear", started: now.Add(-8 * 24 * time.Hour), prev: KeyReport{LastValid: now.Add(-48 * time.Hour), MaxExpiry: now.Add(-47 * time.Hour)}, since: now.Add(-24 * time.Hour)},
		{name: "never used since rotation", started: now.Add(-8 * 24 * time.Hour), since: now.Add(-24 * time.Hour)},
		{name: "log read for less than the quiet period", started: now.Add(-8 * 24 * time.Hour), watching: now.Add(-time.Hour)},
		{name: "log read just long enough", started: now.Add(-8 * 24 * time.Hour), watching: now.Add(-25 * time.Hour), since: now.Add(-time.Hour)},
		{name: "log read the quiet period, the last to clear", started: now.Add(-8 * 24 * time.Hour), watching: now.Add(-24*time.Hour - time.Minute), prev: KeyReport{LastValid: now.Add(-48 * time.Hour)}, since: now.Add(-time.Minute)},
		{name: "no line read", started: now.Add(-8 * 24 * time.Hour), never: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := FamilyReport{Started: tt.started, Watching: tt.watching}
			switch {
			case tt.never:
				f.Watching = time.Time{}
			case tt.watching.IsZero():
				f.Watching = watched
			}
			blocks := blocking(p, now, f.Started, f.Watching, tt.prev)
			for _, r := range BlockingReasons {
				c := p.Clears(r, f, tt.prev)
				if r == BlockInsufficientEvidence && tt.never {
					// Blocks until some time after a first line nobody can foresee.
					if !slices.Contains(blocks, r) || !c.IsZero() {
						t.Errorf("%s without a line: blocks=%v, clears at %s; want blocking, unknown", r, slices.Contains(blocks, r), c)
					}
					continue
				}
				if slices.Contains(blocks, r) != c.After(now) {
					t.Errorf("%s: blocks=%v but clears at %s (now %s)", r, slices.Contains(blocks, r), c, now)
				}
			}
			if len(blocks) == 0 {
				if got := p.RemovableSince(f, tt.prev); !got.Equal(tt.since) {
					t.Errorf("RemovableSince = %s, want %s", got, tt.since)
				}
			}
		})
	}
}
