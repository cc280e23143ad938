package rotation

import (
	"fmt"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// BenchmarkRecord is the tracker's share of a line on the hot path: valid
// tokens of both keys from a few hundred subjects, as mid-rotation traffic,
// with --policy.max-lifetime set and not.
func BenchmarkRecord(b *testing.B) {
	cur, prev := testKeys()
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
	for _, maxLifetime := range []time.Duration{0, 24 * time.Hour} {
		b.Run(fmt.Sprintf("max-lifetime=%s", maxLifetime), func(b *testing.B) {
			c := &clock{t0}
			p := policy()
			p.MaxLifetime = maxLifetime
			tr, err := New(p, c.now, Snapshot{})
			if err != nil {
				b.Fatal(err)
			}
			tr.SetKeys([]keys.Key{cur, prev})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				tr.Record(vs[i%len(vs)], at)
			}
		})
	}
}

// BenchmarkRecordWave is the tracker's share of a line during the wave
// after an immediate rotation: every token is a stale session of the
// removed (retired) key, from a few thousand subjects, each counted in the
// sessions still on the removed key.
func BenchmarkRecordWave(b *testing.B) {
	old, cur := access("old", keys.Retired), access("new", keys.Current)
	var vs []verify.Verdict
	for i := range 4096 {
		vs = append(vs, valid(old, fmt.Sprintf("user-%d", i), t0.Add(-time.Hour), t0.Add(time.Hour)))
	}
	c := &clock{t0}
	tr, err := New(policy(), c.now, Snapshot{})
	if err != nil {
		b.Fatal(err)
	}
	tr.SetKeys([]keys.Key{access("old", keys.Current)})
	tr.SetKeys([]keys.Key{cur, old})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Record(vs[i%len(vs)], t0.Add(time.Duration(i)*time.Millisecond))
	}
}
