// Package rotation keeps the state that decides when a previous signing key
// can be removed: when the current key became current, and for every key when
// a valid token it signed was last seen, the latest expiry among those tokens,
// how many distinct subjects still use it, and how long the tokens it signed
// live — which bounds the tokens nobody saw.
package rotation

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// Reason says why a verifying token is suspicious, as used in the `reason` label.
type Reason string

// Every value of the `reason` label.
const (
	// IssuedAfterRotation: a previous (or retired) key signed a token whose iat
	// is after the rotation started; the auth service no longer signs with it.
	IssuedAfterRotation Reason = "issued_after_rotation"
	// LifetimeExceedsPolicy: exp - iat is longer than the configured policy.
	LifetimeExceedsPolicy Reason = "lifetime_exceeds_policy"
	// IssuedInFuture: iat is later than the line's own time, beyond the skew allowance.
	IssuedInFuture Reason = "issued_in_future"
	// NoIssuedAt: a previous (or retired) key signed a token without a
	// numeric iat, seen after the rotation started. The rightful issuer
	// (jsonwebtoken's sign) always sets iat, so whoever minted it is not the
	// auth service, and when it was minted cannot be told.
	NoIssuedAt Reason = "no_issued_at"
	// SignedWithNextKey: the next key, published ahead of its promotion,
	// signed a valid token: the issuer signs with a key before it is current
	// (or the key file was not updated when it was promoted).
	SignedWithNextKey Reason = "signed_with_next_key"
	// IssuedDuringGrace: a previous (or retired) key signed a token whose iat
	// is after the rotation start by more than the skew but within the grace
	// (plus the skew): the auth service, restarted after the gateways, still
	// minted with the old key. Shown, not paged.
	IssuedDuringGrace Reason = "issued_during_grace"
)

// UnusualClaims is jwtwatch scan's reason for a verifying token that lacks
// sub, iss, iat or exp where nearly all tokens of its family (95 %, of at
// least 20) have it. It needs the
// whole log to tell the norm, so it is not a value of the sidecar's
// `reason` label and not in Reasons.
const UnusualClaims Reason = "unusual_claims"

// Reasons lists every value of the `reason` label.
var Reasons = []Reason{IssuedAfterRotation, LifetimeExceedsPolicy, IssuedInFuture, NoIssuedAt, SignedWithNextKey, IssuedDuringGrace}

// Explain says what the reason means, in the one wording inspect, scan,
// the demo and the runbook use (docs/runbook.md#suspicion-reasons).
func (r Reason) Explain() string {
	switch r {
	case IssuedAfterRotation:
		return "signed with an old key but issued after the rotation started: someone holds the old secret (Emergency Rotation)"
	case IssuedDuringGrace:
		return "signed with an old key, issued within --rotation.grace after the rotation started: the auth service had not restarted yet, or someone holds the old secret"
	case NoIssuedAt:
		return "signed with an old key, without iat, after the rotation started: the auth service always sets iat, so someone else may hold the old secret"
	case LifetimeExceedsPolicy:
		return "lifetime longer than --policy.max-lifetime allows (or no iat or exp to tell)"
	case IssuedInFuture:
		return "iat later than the line's own time beyond --policy.clock-skew: a clock far off, or a minted token"
	case SignedWithNextKey:
		return "signed with the next key before its promotion: the issuer signs with a key that is not current yet, or the key file was not updated when it was promoted"
	case UnusualClaims:
		return "it lacks a claim (sub, iss, iat or exp) that nearly all tokens of its family carry: minted by something other than the auth service"
	}
	return string(r)
}

// Why the previous key must stay, as used in the `reason` label of
// jwtwatch_previous_key_removal_blocked.
const (
	BlockMinWindow       = "min_window"
	BlockRecentUse       = "recent_use"
	BlockUnexpiredTokens = "unexpired_tokens"
	// BlockInsufficientEvidence: this replica has not read its log for the
	// quiet period since it started (or has read no line at all), so "no
	// valid token seen" is not evidence of anything.
	BlockInsufficientEvidence = "insufficient_evidence"
	// BlockUnseenTokens: a token the previous key signed before the rotation
	// may still be valid although none was seen — a user who logged in the
	// day before and comes back after the quiet period. It clears at the
	// rotation start plus the skew plus the longest token lifetime (see
	// Policy.Expired), and blocks while no lifetime is known.
	BlockUnseenTokens = "unseen_tokens_may_be_valid"
	// BlockTokensWithoutExpiry: the previous key signed a valid token
	// without exp that raised no suspicion (the auth service minted it). It
	// stays valid for ever, so this never clears by itself: removing the key
	// logs its holders out, whenever that is done.
	BlockTokensWithoutExpiry = "tokens_without_expiry"
)

// Never is the moment of what does not happen by itself: when every token
// a key signed has expired, once it signed one without exp, and when
// tokens_without_expiry clears. It is after any time a token can carry.
var Never = time.Unix(1<<62, 0).UTC()

// BlockingReasons lists every reason the previous key can be kept.
var BlockingReasons = []string{BlockMinWindow, BlockRecentUse, BlockUnexpiredTokens, BlockInsufficientEvidence, BlockUnseenTokens, BlockTokensWithoutExpiry}

