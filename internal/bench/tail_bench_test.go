package bench

import (
	"os"
	"path/filepath"
	"testing"

	nxtail "github.com/nxadm/tail"
)

// BenchmarkNxadmTail is the line reader of the naive pipeline, which reads
// with github.com/nxadm/tail: the generated log read through it to its end,
// nothing done with the lines. jwtwatch itself reads with package lines
// (internal/tail's BenchmarkFollow).
func BenchmarkNxadmTail(b *testing.B) {
	const lines = 200000
	path := filepath.Join(b.TempDir(), "gateway.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	st, err := Generate(f, GenConfig{Lines: lines, Repeat: 50, Sessions: 1000, Mix: DefaultMix, Start: start, Seed: 1,
		Secrets: Secrets{Current: []byte("c"), Previous: []byte("p"), Attacker: []byte("a")}})
	if cerr := f.Close(); err != nil || cerr != nil {
		b.Fatal(err, cerr)
	}
	configs := []struct {
		name string
		cfg  nxtail.Config
	}{
		// As the naive pipeline uses it: read to the end, then stop.
		{"read", nxtail.Config{MustExist: true, Logger: nxtail.DiscardingLogger}},
	}
	for _, c := range configs {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(st.Bytes)
			b.ReportAllocs()
			for b.Loop() {
				t, err := nxtail.TailFile(path, c.cfg)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for range t.Lines {
					if n++; n == lines {
						break
					}
				}
				_ = t.Stop()
				if n != lines {
					b.Fatalf("%d lines read, want %d", n, lines)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
		})
	}
}
