package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// BenchmarkToken is the per-line cost of recording a verdict: counters are
// resolved up front, so it must not allocate.
func BenchmarkToken(b *testing.B) {
	benches := []struct {
		name    string
		v       verify.Verdict
		status  int
		reasons []rotation.Reason
	}{
		{"valid", verify.Verdict{Family: keys.Access, Key: keys.Current, Result: verify.Valid}, 200, nil},
		{"forged_accepted", verify.Verdict{Family: keys.Unknown, Key: keys.None, Result: verify.BadSignature}, 200, nil},
		{"suspicious", verify.Verdict{Family: keys.Access, Key: keys.Previous, Result: verify.Valid}, 200, []rotation.Reason{rotation.Reasons[0]}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			m := New(prometheus.NewRegistry())
			b.ReportAllocs()
			for b.Loop() {
				m.Token(bb.v, bb.status, false, bb.reasons)
			}
		})
	}
}

// BenchmarkVerdictCache is the cost of counting one cache lookup.
func BenchmarkVerdictCache(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.VerdictCache(true)
	}
}