// Policy tunes the removal decision and the suspicion checks.
type Policy struct {
	// MinWindow is the least time the previous key stays after rotation.
	MinWindow time.Duration
	// QuietPeriod is how long no valid previous-key token may have been seen.
	QuietPeriod time.Duration
	// MaxLifetime flags tokens whose exp - iat exceeds it; 0 disables the
	// check. When set, it is also the lifetime the wait for unseen tokens
	// trusts: the operator vouches that no token lives longer.
	MaxLifetime time.Duration
	// Skew is the clock difference tolerated before an iat counts as in the
	// future, or as issued after the rotation started.
	Skew time.Duration
	// SkipUnseen turns the wait for tokens nobody saw off
	// (--no-rotation.wait-for-unseen): unseen_tokens_may_be_valid never
	// blocks. The zero Policy waits, so the verdict is safe by construction.
	SkipUnseen bool
	// MaxAge is the rotation schedule (--rotation.max-age): how long a key
	// may stay current. Only reported, for the schedule's alerts.
	MaxAge time.Duration
	// Grace is how long after the rotation start the auth service may still
	// mint old-key tokens (it restarts after the gateways): issued_during_grace
	// rather than issued_after_rotation.
	Grace time.Duration
	// ReloginWindow is how far back "sessions still on the removed key"
	// (FamilyReport.RetiredSubjects) looks (--rotation.relogin-window);
	// DefaultReloginWindow when 0.
	ReloginWindow time.Duration
}

func (p Policy) reloginWindow() time.Duration {
	if p.ReloginWindow <= 0 {
		return DefaultReloginWindow
	}
	return p.ReloginWindow
}

// Defaults of the rotation.* and policy.* flags.
const (
	DefaultMinWindow   = 7 * 24 * time.Hour
	DefaultQuietPeriod = 24 * time.Hour
	// DefaultMaxAge is the procedure's production schedule ("Rotate every 90
	// days"); staging is 60 days, development 30.
	DefaultMaxAge = 90 * 24 * time.Hour
	// DefaultGrace allows a few minutes between the gateways learning the new
	// key and the auth service's restart.
	DefaultGrace = 10 * time.Minute
	DefaultSkew  = time.Minute
)

// retention is how long the state of a key that is no longer loaded is
// kept: a key that comes back within it (a secret file updated before its
// sibling, a restart with a wrong key) has its evidence back. The longer of
// the minimum window and the quiet period: beyond both, its evidence would
// no longer block a removal.
func (p Policy) retention() time.Duration { return max(p.MinWindow, p.QuietPeriod) }

// Tracker is the rotation state of one replica. It is safe for concurrent use:
// the pipeline observes, the scrape reads.
type Tracker struct {
	policy Policy
	now    func() time.Time

	mu        sync.Mutex
	rotations map[keys.Family]*Rotation
	keys      map[keyID]*keyState // loaded keys, and for a while those that went away
	loaded    []keys.Key
	watching  time.Time // when this replica read its first log line; zero until then
	// last is the state state returned last, for the next line's key is
	// nearly always the same; forget clears it.
	last    *keyState
	lastID  keyID
	history []Change // the last HistorySize changes per family, oldest first
	changes map[changeKind]uint64
	// relogin counts per family the subjects presenting retired-key tokens
	// since the rotation, over the re-login window.
	relogin map[keys.Family]*recentSubjects
}

type changeKind struct {
	family keys.Family
	kind   string
}

type keyID struct {
	family      keys.Family
	fingerprint string
}

type keyState struct {
	lastValid time.Time
	maxExpiry time.Time
	subjects  *hyperloglog.Sketch
	lifetimes lifetimes
	// withoutExpiry is when a valid, unsuspicious token without exp that
	// the key signed was last seen; zero if never.
	withoutExpiry time.Time
	// currentSince is when the key last became its family's current key,
	// zero if never. currentSinceExact says whether this replica saw it
	// become current, or found it current already (currentSince is then
	// only a lower bound).
	currentSince      time.Time
	currentSinceExact bool
	// replaced is when another key replaced it as its family's current key
	// (for a key that was not current then, the start of the rotation that
	// replaced it at the latest); zero for the current key and a key never
	// replaced here.
	replaced time.Time
	// firstValid is the line time of the first valid token it signed since
	// its family's rotation started; zero if none.
	firstValid time.Time
	// unloaded is when the key stopped being loaded; zero while it is.
	unloaded time.Time
}

// Rotation is when the current key of a family became current.
type Rotation struct {
	CurrentFingerprint string    `json:"current_fingerprint"`
	Started            time.Time `json:"started"`
	// Exact is set when this replica saw the key become current. Otherwise
	// the key was current when jwtwatch first saw it (its first start, or a
	// state file from before this field), and Started is when it first saw
	// it: the key has been current at least since then.
	Exact bool `json:"exact,omitempty"`
}

