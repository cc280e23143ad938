package rotation

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// clock is an injectable now that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func policy() Policy {
	return Policy{MinWindow: 7 * 24 * time.Hour, QuietPeriod: 24 * time.Hour, MaxLifetime: 24 * time.Hour, Skew: time.Minute}
}

func testKeys() (cur, prev keys.Key) {
	return keys.New(keys.Access, keys.Current, []byte("current-secret-current-secret-00")),
		keys.New(keys.Access, keys.Previous, []byte("previous-secret-previous-secret0"))
}

// rotated returns a fresh tracker on clock c whose keys were loaded at c's time.
func rotated(t testing.TB, c *clock, loaded ...keys.Key) *Tracker {
	t.Helper()
	tr, err := New(policy(), c.now, Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	tr.SetKeys(loaded)
	return tr
}

func retired() keys.Key {
	return keys.New(keys.Access, keys.Retired, []byte("retired-secret-retired-secret-00"))
}

func valid(k keys.Key, sub string, iat, exp time.Time) verify.Verdict {
	return verify.Verdict{Family: k.Family, Key: k.Role, Fingerprint: k.Fingerprint, Result: verify.Valid,
		Claims: verify.Claims{Subject: sub, IssuedAt: iat, ExpiresAt: exp}}
}

func TestRemovable(t *testing.T) {
	cur, prev := testKeys()
	const day = 24 * time.Hour
	type seen struct{ at, exp time.Duration } // a valid previous-key token, relative to the rotation
	tests := []struct {
		name string
		in   []seen
		// watching is when the first log line was read, relative to the
		// rotation; zero means two days before it.
		watching time.Duration
		never    bool          // no log line was read
		at       time.Duration // when the decision is read
		want     []string      // blocking reasons
	}{
		// --policy.max-lifetime (24h) bounds the tokens nobody saw.
		{name: "just rotated", at: time.Hour, want: []string{BlockMinWindow, BlockUnseenTokens}},
		{name: "window passed, never used", at: 8 * day, want: nil},
		{name: "window passed, used recently", in: []seen{{7*day + 12*time.Hour, 7*day + 13*time.Hour}}, at: 8 * day, want: []string{BlockRecentUse}},
		{name: "window passed, quiet, expired", in: []seen{{5 * day, 5*day + time.Hour}}, at: 8 * day, want: nil},
		{name: "quiet but a long-lived token is unexpired", in: []seen{{6 * day, 9 * day}}, at: 8 * day, want: []string{BlockUnexpiredTokens}},
		{name: "everything blocks", in: []seen{{time.Hour, 2 * time.Hour}}, at: time.Hour + time.Minute, want: []string{BlockMinWindow, BlockRecentUse, BlockUnexpiredTokens, BlockUnseenTokens}},
		{name: "no line read", never: true, at: 8 * day, want: []string{BlockInsufficientEvidence}},
		{name: "log read for less than the quiet period", watching: 7*day + time.Hour, at: 8 * day, want: []string{BlockInsufficientEvidence}},
		{name: "log read for the quiet period", watching: 7 * day, at: 8 * day, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t0}
			tr := rotated(t, c, cur, prev)
			switch {
			case tt.never:
			case tt.watching == 0:
				tr.Watching(t0.Add(-2 * day))
			default:
				tr.Watching(t0.Add(tt.watching))
			}
			for _, s := range tt.in {
				tr.Record(valid(prev, "u", t0.Add(-time.Hour), t0.Add(s.exp)), t0.Add(s.at))
			}
			c.t = t0.Add(tt.at)
			rep := tr.Report()
			if len(rep.Families) != 1 {
				t.Fatalf("families = %+v", rep.Families)
			}
			fr := rep.Families[0]
			if fmt.Sprint(fr.Blocking) != fmt.Sprint(tt.want) || fr.Removable != (len(tt.want) == 0) {
				t.Errorf("blocking = %v removable %t, want %v", fr.Blocking, fr.Removable, tt.want)
			}
		})
	}
}

// TestWatchingKeepsTheFirstLine checks that only the first line marks when
// the replica began watching its log.
func TestWatchingKeepsTheFirstLine(t *testing.T) {
	cur, prev := testKeys()
	c := &clock{t0.Add(30 * time.Hour)}
	tr, _ := New(Policy{QuietPeriod: 24 * time.Hour, SkipUnseen: true}, c.now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, prev})
	tr.Watching(t0)
	tr.Watching(t0.Add(10 * time.Hour))
	if fr := tr.Report().Families[0]; !fr.Removable {
		t.Errorf("blocking = %v after 30h of a 24h quiet period", fr.Blocking)
	}
}

func TestNoPreviousKeyIsRemovable(t *testing.T) {
	cur, _ := testKeys()
	tr, _ := New(policy(), (&clock{t0}).now, Snapshot{})
	tr.SetKeys([]keys.Key{cur})
	if fr := tr.Report().Families[0]; !fr.Removable {
		t.Errorf("with no previous key loaded, removable = false (%v)", fr.Blocking)
	}
}

