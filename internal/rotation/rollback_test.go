package rotation

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// access returns the access key with that secret, in a role.
func access(secret string, r keys.Role) keys.Key {
	return keys.New(keys.Access, r, []byte(secret+"-0123456789abcdef0123456789"))
}

// history renders the tracker's saved changes as "kind from→to at" lines,
// with fingerprints replaced by the secret names.
func history(t *testing.T, tr *Tracker, names map[string]string) []string {
	t.Helper()
	snap, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range snap.History {
		out = append(out, fmt.Sprintf("%s %s %s→%s +%s", c.Family, c.Kind, names[c.From], names[c.To], c.At.Sub(t0)))
	}
	return out
}

// TestRotationHistory records every change of a family's current key with
// its kind: a rollback returns to the key the last rotation replaced, and
// rotating again after it ("Retry rotation after fixing issues") is a
// rotation. The last HistorySize changes per family survive a restart, and
// a rollback is recognised across it.
func TestRotationHistory(t *testing.T) {
	k0, k1, k2 := access("k0", keys.Current), access("k1", keys.Current), access("k2", keys.Current)
	names := map[string]string{k0.Fingerprint: "k0", k1.Fingerprint: "k1", k2.Fingerprint: "k2"}
	c := &clock{t0}
	tr := rotated(t, c, k0) // first seen: no change
	step := func(k keys.Key) {
		c.t = c.t.Add(time.Hour)
		tr.SetKeys([]keys.Key{k})
	}
	step(k1)
	step(k0) // rollback
	step(k1) // the retry: a rotation
	step(k1) // no change
	want := []string{"access rotation k0→k1 +1h0m0s", "access rollback k1→k0 +2h0m0s", "access rotation k0→k1 +3h0m0s"}
	if got := history(t, tr, names); !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
	if got := tr.Report().Changes; !slices.Equal(got, []ChangeCount{
		{keys.Access, KindRotation, 2}, {keys.Access, KindRollback, 1}, {keys.Refresh, KindRotation, 0}, {keys.Refresh, KindRollback, 0},
	}) {
		t.Errorf("counts %v", got)
	}

	// A restart: the history comes back, the counts (a process's) start at 0.
	snap, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = New(policy(), c.now, snap); err != nil {
		t.Fatal(err)
	}
	step(k0) // the rotation to k1 undone after the restart
	if got := history(t, tr, names); len(got) == 0 || got[len(got)-1] != "access rollback k1→k0 +5h0m0s" {
		t.Errorf("after a restart: history %q", got)
	}
	if got := tr.Report().Changes; len(got) != 4 || got[1].Count != 1 {
		t.Errorf("rollbacks counted after the restart: %v", got)
	}
	for _, k := range []keys.Key{k2, k0, k2, k1, k2} {
		step(k)
	}
	if got := history(t, tr, names); len(got) != HistorySize || got[HistorySize-1] != "access rollback k1→k2 +10h0m0s" {
		t.Errorf("history %q: want the last %d", got, HistorySize)
	}
}