// KeyState is the persisted and reported state of one key.
type KeyState struct {
	Family      keys.Family `json:"token"`
	Fingerprint string      `json:"fingerprint"`
	LastValid   time.Time   `json:"last_valid,omitzero"`
	MaxExpiry   time.Time   `json:"max_expiry,omitzero"`
	// Subjects is the HyperLogLog sketch of distinct subjects, in its binary form.
	Subjects []byte `json:"subjects,omitempty"`
	// CurrentSince is when the key last became its family's current key;
	// CurrentSinceExact as Rotation.Exact.
	CurrentSince      time.Time `json:"current_since,omitzero"`
	CurrentSinceExact bool      `json:"current_since_exact,omitempty"`
	// Replaced is when another key replaced it as its family's current key.
	Replaced time.Time `json:"replaced,omitzero"`
	// FirstValid is the first valid use since its family's rotation started.
	FirstValid time.Time `json:"first_valid,omitzero"`
	// Unloaded is when the key stopped being loaded; its state is kept for
	// the retention (the longer of the minimum window and the quiet period).
	Unloaded time.Time `json:"unloaded,omitzero"`
	// LongestLifetime is the longest exp − iat of a valid token the key
	// signed that raised no suspicion, LongestToken which token that was (a
	// hash of its sub and iat), SecondLifetime the longest of any other.
	LongestLifetime time.Duration `json:"longest_lifetime_ns,omitempty"`
	LongestToken    uint64        `json:"longest_token,omitempty"`
	SecondLifetime  time.Duration `json:"second_lifetime_ns,omitempty"`
	// WithoutExpiry is when a valid, unsuspicious token without exp that
	// the key signed was last seen.
	WithoutExpiry time.Time `json:"without_expiry,omitzero"`
}

// Snapshot is the tracker's whole state, as saved in the state file.
type Snapshot struct {
	Rotations map[keys.Family]Rotation `json:"rotations"`
	Keys      []KeyState               `json:"keys"`
	// History is the last HistorySize changes of each family's current
	// key, oldest first: fingerprints and times only.
	History []Change `json:"history,omitempty"`
}

// Kinds of change of a family's current key, as used in the `kind` label
// of jwtwatch_rotations_total.
const (
	// KindRotation: a new current key.
	KindRotation = "rotation"
	// KindRollback: the current key is again the one the last rotation
	// replaced ("Revert to previous secret"), a rotation the other way.
	KindRollback = "rollback"
)

// Kinds lists every value of the `kind` label.
var Kinds = []string{KindRotation, KindRollback}

// HistorySize is how many changes of its current key the state file keeps per family.
const HistorySize = 5

// Change is one change of a family's current key.
type Change struct {
	Family keys.Family `json:"token"`
	Kind   string      `json:"kind"`
	// From and To are the fingerprints of the replaced and the new current key.
	From string    `json:"from"`
	To   string    `json:"to"`
	At   time.Time `json:"at"`
}

// ChangeCount is how many changes of a kind this process saw for a family.
type ChangeCount struct {
	Family keys.Family
	Kind   string
	Count  uint64
}

// New returns a tracker restored from a snapshot (which may be empty).
func New(policy Policy, now func() time.Time, snap Snapshot) (*Tracker, error) {
	t := &Tracker{policy: policy, now: now, rotations: map[keys.Family]*Rotation{}, keys: map[keyID]*keyState{},
		history: slices.Clone(snap.History), changes: map[changeKind]uint64{}, relogin: map[keys.Family]*recentSubjects{}}
	for f, r := range snap.Rotations {
		t.rotations[f] = &r
	}
	for _, ks := range snap.Keys {
		s := &keyState{lastValid: ks.LastValid, maxExpiry: ks.MaxExpiry, subjects: newSketch(), currentSince: ks.CurrentSince, replaced: ks.Replaced, unloaded: ks.Unloaded,
			lifetimes:     lifetimes{longest: ks.LongestLifetime, longestToken: ks.LongestToken, second: ks.SecondLifetime},
			withoutExpiry: ks.WithoutExpiry, currentSinceExact: ks.CurrentSinceExact, firstValid: ks.FirstValid}
		if len(ks.Subjects) > 0 {
			saved := newSketch()
			if err := saved.UnmarshalBinary(ks.Subjects); err != nil {
				return nil, fmt.Errorf("subject sketch of %s key %s: %w", ks.Family, ks.Fingerprint, err)
			}
			// A saved sketch may be sparse (older state files); merging keeps it dense.
			if err := s.subjects.Merge(saved); err != nil {
				return nil, fmt.Errorf("subject sketch of %s key %s: %w", ks.Family, ks.Fingerprint, err)
			}
		}
		t.keys[keyID{ks.Family, ks.Fingerprint}] = s
	}
	return t, nil
}