func TestSuspicious(t *testing.T) {
	cur, prev := testKeys()
	tests := []struct {
		name string
		in   verify.Verdict
		at   time.Time
		want []Reason
	}{
		{"current key after rotation is normal", valid(cur, "u", t0.Add(time.Hour), t0.Add(2*time.Hour)), t0.Add(time.Hour), nil},
		{"previous key issued before rotation", valid(prev, "u", t0.Add(-time.Hour), t0.Add(time.Hour)), t0.Add(time.Minute), nil},
		{"previous key issued after rotation", valid(prev, "u", t0.Add(5*time.Minute), t0.Add(time.Hour)), t0.Add(6 * time.Minute), []Reason{IssuedAfterRotation}},
		{"expired but minted after rotation", func() verify.Verdict {
			v := valid(prev, "u", t0.Add(5*time.Minute), t0.Add(6*time.Minute))
			v.Result = verify.Expired
			return v
		}(), t0.Add(time.Hour), []Reason{IssuedAfterRotation}},
		{"lifetime over policy", valid(cur, "u", t0, t0.Add(48*time.Hour)), t0.Add(time.Minute), []Reason{LifetimeExceedsPolicy}},
		{"issued in the future", valid(cur, "u", t0.Add(time.Hour), t0.Add(2*time.Hour)), t0, []Reason{IssuedInFuture}},
		{"within skew", valid(cur, "u", t0.Add(30*time.Second), t0.Add(2*time.Hour)), t0, nil},
		{"forgery is not suspicious, it is forged", verify.Verdict{Family: keys.Unknown, Key: keys.None, Result: verify.BadSignature}, t0, nil},

		// issued_after_rotation allows the clock skew, and needs a line after the start.
		{"previous key issued within the skew after rotation", valid(prev, "u", t0.Add(10*time.Second), t0.Add(time.Hour)), t0.Add(20 * time.Second), nil},
		{"previous key issued at the skew after rotation", valid(prev, "u", t0.Add(time.Minute), t0.Add(time.Hour)), t0.Add(2 * time.Minute), nil},
		{"previous key issued beyond the skew after rotation", valid(prev, "u", t0.Add(time.Minute+time.Second), t0.Add(time.Hour)), t0.Add(2 * time.Minute), []Reason{IssuedAfterRotation}},
		{"iat after the start on a line before it", valid(prev, "u", t0.Add(10*time.Second), t0.Add(time.Hour)), t0.Add(-20 * time.Second), nil},
		{"iat well after the start on a line before it is in the future", valid(prev, "u", t0.Add(2*time.Minute), t0.Add(time.Hour)), t0.Add(-20 * time.Second), []Reason{IssuedInFuture}},
		{"retired key issued after rotation", valid(retired(), "u", t0.Add(time.Hour), t0.Add(2*time.Hour)), t0.Add(time.Hour), []Reason{IssuedAfterRotation}},

		// No iat: the rightful issuer (jsonwebtoken) always sets it.
		{"previous key without iat after rotation", valid(prev, "u", time.Time{}, t0.Add(time.Hour)), t0.Add(time.Minute), []Reason{NoIssuedAt, LifetimeExceedsPolicy}},
		{"expired previous key without iat after rotation", func() verify.Verdict {
			v := valid(prev, "u", time.Time{}, t0.Add(-time.Hour))
			v.Result = verify.Expired
			return v
		}(), t0.Add(time.Minute), []Reason{NoIssuedAt, LifetimeExceedsPolicy}},
		{"retired key without iat after rotation", valid(retired(), "u", time.Time{}, t0.Add(time.Hour)), t0.Add(time.Minute), []Reason{NoIssuedAt, LifetimeExceedsPolicy}},
		{"previous key without iat before rotation", valid(prev, "u", time.Time{}, t0.Add(time.Hour)), t0.Add(-time.Minute), []Reason{LifetimeExceedsPolicy}},
		{"current key without iat", valid(cur, "u", time.Time{}, t0.Add(time.Hour)), t0.Add(time.Minute), []Reason{LifetimeExceedsPolicy}},

		// --policy.max-lifetime cannot be met without iat or exp.
		{"lifetime within policy", valid(cur, "u", t0, t0.Add(24*time.Hour)), t0.Add(time.Minute), nil},
		{"lifetime without exp", valid(cur, "u", t0, time.Time{}), t0.Add(time.Minute), []Reason{LifetimeExceedsPolicy}},
		{"previous key without iat or exp", valid(prev, "u", time.Time{}, time.Time{}), t0.Add(time.Minute), []Reason{NoIssuedAt, LifetimeExceedsPolicy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := New(policy(), (&clock{t0}).now, Snapshot{})
			tr.SetKeys([]keys.Key{cur, prev, retired()})
			before, _ := tr.Snapshot()
			// Suspicions is read-only: the same reasons, nothing recorded.
			if got := tr.Suspicions(tt.in, tt.at); !slices.Equal(got, tt.want) {
				t.Errorf("Suspicions = %v, want %v", got, tt.want)
			}
			if after, _ := tr.Snapshot(); !reflect.DeepEqual(after, before) {
				t.Errorf("Suspicions changed the state:\n%+v\nwas\n%+v", after, before)
			}
			// Rules, without a tracker (inspect), say the same.
			if got := (Rules{Policy: policy(), Starts: tr.Starts()}).Suspicions(tt.in, tt.at); !slices.Equal(got, tt.want) {
				t.Errorf("Rules.Suspicions = %v, want %v", got, tt.want)
			}
			if got := tr.Record(tt.in, tt.at); !slices.Equal(got, tt.want) {
				t.Errorf("Record = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	cur, prev := testKeys()
	c := &clock{t0}
	p := policy()
	p.MaxLifetime = 0 // a token without exp is not suspicious
	tr, _ := New(p, c.now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, prev})
	for i := range 1000 {
		tr.Record(valid(prev, fmt.Sprintf("user-%d", i%300), t0.Add(-time.Hour), t0.Add(3*time.Hour)), t0.Add(time.Duration(i)*time.Second))
	}
	tr.Record(valid(prev, "kiosk", t0.Add(-time.Hour), time.Time{}), t0.Add(time.Hour)) // no exp
	snap, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// A later start: the rotation start and per-key state survive.
	c.t = t0.Add(48 * time.Hour)
	back, err := New(p, c.now, snap)
	if err != nil {
		t.Fatal(err)
	}
	back.SetKeys([]keys.Key{cur, prev})
	before, after := tr.Report(), back.Report()
	if after.Families[0].Started != t0 {
		t.Errorf("rotation start = %v, want %v", after.Families[0].Started, t0)
	}
	for i := range before.Keys {
		b, a := before.Keys[i], after.Keys[i]
		if !a.LastValid.Equal(b.LastValid) || !a.MaxExpiry.Equal(b.MaxExpiry) || a.Subjects != b.Subjects || a.Longest != b.Longest || !a.WithoutExpiry.Equal(b.WithoutExpiry) {
			t.Errorf("key %s: restored %+v, want %+v", b.Key, a, b)
		}
	}
	if k := after.Keys[1]; k.Longest != 4*time.Hour || !k.WithoutExpiry.Equal(t0.Add(time.Hour)) {
		t.Errorf("restored longest lifetime %s, token without exp seen %s; want 4h, %s", k.Longest, k.WithoutExpiry, t0.Add(time.Hour))
	}
	if s := after.Keys[1].Subjects; s < 290 || s > 310 {
		t.Errorf("distinct subjects estimate = %d, want about 300", s)
	}
}

// TestSparseSketchRestored loads a state file written when sketches were
// kept sparse: the estimate survives and the sketch keeps counting.
func TestSparseSketchRestored(t *testing.T) {
	_, prev := testKeys()
	sparse := hyperloglog.New14()
	for i := range 300 {
		sparse.Insert([]byte(fmt.Sprintf("user-%d", i)))
	}
	b, err := sparse.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	snap := Snapshot{Keys: []KeyState{{Family: prev.Family, Fingerprint: prev.Fingerprint, Subjects: b}}}
	tr, err := New(policy(), (&clock{t0}).now, snap)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetKeys([]keys.Key{prev})
	for i := 300; i < 400; i++ {
		tr.Record(valid(prev, fmt.Sprintf("user-%d", i), t0.Add(-time.Hour), t0.Add(3*time.Hour)), t0)
	}
	if s := tr.Report().Keys[0].Subjects; s < 390 || s > 410 {
		t.Errorf("distinct subjects after restoring a sparse sketch = %d, want about 400", s)
	}
}

func TestNewRotationResetsSubjects(t *testing.T) {
	cur, prev := testKeys()
	c := &clock{t0}
	tr, _ := New(policy(), c.now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, prev})
	tr.Record(valid(cur, "a", t0, t0.Add(time.Hour)), t0)
	// Next rotation: the current key becomes previous, a new one current.
	c.t = t0.Add(90 * 24 * time.Hour)
	next := keys.New(keys.Access, keys.Current, []byte("next-secret-next-secret-next-sec"))
	demoted := keys.New(keys.Access, keys.Previous, cur.Secret())
	tr.SetKeys([]keys.Key{next, demoted})
	rep := tr.Report()
	if rep.Families[0].Started != c.t {
		t.Errorf("rotation start = %v, want %v", rep.Families[0].Started, c.t)
	}
	if k := rep.Keys[1]; k.Subjects != 0 || k.LastValid != t0 {
		t.Errorf("demoted key: subjects %d (want 0 since rotation), last valid %v (want kept)", k.Subjects, k.LastValid)
	}
}
