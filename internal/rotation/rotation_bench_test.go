package rotation

import (
	"fmt"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// BenchmarkObserve is the tracker's share of a line on the hot path: valid
// tokens of both keys from a few hundred subjects, as mid-rotation traffic.
func BenchmarkObserve(b *testing.B) {
	cur, prev := testKeys()
	c := &clock{t0}
	tr := rotated(b, c, cur, prev)
	var vs []verify.Verdict
	for i := range 512 {
		k := cur
		if i%8 == 0 {
			k = prev
		}
		iat := t0.Add(-time.Duration(i) * time.Minute)
		vs = append(vs, valid(k, fmt.Sprintf("user-%d", i%300), iat, iat.Add(time.Hour)))
	}
	at := t0.Add(time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tr.Observe(vs[i%len(vs)], at)
	}
}