// SetKeys records the loaded keys. A current key other than the family's
// current key so far starts a rotation now: a rollback when it is the key
// the family's last rotation replaced, else a rotation (see Change). The
// replaced key is marked replaced now, and the distinct-subject counts of
// the family's keys restart ("since rotation"). The state of a key no longer
// loaded is kept for the retention and restored when the key returns. It
// reports whether the rotation starts changed, so the caller can persist
// them at once.
func (t *Tracker) SetKeys(loaded []keys.Key) (changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.loaded = slices.Clone(loaded)
	t.forget(now) // before a returning key is marked loaded again
	for id, s := range t.keys {
		if slices.ContainsFunc(loaded, func(k keys.Key) bool { return k.Family == id.family && k.Fingerprint == id.fingerprint }) {
			s.unloaded = time.Time{}
		} else if s.unloaded.IsZero() {
			s.unloaded = now
		}
	}
	for _, k := range loaded {
		if k.Role != keys.Current {
			continue
		}
		r, ok := t.rotations[k.Family]
		if ok && r.CurrentFingerprint == k.Fingerprint {
			continue
		}
		changed = true
		if ok {
			t.change(k.Family, r, k.Fingerprint, now)
		}
		s := t.state(keyID{k.Family, k.Fingerprint})
		s.replaced = time.Time{}
		if s.currentSince.IsZero() {
			// Seen becoming current only when another key of the family was
			// current before; a family seen for the first time had this key
			// current already, for how long nobody here knows.
			s.currentSince, s.currentSinceExact = now, ok
		}
		// A current key that returns (a rollback within the retention) gets
		// its own start and exactness back: it has been the auth service's
		// key since then, and the schedule counts from then. What the
		// rollback changes is when the rolled-back key stopped signing
		// (change marks it replaced now).
		t.rotations[k.Family] = &Rotation{CurrentFingerprint: k.Fingerprint, Started: s.currentSince, Exact: s.currentSinceExact}
		for id, s := range t.keys {
			if id.family == k.Family {
				s.subjects = newSketch()
				s.firstValid = time.Time{}
			}
		}
		delete(t.relogin, k.Family)
	}
	return changed
}

// change records that the family's current key changes from r's to the key
// with fingerprint to, now: its kind in the history and the counts, and
// when each key of the family was replaced. The replaced current key was
// replaced now; a key of the family with no such date (never seen current)
// was replaced when r's key became current, at the latest. The caller
// holds mu.
func (t *Tracker) change(f keys.Family, r *Rotation, to string, now time.Time) {
	kind := KindRotation
	for i := len(t.history) - 1; i >= 0; i-- {
		if c := t.history[i]; c.Family == f {
			if c.Kind == KindRotation && c.From == to && c.To == r.CurrentFingerprint {
				kind = KindRollback
			}
			break
		}
	}
	t.history = append(t.history, Change{Family: f, Kind: kind, From: r.CurrentFingerprint, To: to, At: now})
	t.changes[changeKind{f, kind}]++
	// Keep the last HistorySize changes of each family.
	n := 0
	for i := len(t.history) - 1; i >= 0; i-- {
		if t.history[i].Family == f {
			if n++; n > HistorySize {
				t.history = slices.Delete(t.history, i, i+1)
			}
		}
	}
	var next []string // a next key was never current: not replaced
	for _, k := range t.loaded {
		if k.Family == f {
			t.state(keyID{f, k.Fingerprint}) // to be marked below
		}
		if k.Role == keys.Next {
			next = append(next, k.Fingerprint)
		}
	}
	for id, s := range t.keys {
		switch {
		case id.family != f || id.fingerprint == to || slices.Contains(next, id.fingerprint):
		case id.fingerprint == r.CurrentFingerprint:
			s.replaced = now
		case s.replaced.IsZero():
			s.replaced = r.Started
		}
	}
}

// Removed reports whether the key that verified v, a retired key, had been
// removed from the gateway by line time at: it was replaced as its
// family's current key at or before at (for a key never seen current, as
// issued_after_rotation has it: when the key that replaced it became
// current, at the latest; else the family's rotation start). A gateway
// accepting its token later lets a removed key in; one logged before, and
// read only after the reload (the log lags behind), was accepted rightly.
// sure is false within the clock skew either side of that moment: the
// gateway switched keys near it, but not at the same instant as jwtwatch
// (its secret file is updated, or it restarts, a little earlier or later).
// Other roles are never removed.
func (t *Tracker) Removed(v verify.Verdict, at time.Time) (removed, sure bool) {
	if v.Key != keys.Retired {
		return false, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rotations[v.Family]
	if !ok {
		return true, true
	}
	since := t.since(keyID{v.Family, v.Fingerprint}, r)
	return !at.Before(since), at.Before(since.Add(-t.policy.Skew)) || !at.Before(since.Add(t.policy.Skew))
}

// History returns the last HistorySize changes of each family's current
// key, oldest first.
func (t *Tracker) History() []Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.history)
}

// since is when the auth service stopped signing with a key that is not
// its family's current key: when it was replaced, else the rotation start.
// The caller holds mu.
func (t *Tracker) since(id keyID, r *Rotation) time.Time {
	s := t.last // the line's key is nearly always the last one's
	if s == nil || id != t.lastID {
		s = t.keys[id]
	}
	if s != nil && !s.replaced.IsZero() {
		return s.replaced
	}
	return r.Started
}

// forget drops the state of keys unloaded for longer than the retention.
// The caller holds mu.
func (t *Tracker) forget(now time.Time) {
	for id, s := range t.keys {
		if !s.unloaded.IsZero() && now.Sub(s.unloaded) > t.policy.retention() {
			delete(t.keys, id)
			t.last = nil
		}
	}
}

