package sidecar

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/tail"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// env returns a Lookup over a map of variables.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// A line whose own time is beyond jwtwatch's clock plus the skew (a gateway
// clock in 2030) must not move the rotation state forward: last_valid at
// 2030 would block removal until then. It is judged and recorded at the time
// it was read, and counted.
func TestFutureLineTime(t *testing.T) {
	cur, prev := secret(t), secret(t)
	s, reg := pipelineOnly(t, Options{
		Lookup: env(map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev}),
		Now:    func() time.Time { return fixed },
		Policy: rotation.Policy{Skew: time.Minute},
	})
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	line := func(at time.Time, tok string) tail.Line {
		return tail.Line{Source: "gw.log", Text: fmt.Sprintf("%s GET /api Bearer %s", at.Format(time.RFC3339), tok)}
	}
	// Valid at the arrival time, so the verdict is judged there too.
	s.handle(line(future, sign(prev, "u", fixed.Add(-time.Hour), fixed.Add(time.Hour))))
	var lastValid time.Time
	for _, k := range s.tracker.Report().Keys {
		if k.Key.Role == keys.Previous {
			lastValid = k.LastValid
		}
	}
	if !lastValid.Equal(fixed) {
		t.Errorf("last valid use of the previous key = %s, want the arrival time %s", lastValid, fixed)
	}
	if got := counter(t, reg, "jwtwatch_tokens_total", map[string]string{"key": "previous", "result": "valid"}); got != 1 {
		t.Errorf("judged at the line's own time: %v valid", got)
	}
	// Within the skew, the line's own time counts.
	ahead := fixed.Add(30 * time.Second)
	s.handle(line(ahead, sign(prev, "u", fixed.Add(-time.Hour), fixed.Add(time.Hour))))
	for _, k := range s.tracker.Report().Keys {
		if k.Key.Role == keys.Previous && !k.LastValid.Equal(ahead) {
			t.Errorf("a line 30s ahead (skew 1m): last valid %s, want %s", k.LastValid, ahead)
		}
	}
	if got := testutil.ToFloat64(s.source("gw.log").counters.TimeSkewed); got != 1 {
		t.Errorf("jwtwatch_lines_time_skewed_total = %v, want 1", got)
	}
	if got := counter(t, reg, "jwtwatch_lines_time_skewed_total", map[string]string{"source": "gw.log"}); got != 1 {
		t.Errorf("jwtwatch_lines_time_skewed_total{source=gw.log} = %v, want 1", got)
	}
}

