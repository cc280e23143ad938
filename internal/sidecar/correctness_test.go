package sidecar

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/jwtwatch/jwtwatch/internal/cache"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/metrics"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
	"github.com/jwtwatch/jwtwatch/internal/tail"
)

// pipelineOnly returns a sidecar with everything a line passes through and
// keys loaded, but no tailer or server, so a test can call handle and reload
// directly; reg holds its metrics.
func pipelineOnly(t *testing.T, o Options) (*sidecar, *prometheus.Registry) {
	t.Helper()
	o.defaults()
	s := &sidecar{opts: o, log: o.Logger, sources: map[string]*source{}, stragglers: stragglers.New(o.StragglersSize), verdicts: cache.New(o.VerdictCacheSize), jwks: map[string]*jwksSource{}, bg: context.Background()}
	var err error
	if s.parser, err = parse.New(o.Parse); err != nil {
		t.Fatal(err)
	}
	if s.public, err = publicPaths(o.PublicPaths); err != nil {
		t.Fatal(err)
	}
	if s.tracker, err = rotation.New(o.Policy, o.Now, rotation.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s.metrics = metrics.New(reg)
	set, err := keys.Load(o.Lookup, o.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	s.useKeys(set)
	return s, reg
}

// counter sums the samples of a counter whose labels include every pair of match.
func counter(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return sumOf(f, match)
		}
	}
	return 0
}

// sumOf sums the samples (counters and gauges) of a metric family whose
// labels include every pair of match.
func sumOf(f *dto.MetricFamily, match map[string]string) float64 {
	var sum float64
next:
	for _, m := range f.GetMetric() {
		for k, v := range match {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// TestReloadRace rotates the access key 2,000 times while a second
// goroutine sends lines carrying tokens of the key current at that moment,
// issued 90 s after its rotation started. Whichever keys a line meets, it
// must meet them with their own rotation start: judged by a new verifier (its
// key now previous) against the old start, it would be issued_after_rotation.
func TestReloadRace(t *testing.T) {
	const reloads = 2000
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	startOf := func(i int64) time.Time { return base.Add(time.Duration(i) * time.Hour) }
	secrets := make([]string, reloads+1)
	lines := make([]string, reloads+1)
	for i := range secrets {
		secrets[i] = secret(t)
		started := startOf(int64(i))
		tok := sign(secrets[i], "u", started.Add(90*time.Second), started.Add(24*time.Hour))
		lines[i] = fmt.Sprintf("%s GET /api Bearer %s", started.Add(2*time.Minute).Format(time.RFC3339), tok)
	}
	var loading, clock, current atomic.Int64 // key index being loaded, the clock's hour, index whose tokens are current
	lookup := func(k string) (string, bool) {
		i := loading.Load()
		switch {
		case k == "JWT_ACCESS_SECRET":
			return secrets[i], true
		case k == "JWT_ACCESS_SECRET_PREVIOUS" && i > 0:
			return secrets[i-1], true
		}
		return "", false
	}
	s, reg := pipelineOnly(t, Options{
		Lookup: lookup,
		Now:    func() time.Time { return startOf(clock.Load()) },
		Policy: rotation.Policy{Skew: time.Minute},
	})

	var sent atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			s.handle(tail.Line{Source: "gw.log", Text: lines[current.Load()]})
			sent.Add(1)
		}
	})
	for i := int64(1); i <= reloads; i++ {
		clock.Store(i)
		loading.Store(i)
		if set := s.reload(false); len(set.Keys) != 2 {
			t.Fatalf("reload %d loaded %d keys", i, len(set.Keys))
		}
		current.Store(i)
	}
	close(done)
	wg.Wait()

	if got := counter(t, reg, "jwtwatch_suspicious_tokens_total", map[string]string{"reason": string(rotation.IssuedAfterRotation)}); got != 0 {
		t.Errorf("%v of %d lines were issued_after_rotation: a line met the new keys with the old rotation start", got, sent.Load())
	}
	if n := sent.Load(); n < reloads/4 {
		t.Errorf("only %d lines were sent during %d reloads: too few to race", n, reloads)
	}
	// A line held up for two reloads meets keys that no longer hold its key.
	valid := counter(t, reg, "jwtwatch_tokens_total", map[string]string{"result": "valid"})
	forged := counter(t, reg, "jwtwatch_tokens_total", map[string]string{"result": "bad_signature"})
	if valid+forged != float64(sent.Load()) || valid < forged {
		t.Errorf("of %d lines %v valid and %v bad_signature", sent.Load(), valid, forged)
	}
}