// state returns the state of a key, creating it. The caller holds mu.
func (t *Tracker) state(id keyID) *keyState {
	if t.last != nil && id == t.lastID {
		return t.last
	}
	s, ok := t.keys[id]
	if !ok {
		s = &keyState{subjects: newSketch()}
		t.keys[id] = s
	}
	t.last, t.lastID = s, id
	return s
}

// Watching records that this replica read a log line at time at. The first
// call marks when it began watching: until it has watched for the quiet
// period, it has no evidence that the previous key is unused.
func (t *Tracker) Watching(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watching.IsZero() {
		t.watching = at
	}
}

// Started returns when the family's current key became current, if known.
func (t *Tracker) Started(f keys.Family) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.started(f)
}

// Starts returns the rotation start of every family that has one, as
// verify.Options.Rotations wants it.
func (t *Tracker) Starts() map[keys.Family]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[keys.Family]time.Time, len(t.rotations))
	for f, r := range t.rotations {
		out[f] = r.Started
	}
	return out
}

// Suspicions returns the reasons a checked token, seen at time at (the
// line's own time), is suspicious, against what the tracker knows of when
// each old key stopped signing. It changes nothing: see Rules.Suspicions
// for the reasons.
func (t *Tracker) Suspicions(v verify.Verdict, at time.Time) []Reason {
	if v.Key == keys.None || v.Fingerprint == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.policy.suspicions(nil, v, t.oldSince(v), at)
}

// started is when f's rotation started, if known; t.mu is held.
func (t *Tracker) started(f keys.Family) (time.Time, bool) {
	if r, ok := t.rotations[f]; ok {
		return r.Started, true
	}
	return time.Time{}, false
}

// oldSince is, for a token of an old (previous or retired) key, when the
// auth service stopped signing with that key: when it was replaced as
// current (a rolled-back key: at the rollback), else its family's rotation
// start; zero for other keys and when unknown. t.mu is held.
func (t *Tracker) oldSince(v verify.Verdict) time.Time {
	if v.Key != keys.Previous && v.Key != keys.Retired {
		return time.Time{}
	}
	r, ok := t.rotations[v.Family]
	if !ok {
		return time.Time{}
	}
	return t.since(keyID{v.Family, v.Fingerprint}, r)
}

// Record records one checked token seen at time at (the line's own time)
// in the rotation state and returns the reasons it is suspicious, the same
// Suspicions returns (checked once, under the same lock).
//
// A valid token is a use of its key (last and first valid use, latest
// expiry, subjects); one with no reason but issued_during_grace is also
// evidence of how long the key's tokens live: its exp − iat, or that it has
// no exp. A token of a retired key on a line after that key's replacement
// is a session still on the removed key, whatever its verdict.
func (t *Tracker) Record(v verify.Verdict, at time.Time) []Reason {
	if v.Key == keys.None || v.Fingerprint == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var started, since time.Time
	r, rotated := t.rotations[v.Family]
	if rotated {
		started = r.Started
		if v.Key == keys.Previous || v.Key == keys.Retired {
			since = t.since(keyID{v.Family, v.Fingerprint}, r)
		}
	}
	reasons := t.policy.suspicions(nil, v, since, at)
	c := v.Claims
	lifetime, hasLifetime := time.Duration(0), !c.IssuedAt.IsZero() && !c.ExpiresAt.IsZero()
	if hasLifetime {
		lifetime = lifetimeOf(c.IssuedAt, c.ExpiresAt)
	}
	if v.Key == keys.Retired && c.Subject != "" && !since.IsZero() && !at.Before(since) {
		// A session still on a removed key, whatever the verdict: its holder
		// has not logged in again (a line from before the key's removal, read
		// late, is none). Rare but for the wave after an immediate rotation.
		r := t.relogin[v.Family]
		if r == nil {
			r = newRecentSubjects(t.policy.reloginWindow())
			t.relogin[v.Family] = r
		}
		r.insert(c.Subject, at)
	}
	if v.Result != verify.Valid {
		return reasons
	}
	s := t.state(keyID{v.Family, v.Fingerprint})
	if at.After(s.lastValid) {
		s.lastValid = at
	}
	if rotated && !at.Before(started) && (s.firstValid.IsZero() || at.Before(s.firstValid)) {
		s.firstValid = at
	}
	if c.ExpiresAt.After(s.maxExpiry) {
		s.maxExpiry = c.ExpiresAt
	}
	if c.Subject != "" {
		s.subjects.Insert([]byte(c.Subject))
	}
	// A token issued within the grace is the auth service's own, before its
	// restart: its lifetime is the family's like any other.
	if len(reasons) == 0 || len(reasons) == 1 && reasons[0] == IssuedDuringGrace {
		switch {
		case hasLifetime:
			s.lifetimes.observe(lifetime, c)
		case c.ExpiresAt.IsZero() && at.After(s.withoutExpiry):
			s.withoutExpiry = at
		}
	}
	return reasons
}

