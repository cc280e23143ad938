package rotation

import (
	"slices"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// --rotation.grace: the gateways learn the new key minutes before the auth
// service restarts, which meanwhile mints old-key tokens. Those issued within
// the grace after the rotation start (plus the skew) are issued_during_grace,
// shown but not paged; after it, issued_after_rotation.
func TestGrace(t *testing.T) {
	cur, prev := testKeys()
	p := policy()
	p.Grace = 10 * time.Minute
	tests := []struct {
		name  string
		iat   time.Duration // after the rotation start
		grace time.Duration
		want  []Reason
	}{
		{"within the skew", 30 * time.Second, 10 * time.Minute, nil},
		{"after the skew, within the grace", 2 * time.Minute, 10 * time.Minute, []Reason{IssuedDuringGrace}},
		{"at the end of grace plus skew", 11 * time.Minute, 10 * time.Minute, []Reason{IssuedDuringGrace}},
		{"after grace plus skew", 11*time.Minute + time.Second, 10 * time.Minute, []Reason{IssuedAfterRotation}},
		{"no grace", 2 * time.Minute, 0, []Reason{IssuedAfterRotation}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy()
			p.Grace = tt.grace
			tr, _ := New(p, (&clock{t0}).now, Snapshot{})
			tr.SetKeys([]keys.Key{cur, prev})
			v := valid(prev, "u", t0.Add(tt.iat), t0.Add(time.Hour))
			if got := tr.Record(v, t0.Add(tt.iat+time.Second)); !slices.Equal(got, tt.want) {
				t.Errorf("reasons = %v, want %v", got, tt.want)
			}
		})
	}
	// The current key's tokens are never suspicious for their iat.
	tr, _ := New(p, (&clock{t0}).now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, prev})
	if got := tr.Record(valid(cur, "u", t0.Add(2*time.Minute), t0.Add(time.Hour)), t0.Add(3*time.Minute)); len(got) != 0 {
		t.Errorf("a current-key token: %v", got)
	}
}

// When a valid token signed by each key was first seen since the rotation
// started: "Test authentication" after "Restart services", the auth service
// must sign with the new key within minutes.
func TestFirstValid(t *testing.T) {
	cur, prev := testKeys()
	c := &clock{t0}
	tr := rotated(t, c, cur, prev)
	first := func(k keys.Key) time.Time {
		for _, kr := range tr.Report().Keys {
			if kr.Key.Fingerprint == k.Fingerprint {
				return kr.FirstValid
			}
		}
		t.Fatalf("key %s not reported", k)
		return time.Time{}
	}
	// Before the rotation's start (a backlog line): not since the rotation.
	tr.Record(valid(prev, "u", t0.Add(-2*time.Hour), t0.Add(time.Hour)), t0.Add(-time.Minute))
	if got := first(prev); !got.IsZero() {
		t.Errorf("a line before the rotation counted: %s", got)
	}
	tr.Record(valid(prev, "u", t0.Add(-2*time.Hour), t0.Add(time.Hour)), t0.Add(time.Minute))
	tr.Record(valid(prev, "u", t0.Add(-2*time.Hour), t0.Add(time.Hour)), t0.Add(2*time.Minute))
	expired := valid(cur, "u", t0, t0.Add(time.Second))
	expired.Result = verify.Expired
	tr.Record(expired, t0.Add(3*time.Minute))
	if got := first(cur); !got.IsZero() {
		t.Errorf("an expired token counted as the first valid one: %s", got)
	}
	tr.Record(valid(cur, "u", t0.Add(4*time.Minute), t0.Add(time.Hour)), t0.Add(5*time.Minute))
	tr.Record(valid(cur, "u", t0.Add(4*time.Minute), t0.Add(time.Hour)), t0.Add(6*time.Minute))
	if got, want := first(prev), t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("previous key first valid %s, want %s", got, want)
	}
	if got, want := first(cur), t0.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("current key first valid %s, want %s", got, want)
	}
	// Survives a restart.
	snap, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = New(policy(), c.now, snap); err != nil {
		t.Fatal(err)
	}
	tr.SetKeys([]keys.Key{cur, prev})
	if got, want := first(cur), t0.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("after a restart, current key first valid %s, want %s", got, want)
	}
	// The next rotation starts the count again for every key of the family.
	c.t = t0.Add(90 * 24 * time.Hour)
	next := keys.New(keys.Access, keys.Current, []byte("next-secret-next-secret-next-sec"))
	demoted := keys.New(keys.Access, keys.Previous, cur.Secret())
	tr.SetKeys([]keys.Key{next, demoted})
	if got := first(demoted); !got.IsZero() {
		t.Errorf("the demoted key keeps its first valid use of the last rotation: %s", got)
	}
}

