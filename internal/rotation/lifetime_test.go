package rotation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

const day = 24 * time.Hour

// unseenPolicy is the default removal policy: a week's window, a day's
// quiet period, a minute of skew, no --policy.max-lifetime, waiting for
// tokens nobody saw.
func unseenPolicy() Policy {
	return Policy{MinWindow: 7 * day, QuietPeriod: day, Skew: time.Minute}
}

func refreshKeys() (cur, prev keys.Key) {
	return keys.New(keys.Refresh, keys.Current, []byte("refresh-current-refresh-current-0")),
		keys.New(keys.Refresh, keys.Previous, []byte("refresh-previous-refresh-previous"))
}

// family returns the report of the tracker's only family with a previous
// key, with that key's report.
func family(t *testing.T, tr *Tracker) (FamilyReport, KeyReport) {
	t.Helper()
	rep := tr.Report()
	for _, f := range rep.Families {
		for _, k := range rep.Keys {
			if k.Key.Family == f.Family && k.Key.Role == keys.Previous {
				return f, k
			}
		}
	}
	t.Fatalf("no family with a previous key in %+v", rep)
	return FamilyReport{}, KeyReport{}
}

// verdictAt is one step of a scenario: at is the line time relative to
// the rotation start, the clock is moved there before the token is seen.
type verdictAt struct {
	at time.Duration
	v  verify.Verdict
}

// decision is what the tracker must say at a time relative to the rotation start.
type decision struct {
	at       time.Duration
	blocking []string
}