// Rules are the suspicion checks without rotation state: the policy and
// when each family's current key became current, as a state file or
// --rotation-start tells. Read-only; inspect needs no tracker for them.
type Rules struct {
	Policy Policy
	// Starts holds the rotation start per family; a family without one is
	// not checked for issued_after_rotation, issued_during_grace or
	// no_issued_at.
	Starts map[keys.Family]time.Time
}

// Suspicions returns the reasons a token verified by a loaded key, seen at
// time at (the line's own time), is suspicious:
//   - issued_after_rotation: a previous or retired key signed it, its iat is
//     after the rotation start (the tracker: after the key was replaced as
//     current) by more than the grace plus the skew, and the line is at or
//     after that moment (a token presented before it was minted before it,
//     whatever its iat says; issued_in_future covers such an iat);
//   - issued_during_grace: the same, with an iat after that moment by more
//     than the skew but within the grace plus the skew;
//   - no_issued_at: a previous or retired key signed it without a numeric
//     iat, on a line at or after that moment;
//   - lifetime_exceeds_policy: exp - iat is longer than MaxLifetime, or iat
//     or exp is missing, when MaxLifetime is set;
//   - issued_in_future: iat is after the line time by more than the skew;
//   - signed_with_next_key: a valid token the next key signed, before its
//     promotion (once promoted it is the current key).
func (r Rules) Suspicions(v verify.Verdict, at time.Time) []Reason {
	return r.Policy.suspicions(nil, v, r.Starts[v.Family], at)
}