// TestRollbackSwapsBack follows the Rollback Procedure of a dual-key
// rotation: k0 → k1 (k0 previous), then "Revert to previous secret": k0
// current again, k1 previous. Tokens of the restored key are not
// suspicious; tokens of the rolled-back key issued before the rollback
// (while it was current) are not either, those issued after it are
// issued_after_rotation; the removal decision is about the rolled-back key
// and counts its window from the rollback.
func TestRollbackSwapsBack(t *testing.T) {
	k0, k1 := access("k0", keys.Current), access("k1", keys.Current)
	k0prev, k1prev := access("k0", keys.Previous), access("k1", keys.Previous)
	older := access("older", keys.Previous)
	c := &clock{t0}
	tr := rotated(t, c, k0, older)
	tr.Watching(t0.Add(-30 * day))
	t1, t2 := t0.Add(10*day), t0.Add(12*day)
	c.t = t1
	tr.SetKeys([]keys.Key{k1, k0prev})
	c.t = t2
	tr.SetKeys([]keys.Key{k0, k1prev})

	tests := []struct {
		name string
		v    verify.Verdict
		at   time.Time
		want []Reason
	}{
		{"restored key, issued after the rollback", valid(k0, "u", t2.Add(time.Hour), t2.Add(2*time.Hour)), t2.Add(time.Hour), nil},
		{"restored key, issued before the rotation", valid(k0, "u", t1.Add(-time.Hour), t2.Add(2*time.Hour)), t2.Add(time.Hour), nil},
		{"rolled-back key, issued while it was current", valid(k1prev, "u", t1.Add(time.Hour), t2.Add(20*time.Hour)), t2.Add(time.Hour), nil},
		{"rolled-back key, issued after the rollback", valid(k1prev, "u", t2.Add(time.Hour), t2.Add(2*time.Hour)), t2.Add(time.Hour), []Reason{IssuedAfterRotation}},
		{"rolled-back key without iat after the rollback", valid(k1prev, "u", time.Time{}, t2.Add(2*time.Hour)), t2.Add(time.Hour), []Reason{NoIssuedAt}},
	}
	p := policy()
	p.MaxLifetime = 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, _ := tr.Snapshot()
			tr, _ := New(p, c.now, snap)
			tr.SetKeys([]keys.Key{k0, k1prev})
			if got := tr.Record(tt.v, tt.at); !slices.Equal(got, tt.want) {
				t.Errorf("reasons %v, want %v", got, tt.want)
			}
		})
	}

	fr, prev := family(t, tr)
	if !fr.Started.Equal(t0) {
		t.Errorf("rotation start %v, want the restored key's own, %v (its age counts from then)", fr.Started, t0)
	}
	if prev.Key.Fingerprint != k1.Fingerprint || !prev.Replaced.Equal(t2) {
		t.Errorf("previous key %s replaced %v: want the rolled-back key, replaced at the rollback", prev.Key, prev.Replaced)
	}
	c.t = t2.Add(6 * day)
	if fr, _ := family(t, tr); !slices.Contains(fr.Blocking, BlockMinWindow) {
		t.Errorf("six days after the rollback: blocking %v, want min_window (the window counts from the rollback)", fr.Blocking)
	}
}

// TestRollbackOfImmediateRotation: k0 → k1 with k0 kept only as retired
// (the immediate rotation), then k1 → k0. The rolled-back key is retired
// now: its tokens issued after the rollback are issued_after_rotation.
func TestRollbackOfImmediateRotation(t *testing.T) {
	k0, k1 := access("k0", keys.Current), access("k1", keys.Current)
	c := &clock{t0}
	tr := rotated(t, c, k0)
	t1, t2 := t0.Add(time.Hour), t0.Add(3*time.Hour)
	c.t = t1
	tr.SetKeys([]keys.Key{k1, access("k0", keys.Retired)})
	c.t = t2
	k1retired := access("k1", keys.Retired)
	tr.SetKeys([]keys.Key{k0, k1retired})
	if got := tr.Record(valid(k1retired, "u", t1.Add(time.Minute), t1.Add(time.Hour)), t2.Add(time.Minute)); len(got) != 0 {
		t.Errorf("rolled-back key, issued while current: %v", got)
	}
	if got := tr.Record(valid(k1retired, "u", t2.Add(time.Hour), t2.Add(2*time.Hour)), t2.Add(time.Hour)); !slices.Equal(got, []Reason{IssuedAfterRotation}) {
		t.Errorf("rolled-back key, issued after the rollback: %v", got)
	}
	if got := tr.Record(valid(k0, "u", t2.Add(time.Hour), t2.Add(2*time.Hour)), t2.Add(time.Hour)); len(got) != 0 {
		t.Errorf("restored key: %v", got)
	}
}

