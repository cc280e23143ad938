package rotation

import (
	"slices"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// TestNextKey: a valid token of the next key is signed_with_next_key, and
// never issued_after_rotation or no_issued_at, which belong to old keys.
func TestNextKey(t *testing.T) {
	c := &clock{t: t0}
	cur, prev := testKeys()
	next := keys.New(keys.Access, keys.Next, []byte("next-secret-next-secret-next-sec"))
	tr := rotated(t, c, cur, prev, next)
	c.t = t0.Add(time.Hour)
	expired := valid(next, "a", t0.Add(30*time.Minute), t0.Add(40*time.Minute))
	expired.Result = verify.Expired
	noIat := valid(next, "b", time.Time{}, t0.Add(2*time.Hour))
	tests := []struct {
		name string
		in   verify.Verdict
		want []Reason
	}{
		{"valid, issued after the rotation", valid(next, "a", t0.Add(30*time.Minute), t0.Add(2*time.Hour)), []Reason{SignedWithNextKey}},
		{"valid, no iat", noIat, []Reason{LifetimeExceedsPolicy, SignedWithNextKey}},
		{"expired", expired, nil},
		{"previous key, issued after the rotation", valid(prev, "c", t0.Add(30*time.Minute), t0.Add(2*time.Hour)), []Reason{IssuedAfterRotation}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tr.Record(tt.in, c.t); !slices.Equal(got, tt.want) {
				t.Errorf("Observe = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSeveralPreviousKeys: a JWK Set may hold several previous keys; the
// role's series take them together and the previous keys are removable only
// when none of them is needed.
func TestSeveralPreviousKeys(t *testing.T) {
	c := &clock{t: t0}
	cur, prev := testKeys()
	prev2 := keys.New(keys.Access, keys.Previous, []byte("older-secret-older-secret-older-"))
	tr := rotated(t, c, cur, prev, prev2)
	tr.Watching(t0.Add(-48 * time.Hour))
	tr.Record(valid(prev, "a", t0.Add(-time.Hour), t0.Add(time.Hour)), t0.Add(time.Minute))
	tr.Record(valid(prev2, "b", t0.Add(-time.Hour), t0.Add(3*time.Hour)), t0.Add(2*time.Minute))
	tr.Record(valid(prev2, "a", t0.Add(-time.Hour), t0.Add(2*time.Hour)), t0.Add(3*time.Minute))
	rep := tr.Report()
	if len(rep.Keys) != 3 {
		t.Fatalf("%d key reports, want 3", len(rep.Keys))
	}
	var role *KeyReport
	for i := range rep.Roles {
		if rep.Roles[i].Key.Role == keys.Previous {
			role = &rep.Roles[i]
		}
	}
	if role == nil || len(rep.Roles) != 2 {
		t.Fatalf("roles %+v, want current and previous", rep.Roles)
	}
	if !role.LastValid.Equal(t0.Add(3*time.Minute)) || !role.MaxExpiry.Equal(t0.Add(3*time.Hour)) || role.Subjects != 2 {
		t.Errorf("previous role: last valid %v, max expiry %v, subjects %d; want the later of both keys and 2 subjects", role.LastValid, role.MaxExpiry, role.Subjects)
	}
	f := rep.Families[0]
	if f.Previous == nil || !f.Previous.MaxExpiry.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("family's previous keys: %+v", f.Previous)
	}
	// Past the first key's last token, not the second's: still blocked.
	c.t = t0.Add(8*24*time.Hour + 2*time.Minute + 30*time.Second)
	tr.Record(valid(prev2, "b", t0.Add(8*24*time.Hour), t0.Add(8*24*time.Hour+time.Hour)), t0.Add(8*24*time.Hour))
	if f := tr.Report().Families[0]; f.Removable || !slices.Contains(f.Blocking, BlockRecentUse) {
		t.Errorf("removable %v blocking %v, want recent_use from the second previous key", f.Removable, f.Blocking)
	}
}
