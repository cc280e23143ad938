package verify

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// TestCheapestFirst: with no kid every key of the algorithm is tried,
// the cheapest to verify first (a 2048-bit RSA key before a 3072-bit one),
// whatever their order in the set.
func TestCheapestFirst(t *testing.T) {
	var ks []keys.Key
	for _, bits := range []int{3072, 2048} {
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		k, err := keys.NewPublic(keys.Access, keys.Current, "RS256", &priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) > 0 {
			k.Role = keys.Previous
		}
		ks = append(ks, k)
	}
	v := New(keys.Set{Keys: ks}, Options{})
	if len(v.publics) != 2 {
		t.Fatalf("%d public keys", len(v.publics))
	}
	if got := v.publics[0].pub.(*rsa.PublicKey).N.BitLen(); got != 2048 {
		t.Errorf("first tried: a %d-bit key, want the 2048-bit one", got)
	}
	if v.publics[0].cost >= v.publics[1].cost {
		t.Errorf("costs %d, %d", v.publics[0].cost, v.publics[1].cost)
	}
}

// TestAlgIndex: every algorithm jwtwatch knows, and nothing else, by its
// exact name.
func TestAlgIndex(t *testing.T) {
	seen := map[int]bool{}
	for _, a := range keys.Algorithms {
		i := algIndex([]byte(a))
		if i < 0 || seen[i] {
			t.Errorf("algIndex(%q) = %d", a, i)
		}
		seen[i] = true
	}
	for _, a := range []string{"", "none", "hs256", "HS257", "HS2566", "EdDSa", "EDDSA", "ES521", "RS25", "Ed448", "PSEUD"} {
		if i := algIndex([]byte(a)); i >= 0 {
			t.Errorf("algIndex(%q) = %d, want -1", a, i)
		}
	}
	if len(seen) != numAlgs {
		t.Errorf("%d algorithms, want %d", len(seen), numAlgs)
	}
}
