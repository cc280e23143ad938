package keys

import (
	"fmt"
	"slices"
	"testing"
)

// TestKeepReplaced keeps the current key a reload replaces, when no
// previous key is configured for its family, in memory as retired: the
// immediate rotation's stale sessions are then recognised.
func TestKeepReplaced(t *testing.T) {
	k := func(f Family, r Role, name string) Key {
		key := New(f, r, []byte(name+"-0123456789abcdef0123456789abcdef"))
		key.Source = string(f) + "/" + string(r)
		key.env = true
		return key
	}
	mem := func(f Family, name string) Key {
		key := k(f, Retired, name)
		key.Remembered = true
		return key
	}
	a0, a1, a2 := k(Access, Current, "a0"), k(Access, Current, "a1"), k(Access, Current, "a2")
	r0, r1 := k(Refresh, Current, "r0"), k(Refresh, Current, "r1")
	names := map[string]string{}
	for _, n := range []string{"a0", "a1", "a2", "r0", "r1", "x"} {
		names[Fingerprint([]byte(n+"-0123456789abcdef0123456789abcdef"))] = n
	}
	tests := []struct {
		name        string
		inUse, next []Key
		want        []string // family/role/name, "*" when remembered
	}{
		{"immediate rotation", []Key{a0}, []Key{a1}, []string{"access/current/a1", "access/retired/a0*"}},
		{"dual-key rotation: the previous key is configured", []Key{a0}, []Key{a1, k(Access, Previous, "a0")}, []string{"access/current/a1", "access/previous/a0"}},
		{"no change", []Key{a0}, []Key{a0}, []string{"access/current/a0"}},
		{"a retired key configured for the family too", []Key{a0}, []Key{a1, k(Access, Retired, "x")}, []string{"access/current/a1", "access/retired/x", "access/retired/a0*"}},
		{"remembered across reloads", []Key{a1, mem(Access, "a0")}, []Key{a1}, []string{"access/current/a1", "access/retired/a0*"}},
		{"a second immediate rotation remembers the newer key", []Key{a1, mem(Access, "a0")}, []Key{a2}, []string{"access/current/a2", "access/retired/a1*"}},
		{"rollback: the rolled-back key is remembered", []Key{a1, mem(Access, "a0")}, []Key{a0}, []string{"access/current/a0", "access/retired/a1*"}},
		{"a dual-key rotation keeps the remembered key", []Key{a1, mem(Access, "a0")}, []Key{a2, k(Access, Previous, "a1")},
			[]string{"access/current/a2", "access/previous/a1", "access/retired/a0*"}},
		{"the remembered key configured now", []Key{a1, mem(Access, "a0")}, []Key{a1, k(Access, Retired, "a0")}, []string{"access/current/a1", "access/retired/a0"}},
		{"the remembered key configured as previous", []Key{a1, mem(Access, "a0")}, []Key{a1, k(Access, Previous, "a0")}, []string{"access/current/a1", "access/previous/a0"}},
		{"each family on its own", []Key{a0, r0}, []Key{a1, r0}, []string{"access/current/a1", "refresh/current/r0", "access/retired/a0*"}},
		{"both families", []Key{a0, r0}, []Key{a1, r1}, []string{"access/current/a1", "refresh/current/r1", "access/retired/a0*", "refresh/retired/r0*"}},
		{"a family no longer configured", []Key{a0, r0}, []Key{a0}, []string{"access/current/a0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := Set{Keys: slices.Clone(tt.next), Issuers: map[Family]string{}}
			got := KeepReplaced(Set{Keys: tt.inUse}, next)
			var out []string
			for _, key := range got.Keys {
				s := fmt.Sprintf("%s/%s/%s", key.Family, key.Role, names[key.Fingerprint])
				if key.Remembered {
					s += "*"
					if string(key.Secret()) != names[key.Fingerprint]+"-0123456789abcdef0123456789abcdef" {
						t.Errorf("%s: the remembered key lost its secret", s)
					}
				}
				out = append(out, s)
			}
			if !slices.Equal(out, tt.want) {
				t.Errorf("keys %q, want %q", out, tt.want)
			}
			if len(next.Keys) != len(tt.next) {
				t.Error("KeepReplaced changed the set it was given")
			}
		})
	}
}

// TestKeepReplacedPublicKey: a public key replaced without a previous one
// (a JWK Set's current key dropped at once) is remembered with its
// algorithm and kid, so its tokens still verify as the retired key's.
func TestKeepReplacedPublicKey(t *testing.T) {
	pair := func() Key {
		priv, err := GeneratePair("EdDSA")
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewPublic(Access, Current, "EdDSA", priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	old, cur := pair(), pair()
	old.KID = "2026-11"
	got := KeepReplaced(Set{Keys: []Key{old}}, Set{Keys: []Key{cur}})
	if len(got.Keys) != 2 {
		t.Fatalf("keys %v", got.Keys)
	}
	k := got.Keys[1]
	if !k.Remembered || k.Role != Retired || k.Fingerprint != old.Fingerprint || k.Alg != "EdDSA" || k.KID != "2026-11" || k.Public() == nil {
		t.Errorf("remembered %v (alg %s, kid %q, public %v)", k, k.Alg, k.KID, k.Public() != nil)
	}
}
