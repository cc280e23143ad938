package sidecar

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/state"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// fixed is the injected clock: every timestamp in the golden scrape derives from it.
var fixed = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func secret(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sign(key, sub string, iat, exp time.Time) string {
	return gatewaylog.Token(gatewaylog.HS256([]byte(key)), map[string]any{"sub": sub, "iss": "auth", "iat": iat.Unix(), "exp": exp.Unix()})
}

// pino is a pino-http line of a GET / at with the token and status, and
// extra request headers.
func pino(at time.Time, tok string, status int, headers ...gatewaylog.Header) string {
	return gatewaylog.Request{Time: at, Headers: append([]gatewaylog.Header{gatewaylog.Bearer(tok)}, headers...), Status: status}.Pino()
}

type running struct {
	base string
	stop func() error
}

func startSidecar(t *testing.T, o Options) running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan []net.Addr, 1)
	o.ListenAddresses = []string{"127.0.0.1:0"}
	o.Listening = func(a []net.Addr) { addrs <- a }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a[0].String()
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("sidecar did not start listening")
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return within 10s of cancellation")
		}
	}
	t.Cleanup(func() { stop() })
	return running{base: base, stop: stop}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGoldenScrape runs the sidecar on a fixed log with a fixed clock and
// compares every jwtwatch_ series with testdata/metrics.golden; the whole
// scrape must also pass `promtool check metrics`.
func TestGoldenScrape(t *testing.T) {
	dir := t.TempDir()
	cur, prev, ref := secret(t), secret(t), secret(t)
	env := map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev, "JWT_REFRESH_SECRET": ref, "JWT_ACCESS_ISSUER": "auth"}
	logPath := filepath.Join(dir, "gw.log")
	line := func(tok string, status int) string { return pino(fixed, tok, status) }
	lines := []string{
		line(sign(cur, "alice", fixed.Add(-time.Minute), fixed.Add(time.Hour)), 200),
		line(sign(prev, "bob", fixed.Add(-2*time.Hour), fixed.Add(30*time.Minute)), 200),
		line(sign(prev, "bob", fixed.Add(-2*time.Hour), fixed.Add(30*time.Minute)), 401),
		line(sign(prev, "eve", fixed.Add(time.Minute), fixed.Add(time.Hour)), 200),
		line(sign(ref, "alice", fixed.Add(-time.Minute), fixed.Add(24*time.Hour)), 201),
		line(sign(secret(t), "admin", fixed, fixed.Add(time.Hour)), 401),
		`{"level":30,"time":1,"req":{"headers":{}},"res":{"statusCode":200}}`,
		`not json but no token either`,
	}
	// A key file adds the access key's successor, published ahead of its
	// promotion in a JWK Set served over TLS; it signs a token too early.
	next, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := keys.PublicJWK(next.Public(), "next-1", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	jwksSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"keys":[%s]}`, jwk)
	}))
	defer jwksSrv.Close()
	keyFile := filepath.Join(dir, "keys.yaml")
	writeKeyFile(t, keyFile, "access:\n  keys:\n    - jwks_url: "+jwksSrv.URL+"/jwks.json\n      roles: {next-1: next}\n")
	earlyTok := gatewaylog.Token(gatewaylog.WithKeyID(gatewaylog.PrivateKey("ES256", next), "next-1"),
		map[string]any{"sub": "carol", "iss": "auth", "iat": fixed.Add(-time.Minute).Unix(), "exp": fixed.Add(time.Hour).Unix()})
	lines = append(lines, line(earlyTok, 200))
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := startSidecar(t, Options{
		LogPaths:  []string{logPath},
		FromStart: true,
		Policy:    rotation.Policy{MinWindow: 168 * time.Hour, QuietPeriod: 24 * time.Hour, Skew: 0},
		Lookup:    func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:       func() time.Time { return fixed },
		KeysFile:  keyFile,
		JWKS:      JWKSOptions{Client: jwksSrv.Client()},
	})
	waitFor(t, "all lines", func() bool {
		_, body := get(t, sc.base+"/metrics")
		return strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source=%q} %d`, logPath, len(lines)))
	})
	_, body := get(t, sc.base+"/metrics")

	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Error("promtool not found; scripts/test installs it (Debian package prometheus)")
	} else {
		t.Log("promtool not found; skipping its check (scripts/test installs it)")
	}

	// Keep the jwtwatch_ series; make the parts that vary per run stable.
	nextKey, err := keys.NewPublic(keys.Access, keys.Next, "ES256", next.Public())
	if err != nil {
		t.Fatal(err)
	}
	replacer := strings.NewReplacer(logPath, "$LOG", jwksSrv.URL, "$JWKS",
		keys.Fingerprint([]byte(cur)), "$FP_CURRENT", keys.Fingerprint([]byte(prev)), "$FP_PREVIOUS", keys.Fingerprint([]byte(ref)), "$FP_REFRESH", nextKey.Fingerprint, "$FP_NEXT")
	var got []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, "jwtwatch_") && !strings.Contains(l, "jwtwatch_build_info{") {
			got = append(got, replacer.Replace(l))
		}
	}
	if !strings.Contains(body, "jwtwatch_build_info{") {
		t.Error("no jwtwatch_build_info")
	}
	// Fingerprints are random per run, so samples are sorted after replacing them.
	for i := 0; i < len(got); {
		j := i
		for j < len(got) && !strings.HasPrefix(got[j], "#") {
			j++
		}
		sort.Strings(got[i:j])
		i = max(j, i+1)
	}
	gotText := strings.Join(got, "\n") + "\n"
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(gotText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if gotText != string(want) {
		t.Errorf("scrape differs from %s (run go test ./internal/sidecar -update to accept):\n%s", golden, diff(string(want), gotText))
	}
	for _, s := range []string{cur, prev, ref} {
		if strings.Contains(body, s) {
			t.Error("a secret appears in the scrape")
		}
	}
	if err := sc.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, earlyTok) {
		t.Error("a token appears in the scrape")
	}
}