// TestAnotherPreviousKeyKeepsItsDate: a mistaken deploy of a new current key
// is rolled back while the previous key stays configured. That previous key
// stopped signing when the key rolled back to became current, not at the
// rollback: its tokens issued between the two are still suspicious, and its
// removal window still counts from then. That holds for a previous key this
// replica saw replaced and for one it found configured at its first start.
func TestAnotherPreviousKeyKeepsItsDate(t *testing.T) {
	for _, seenReplaced := range []bool{true, false} {
		t.Run(fmt.Sprintf("seen replaced %t", seenReplaced), func(t *testing.T) {
			cur, typo := access("cur", keys.Current), access("typo", keys.Current)
			prev := access("prev", keys.Previous)
			c := &clock{t0.Add(-day)}
			tr := rotated(t, c, access("prev", keys.Current))
			if !seenReplaced {
				tr = rotated(t, c, cur, prev)
			}
			tr.Watching(t0.Add(-30 * day))
			c.t = t0
			tr.SetKeys([]keys.Key{cur, prev})
			c.t = t0.Add(3 * day)
			tr.SetKeys([]keys.Key{typo, prev})
			c.t = c.t.Add(time.Hour)
			tr.SetKeys([]keys.Key{cur, prev})

			since := t0
			if !seenReplaced {
				since = t0.Add(-day) // the first start: the key was previous already
			}
			if got := tr.Record(valid(prev, "u", since.Add(day+time.Hour), since.Add(day+2*time.Hour)), c.t); !slices.Equal(got, []Reason{IssuedAfterRotation}) {
				t.Errorf("previous key, issued after it was replaced: %v", got)
			}
			fr, pk := family(t, tr)
			if !pk.Replaced.Equal(since) {
				t.Errorf("previous key replaced %v, want %v", pk.Replaced, since)
			}
			c.t = since.Add(7*day + time.Minute)
			if fr, _ = family(t, tr); slices.Contains(fr.Blocking, BlockMinWindow) {
				t.Errorf("a week after the previous key was replaced: blocking %v (the window restarted at the rollback)", fr.Blocking)
			}
		})
	}
}

// TestRetiredSubjectsFallToZero counts the sessions still on a removed key:
// distinct subjects presenting a token a retired key of the family verifies
// (valid or not) within the re-login window, since the rotation. It falls
// to zero once they stop, and starts again at the next rotation.
func TestRetiredSubjectsFallToZero(t *testing.T) {
	k0, k1 := access("k0", keys.Current), access("k1", keys.Current)
	gone := access("k0", keys.Retired)
	c := &clock{t0}
	p := policy()
	p.ReloginWindow = 10 * time.Minute
	tr, _ := New(p, c.now, Snapshot{})
	tr.SetKeys([]keys.Key{k0})
	c.t = t0.Add(time.Hour)
	tr.SetKeys([]keys.Key{k1, gone})
	stale := func(sub string, at time.Duration) {
		v := valid(gone, sub, t0.Add(-time.Minute), t0.Add(3*time.Hour))
		if sub == "expired" {
			v.Result = verify.Expired
		}
		tr.Record(v, c.t.Add(at))
	}
	retiredSubjects := func() uint64 {
		for _, f := range tr.Report().Families {
			if f.Family == keys.Access {
				return f.RetiredSubjects
			}
		}
		t.Fatal("no access family")
		return 0
	}
	for i := range 50 {
		stale(fmt.Sprintf("user-%d", i%20), time.Duration(i)*time.Second)
	}
	stale("expired", time.Minute)
	stale("", time.Minute) // no subject: not counted
	tr.Record(valid(k1, "user-1", c.t, c.t.Add(time.Hour)), c.t.Add(time.Minute))
	c.t = c.t.Add(2 * time.Minute)
	if got := retiredSubjects(); got != 21 {
		t.Errorf("sessions on the removed key = %d, want 21", got)
	}
	stale("late", 3*time.Minute)
	c.t = c.t.Add(9 * time.Minute) // the first wave leaves the window
	if got := retiredSubjects(); got != 1 {
		t.Errorf("sessions on the removed key = %d, want 1 (late)", got)
	}
	c.t = c.t.Add(11 * time.Minute)
	if got := retiredSubjects(); got != 0 {
		t.Errorf("sessions on the removed key = %d, want 0 once everyone logged in again", got)
	}
	stale("again", 0)
	c.t = c.t.Add(time.Second)
	tr.SetKeys([]keys.Key{access("k2", keys.Current), access("k1", keys.Retired)})
	if got := retiredSubjects(); got != 0 {
		t.Errorf("after the next rotation: %d, want 0 (counted since the rotation)", got)
	}
}

