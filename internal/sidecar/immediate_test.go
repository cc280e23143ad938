package sidecar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
	"github.com/jwtwatch/jwtwatch/internal/tail"
)

// scrapeSum sums the samples of a metric on the /metrics endpoint whose
// labels include every pair of match.
func scrapeSum(t *testing.T, base, name string, match map[string]string) float64 {
	t.Helper()
	return sumOf(families(t, base)[name], match)
}

// syncWriter lets the sidecar's goroutines log into one buffer the test reads.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// replaceFile swaps path's content at once, as a secret manager does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestImmediateRotation follows the procedure's Option 2 on one replica:
// the mounted access secret changes to a new key and no previous key is
// configured. jwtwatch keeps the replaced key in memory as retired, so the
// wave of stale sessions the gateway now rejects is recognised (key
// retired), neither a mismatch nor a forgery nor suspicious, and counted as
// sessions still on the removed key; a stale token the gateway accepts is
// an accepted mismatch. The state file never holds the key, and a restart
// forgets it: its tokens are bad_signature again.
func TestImmediateRotation(t *testing.T) {
	dir := t.TempDir()
	k0, k1 := secret(t), secret(t)
	keyFile, logPath, stateFile := filepath.Join(dir, "access"), filepath.Join(dir, "gw.log"), filepath.Join(dir, "state.json")
	replaceFile(t, keyFile, k0)
	// The sidecar's clock, so that the reload happens at a known time and
	// the lines fall clearly before it or after it (beyond the clock skew).
	var (
		mu  sync.Mutex
		now = time.Now().Truncate(time.Second)
	)
	setClock := func(t time.Time) { mu.Lock(); defer mu.Unlock(); now = t }
	t0 := now
	appendLines(t, logPath, pino(t0, sign(k0, "alice", t0, t0.Add(time.Hour)), 200))
	env := map[string]string{"JWT_ACCESS_SECRET_FILE": keyFile}
	logs := &syncWriter{w: &bytes.Buffer{}}
	o := Options{
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		LogPaths: []string{logPath}, FromStart: true, StateFile: stateFile,
		Policy: rotation.Policy{MinWindow: time.Hour, QuietPeriod: time.Hour, Skew: time.Minute, ReloginWindow: time.Hour},
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	sc := startSidecar(t, o)
	waitFor(t, "the first line", func() bool {
		return scrapeSum(t, sc.base, "jwtwatch_tokens_total", map[string]string{"key": "current"}) == 1
	})

	reloaded := t0.Add(time.Hour)
	setClock(reloaded)
	replaceFile(t, keyFile, k1)
	old := keys.Fingerprint([]byte(k0))
	waitFor(t, "the replaced key kept as retired", func() bool {
		return scrapeSum(t, sc.base, "jwtwatch_key_info", map[string]string{"role": "retired", "fingerprint": old}) == 1
	})
	later := reloaded.Add(10 * time.Minute)
	setClock(later)
	stale := func(sub string) string { return sign(k0, sub, reloaded.Add(-10*time.Minute), reloaded.Add(time.Hour)) }
	appendLines(t, logPath,
		// Logged before the reload, read after it (the log lags): the old
		// key was still the gateway's, so its 200 is no bypass, and bob no
		// session left on the removed key.
		pino(reloaded.Add(-2*time.Minute), stale("bob"), 200),
		pino(later, stale("carol"), 401),
		pino(later, stale("carol"), 401),
		pino(later, sign(k1, "carol", later, later.Add(time.Hour)), 200), // logged in again
		pino(later, stale("dave"), 401),
	)
	waitFor(t, "the stale sessions", func() bool {
		return scrapeSum(t, sc.base, "jwtwatch_tokens_total", map[string]string{"key": "retired", "result": "valid"}) == 4
	})
	for _, c := range []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"jwtwatch_gateway_mismatches_total", nil, 0},
		{"jwtwatch_tokens_total", map[string]string{"result": "bad_signature"}, 0},
		{"jwtwatch_suspicious_tokens_total", nil, 0},
		{"jwtwatch_retired_key_recent_subjects", map[string]string{"token": "access"}, 2},
		{"jwtwatch_rotations_total", map[string]string{"token": "access", "kind": "rotation"}, 1},
	} {
		if got := scrapeSum(t, sc.base, c.name, c.match); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.match, got, c.want)
		}
	}
	// The clients still on the removed key, for the runbook's "find them":
	// the straggler list names them by subject, with the key's role.
	var list stragglers.Snapshot
	if _, body := get(t, sc.base+"/api/v1/stragglers"); json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("/api/v1/stragglers: %s", body)
	}
	var onRemoved []string
	for _, c := range list.Clients {
		onRemoved = append(onRemoved, fmt.Sprintf("%s %s/%s %d", c.Subject, c.Family, c.Key, c.Count))
	}
	if want := []string{"carol access/retired 2", "dave access/retired 1"}; !slices.Equal(onRemoved, want) {
		t.Errorf("stragglers %q, want %q", onRemoved, want)
	}
	// The gateway lets a stale session in: the removed key still works there.
	appendLines(t, logPath, pino(later, stale("erin"), 200))
	waitFor(t, "the accepted retired-key token", func() bool {
		return scrapeSum(t, sc.base, "jwtwatch_gateway_mismatches_total", map[string]string{"gateway": "accepted", "key": "retired", "result": "valid"}) == 1
	})
	if want := fmt.Sprintf("the current access key changed: a rotation\" token=access kind=rotation from=%s to=%s", old, keys.Fingerprint([]byte(k1))); !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not record the rotation %q:\n%s", want, logs.String())
	}
	if !strings.Contains(logs.String(), "kept in memory") || !strings.Contains(logs.String(), "JWT_ACCESS_SECRET_RETIRED") {
		t.Errorf("the log does not say the replaced key is kept in memory, and how to keep it:\n%s", logs.String())
	}
	if err := sc.stop(); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(saved, []byte(k0)) || bytes.Contains(saved, []byte(k1)) || strings.Contains(logs.String(), k0) {
		t.Error("a secret is in the state file or the log")
	}

	// A restart forgets the remembered key. The key changes again while
	// jwtwatch is down: the start-up log says the key it replaced is unknown.
	k2 := secret(t)
	replaceFile(t, keyFile, k2)
	sc = startSidecar(t, o)
	if !strings.Contains(logs.String(), "changed while jwtwatch was not running") || !strings.Contains(logs.String(), keys.Fingerprint([]byte(k1))) {
		t.Errorf("the start-up log does not name the replaced key:\n%s", logs.String())
	}
	appendLines(t, logPath, pino(later, stale("frank"), 401))
	waitFor(t, "the stale token after a restart", func() bool {
		return scrapeSum(t, sc.base, "jwtwatch_tokens_total", map[string]string{"result": "bad_signature"}) == 1
	})
	if got := scrapeSum(t, sc.base, "jwtwatch_key_info", map[string]string{"role": "retired"}); got != 0 {
		t.Errorf("after a restart %v retired keys are loaded", got)
	}
}