// suspicions appends to dst the reasons of Rules.Suspicions; since is when
// an old key stopped signing (the family's rotation start, or when the key
// was replaced as current), zero when unknown. dst lets the tracker's
// callers on the hot path append to a buffer of their own.
func (p Policy) suspicions(dst []Reason, v verify.Verdict, since, at time.Time) []Reason {
	if v.Key == keys.None || v.Fingerprint == "" {
		return dst
	}
	c := v.Claims
	old := v.Key == keys.Previous || v.Key == keys.Retired
	if !since.IsZero() && old && !at.Before(since) {
		switch {
		case c.IssuedAt.IsZero():
			dst = append(dst, NoIssuedAt)
		case c.IssuedAt.After(since.Add(p.Grace + p.Skew)):
			dst = append(dst, IssuedAfterRotation)
		case c.IssuedAt.After(since.Add(p.Skew)):
			dst = append(dst, IssuedDuringGrace)
		}
	}
	if p.MaxLifetime > 0 && (c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() || lifetimeOf(c.IssuedAt, c.ExpiresAt) > p.MaxLifetime) {
		dst = append(dst, LifetimeExceedsPolicy)
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(at.Add(p.Skew)) {
		dst = append(dst, IssuedInFuture)
	}
	if v.Key == keys.Next && v.Result == verify.Valid {
		dst = append(dst, SignedWithNextKey)
	}
	return dst
}

// newSketch returns an empty distinct-subject sketch. It is dense from the
// start: the sparse form saves a few KiB per key but costs ~1 µs per insert
// against ~40 ns, and every valid line inserts its subject.
func newSketch() *hyperloglog.Sketch { return hyperloglog.NewNoSparse() }

// KeyReport is what the metrics show for one loaded key.
type KeyReport struct {
	Key       keys.Key
	LastValid time.Time
	MaxExpiry time.Time
	Subjects  uint64
	// Longest is the longest exp − iat of a valid token the key signed that
	// raised no suspicion; 0 if none.
	Longest time.Duration
	// WithoutExpiry is when a valid, unsuspicious token without exp that
	// the key signed was last seen; zero if never.
	WithoutExpiry time.Time
	// Replaced is when another key replaced it as its family's current key,
	// the moment the auth service stopped signing with it; zero for the
	// current key, and for a key never seen current while its family's
	// current key has not changed (then the rotation start stands for it).
	Replaced time.Time
	// FirstValid is the first valid use since the family's rotation started.
	FirstValid time.Time
}

// FamilyReport is what the metrics show for one token family with a current key.
type FamilyReport struct {
	Family  keys.Family
	Started time.Time
	// Previous is the family's previous keys taken together (a JWK Set may
	// hold several), nil when it has none: they can go when none is needed.
	Previous *KeyReport
	// Exact says whether this replica saw the current key become current;
	// otherwise it has been current at least since Started.
	Exact     bool
	Removable bool
	// Blocking lists why the previous key must stay, empty when removable.
	Blocking []string
	// Watching is when this replica read its first log line; zero if never.
	Watching time.Time
	// Lifetime is the family's longest token lifetime, bounded against
	// outliers (see lifetimes.bound); 0 while no token with iat and exp
	// was seen.
	Lifetime time.Duration
	// AllExpired is when every token the previous key could legitimately
	// have signed has expired (Policy.Expired); Never once a previous key
	// signed a valid token without exp; zero while no lifetime is known.
	AllExpired time.Time
	// RetiredSubjects estimates the sessions still on a removed key: the
	// distinct subjects that presented a token a retired key of the family
	// verifies, with any verdict, within the re-login window before now and
	// since the rotation.
	RetiredSubjects uint64
	// PreviousReplaced is when the previous key was replaced as current
	// (KeyReport.Replaced): the window and the wait for unseen tokens count
	// from it rather than from Started (after a rollback, the restored key's
	// own, earlier start). Zero: from Started.
	PreviousReplaced time.Time
}

// previousSince is when the previous key stopped signing: when it was
// replaced as current, else the rotation start.
func (f FamilyReport) previousSince() time.Time {
	if !f.PreviousReplaced.IsZero() {
		return f.PreviousReplaced
	}
	return f.Started
}

// Report is the state of the loaded keys, for metrics.
type Report struct {
	// Keys has one report per loaded key.
	Keys []KeyReport
	// Roles has one report per family and role with loaded keys, the keys
	// of that role taken together: the latest use and expiry, and the
	// distinct subjects of their merged sketches. Key is the role's first key.
	Roles    []KeyReport
	Families []FamilyReport
	// Changes counts the changes of each family's current key this process
	// saw, every family and kind present.
	Changes []ChangeCount
	// History is the last HistorySize changes of each family's current
	// key, kept across restarts, oldest first.
	History []Change
}

// Report evaluates the state against the policy at the injected now.
func (t *Tracker) Report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var rep Report
	merged := map[[2]string]*hyperloglog.Sketch{}
	for _, k := range t.loaded {
		kr := t.key(k)
		rep.Keys = append(rep.Keys, kr)
		id := [2]string{string(k.Family), string(k.Role)}
		i := slices.IndexFunc(rep.Roles, func(r KeyReport) bool { return r.Key.Family == k.Family && r.Key.Role == k.Role })
		if i < 0 {
			rep.Roles = append(rep.Roles, KeyReport{Key: k})
			i = len(rep.Roles) - 1
			merged[id] = newSketch()
		}
		r := &rep.Roles[i]
		r.LastValid, r.MaxExpiry = later(r.LastValid, kr.LastValid), later(r.MaxExpiry, kr.MaxExpiry)
		r.Longest, r.WithoutExpiry = max(r.Longest, kr.Longest), later(r.WithoutExpiry, kr.WithoutExpiry)
		if !kr.FirstValid.IsZero() && (r.FirstValid.IsZero() || kr.FirstValid.Before(r.FirstValid)) {
			r.FirstValid = kr.FirstValid // the role's first: the earliest of its keys'
		}
		if s, ok := t.keys[keyID{k.Family, k.Fingerprint}]; ok {
			_ = merged[id].Merge(s.subjects) // both dense, same precision: cannot fail
		}
		r.Subjects = merged[id].Estimate()
	}
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		r, ok := t.rotations[f]
		if !ok || !t.hasLoaded(f, keys.Current) {
			continue
		}
		fr := FamilyReport{Family: f, Started: r.Started, Exact: r.Exact, Watching: t.watching, Lifetime: t.lifetime(f)}
		if rs := t.relogin[f]; rs != nil {
			fr.RetiredSubjects = rs.estimate(now, t.policy.reloginWindow())
		}
		// With several previous keys, the window counts from the latest
		// replacement (a key never seen current: from the rotation start).
		for _, kr := range rep.Keys {
			if kr.Key.Family == f && kr.Key.Role == keys.Previous {
				fr.PreviousReplaced = later(fr.PreviousReplaced, cmp.Or(kr.Replaced, r.Started))
			}
		}
		fr.AllExpired = t.policy.Expired(fr)
		for i := range rep.Roles {
			if kr := rep.Roles[i]; kr.Key.Family == f && kr.Key.Role == keys.Previous {
				fr.Previous = &kr
				fr.Blocking = t.policy.blocking(now, fr, kr)
				if !kr.WithoutExpiry.IsZero() {
					fr.AllExpired = Never
				}
			}
		}
		fr.Removable = len(fr.Blocking) == 0
		rep.Families = append(rep.Families, fr)
	}
	rep.History = slices.Clone(t.history)
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		for _, k := range Kinds {
			rep.Changes = append(rep.Changes, ChangeCount{Family: f, Kind: k, Count: t.changes[changeKind{f, k}]})
		}
	}
	return rep
}

// Key returns what the tracker knows of a key, loaded or not: `jwtwatch
// scan` observes tokens without loading keys.
func (t *Tracker) Key(k keys.Key) KeyReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.key(k)
}

// key is Key; the caller holds mu.
func (t *Tracker) key(k keys.Key) KeyReport {
	kr := KeyReport{Key: k}
	if s, ok := t.keys[keyID{k.Family, k.Fingerprint}]; ok {
		kr.LastValid, kr.MaxExpiry, kr.Subjects = s.lastValid, s.maxExpiry, s.subjects.Estimate()
		kr.Longest, kr.WithoutExpiry, kr.Replaced, kr.FirstValid = s.lifetimes.longest, s.withoutExpiry, s.replaced, s.firstValid
	}
	return kr
}