// TestRemoved: a retired key is removed from the gateway from the moment it
// was replaced as current (for one never seen current, when the key that
// replaced it became current, at the latest). A line logged before, read only after the reload because
// the log lags, is neither a removed key's token nor a session still on it.
func TestRemoved(t *testing.T) {
	k0, k1 := access("k0", keys.Current), access("k1", keys.Current)
	gone, configured := access("k0", keys.Retired), access("older", keys.Retired)
	c := &clock{t0}
	p := policy()
	p.ReloginWindow = time.Hour
	tr, _ := New(p, c.now, Snapshot{})
	tr.SetKeys([]keys.Key{k0})
	replaced := t0.Add(time.Hour)
	c.t = replaced
	tr.SetKeys([]keys.Key{k1, gone, configured})
	tests := []struct {
		name string
		v    verify.Verdict
		at   time.Time
		want bool
	}{
		{"replaced key, line before the reload", valid(gone, "u", t0, replaced.Add(time.Hour)), replaced.Add(-time.Second), false},
		{"replaced key, line at the reload", valid(gone, "u", t0, replaced.Add(time.Hour)), replaced, true},
		{"replaced key, line after", valid(gone, "u", t0, replaced.Add(time.Hour)), replaced.Add(time.Minute), true},
		// A key configured as retired, never seen current here, was replaced
		// when the key it gave way to, k0, became current, at the latest.
		{"configured retired key, line before k0 became current", valid(configured, "u", t0.Add(-time.Hour), replaced), t0.Add(-time.Minute), false},
		{"configured retired key, line after", valid(configured, "u", t0.Add(-time.Hour), replaced), t0.Add(time.Minute), true},
		{"the current key is never removed", valid(k1, "u", replaced, replaced.Add(time.Hour)), replaced.Add(time.Minute), false},
	}
	for _, tt := range tests {
		if got, _ := tr.Removed(tt.v, tt.at); got != tt.want {
			t.Errorf("%s: removed %t, want %t", tt.name, got, tt.want)
		}
	}
	// Within the clock skew (a minute) of the replacement either verdict of
	// the gateway is right: it switched keys about then.
	for _, d := range []time.Duration{-2 * time.Minute, -time.Minute, -time.Second, 0, 59 * time.Second, time.Minute} {
		_, sure := tr.Removed(valid(gone, "u", t0, replaced.Add(time.Hour)), replaced.Add(d))
		if want := d < -time.Minute || d >= time.Minute; sure != want {
			t.Errorf("line %s from the replacement: sure %t, want %t", d, sure, want)
		}
	}
	// Only the lines after the removal are sessions still on the removed key.
	tr.Record(valid(gone, "late-read", t0, replaced.Add(time.Hour)), replaced.Add(-time.Second))
	tr.Record(valid(gone, "stale", t0, replaced.Add(time.Hour)), replaced.Add(time.Second))
	c.t = replaced.Add(time.Minute)
	for _, f := range tr.Report().Families {
		if f.Family == keys.Access && f.RetiredSubjects != 1 {
			t.Errorf("sessions on the removed key = %d, want 1 (stale, not late-read)", f.RetiredSubjects)
		}
	}
}