// TestRollback follows the Rollback Procedure after an immediate rotation,
// through reloads: k0 → k1 with no previous key, then "Revert to previous
// secret": k0 again. The restored key's tokens are not suspicious; the
// rolled-back key, kept in memory as retired, signed its tokens issued
// before the rollback legitimately, and those issued after it are
// issued_after_rotation.
func TestRollback(t *testing.T) {
	k0, k1 := secret(t), secret(t)
	current := k0
	clock := fixed
	s, reg := pipelineOnly(t, Options{
		Lookup: func(k string) (string, bool) { return current, k == "JWT_ACCESS_SECRET" },
		Now:    func() time.Time { return clock },
		Policy: rotation.Policy{MinWindow: time.Hour, QuietPeriod: time.Hour, Skew: time.Minute},
	})
	line := func(at time.Time, tok string, status int) tail.Line {
		return tail.Line{Source: "gw.log", Text: pino(at, tok, status)}
	}
	t1, t2 := fixed.Add(time.Hour), fixed.Add(2*time.Hour)
	clock, current = t1, k1
	s.reload(false)
	clock, current = t2, k0
	s.reload(false)
	clock = t2.Add(time.Hour) // the lines below are in the past, none beyond now
	for _, l := range []tail.Line{
		line(t2.Add(time.Minute), sign(k0, "alice", t2.Add(time.Minute), t2.Add(time.Hour)), 200),      // restored key, after
		line(t2.Add(time.Minute), sign(k0, "bob", fixed, t2.Add(time.Hour)), 200),                      // restored key, before the rotation
		line(t2.Add(time.Minute), sign(k1, "carol", t1.Add(time.Minute), t2.Add(time.Hour)), 401),      // rolled-back key, while current
		line(t2.Add(time.Hour), sign(k1, "mallory", t2.Add(50*time.Minute), t2.Add(2*time.Hour)), 401), // rolled-back key, after
	} {
		s.handle(l)
	}
	for _, c := range []struct {
		match map[string]string
		want  float64
	}{
		{map[string]string{"key": "current"}, 0},
		{map[string]string{"key": "retired", "reason": "issued_after_rotation"}, 1},
		{nil, 1},
	} {
		if got := counter(t, reg, "jwtwatch_suspicious_tokens_total", c.match); got != c.want {
			t.Errorf("suspicious tokens %v = %v, want %v", c.match, got, c.want)
		}
	}
	if got := counter(t, reg, "jwtwatch_tokens_total", map[string]string{"key": "retired", "result": "valid"}); got != 2 {
		t.Errorf("retired-key tokens = %v, want 2", got)
	}
	if got := counter(t, reg, "jwtwatch_gateway_mismatches_total", nil); got != 0 {
		t.Errorf("mismatches = %v, want 0", got)
	}
	rep := s.tracker.Report()
	want := []rotation.ChangeCount{{Family: keys.Access, Kind: rotation.KindRotation, Count: 1}, {Family: keys.Access, Kind: rotation.KindRollback, Count: 1}}
	if got := rep.Changes[:2]; !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
}
