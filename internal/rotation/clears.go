package rotation

import "time"

// Clears returns when a reason that keeps the previous key (one of
// BlockingReasons) stops keeping it, if nothing else happens: the minimum
// window after the rotation start ends, the quiet period after the last
// valid use ends, the latest-expiring token it signed expires. It is the
// zero time for a reason that never applied (no valid use, no expiry seen).
func (p Policy) Clears(reason string, started time.Time, prev KeyReport) time.Time {
	switch reason {
	case BlockMinWindow:
		return started.Add(p.MinWindow)
	case BlockRecentUse:
		if prev.LastValid.IsZero() {
			return time.Time{}
		}
		return prev.LastValid.Add(p.QuietPeriod)
	case BlockUnexpiredTokens:
		return prev.MaxExpiry
	}
	return time.Time{}
}

// RemovableSince returns since when the previous key has been removable:
// when the last of the reasons cleared. It is meaningful only when the
// family's report says Removable.
func (p Policy) RemovableSince(started time.Time, prev KeyReport) time.Time {
	var since time.Time
	for _, r := range BlockingReasons {
		if c := p.Clears(r, started, prev); c.After(since) {
			since = c
		}
	}
	return since
}
