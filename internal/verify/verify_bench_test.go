package verify

import (
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// BenchmarkCheckRole covers the key roles BenchmarkCheck leaves out: the
// cost grows with the keys tried before the one that verifies (one HMAC
// each), and a forgery tries them all.
func BenchmarkCheckRole(b *testing.B) {
	fx := newFixture(b)
	hs := hdr("HS256")
	refresh := claims(map[string]any{"iss": refreshIss})
	benches := []struct {
		name string
		in   string
		want keys.Role
	}{
		{"access_current", sign(b, fx.ac, hs, claims(nil)), keys.Current},
		{"refresh_current", sign(b, fx.rc, hs, refresh), keys.Current},
		{"access_previous", sign(b, fx.ap, hs, claims(nil)), keys.Previous},
		{"refresh_previous", sign(b, fx.rp, hs, refresh), keys.Previous},
		{"access_retired", sign(b, fx.ar, hs, claims(nil)), keys.Retired},
		{"refresh_retired", sign(b, fx.rr, hs, refresh), keys.Retired},
		{"none", sign(b, fx.attacker, hs, claims(nil)), keys.None},
	}
	v := New(fx.set, Options{})
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			if got := v.Check(bb.in, now).Key; got != bb.want {
				b.Fatalf("Key = %s, want %s", got, bb.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.Check(bb.in, now)
			}
		})
	}
}

// BenchmarkJudge is what a verdict cache hit costs on top of the lookup.
func BenchmarkJudge(b *testing.B) {
	fx := newFixture(b)
	v := New(fx.set, Options{})
	vd := v.Check(sign(b, fx.rr, hdr("HS256"), claims(map[string]any{"iss": refreshIss})), now)
	if vd.Result != Valid {
		b.Fatalf("Result = %s, want valid", vd.Result)
	}
	b.ReportAllocs()
	for b.Loop() {
		v.Judge(vd, now)
	}
}
