package rotation

import "time"

// Clears returns when a reason that keeps the previous key (one of
// BlockingReasons) stops keeping it, if nothing else happens: the minimum
// window after the previous key was replaced (or the rotation start) ends, the quiet period after the last
// valid use ends, the latest-expiring token it signed expires, the quiet
// period after this replica began reading its log ends, every token it
// could have signed before the rotation has expired (Policy.Expired). It is
// the zero time for a reason that never applied (no valid use, no expiry
// seen, the wait for unseen tokens skipped), for insufficient_evidence
// before the first line and for unseen_tokens_may_be_valid before any
// lifetime is known, whose ends cannot be told; and Never for
// tokens_without_expiry, which does not clear by itself.
func (p Policy) Clears(reason string, f FamilyReport, prev KeyReport) time.Time {
	switch reason {
	case BlockMinWindow:
		return f.previousSince().Add(p.MinWindow)
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
	case BlockUnseenTokens:
		if p.SkipUnseen {
			return time.Time{}
		}
		return p.Expired(f)
	case BlockTokensWithoutExpiry:
		if prev.WithoutExpiry.IsZero() {
			return time.Time{}
		}
		return Never
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