// diff lists the lines only in want (-) and only in got (+).
func diff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"JWT_ACCESS_SECRET": secret(t)}
	sc := startSidecar(t, Options{
		LogPaths: []string{filepath.Join(dir, "not-yet.log")},
		Lookup:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"healthy", "/-/healthy", "Healthy"},
		{"ready once sources are opened or awaited", "/-/ready", "Ready"},
		{"landing page links the metrics", "/", `href="/metrics"`},
		{"metrics", "/metrics", "jwtwatch_tokens_total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			var body string
			waitFor(t, tt.in, func() bool { code, body = get(t, sc.base+tt.in); return code == 200 })
			if !strings.Contains(body, tt.want) {
				t.Errorf("GET %s: %d %q, want it to contain %q", tt.in, code, body, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := func(k string) (string, bool) {
		if k == "JWT_ACCESS_SECRET" {
			return "s3cr3t-value-that-must-not-show-up", true
		}
		return "", false
	}
	corrupt := filepath.Join(dir, "state.json")
	if err := os.WriteFile(corrupt, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   Options
	}{
		{"no keys", Options{LogPaths: []string{"x"}, Lookup: func(string) (string, bool) { return "", false }}},
		{"no log path", Options{Lookup: good}},
		{"bad regex", Options{LogPaths: []string{"x"}, Lookup: good}},
		{"corrupt state", Options{LogPaths: []string{"x"}, Lookup: good, StateFile: corrupt}},
		{"missing web config", Options{LogPaths: []string{"x"}, Lookup: good, WebConfigFile: filepath.Join(dir, "absent.yml")}},
	}
	tests[2].in.Parse.Format, tests[2].in.Parse.Pattern = "regex", "(?P<status>x)"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), tt.in)
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Run = %v, want ErrConfig", err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// TestShutdownWritesState checks that cancelling Run writes the final state.
func TestShutdownWritesState(t *testing.T) {
	dir := t.TempDir()
	logPath, statePath := filepath.Join(dir, "gw.log"), filepath.Join(dir, "state.json")
	if err := os.WriteFile(logPath, []byte("no token here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JWT_ACCESS_SECRET": secret(t)}
	sc := startSidecar(t, Options{
		LogPaths: []string{logPath}, FromStart: true, StateFile: statePath, CheckpointInterval: time.Hour,
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	waitFor(t, "the line", func() bool {
		_, b := get(t, sc.base+"/metrics")
		return strings.Contains(b, fmt.Sprintf(`jwtwatch_lines_read_total{source=%q} 1`, logPath))
	})
	if err := sc.stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"offset": 14`)) || !bytes.Contains(b, []byte(`"current_fingerprint"`)) {
		t.Errorf("state file lacks the position or the rotation:\n%s", b)
	}
}

// TestGlobSources checks that a glob reports the files it matches, each
// under its own path, including one created after the start.
func TestGlobSources(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"JWT_ACCESS_SECRET": secret(t)}
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sc := startSidecar(t, Options{
		LogPaths: []string{filepath.Join(dir, "*.log")},
		Lookup:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	waitFor(t, "the existing file to be followed", func() bool {
		_, body := get(t, sc.base+"/metrics")
		return strings.Contains(body, fmt.Sprintf(`jwtwatch_source_behind_bytes{source=%q} 0`, a))
	})
	for _, p := range []string{a, b} {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, "GET /health 200")
		f.Close()
	}
	waitFor(t, "a line from each file", func() bool {
		_, body := get(t, sc.base+"/metrics")
		return strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source=%q} 1`, a)) &&
			strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source=%q} 1`, b))
	})
	if _, body := get(t, sc.base+"/metrics"); strings.Contains(body, "*.log") {
		t.Error("a series is labelled with the glob instead of a file")
	}
}

// TestStragglers checks /api/v1/stragglers: clients still presenting valid
// previous-key tokens, heaviest first, with no token in the answer.
func TestStragglers(t *testing.T) {
	dir := t.TempDir()
	cur, prev := secret(t), secret(t)
	env := map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev}
	logPath := filepath.Join(dir, "gw.log")
	now := time.Now()
	line := func(tok, ua, addr string) string {
		return gatewaylog.Request{Time: now, Headers: []gatewaylog.Header{gatewaylog.Bearer(tok), {Name: "user-agent", Value: ua}}, RemoteAddress: addr, Status: 200}.Pino()
	}
	batch := sign(prev, "svc-batch", now.Add(-time.Hour), now.Add(time.Hour))
	nestToken := gatewaylog.Token(gatewaylog.HS256([]byte(prev)), map[string]any{"username": "john", "sub": 1, "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(time.Hour).Unix()})
	var lines []string
	for range 5 {
		lines = append(lines, line(batch, "batch-runner/2.1", "::ffff:10.1.2.3"))
	}
	lines = append(lines,
		line(sign(prev, "carol", now.Add(-time.Hour), now.Add(time.Hour)), "Mozilla/5.0", "10.9.9.9"),
		line(nestToken, "okhttp/4.12", "10.7.7.7"),                                                      // a numeric sub, as the NestJS documentation signs it
		line(sign(cur, "alice", now, now.Add(time.Hour)), "Mozilla/5.0", "10.0.0.1"),                    // current key: not a straggler
		line(sign(prev, "erin", now.Add(-2*time.Hour), now.Add(-time.Hour)), "Mozilla/5.0", "10.0.0.2"), // expired: not a straggler
	)
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sc := startSidecar(t, Options{
		LogPaths: []string{logPath}, FromStart: true,
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	type client struct {
		Token     string `json:"token"`
		Subject   string `json:"subject"`
		UserAgent string `json:"user_agent"`
		Address   string `json:"address"`
		Count     uint64 `json:"count"`
	}
	var got struct {
		Observed uint64   `json:"observed"`
		Clients  []client `json:"clients"`
	}
	var body string
	waitFor(t, "the stragglers", func() bool {
		var code int
		code, body = get(t, sc.base+"/api/v1/stragglers")
		return code == 200 && json.Unmarshal([]byte(body), &got) == nil && got.Observed == 7
	})
	if len(got.Clients) != 3 {
		t.Fatalf("clients = %+v, want svc-batch, carol and 1", got.Clients)
	}
	if !slices.ContainsFunc(got.Clients, func(c client) bool { return c.Subject == "1" && c.UserAgent == "okhttp/4.12" && c.Count == 1 }) {
		t.Errorf("clients = %+v, want the NestJS user with subject 1", got.Clients)
	}
	top := got.Clients[0]
	if top.Subject != "svc-batch" || top.Count != 5 || top.UserAgent != "batch-runner/2.1" || top.Address != "10.1.2.3" || top.Token != "access" {
		t.Errorf("top straggler = %+v", top)
	}
	if strings.Contains(body, "eyJ") || strings.Contains(body, prev) {
		t.Error("the stragglers answer shows a token or a secret")
	}
}

// TestCheckpointIsConsistent reads the state file while checkpoints are
// written every millisecond under a stream of lines: the saved position
// and the saved rotation state always describe the same lines. Line i's
// token expires i seconds after the first's, so the saved maximum expiry
// names the last line the rotation state has seen.
func TestCheckpointIsConsistent(t *testing.T) {
	const lines = 20000
	dir := t.TempDir()
	logPath, statePath := filepath.Join(dir, "gw.log"), filepath.Join(dir, "state.json")
	key := secret(t)
	first := time.Now().Add(time.Hour).Truncate(time.Second)
	var log bytes.Buffer
	ends := make(map[int64]int64, lines) // expiry → offset just past its line
	for i := range lines {
		exp := first.Add(time.Duration(i) * time.Second)
		fmt.Fprintf(&log, "GET /api Bearer %s\n", sign(key, "u", first.Add(-time.Hour), exp))
		ends[exp.Unix()] = int64(log.Len())
	}
	if err := os.WriteFile(logPath, log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JWT_ACCESS_SECRET": key}
	sc := startSidecar(t, Options{
		LogPaths: []string{logPath}, FromStart: true, StateFile: statePath, CheckpointInterval: time.Millisecond,
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	defer sc.stop()

	checked := 0
	deadline := time.Now().Add(time.Minute)
	for {
		f, err := state.Load(statePath)
		if err != nil {
			t.Fatal(err)
		}
		pos := f.Positions[logPath].Offset
		var maxExp int64
		for _, k := range f.Rotation.Keys {
			maxExp = max(maxExp, k.MaxExpiry.Unix())
		}
		if end, ok := ends[maxExp]; ok {
			checked++
			if pos != end {
				t.Fatalf("checkpoint: position %d, but the rotation state has seen the line ending at %d", pos, end)
			}
		}
		if pos == int64(log.Len()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("position %d of %d after a minute", pos, log.Len())
		}
	}
	t.Logf("%d checkpoints checked", checked)
}

// TestStateFileLocked: a second jwtwatch on the same state file is refused
// at start-up, naming the lock and its holder; the first keeps it.
func TestStateFileLocked(t *testing.T) {
	dir := t.TempDir()
	logPath, statePath := filepath.Join(dir, "gw.log"), filepath.Join(dir, "state.json")
	env := map[string]string{"JWT_ACCESS_SECRET": secret(t)}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	sc := startSidecar(t, Options{LogPaths: []string{logPath}, StateFile: statePath, Lookup: lookup})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // bounds a second Run that starts
	defer cancel()
	err := Run(ctx, Options{LogPaths: []string{logPath}, StateFile: statePath, Lookup: lookup, ListenAddresses: []string{"127.0.0.1:0"}})
	if !errors.Is(err, ErrConfig) || !errors.Is(err, state.ErrLocked) {
		t.Fatalf("second Run: %v, want a configuration error for a locked state file", err)
	}
	if want := fmt.Sprintf("%s.lock is held by another jwtwatch (pid %d)", statePath, os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if err := sc.stop(); err != nil {
		t.Fatal(err)
	}
	// Released at the end of Run: the next one starts.
	startSidecar(t, Options{LogPaths: []string{logPath}, StateFile: statePath, Lookup: lookup})
}

// TestSourceLabels: file names that are not UTF-8 are followed and
// labelled (each invalid byte as \xNN) instead of panicking the scrape;
// files a glob matched that are gone for a while lose their series and
// their position in the state file.
func TestSourceLabels(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	env := map[string]string{"JWT_ACCESS_SECRET": secret(t)}
	bad, dated := filepath.Join(dir, "bad\xff.log"), filepath.Join(dir, "gw-2026-11-01.log")
	literal := filepath.Join(dir, "lit\xfe.txt")
	for _, p := range []string{bad, dated, literal} {
		if err := os.WriteFile(p, []byte("GET /health 200\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc := startSidecar(t, Options{
		LogPaths: []string{filepath.Join(dir, "*.log"), literal}, FromStart: true, StateFile: statePath, CheckpointInterval: 50 * time.Millisecond,
		RotateWait: 50 * time.Millisecond, GoneAfter: 100 * time.Millisecond,
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	label := func(p string) string { return strings.ReplaceAll(p, "\xff", `\\xff`) }
	waitFor(t, "a line from each file", func() bool {
		_, body := get(t, sc.base+"/metrics")
		return strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source="%s"} 1`, label(bad))) &&
			strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source="%s"} 1`, dated)) &&
			strings.Contains(body, fmt.Sprintf(`jwtwatch_lines_read_total{source="%s"} 1`, strings.ReplaceAll(literal, "\xfe", `\\xfe`)))
	})
	if err := os.Remove(dated); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted file's series and position to go", func() bool {
		_, body := get(t, sc.base+"/metrics")
		st, err := state.Load(statePath)
		_, saved := st.Positions[dated]
		return err == nil && !saved && !strings.Contains(body, dated) && strings.Contains(body, "lit")
	})
}

func writeKeyFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
