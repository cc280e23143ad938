package cache

import (
	"strconv"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// BenchmarkCheck compares a cache hit with the uncached Verifier per result
// kind and key role, and shows the cost of a miss that evicts.
func BenchmarkCheck(b *testing.B) {
	s := secrets{ac: secret(b), ap: secret(b), ar: secret(b), rc: secret(b), rp: secret(b), rr: secret(b), ac2: secret(b), an: secret(b), attacker: secret(b)}
	v := verify.New(s.before(), verify.Options{})
	exp := t0.Add(time.Hour).Unix()
	benches := []struct {
		name string
		in   string
		want verify.Result
	}{
		{"valid/access_current", sign(b, s.ac, hs256, map[string]any{"sub": "u", "iss": accessIss, "exp": exp}), verify.Valid},
		{"valid/access_previous", sign(b, s.ap, hs256, map[string]any{"sub": "u", "iss": accessIss, "exp": exp}), verify.Valid},
		{"valid/refresh_retired", sign(b, s.rr, hs256, map[string]any{"sub": "u", "iss": refreshIss, "exp": exp}), verify.Valid},
		{"expired", sign(b, s.ac, hs256, map[string]any{"sub": "u", "iss": accessIss, "exp": t0.Unix() - 1}), verify.Expired},
		{"wrong_issuer", sign(b, s.ac, hs256, map[string]any{"sub": "u", "iss": "x", "exp": exp}), verify.WrongIssuer},
		{"bad_signature", sign(b, s.attacker, hs256, map[string]any{"sub": "u", "exp": exp}), verify.BadSignature},
		{"alg_rejected", sign(b, s.ac, `{"alg":"none"}`, map[string]any{"sub": "u"}), verify.AlgRejected},
		{"malformed", sign(b, s.ac, hs256, map[string]any{"exp": "x"}), verify.Malformed},
	}
	for _, bb := range benches {
		b.Run("uncached/"+bb.name, func(b *testing.B) {
			if got := v.Check(bb.in, t0).Result; got != bb.want {
				b.Fatalf("Result = %s, want %s", got, bb.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.Check(bb.in, t0)
			}
		})
		b.Run("hit/"+bb.name, func(b *testing.B) {
			c := New(DefaultSize)
			c.Check(v, bb.in, t0)
			if got, hit := c.Check(v, bb.in, t0); !hit || got.Result != bb.want {
				b.Fatalf("hit %v, Result = %s, want a hit and %s", hit, got.Result, bb.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.Check(v, bb.in, t0)
			}
		})
	}
	b.Run("miss_evicting", func(b *testing.B) {
		toks := make([]string, 2*DefaultSize)
		for i := range toks {
			toks[i] = sign(b, s.ac, hs256, map[string]any{"sub": strconv.Itoa(i), "iss": accessIss, "exp": exp})
		}
		c := New(DefaultSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Check(v, toks[i%len(toks)], t0)
			i++
		}
	})
}