// play starts a tracker at the rotation start t0, whose replica has read
// its log since two days before, feeds it the verdicts and checks each
// decision in time order; a restart (a new tracker from a snapshot, as
// from the state file) happens at restartAt when it is not zero.
func play(t *testing.T, p Policy, loaded []keys.Key, seen []verdictAt, want []decision, restartAt time.Duration) *Tracker {
	t.Helper()
	c := &clock{t0}
	tr, err := New(p, c.now, Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	tr.SetKeys(loaded)
	tr.Watching(t0.Add(-2 * day))
	type event struct {
		at   time.Duration
		seen *verdictAt
		want *decision
	}
	var events []event
	for i := range seen {
		events = append(events, event{at: seen[i].at, seen: &seen[i]})
	}
	for i := range want {
		events = append(events, event{at: want[i].at, want: &want[i]})
	}
	if restartAt != 0 {
		events = append(events, event{at: restartAt})
	}
	slices.SortStableFunc(events, func(a, b event) int { return int(a.at - b.at) })
	for _, e := range events {
		c.t = t0.Add(e.at)
		switch {
		case e.seen != nil:
			tr.Record(e.seen.v, c.t)
		case e.want != nil:
			f, _ := family(t, tr)
			if !slices.Equal(f.Blocking, e.want.blocking) || f.Removable != (len(e.want.blocking) == 0) {
				t.Errorf("at rotation + %s: blocking %v, removable %t; want %v", e.at, f.Blocking, f.Removable, e.want.blocking)
			}
		default:
			snap, err := tr.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if tr, err = New(p, c.now, snap); err != nil {
				t.Fatal(err)
			}
			tr.SetKeys(loaded)
			tr.Watching(c.t) // the restarted replica reads its log again
		}
	}
	return tr
}

// TestUnseenShortLivedAccessTokens: with 15-minute access tokens, every
// token the previous key signed before the rotation has expired 16 minutes
// after it (a minute of skew), long before the minimum window ends: the new
// reason clears on its own and removal waits only for the window.
func TestUnseenShortLivedAccessTokens(t *testing.T) {
	cur, prev := testKeys()
	var seen []verdictAt
	for i := range 40 {
		at := time.Duration(i-20) * 10 * time.Minute // from 200 minutes before the rotation
		k := prev
		if at >= 0 {
			k = cur
		}
		seen = append(seen, verdictAt{at, valid(k, fmt.Sprintf("u%d", i%7), t0.Add(at-time.Minute), t0.Add(at+14*time.Minute))})
	}
	tr := play(t, unseenPolicy(), []keys.Key{cur, prev}, seen, []decision{
		{at: 10 * time.Minute, blocking: []string{BlockMinWindow, BlockRecentUse, BlockUnseenTokens}},
		{at: 17 * time.Minute, blocking: []string{BlockMinWindow, BlockRecentUse}},
		{at: 2 * day, blocking: []string{BlockMinWindow}},
		{at: 7 * day, blocking: nil},
	}, 0)
	f, _ := family(t, tr)
	if f.Lifetime != 15*time.Minute {
		t.Errorf("longest lifetime %s, want 15m", f.Lifetime)
	}
	if want := t0.Add(16 * time.Minute); !f.AllExpired.Equal(want) {
		t.Errorf("all expired at %s, want %s", f.AllExpired, want)
	}
	p := unseenPolicy()
	if got := p.Clears(BlockUnseenTokens, f, KeyReport{}); !got.Equal(t0.Add(16 * time.Minute)) {
		t.Errorf("unseen_tokens_may_be_valid clears at %s", got)
	}
}

// TestUnseenThirtyDayRefreshTokens: refresh tokens live 30 days. No token at
// all is seen after day 2, and every old-key token seen has expired by then,
// yet a user who logged in the evening before the rotation and comes back
// in three weeks still holds a valid previous-key token: removal waits 30
// days (and the minute of skew) after the rotation.
func TestUnseenThirtyDayRefreshTokens(t *testing.T) {
	cur, prev := refreshKeys()
	var seen []verdictAt
	for i := range 12 {
		// Old-key tokens issued 29 days before the rotation, used on day 0 and 1.
		at := time.Duration(i) * 4 * time.Hour
		iat := t0.Add(-29*day + time.Duration(i)*time.Hour)
		seen = append(seen, verdictAt{at, valid(prev, fmt.Sprintf("u%d", i), iat, iat.Add(30*day))})
		// New tokens from the new key, on day 1 and 2.
		at += day
		seen = append(seen, verdictAt{at, valid(cur, fmt.Sprintf("u%d", i), t0.Add(at), t0.Add(at+30*day))})
	}
	want := []decision{
		{at: 3 * day, blocking: []string{BlockMinWindow, BlockUnseenTokens}},
		{at: 8 * day, blocking: []string{BlockUnseenTokens}},
		{at: 30 * day, blocking: []string{BlockUnseenTokens}},
		{at: 30*day + time.Minute, blocking: nil},
	}
	t.Run("one run", func(t *testing.T) {
		tr := play(t, unseenPolicy(), []keys.Key{cur, prev}, seen, want, 0)
		if f, _ := family(t, tr); f.Lifetime != 30*day || !f.AllExpired.Equal(t0.Add(30*day+time.Minute)) {
			t.Errorf("lifetime %s, all expired %s; want 30d, rotation + 30d 1m", f.Lifetime, f.AllExpired)
		}
	})
	t.Run("restart on day 3", func(t *testing.T) {
		// The restarted replica reads its log from day 3 (a day before its
		// vote counts) and never sees a refresh token: the lifetime comes
		// from the state file.
		restarted := append([]decision{{at: 3*day + time.Hour, blocking: []string{BlockMinWindow, BlockInsufficientEvidence, BlockUnseenTokens}}}, want[1:]...)
		tr := play(t, unseenPolicy(), []keys.Key{cur, prev}, seen, restarted, 3*day)
		if f, _ := family(t, tr); f.Lifetime != 30*day {
			t.Errorf("lifetime after the restart %s, want 30d", f.Lifetime)
		}
	})
	t.Run("not waiting for unseen tokens", func(t *testing.T) {
		p := unseenPolicy()
		p.SkipUnseen = true
		tr := play(t, p, []keys.Key{cur, prev}, seen, []decision{
			{at: 3 * day, blocking: []string{BlockMinWindow}},
			{at: 8 * day, blocking: nil},
		}, 0)
		// The moment is reported all the same.
		if f, _ := family(t, tr); !f.AllExpired.Equal(t0.Add(30*day + time.Minute)) {
			t.Errorf("all expired %s, want rotation + 30d 1m", f.AllExpired)
		}
	})
}

// TestTokenWithoutExpiry: a previous-key token without exp, minted by the
// auth service, never expires: removing the key logs its holder out
// whenever that is, so the moment is "never", with a reason of its own that
// does not clear by itself and that the unseen switch does not turn off.
// A token without exp that someone else minted (suspicious) does not count.
func TestTokenWithoutExpiry(t *testing.T) {
	cur, prev := testKeys()
	var seen []verdictAt
	for i := range 10 {
		at := time.Duration(i) * time.Hour
		seen = append(seen, verdictAt{at, valid(cur, fmt.Sprintf("u%d", i), t0.Add(at), t0.Add(at+time.Hour))})
	}
	forever := valid(prev, "kiosk", t0.Add(-40*day), time.Time{})
	minted := valid(prev, "mallory", t0.Add(2*day), time.Time{}) // issued_after_rotation
	tests := []struct {
		name string
		v    verify.Verdict
		skip bool
		want []string
	}{
		{name: "the auth service's token", v: forever, want: []string{BlockTokensWithoutExpiry}},
		{name: "the auth service's token, not waiting for unseen tokens", v: forever, skip: true, want: []string{BlockTokensWithoutExpiry}},
		{name: "a token minted after the rotation", v: minted, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unseenPolicy()
			p.SkipUnseen = tt.skip
			tr := play(t, p, []keys.Key{cur, prev}, append(slices.Clone(seen), verdictAt{3 * day, tt.v}), []decision{
				{at: 100 * day, blocking: tt.want},
			}, 0)
			f, prevRep := family(t, tr)
			never := len(tt.want) > 0
			if f.AllExpired.Equal(Never) != never {
				t.Errorf("all expired %s, want never: %t", f.AllExpired, never)
			}
			if got := p.Clears(BlockTokensWithoutExpiry, f, prevRep); got.Equal(Never) != never {
				t.Errorf("tokens_without_expiry clears %s, want never: %t", got, never)
			}
			if f.Lifetime != time.Hour {
				t.Errorf("longest lifetime %s, want 1h: a token without exp has none", f.Lifetime)
			}
		})
	}
}

