package rotation

import (
	"slices"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// TestKeyStateSurvivesAbsence checks that a key briefly not loaded — a
// secret file updated before its sibling, a restart with the wrong previous
// key — keeps its evidence while it is away, in the state file too, and has
// it back when its fingerprint returns; and that the state of a key gone for
// longer than the retention (the longer of the minimum window and the quiet
// period) is forgotten.
func TestKeyStateSurvivesAbsence(t *testing.T) {
	cur, prev := testKeys()
	wrong := keys.New(keys.Access, keys.Previous, []byte("a-wrong-previous-secret-wrong-pre"))
	const day = 24 * time.Hour
	lastUse := t0.Add(2 * time.Hour)
	tests := []struct {
		name string
		away time.Duration // how long prev is not loaded
		// viaStateFile restarts from a snapshot taken while prev is away.
		viaStateFile bool
		want         time.Time // prev's last valid use once it is back
	}{
		{name: "reload without it", away: time.Second, want: lastUse},
		{name: "a day without it", away: day, want: lastUse},
		{name: "restart with the wrong previous key", away: time.Hour, viaStateFile: true, want: lastUse},
		{name: "gone longer than the retention", away: 8 * day, want: time.Time{}},
		{name: "gone longer than the retention, via the state file", away: 8 * day, viaStateFile: true, want: time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t0}
			tr := rotated(t, c, cur, prev)
			tr.Record(valid(prev, "carol", t0.Add(-time.Hour), t0.Add(3*day)), lastUse)
			c.t = t0.Add(3 * time.Hour)
			tr.SetKeys([]keys.Key{cur, wrong})
			if tt.viaStateFile {
				snap, err := tr.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(snap.Keys, func(k KeyState) bool { return k.Fingerprint == prev.Fingerprint }) {
					t.Fatal("the state file lacks the key that is away")
				}
				if tr, err = New(policy(), c.now, snap); err != nil {
					t.Fatal(err)
				}
				tr.SetKeys([]keys.Key{cur, wrong})
			}
			c.t = c.t.Add(tt.away)
			tr.SetKeys([]keys.Key{cur, prev})
			rep := tr.Report()
			k := rep.Keys[1]
			if k.Key.Fingerprint != prev.Fingerprint {
				t.Fatalf("second key = %s", k.Key)
			}
			if !k.LastValid.Equal(tt.want) {
				t.Errorf("last valid = %v, want %v", k.LastValid, tt.want)
			}
			wantExp, wantSubjects := t0.Add(3*day), uint64(1)
			if tt.want.IsZero() {
				wantExp, wantSubjects = time.Time{}, 0
			}
			if !k.MaxExpiry.Equal(wantExp) || k.Subjects != wantSubjects {
				t.Errorf("max expiry %v, subjects %d; want %v, %d", k.MaxExpiry, k.Subjects, wantExp, wantSubjects)
			}
			if got := rep.Families[0].Started; !got.Equal(t0) {
				t.Errorf("rotation start = %v, want %v (unchanged)", got, t0)
			}
		})
	}
}

// TestCurrentKeyUpdatedFirst follows a rotation whose current secret file is
// updated before the previous one: for a moment the old previous key stays
// and the old current key is not loaded at all. When it comes back as the
// previous key its evidence is intact; its subjects count from the new
// rotation.
func TestCurrentKeyUpdatedFirst(t *testing.T) {
	cur, old := testKeys()
	next := keys.New(keys.Access, keys.Current, []byte("next-secret-next-secret-next-sec"))
	demoted := keys.New(keys.Access, keys.Previous, cur.Secret())
	c := &clock{t0}
	tr, _ := New(policy(), c.now, Snapshot{})
	tr.SetKeys([]keys.Key{cur, old})
	use := t0.Add(time.Hour)
	tr.Record(valid(cur, "alice", use, use.Add(24*time.Hour)), use)
	c.t = t0.Add(90 * 24 * time.Hour)
	if !tr.SetKeys([]keys.Key{next, old}) {
		t.Error("the new current key started no rotation")
	}
	c.t = c.t.Add(100 * time.Millisecond)
	if tr.SetKeys([]keys.Key{next, demoted}) {
		t.Error("the previous key's update started another rotation")
	}
	rep := tr.Report()
	if got := rep.Families[0].Started; !got.Equal(t0.Add(90 * 24 * time.Hour)) {
		t.Errorf("rotation start = %v", got)
	}
	k := rep.Keys[1]
	if !k.LastValid.Equal(use) || !k.MaxExpiry.Equal(use.Add(24*time.Hour)) || k.Subjects != 0 {
		t.Errorf("demoted key: last valid %v, max expiry %v, subjects %d; want %v, %v, 0", k.LastValid, k.MaxExpiry, k.Subjects, use, use.Add(24*time.Hour))
	}
}