// Lifetime returns the family's longest token lifetime over every key it
// has state for, bounded against outliers (what FamilyReport.Lifetime says).
func (t *Tracker) Lifetime(f keys.Family) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lifetime(f)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// blocking applies the brief's rule: the minimum window has passed since
// rotation, no valid token signed by the key was seen for the quiet period, and
// every valid token it was seen signing has expired; and, so that "not seen"
// means something, this replica has read its log for the quiet period. Then
// the tokens nobody saw: every token the key could have signed before the
// rotation has expired (unless the policy skips that wait), and it signed
// none without exp.
func (p Policy) blocking(now time.Time, f FamilyReport, prev KeyReport) []string {
	var why []string
	if now.Sub(f.previousSince()) < p.MinWindow {
		why = append(why, BlockMinWindow)
	}
	if !prev.LastValid.IsZero() && now.Sub(prev.LastValid) < p.QuietPeriod {
		why = append(why, BlockRecentUse)
	}
	if now.Before(prev.MaxExpiry) {
		why = append(why, BlockUnexpiredTokens)
	}
	if f.Watching.IsZero() || now.Sub(f.Watching) < p.QuietPeriod {
		why = append(why, BlockInsufficientEvidence)
	}
	if e := p.Expired(f); !p.SkipUnseen && (e.IsZero() || now.Before(e)) {
		why = append(why, BlockUnseenTokens)
	}
	if !prev.WithoutExpiry.IsZero() {
		why = append(why, BlockTokensWithoutExpiry)
	}
	return why
}

// Expired returns when every token the previous key signed before it was
// replaced (for a key never seen current: before the family's rotation
// started) has expired, going by the lifetime this policy trusts: that
// moment, plus the grace and the skew (the auth service may sign with the
// old key that much later, issued_during_grace), plus --policy.max-lifetime
// when set (the operator vouches that no token lives longer), else the
// family's longest lifetime seen. It is the zero time while no lifetime is
// known. Tokens without exp are not its business (tokens_without_expiry).
func (p Policy) Expired(f FamilyReport) time.Time {
	l := f.Lifetime
	if p.MaxLifetime > 0 {
		l = p.MaxLifetime
	}
	since := f.previousSince()
	if l <= 0 || since.IsZero() {
		return time.Time{}
	}
	return since.Add(p.Grace + p.Skew).Add(l)
}

// lifetime is the family's longest token lifetime over every key it has
// state for, loaded or kept for a while, bounded against outliers. The
// caller holds mu.
func (t *Tracker) lifetime(f keys.Family) time.Duration {
	var all lifetimes
	for id, s := range t.keys {
		if id.family == f {
			all.merge(s.lifetimes)
		}
	}
	return all.bound()
}

func (t *Tracker) hasLoaded(f keys.Family, r keys.Role) bool {
	for _, k := range t.loaded {
		if k.Family == f && k.Role == r {
			return true
		}
	}
	return false
}

// Merge adds to t what o observed, as if t had observed o's lines after its
// own: for each key, the later last valid use, the earlier first valid use
// since the rotation, the later max expiry and use without expiry, the
// union of the subjects, the lifetimes of both streams. It is how the shards of one scan combine (jwtwatch scan); the
// rotations and the loaded keys stay t's.
func (t *Tracker) Merge(o *Tracker) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, os := range o.keys {
		s, ok := t.keys[id]
		if !ok {
			s = &keyState{subjects: newSketch()}
			t.keys[id] = s
		}
		if err := s.subjects.Merge(os.subjects); err != nil {
			return fmt.Errorf("subject sketch of %s key %s: %w", id.family, id.fingerprint, err)
		}
		s.lastValid, s.maxExpiry = later(s.lastValid, os.lastValid), later(s.maxExpiry, os.maxExpiry)
		if os.currentSince.After(s.currentSince) {
			s.currentSince, s.currentSinceExact = os.currentSince, os.currentSinceExact
		}
		if !os.firstValid.IsZero() && (s.firstValid.IsZero() || os.firstValid.Before(s.firstValid)) {
			s.firstValid = os.firstValid
		}
		s.withoutExpiry = later(s.withoutExpiry, os.withoutExpiry)
		s.unloaded = later(s.unloaded, os.unloaded)
		s.lifetimes.follow(os.lifetimes)
	}
	return nil
}

// Snapshot returns the state to persist.
func (t *Tracker) Snapshot() (Snapshot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(t.now())
	snap := Snapshot{Rotations: map[keys.Family]Rotation{}, History: slices.Clone(t.history)}
	for f, r := range t.rotations {
		snap.Rotations[f] = *r
	}
	for id, s := range t.keys {
		b, err := s.subjects.MarshalBinary()
		if err != nil {
			return Snapshot{}, fmt.Errorf("subject sketch of %s key %s: %w", id.family, id.fingerprint, err)
		}
		snap.Keys = append(snap.Keys, KeyState{
			Family: id.family, Fingerprint: id.fingerprint, LastValid: s.lastValid, MaxExpiry: s.maxExpiry, Subjects: b,
			CurrentSince: s.currentSince, CurrentSinceExact: s.currentSinceExact, Replaced: s.replaced, FirstValid: s.firstValid, Unloaded: s.unloaded,
			LongestLifetime: s.lifetimes.longest, LongestToken: s.lifetimes.longestToken, SecondLifetime: s.lifetimes.second,
			WithoutExpiry: s.withoutExpiry,
		})
	}
	slices.SortFunc(snap.Keys, func(a, b KeyState) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	return snap, nil
}