// TestMaxLifetimePolicyBounds: with --policy.max-lifetime, the operator
// vouches that no token lives longer: the moment is the rotation start plus
// that bound whatever was seen, and a token beyond it (suspicious) raises
// neither the reported lifetime nor the moment.
func TestMaxLifetimePolicyBounds(t *testing.T) {
	cur, prev := testKeys()
	p := unseenPolicy()
	p.MaxLifetime = 10 * day
	seen := []verdictAt{
		{time.Hour, valid(cur, "a", t0.Add(time.Hour), t0.Add(2*time.Hour))},
		{2 * time.Hour, valid(cur, "b", t0.Add(2*time.Hour), t0.Add(3*time.Hour))},
		// 30 days: lifetime_exceeds_policy, twice.
		{3 * time.Hour, valid(prev, "c", t0.Add(-time.Hour), t0.Add(29*day))},
		{4 * time.Hour, valid(prev, "d", t0.Add(-2*time.Hour), t0.Add(29*day))},
	}
	tr := play(t, p, []keys.Key{cur, prev}, seen, []decision{
		{at: 8 * day, blocking: []string{BlockUnexpiredTokens, BlockUnseenTokens}},
		{at: 10*day + time.Minute, blocking: []string{BlockUnexpiredTokens}},
	}, 0)
	f, _ := family(t, tr)
	if f.Lifetime != time.Hour {
		t.Errorf("longest lifetime %s, want 1h (the 30-day tokens exceed the policy)", f.Lifetime)
	}
	if want := t0.Add(10*day + time.Minute); !f.AllExpired.Equal(want) {
		t.Errorf("all expired %s, want %s", f.AllExpired, want)
	}
}

// TestLifetimeOutliers: one token with a far exp is not taken for how long
// the family's tokens live until a second, different token (another sub or
// iat) lives as long; the same token seen again is still one token.
func TestLifetimeOutliers(t *testing.T) {
	cur, prev := testKeys()
	hour := func(sub string, iat time.Time) verify.Verdict { return valid(cur, sub, iat, iat.Add(time.Hour)) }
	decade := func(k keys.Key, sub string, iat time.Time) verify.Verdict {
		return valid(k, sub, iat, iat.Add(3650*day))
	}
	tests := []struct {
		name string
		in   []verify.Verdict
		want time.Duration
	}{
		{name: "nothing seen", want: 0},
		{name: "one token", in: []verify.Verdict{hour("a", t0)}, want: time.Hour},
		{name: "one outlier alone", in: []verify.Verdict{decade(cur, "svc", t0)}, want: 3650 * day},
		{name: "one outlier among hour-long tokens", in: []verify.Verdict{hour("a", t0), decade(cur, "svc", t0), hour("b", t0)}, want: time.Hour},
		{name: "the outlier seen again", in: []verify.Verdict{hour("a", t0), decade(cur, "svc", t0), decade(cur, "svc", t0)}, want: time.Hour},
		{name: "two outliers, other subjects", in: []verify.Verdict{hour("a", t0), decade(cur, "svc", t0), decade(cur, "batch", t0)}, want: 3650 * day},
		{name: "two outliers, same subject, other iat", in: []verify.Verdict{hour("a", t0), decade(cur, "svc", t0), decade(cur, "svc", t0.Add(time.Second))}, want: 3650 * day},
		{name: "two outliers from two keys", in: []verify.Verdict{hour("a", t0), decade(cur, "svc", t0), decade(prev, "svc", t0.Add(-day))}, want: 3650 * day},
		{name: "the longest confirmed, not the outlier", in: []verify.Verdict{hour("a", t0), valid(cur, "b", t0, t0.Add(2*time.Hour)), valid(cur, "c", t0, t0.Add(2*time.Hour)), decade(cur, "svc", t0)}, want: 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t0.Add(time.Minute)}
			tr := rotated(t, c, cur, prev)
			tr.policy = unseenPolicy()
			for _, v := range tt.in {
				tr.Record(v, c.t)
			}
			f, _ := family(t, tr)
			if f.Lifetime != tt.want {
				t.Errorf("longest lifetime %s, want %s", f.Lifetime, tt.want)
			}
			if tt.want == 0 && !f.AllExpired.IsZero() {
				t.Errorf("all expired %s with no lifetime known, want unknown", f.AllExpired)
			}
		})
	}
}

