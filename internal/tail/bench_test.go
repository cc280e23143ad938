package tail

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkFollow is the follower's cost per line, handler included (one
// that only counts): reading a 200,000-line file of 800-byte lines from its
// start, with no channel between the follower and the handler.
func BenchmarkFollow(b *testing.B) {
	const lines = 200000
	path := filepath.Join(b.TempDir(), "gw.log")
	line := strings.Repeat("x", 799) + "\n"
	if err := os.WriteFile(path, []byte(strings.Repeat(line, lines)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(lines * len(line)))
	b.ReportAllocs()
	for b.Loop() {
		w := newFakeWatchers()
		tl, err := New(Config{Paths: []string{path}, FromStart: true, NewWatcher: w.New})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err = tl.Follow(ctx, func(l Line) bool {
			if n++; n == lines {
				cancel()
			}
			return true
		})
		cancel()
		if err != nil || n != lines {
			b.Fatalf("%d lines, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
