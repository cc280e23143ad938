package main

import (
	"bytes"
	"regexp"
	"testing"
)

// TestBenchCommand runs `jwtwatch bench` on tiny inputs: the
// flags reach the benchmark and the reports come out. The figures are not
// checked; they are the benchmark's business.
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		in       []string
		wantCode int
		wantOut  *regexp.Regexp
		wantErr  *regexp.Regexp
	}{
		{"every phase", []string{"bench", "--bench.lines=2000", "--bench.repeat=5", "--bench.duration=1s", "--bench.rate=100", "--bench.dir=" + dir}, exitOK,
			regexp.MustCompile(`(?s)log: +2000 lines.*follow: +GOMAXPROCS=1 \d+ lines/s.*unique: +GOMAXPROCS=1 \d+ lines/s.*naive: +GOMAXPROCS=1 \d+ lines/s.*ratio: .*[\d.]+x the naive.*` +
				`scan: +one core \d+ lines/s.*two files on 2 cores \d+ lines/s.*split on 2 cores.*gzip: .*GOMAXPROCS=1: decompress only.*GOMAXPROCS=2: decompress only.*` +
				`latency: +GOMAXPROCS=1 100 lines appended at 100 lines/s.*p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms`), regexp.MustCompile(`^$`)},
		{"some phases", []string{"bench", "--bench.lines=2000", "--bench.phases=follow,scan", "--bench.dir=" + dir}, exitOK,
			regexp.MustCompile(`(?s)^log: +2000 lines.*follow: +GOMAXPROCS=1 \d+ lines/s[^\n]*\nscan: [^\n]*\n$`), regexp.MustCompile(`^$`)},
		{"latency", []string{"bench", "--bench.latency", "--bench.duration=1s", "--bench.rate=100", "--bench.dir=" + dir}, exitOK,
			regexp.MustCompile(`(?s)latency: +GOMAXPROCS=\d+ 100 lines appended at 100 lines/s.*p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms`), regexp.MustCompile(`^$`)},
		{"unknown phase", []string{"bench", "--bench.phases=follow,fast", "--bench.dir=" + dir}, exitUsage,
			regexp.MustCompile(`^$`), regexp.MustCompile(`unknown phase "fast"`)},
		{"no lines", []string{"bench", "--bench.lines=0", "--bench.dir=" + dir}, exitUsage,
			regexp.MustCompile(`^$`), regexp.MustCompile(`^jwtwatch bench: invalid benchmark configuration: .*\n$`)},
		{"zero rate", []string{"bench", "--bench.latency", "--bench.rate=0"}, exitUsage,
			regexp.MustCompile(`^$`), regexp.MustCompile(`^jwtwatch bench: --bench.rate must be positive, got 0\n$`)},
		{"negative duration", []string{"bench", "--bench.latency", "--bench.duration=-1s"}, exitUsage,
			regexp.MustCompile(`^$`), regexp.MustCompile(`bench.duration`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.in, nil, &out, &errOut); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut.String())
			}
			if !tt.wantOut.MatchString(out.String()) {
				t.Errorf("stdout %q does not match %s", out.String(), tt.wantOut)
			}
			if !tt.wantErr.MatchString(errOut.String()) {
				t.Errorf("stderr %q does not match %s", errOut.String(), tt.wantErr)
			}
		})
	}
}