// How long the current key has been current: known exactly when this
// replica saw it become current (across restarts with the state file), only
// as "at least since" when it was current before jwtwatch first saw it.
func TestCurrentSince(t *testing.T) {
	cur, prev := testKeys()
	c := &clock{t0}
	tr, _ := New(policy(), c.now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, prev})
	check := func(what string, tr *Tracker, wantAt time.Time, wantExact bool) {
		t.Helper()
		fr := tr.Report().Families[0]
		if !fr.Started.Equal(wantAt) || fr.Exact != wantExact {
			t.Errorf("%s: started %s exact %t, want %s %t", what, fr.Started, fr.Exact, wantAt, wantExact)
		}
	}
	check("first start", tr, t0, false)

	// A restart keeps both.
	c.t = t0.Add(24 * time.Hour)
	snap, _ := tr.Snapshot()
	tr, _ = New(policy(), c.now, snap)
	tr.SetKeys([]keys.Key{cur, prev})
	check("restart", tr, t0, false)

	// The next rotation is seen as it happens.
	rotatedAt := t0.Add(80 * 24 * time.Hour)
	c.t = rotatedAt
	next := keys.New(keys.Access, keys.Current, []byte("next-secret-next-secret-next-sec"))
	demoted := keys.New(keys.Access, keys.Previous, cur.Secret())
	tr.SetKeys([]keys.Key{next, demoted})
	check("a rotation seen", tr, rotatedAt, true)
	c.t = rotatedAt.Add(time.Hour)
	snap, _ = tr.Snapshot()
	tr, _ = New(policy(), c.now, snap)
	tr.SetKeys([]keys.Key{next, demoted})
	check("restart after the rotation", tr, rotatedAt, true)

	// A current key that returns (a rollback within the retention) gets its
	// own start and exactness back.
	c.t = rotatedAt.Add(2 * time.Hour)
	tr.SetKeys([]keys.Key{keys.New(keys.Access, keys.Current, cur.Secret())})
	check("the earlier key returns", tr, t0, false)

	// A state file written before exactness was kept says nothing about it:
	// at least since.
	old, _ := New(policy(), c.now, Snapshot{Rotations: map[keys.Family]Rotation{keys.Access: {CurrentFingerprint: next.Fingerprint, Started: rotatedAt}}})
	old.SetKeys([]keys.Key{next})
	check("an older state file", old, rotatedAt, false)
}

// The wait for the tokens nobody saw includes the grace: the auth service
// may legitimately sign with the old key until the grace (plus the skew)
// after the rotation start, and those tokens live the family's lifetime.
func TestGraceInTheWaitForUnseen(t *testing.T) {
	f := FamilyReport{Started: t0, Lifetime: time.Hour}
	for _, tt := range []struct {
		name  string
		grace time.Duration
		want  time.Time
	}{
		{"no grace", 0, t0.Add(time.Minute + time.Hour)},
		{"the default grace", DefaultGrace, t0.Add(DefaultGrace + time.Minute + time.Hour)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := policy()
			p.MaxLifetime, p.Grace = 0, tt.grace
			if got := p.Expired(f); !got.Equal(tt.want) {
				t.Errorf("Expired = %s, want %s", got, tt.want)
			}
		})
	}
	// A token issued within the grace is the auth service's own: its
	// lifetime counts for the family like an unsuspicious one.
	cur, prev := testKeys()
	p := policy()
	p.MaxLifetime, p.Grace = 0, 10*time.Minute
	tr, _ := New(p, (&clock{t0}).now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, prev})
	if got := tr.Record(valid(prev, "late", t0.Add(5*time.Minute), t0.Add(5*time.Minute+3*time.Hour)), t0.Add(6*time.Minute)); !slices.Equal(got, []Reason{IssuedDuringGrace}) {
		t.Fatalf("reasons %v", got)
	}
	if got := tr.Lifetime(keys.Access); got != 3*time.Hour {
		t.Errorf("lifetime %s after a grace token of 3h, want 3h", got)
	}
}
