package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestGenerate(t *testing.T) {
	sec := Secrets{Current: []byte("c"), Previous: []byte("p"), Attacker: []byte("a")}
	tests := []struct {
		name       string
		lines      int
		repeat     int
		sessions   int
		wantTokens int
	}{
		{"unique", 1000, 1, 100, 1000},
		{"repeat 50", 1000, 50, 10, 20},
		{"partial last block", 1001, 50, 10, 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			st, err := Generate(&buf, GenConfig{Lines: tt.lines, Repeat: tt.repeat, Sessions: tt.sessions, Mix: DefaultMix, Secrets: sec, Start: start, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(buf.String(), "\n"); got != tt.lines || st.Lines != tt.lines {
				t.Fatalf("%d lines written, %d counted, want %d", got, st.Lines, tt.lines)
			}
			if st.Tokens != tt.wantTokens {
				t.Errorf("%d tokens, want %d", st.Tokens, tt.wantTokens)
			}
			if avg := st.Bytes / int64(st.Lines); avg < 500 || avg > 900 {
				t.Errorf("lines of %d bytes on average, want about 700", avg)
			}
		})
	}
	if _, err := Generate(&bytes.Buffer{}, GenConfig{Lines: 1, Repeat: 1, Sessions: 1, Secrets: sec}); err == nil {
		t.Error("no error for an empty mix")
	}
}

// TestRun runs the whole benchmark once on a tiny log: the sidecar and the
// naive pipeline must both classify every line, and agree on the valid ones.
func TestRun(t *testing.T) {
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) { testRun(t, alg) })
	}
	if _, err := Run(context.Background(), Config{Lines: 10, Alg: "none", Dir: t.TempDir()}); !errors.Is(err, ErrConfig) {
		t.Errorf("--bench.alg none: %v, want %v", err, ErrConfig)
	}
}

// testRun is TestRun with tokens of one algorithm (for the public-key ones,
// a JWK Set in a key file).
func testRun(t *testing.T, alg string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Every phase with HS256; the follow, unique and naive phases with the
	// public-key algorithms (fewer lines: every unique token is a signature).
	cfg := Config{Lines: 3000, Repeat: 5, Sessions: 20, Dir: t.TempDir(), Alg: alg,
		Latency: LatencyConfig{Rate: 200, Duration: 500 * time.Millisecond}}
	all := alg == "HS256"
	if !all {
		cfg.Lines, cfg.Phases = 1000, []string{PhaseFollow, PhaseUnique, PhaseNaive}
	}
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Follow == nil || r.Unique == nil || r.NaiveElapsed == 0 || all && (r.Scan == nil || r.Gzip == nil || r.Latency == nil) {
		t.Fatalf("a phase is missing: %+v", r)
	}
	sum := func(m map[string]float64) float64 {
		n := 0.0
		for _, v := range m {
			n += v
		}
		return n
	}
	lines := float64(r.Gen.Lines)
	if got := sum(r.Follow.Results); got != lines {
		t.Errorf("sidecar classified %v tokens, want %v (%v)", got, lines, r.Follow.Results)
	}
	if got := sum(r.Unique.Results); got != lines || r.Unique.CacheHits != 0 {
		t.Errorf("unique: sidecar classified %v tokens with %v cache hits, want %v and none", got, r.Unique.CacheHits, lines)
	}
	if got := sum(r.NaiveResults); got != lines {
		t.Errorf("naive pipeline classified %v tokens, want %v (%v)", got, lines, r.NaiveResults)
	}
	wantValid := float64(r.Gen.Kinds[Current] + r.Gen.Kinds[Previous])
	if r.Follow.Results["valid"] != wantValid || r.NaiveResults["valid"] != wantValid {
		t.Errorf("valid: sidecar %v, naive %v, generated %v", r.Follow.Results["valid"], r.NaiveResults["valid"], wantValid)
	}
	for _, k := range []struct {
		result string
		kind   Kind
	}{{"expired", Expired}, {"bad_signature", Forged}, {"malformed", Malformed}} {
		if got, want := r.Follow.Results[k.result], float64(r.Gen.Kinds[k.kind]); got != want || want == 0 {
			t.Errorf("%s: sidecar %v, generated %v", k.result, got, want)
		}
	}
	if f := r.Follow; f.CacheHits+f.CacheMisses != lines || f.CacheHits == 0 {
		t.Errorf("cache hits %v, misses %v, want them to add up to %v with some hits", f.CacheHits, f.CacheMisses, lines)
	}
	var out bytes.Buffer
	r.Write(&out)
	if strings.Contains(out.String(), "eyJ") {
		t.Errorf("report shows a token:\n%s", out.String())
	}
	want := []string{"follow:", "unique:", "naive:", "ratio:", "allocs/line", "peak RSS", alg + " tokens"}
	if all {
		want = append(want, "scan:", "two files", "split", "gzip:", "decompress only", "latency:", "p99")
	}
	for _, want := range want {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNextPoll(t *testing.T) {
	tests := []struct {
		name        string
		read, total float64
		elapsed     time.Duration
		want        time.Duration
	}{
		{"nothing read yet", 0, 1000, 0, 50 * time.Millisecond},
		{"a tenth read", 100, 1000, 100 * time.Millisecond, 450 * time.Millisecond},
		{"far from done", 1, 1000, time.Second, maxPoll},
		{"almost done", 999, 1000, time.Second, minPoll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextPoll(tt.read, tt.total, tt.elapsed); got != tt.want {
				t.Errorf("nextPoll(%v, %v, %v) = %v, want %v", tt.read, tt.total, tt.elapsed, got, tt.want)
			}
		})
	}
}
