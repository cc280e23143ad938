package rotation

import (
	"slices"
	"testing"
	"time"
)

// Clears agrees with the removal rule: a reason that blocks now clears
// later, one that does not block has cleared (or never applied); a reason
// whose end cannot be told yet (unknown) blocks with the zero time.
func TestClearsAgreesWithBlocking(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	watched := now.Add(-30 * 24 * time.Hour) // the log read for long enough
	tests := []struct {
		name     string
		started  time.Time
		watching time.Time // the first log line; zero means watched
		never    bool      // no log line read
		lifetime time.Duration
		policy   func(*Policy)
		prev     KeyReport
		unknown  []string  // blocking reasons whose end cannot be told
		since    time.Time // RemovableSince when nothing blocks
	}{
		{name: "fresh rotation, key in use", started: now.Add(-time.Hour), lifetime: time.Hour, prev: KeyReport{LastValid: now.Add(-time.Minute), MaxExpiry: now.Add(time.Hour)}},
		{name: "window passed, still used", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, prev: KeyReport{LastValid: now.Add(-time.Hour), MaxExpiry: now.Add(-time.Minute)}},
		{name: "quiet, one token left", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, prev: KeyReport{LastValid: now.Add(-25 * time.Hour), MaxExpiry: now.Add(time.Hour)}},
		{name: "all clear", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, prev: KeyReport{LastValid: now.Add(-48 * time.Hour), MaxExpiry: now.Add(-47 * time.Hour)}, since: now.Add(-24 * time.Hour)},
		{name: "never used since rotation", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, since: now.Add(-24 * time.Hour)},
		{name: "log read for less than the quiet period", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, watching: now.Add(-time.Hour)},
		{name: "log read just long enough", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, watching: now.Add(-25 * time.Hour), since: now.Add(-time.Hour)},
		{name: "log read the quiet period, the last to clear", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, watching: now.Add(-24*time.Hour - time.Minute), prev: KeyReport{LastValid: now.Add(-48 * time.Hour)}, since: now.Add(-time.Minute)},
		{name: "no line read", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, never: true, unknown: []string{BlockInsufficientEvidence}},

		// The tokens nobody saw.
		{name: "30-day tokens, a week after the rotation", started: now.Add(-8 * 24 * time.Hour), lifetime: 30 * 24 * time.Hour},
		{name: "30-day tokens, the last to clear", started: now.Add(-31 * 24 * time.Hour), lifetime: 30 * 24 * time.Hour, since: now.Add(-24*time.Hour + time.Minute)},
		{name: "no lifetime known", started: now.Add(-8 * 24 * time.Hour), unknown: []string{BlockUnseenTokens}},
		{name: "no lifetime known, the policy bounds it", started: now.Add(-8 * 24 * time.Hour), policy: func(p *Policy) { p.MaxLifetime = 2 * 24 * time.Hour }, since: now.Add(-24 * time.Hour)},
		{name: "the policy bounds a longer lifetime seen", started: now.Add(-8 * 24 * time.Hour), lifetime: 30 * 24 * time.Hour, policy: func(p *Policy) { p.MaxLifetime = 2 * 24 * time.Hour }, since: now.Add(-24 * time.Hour)},
		{name: "the policy is longer than the lifetime seen", started: now.Add(-8 * 24 * time.Hour), lifetime: time.Hour, policy: func(p *Policy) { p.MaxLifetime = 9 * 24 * time.Hour }},
		{name: "not waiting for unseen tokens", started: now.Add(-8 * 24 * time.Hour), lifetime: 30 * 24 * time.Hour, policy: func(p *Policy) { p.SkipUnseen = true }, since: now.Add(-24 * time.Hour)},
		{name: "not waiting, no lifetime known", started: now.Add(-8 * 24 * time.Hour), policy: func(p *Policy) { p.SkipUnseen = true }, since: now.Add(-24 * time.Hour)},
		{name: "a token without exp", started: now.Add(-80 * 24 * time.Hour), lifetime: time.Hour, prev: KeyReport{LastValid: now.Add(-70 * 24 * time.Hour), WithoutExpiry: now.Add(-70 * 24 * time.Hour)}},
		{name: "a token without exp, not waiting for unseen tokens", started: now.Add(-80 * 24 * time.Hour), policy: func(p *Policy) { p.SkipUnseen = true }, prev: KeyReport{WithoutExpiry: now.Add(-70 * 24 * time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{MinWindow: 7 * 24 * time.Hour, QuietPeriod: 24 * time.Hour, Skew: time.Minute}
			if tt.policy != nil {
				tt.policy(&p)
			}
			f := FamilyReport{Started: tt.started, Watching: tt.watching, Lifetime: tt.lifetime}
			switch {
			case tt.never:
				f.Watching = time.Time{}
			case tt.watching.IsZero():
				f.Watching = watched
			}
			blocks := p.blocking(now, f, tt.prev)
			for _, r := range BlockingReasons {
				c := p.Clears(r, f, tt.prev)
				if slices.Contains(tt.unknown, r) {
					// Blocks until some time nobody can foresee yet.
					if !slices.Contains(blocks, r) || !c.IsZero() {
						t.Errorf("%s: blocks=%v, clears at %s; want blocking, unknown", r, slices.Contains(blocks, r), c)
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
			} else if !tt.since.IsZero() {
				t.Errorf("blocked by %v, want removable since %s", blocks, tt.since)
			}
		})
	}
}