// TestUnseenLifetimeUnknown: before any token with iat and exp was seen, and
// without --policy.max-lifetime, how long tokens live is unknown: the
// previous key stays, and when that clears cannot be told.
func TestUnseenLifetimeUnknown(t *testing.T) {
	cur, prev := testKeys()
	tr := play(t, unseenPolicy(), []keys.Key{cur, prev}, nil, []decision{
		{at: 30 * day, blocking: []string{BlockUnseenTokens}},
	}, 0)
	f, k := family(t, tr)
	if c := unseenPolicy().Clears(BlockUnseenTokens, f, k); !c.IsZero() {
		t.Errorf("clears at %s, want unknown", c)
	}
	withPolicy := unseenPolicy()
	withPolicy.MaxLifetime = day
	play(t, withPolicy, []keys.Key{cur, prev}, nil, []decision{
		{at: 8 * day, blocking: nil},
	}, 0)
}

// TestLifetimeOf agrees with time.Time.Sub, saturation included, over the
// dates a token can carry (years 1 to 10000) and fractions of a second.
func TestLifetimeOf(t *testing.T) {
	dates := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		t0, t0.Add(time.Nanosecond), t0.Add(999 * time.Millisecond), t0.Add(-time.Nanosecond),
		t0.Add(30 * day), t0.Add(-30*day + 500*time.Millisecond),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC),
		time.Date(1677, 9, 21, 0, 12, 43, 145224192, time.UTC), time.Date(1677, 9, 21, 0, 12, 43, 145224191, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	// Around the limits of a Duration (about 292 years), from 1970 on.
	const maxSeconds = int64(math.MaxInt64 / time.Second)
	for _, sec := range []int64{maxSeconds - 1, maxSeconds, maxSeconds + 1, maxSeconds + 2} {
		for _, nsec := range []int64{-999999999, -1, 0, 1, 854775807, 854775808, 999999999} {
			dates = append(dates, time.Unix(sec, nsec).UTC(), time.Unix(-sec, nsec).UTC())
		}
	}
	for _, iat := range dates {
		for _, exp := range dates {
			if got, want := lifetimeOf(iat, exp), exp.Sub(iat); got != want {
				t.Errorf("lifetimeOf(%s, %s) = %d, want %d", iat, exp, got, want)
			}
		}
	}
}

// TestMergeIsOnePass splits streams of tokens in two, observes each part
// with a tracker of its own, merges the second into the first and finds
// what one tracker observing the whole stream reports: lifetimes (with their
// outliers), last use, latest expiry and subjects, per key and per family.
func TestMergeIsOnePass(t *testing.T) {
	cur, prev := testKeys()
	r := rand.New(rand.NewPCG(3, 4))
	lifetimes := []time.Duration{time.Hour, 2 * time.Hour, 3650 * day, 0}
	for trial := range 300 {
		var stream []verify.Verdict
		var ats []time.Time
		for i := range 1 + r.IntN(12) {
			k := []keys.Key{cur, prev}[r.IntN(2)]
			iat := t0.Add(time.Duration(r.IntN(3)) * time.Second)
			v := valid(k, fmt.Sprint("u", r.IntN(4)), iat, iat.Add(lifetimes[r.IntN(len(lifetimes))]))
			if r.IntN(6) == 0 {
				v.Claims.ExpiresAt = time.Time{}
			}
			stream = append(stream, v)
			ats = append(ats, t0.Add(time.Duration(i)*time.Minute))
		}
		cut := r.IntN(len(stream) + 1)
		c := &clock{t0.Add(time.Hour)}
		whole, a, b := rotated(t, c, cur, prev), rotated(t, c, cur, prev), rotated(t, c, cur, prev)
		for i, v := range stream {
			whole.Record(v, ats[i])
			if i < cut {
				a.Record(v, ats[i])
			} else {
				b.Record(v, ats[i])
			}
		}
		if err := a.Merge(b); err != nil {
			t.Fatal(err)
		}
		for _, k := range []keys.Key{cur, prev} {
			got, want := a.Key(k), whole.Key(k)
			if got.LastValid != want.LastValid || got.MaxExpiry != want.MaxExpiry || got.Subjects != want.Subjects ||
				got.Longest != want.Longest || got.WithoutExpiry != want.WithoutExpiry {
				t.Fatalf("trial %d, cut %d, %s key: merged %+v, one pass %+v", trial, cut, k.Role, got, want)
			}
		}
		if got, want := a.Lifetime(cur.Family), whole.Lifetime(cur.Family); got != want {
			t.Fatalf("trial %d, cut %d: family lifetime merged %v, one pass %v", trial, cut, got, want)
		}
	}
}