// A secret with whitespace at either end is warned about at start-up and on
// every reload, by variable and fingerprint, never by value.
func TestSecretWhitespaceWarned(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "access")
	clean := secret(t)
	if err := os.WriteFile(file, []byte(clean+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // the pipeline logs on the test goroutine
	s, _ := pipelineOnly(t, Options{
		Lookup:   env(map[string]string{"JWT_ACCESS_SECRET_FILE": file}),
		ReadFile: keys.ReadFile,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if strings.Contains(logs.String(), "whitespace") {
		t.Errorf("a clean secret file is warned about:\n%s", logs.String())
	}
	spaced := secret(t)
	if err := os.WriteFile(file, []byte(spaced+" \n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The new current key, and the replaced one kept in memory as retired
	// (no previous key is configured: an immediate rotation).
	if set := s.reload(false); len(set.Keys) != 2 {
		t.Fatalf("reload loaded %d keys, want the new current one and the replaced one", len(set.Keys))
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "whitespace") || !strings.Contains(out, "JWT_ACCESS_SECRET_FILE") {
		t.Errorf("no warning names the variable of a secret ending in whitespace:\n%s", out)
	}
	if strings.Contains(out, spaced) || strings.Contains(out, clean) {
		t.Error("a secret appears in the log")
	}
}

// The previous secret equal to the current one fails a reload, which keeps
// the keys in use and names both variables.
func TestSameSecretReloadFails(t *testing.T) {
	cur, prev := secret(t), secret(t)
	vars := map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev}
	var logs bytes.Buffer // the pipeline logs on the test goroutine
	s, reg := pipelineOnly(t, Options{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	vars["JWT_ACCESS_SECRET_PREVIOUS"] = cur
	if set := s.reload(false); len(set.Keys) != 0 {
		t.Fatalf("a reload with the same secret in two roles loaded %d keys", len(set.Keys))
	}
	if got := counter(t, reg, "jwtwatch_key_reloads_total", map[string]string{"result": "failure"}); got != 1 {
		t.Errorf("reload failures = %v, want 1", got)
	}
	out := logs.String()
	if !strings.Contains(out, "JWT_ACCESS_SECRET and JWT_ACCESS_SECRET_PREVIOUS") || strings.Contains(out, cur) {
		t.Errorf("the reload failure does not name both variables (or shows the secret):\n%s", out)
	}
	if got := len(s.tracker.Report().Keys); got != 2 {
		t.Errorf("after the failed reload %d keys are loaded, want the 2 before", got)
	}
}

// --environment labels jwtwatch_build_info and jwtwatch_key_info (the
// key-reuse alert joins on it); without it neither has the label.
func TestEnvironmentLabel(t *testing.T) {
	log := filepath.Join(t.TempDir(), "gw.log")
	vars := env(map[string]string{"JWT_ACCESS_SECRET": secret(t)})
	for _, tt := range []struct{ env, want string }{{"staging", `environment="staging"`}, {"", ""}} {
		sc := startSidecar(t, Options{LogPaths: []string{log}, Lookup: vars, Environment: tt.env})
		_, body := get(t, sc.base+"/metrics")
		for _, name := range []string{"jwtwatch_build_info{", "jwtwatch_key_info{"} {
			line := grepLines(body, name)
			if line == "" || strings.Contains(line, "environment=") != (tt.want != "") || !strings.Contains(line, tt.want) {
				t.Errorf("--environment=%q: %s", tt.env, line)
			}
		}
		if err := sc.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// A token the gateway accepted after its exp but within --jwt.leeway (the
// gateway's clockTolerance, and the time between the request and its log
// line) is no bypass; beyond the leeway it is.
func TestLeewayIsNoBypass(t *testing.T) {
	cur := secret(t)
	s, reg := pipelineOnly(t, Options{
		Lookup: env(map[string]string{"JWT_ACCESS_SECRET": cur}),
		Now:    func() time.Time { return fixed },
		Verify: verify.Options{Leeway: 30 * time.Second},
	})
	line := func(exp time.Time) tail.Line {
		return tail.Line{Source: "gw.log", Text: fmt.Sprintf(`%s "GET /api HTTP/1.1" 200 "Bearer %s"`, fixed.Format(time.RFC3339), sign(cur, "u", fixed.Add(-time.Hour), exp))}
	}
	s.handle(line(fixed.Add(-10 * time.Second)))
	if got := counter(t, reg, "jwtwatch_gateway_mismatches_total", map[string]string{"gateway": "accepted"}); got != 0 {
		t.Errorf("expired 10s ago with a 30s leeway, accepted: %v mismatches", got)
	}
	s.handle(line(fixed.Add(-time.Minute)))
	if got := counter(t, reg, "jwtwatch_gateway_mismatches_total", map[string]string{"gateway": "accepted", "result": "expired"}); got != 1 {
		t.Errorf("expired a minute ago with a 30s leeway, accepted: %v mismatches, want 1", got)
	}
}

// After an emergency rotation the leaked key is configured as retired:
// /api/v1/stragglers lists who still presents its tokens, valid or not (the
// affected users and, after the cut-over, likely the attacker), beside the
// previous key's valid stragglers, each with its key's role.
func TestRetiredKeyStragglers(t *testing.T) {
	cur, prev, leaked := secret(t), secret(t), secret(t)
	s, _ := pipelineOnly(t, Options{
		Lookup: env(map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev, "JWT_ACCESS_SECRET_RETIRED": leaked}),
		Now:    func() time.Time { return fixed },
	})
	line := func(tok, ua string, status int) tail.Line {
		return tail.Line{Source: "gw.log", Text: fmt.Sprintf(`{"time":%d,"req":{"url":"/api","headers":{"authorization":"Bearer %s","user-agent":%q},"remoteAddress":"10.0.0.9"},"res":{"statusCode":%d}}`, fixed.UnixMilli(), tok, ua, status)}
	}
	s.handle(line(sign(leaked, "mallory", fixed.Add(-time.Minute), fixed.Add(time.Hour)), "curl/8.0", 401))
	s.handle(line(sign(leaked, "mallory", fixed.Add(-time.Minute), fixed.Add(time.Hour)), "curl/8.0", 401))
	s.handle(line(sign(leaked, "dave", fixed.Add(-3*time.Hour), fixed.Add(-2*time.Hour)), "app/1.0", 401)) // expired, still presented
	s.handle(line(sign(prev, "carol", fixed.Add(-time.Hour), fixed.Add(time.Hour)), "app/1.0", 200))
	s.handle(line(sign(cur, "alice", fixed, fixed.Add(time.Hour)), "app/1.0", 200))
	got := map[string]string{}
	for _, e := range s.stragglers.Top().Clients {
		got[e.Subject] = e.Key + "/" + e.UserAgent + "/" + fmt.Sprint(e.Count)
	}
	want := map[string]string{"mallory": "retired/curl/8.0/2", "dave": "retired/app/1.0/1", "carol": "previous/app/1.0/1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stragglers %v, want %v", got, want)
	}
}

// Requests on --gateway.public-paths (NestJS @Public() routes: login,
// refresh, health) are not compared with the gateway's verdict: a stale or
// garbage token sent to them is answered 200 without being looked at. The
// tokens are still checked and counted.
func TestPublicPaths(t *testing.T) {
	cur, attacker := secret(t), secret(t)
	s, reg := pipelineOnly(t, Options{
		Lookup:      env(map[string]string{"JWT_ACCESS_SECRET": cur}),
		Now:         func() time.Time { return fixed },
		PublicPaths: `/health|/api/v1/auth/(login|refresh)`,
	})
	forged := sign(attacker, "admin", fixed, fixed.Add(time.Hour))
	valid := sign(cur, "alice", fixed, fixed.Add(time.Hour))
	pino := func(url, tok string, status int) tail.Line {
		return tail.Line{Source: "gw.log", Text: fmt.Sprintf(`{"time":%d,"req":{"method":"POST","url":%q,"headers":{"authorization":"Bearer %s"}},"res":{"statusCode":%d}}`, fixed.UnixMilli(), url, tok, status)}
	}
	nginx := func(path, tok string, status int) tail.Line {
		return tail.Line{Source: "gw.log", Text: fmt.Sprintf(`10.0.0.1 - - [27/Nov/2026:12:00:00 +0000] "GET %s HTTP/1.1" %d 2 "-" "curl/8" "Bearer %s"`, path, status, tok)}
	}
	for _, l := range []tail.Line{
		pino("/api/v1/auth/login", forged, 200),        // public: not compared
		pino("/api/v1/auth/login?next=/x", valid, 401), // public (a wrong password): not compared
		nginx("/health?probe=1", forged, 200),          // public: not compared
		pino("/api/v1/auth/login-as", forged, 200),     // anchored: not public
		nginx("/api/v1/orders", forged, 200),           // a bypass
		pino("/api/v1/orders", valid, 403),             // a rejected valid token
	} {
		s.handle(l)
	}
	if got := counter(t, reg, "jwtwatch_gateway_mismatches_total", map[string]string{"gateway": "accepted", "result": "bad_signature"}); got != 2 {
		t.Errorf("accepted forgeries counted %v, want 2 (the public routes left out)", got)
	}
	if got := counter(t, reg, "jwtwatch_gateway_mismatches_total", map[string]string{"gateway": "rejected"}); got != 1 {
		t.Errorf("rejected valid tokens counted %v, want 1", got)
	}
	if got := counter(t, reg, "jwtwatch_tokens_total", map[string]string{"result": "bad_signature"}); got != 4 {
		t.Errorf("forged tokens counted %v, want all 4", got)
	}
}

// A --gateway.public-paths that is not a regular expression stops jwtwatch
// at start-up, naming the flag.
func TestPublicPathsInvalid(t *testing.T) {
	err := Run(t.Context(), Options{LogPaths: []string{filepath.Join(t.TempDir(), "gw.log")}, Lookup: env(map[string]string{"JWT_ACCESS_SECRET": secret(t)}), PublicPaths: `/api/(`})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--gateway.public-paths") {
		t.Errorf("Run = %v, want a configuration error naming --gateway.public-paths", err)
	}
}