// TestNoEvidenceNotRemovable starts a replica whose log does not exist yet:
// having read nothing, it must not vote that the previous key can go. Once
// it has read its log for the quiet period, it may.
func TestNoEvidenceNotRemovable(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "gw.log")
	cur, prev := secret(t), secret(t)
	env := map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev}
	var now atomic.Pointer[time.Time]
	set := func(t time.Time) { now.Store(&t) }
	set(fixed)
	sc := startSidecar(t, Options{
		LogPaths: []string{logPath}, FromStart: true,
		// No token is ever logged: the wait for unseen tokens would block
		// for want of a lifetime (TestUnseen* in internal/rotation).
		Policy: rotation.Policy{MinWindow: 0, QuietPeriod: time.Hour, SkipUnseen: true},
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:    func() time.Time { return *now.Load() },
	})
	removable := `jwtwatch_previous_key_removable{token="access"} `
	if _, body := get(t, sc.base+"/metrics"); !strings.Contains(body, removable+"0") ||
		!strings.Contains(body, `jwtwatch_previous_key_removal_blocked{reason="insufficient_evidence",token="access"} 1`) {
		t.Errorf("a replica that read no line votes:\n%s", grepLines(body, "jwtwatch_previous_key_remov"))
	}
	set(fixed.Add(2 * time.Hour))
	if _, body := get(t, sc.base+"/metrics"); !strings.Contains(body, removable+"0") {
		t.Errorf("two hours later, still without a line:\n%s", grepLines(body, "jwtwatch_previous_key_remov"))
	}
	if err := os.WriteFile(logPath, []byte("GET /health 200\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the line", func() bool {
		_, body := get(t, sc.base+"/metrics")
		return strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source=%q} 1`, logPath))
	})
	if _, body := get(t, sc.base+"/metrics"); !strings.Contains(body, removable+"0") ||
		!strings.Contains(body, fmt.Sprintf("jwtwatch_first_line_timestamp_seconds %g", float64(fixed.Add(2*time.Hour).Unix()))) {
		t.Errorf("just after the first line:\n%s", grepLines(body, "jwtwatch_previous_key_remov", "jwtwatch_first_line"))
	}
	set(fixed.Add(3 * time.Hour))
	if _, body := get(t, sc.base+"/metrics"); !strings.Contains(body, removable+"1") {
		t.Errorf("after the quiet period of reading:\n%s", grepLines(body, "jwtwatch_previous_key_remov"))
	}
}

// grepLines returns the lines of text that contain any of subs.
func grepLines(text string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestSharedSecretNamed checks that a secret configured in several variables
// is announced at start-up by the names of the variables, never by value.
func TestSharedSecretNamed(t *testing.T) {
	shared, other := secret(t), secret(t)
	var logs bytes.Buffer
	env := map[string]string{"JWT_ACCESS_SECRET": other, "JWT_ACCESS_SECRET_PREVIOUS": shared, "JWT_REFRESH_SECRET": shared}
	pipelineOnly(t, Options{
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	out := logs.String()
	if !strings.Contains(out, "JWT_ACCESS_SECRET_PREVIOUS") || !strings.Contains(out, "JWT_REFRESH_SECRET") || !strings.Contains(out, keys.Fingerprint([]byte(shared))) {
		t.Errorf("no start-up message names the variables sharing a secret:\n%s", out)
	}
	if strings.Contains(out, shared) || strings.Contains(out, other) {
		t.Error("a secret appears in the log")
	}
}
