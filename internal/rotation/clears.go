package rotation

import "time"

// Clears returns when a reason that keeps the previous key (one of
// BlockingReasons) stops keeping it, if nothing else happens: the minimum
// window after the rotation start ends, the quiet period after the last
// valid use ends, the latest-expiring token it signed expires, the quiet
// period after this replica began reading its log ends. It is the zero time
// for a reason that never applied (no valid use, no expiry seen), and for
// insufficient_evidence before the first line, whose end cannot be told.
func (p Policy) Clears(reason string, f FamilyReport, prev KeyReport) time.Time {
	switch reason {
	case BlockMinWindow:
		return f.Started.Add(p.MinWindow)
	case BlockRecentUse:
		if prev.LastValid.IsZero() {
			return time.Time{}
		}
		return prev.LastValid.Add(p.QuietPeriod)
	case BlockUnexpiredTokens:
		return prev.MaxExpiry
	case BlockInsufficientEvidence:
		if f.Watching.IsZero() {
			return time.Time{}
		}
		return f.Watching.Add(p.QuietPeriod)
	}
	return time.Time{}
}

// RemovableSince returns since when the previous key has been removable:
// when the last of the reasons cleared. It is meaningful only when the
// family's report says Removable.
func (p Policy) RemovableSince(f FamilyReport, prev KeyReport) time.Time {
	var since time.Time
	for _, r := range BlockingReasons {
		if c := p.Clears(r, f, prev); c.After(since) {
			since = c
		}
	}
	return since
}
