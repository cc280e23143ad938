package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
)

// binary is built once by TestMain; the integration tests run the real program.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jwtwatch-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "jwtwatch")
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// secrets are generated per test; the leak check searches for them.
type secrets struct {
	current, previous, refresh, attacker string
}

func newSecrets(t *testing.T) secrets {
	gen := func() string {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return secrets{gen(), gen(), gen(), gen()}
}

func (s secrets) env() []string {
	return []string{"JWT_ACCESS_SECRET=" + s.current, "JWT_ACCESS_SECRET_PREVIOUS=" + s.previous,
		"JWT_REFRESH_SECRET=" + s.refresh, "JWT_ACCESS_ISSUER=auth-service"}
}

// proc is a running jwtwatch with everything it printed.
type proc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

var listenRE = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startBinary(t, binary, env, args...)
}

// startBinary is start with another build of jwtwatch.
func startBinary(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...), done: make(chan error, 1)}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	waitFor(t, 20*time.Second, "jwtwatch to listen", func() bool {
		if m := listenRE.FindStringSubmatch(p.output()); m != nil {
			p.addr = m[1]
			return true
		}
		return false
	})
	return p
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("jwtwatch exited with %v after SIGTERM; output:\n%s", err, p.output())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("jwtwatch did not exit within 5s of SIGTERM")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns every sample of /metrics keyed by `name{l1="v1",...}` with sorted labels.
func (p *proc) scrape(t *testing.T, record func(string)) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if record != nil {
		record(string(body))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

func tokens(tok, key, result string) string {
	return fmt.Sprintf(`jwtwatch_tokens_total{key=%q,result=%q,token=%q}`, key, result, tok)
}

// traffic writes a known mix of gateway lines and remembers every token it used.
type traffic struct {
	s       secrets
	rotated time.Time // tokens issued after this with the previous key are suspicious
	used    []string
}

func (tr *traffic) sign(secret, sub string, iat, exp time.Time) string {
	return tr.signClaims(secret, map[string]any{"sub": sub, "iss": "auth-service", "iat": iat.Unix(), "exp": exp.Unix()})
}

func (tr *traffic) signClaims(secret string, claims map[string]any) string {
	tok := gatewaylog.Token(gatewaylog.HS256([]byte(secret)), claims)
	tr.used = append(tr.used, tok)
	return tok
}

// pinoLine is a pino-http line of GET /api/v1/orders with the
// Authorization header value auth (none when empty).
func pinoLine(at time.Time, auth string, status int) string {
	headers := []gatewaylog.Header{{Name: "host", Value: "api.example.com"}}
	if auth != "" {
		headers = append(headers, gatewaylog.Header{Name: "authorization", Value: auth})
	}
	return gatewaylog.Request{Time: at, URL: "/api/v1/orders", Headers: headers, Status: status}.Pino()
}

// round is one of each kind of request; the counts it adds are in roundWant.
func (tr *traffic) round(now time.Time) []string {
	s := tr.s
	before := tr.rotated.Add(-time.Hour)
	none := gatewaylog.Unsigned(`{"sub":"x"}`)
	tr.used = append(tr.used, none)
	return []string{
		pinoLine(now, "Bearer "+tr.sign(s.current, "alice", now, now.Add(time.Hour)), 200),
		pinoLine(now, "Bearer "+tr.sign(s.current, "bob", now, now.Add(time.Hour)), 200),
		pinoLine(now, "Bearer "+tr.sign(s.previous, "carol", before, now.Add(time.Hour)), 200),
		// Shaped as the NestJS documentation signs it: the user id as a numeric sub.
		pinoLine(now, "Bearer "+tr.signClaims(s.previous, map[string]any{"username": "john", "sub": 1, "iss": "auth-service", "iat": before.Unix(), "exp": now.Add(time.Hour).Unix()}), 200),
		pinoLine(now, "Bearer "+tr.sign(s.previous, "dave", before, now.Add(time.Hour)), 401), // a replica without the previous key
		pinoLine(now, "Bearer "+tr.sign(s.refresh, "alice", now, now.Add(24*time.Hour)), 201),
		pinoLine(now, "Bearer "+tr.sign(s.current, "erin", before, now.Add(-time.Minute)), 401), // expired session
		pinoLine(now, "Bearer "+tr.sign(s.attacker, "admin", now, now.Add(-time.Minute)), 401),  // expired forgery
		pinoLine(now, "Bearer "+none, 401),
		pinoLine(now, "Bearer not-a-jwt", 401),
		// Minted with the old key after the rotation: iat beyond the start, the
		// grace (0s in TestEndToEnd) and the default clock skew (1m), on a line
		// written after it and within the skew of both the iat and the clock.
		pinoLine(now.Add(45*time.Second), "Bearer "+tr.sign(s.previous, "mallory", now.Add(90*time.Second), now.Add(time.Hour)), 200),
		pinoLine(now, "", 200),
		pinoLine(now, "Basic dXNlcjpwYXNz", 200),
	}
}

// roundWant is what one round adds to the counters.
var roundWant = map[string]float64{
	tokens("access", "current", "valid"):                                                             2,
	tokens("access", "previous", "valid"):                                                            4,
	tokens("refresh", "current", "valid"):                                                            1,
	tokens("access", "current", "expired"):                                                           1,
	tokens("unknown", "none", "bad_signature"):                                                       1,
	tokens("unknown", "none", "alg_rejected"):                                                        1,
	tokens("unknown", "none", "malformed"):                                                           1,
	`jwtwatch_gateway_mismatches_total{gateway="rejected",key="previous",result="valid"}`:            1,
	`jwtwatch_suspicious_tokens_total{key="previous",reason="issued_after_rotation",token="access"}`: 1,
	`jwtwatch_tokens_total{key="previous",result="expired",token="access"}`:                          0,
	`jwtwatch_gateway_mismatches_total{gateway="accepted",key="none",result="bad_signature"}`:        0,
}

const linesPerRound = 13

func appendLines(t *testing.T, path string, lines []string) {
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

func (tr *traffic) rounds(n int) []string {
	var out []string
	for range n {
		out = append(out, tr.round(time.Now())...)
	}
	return out
}

// checkCounts compares every counter of roundWant, times rounds, and the lines read.
func checkCounts(t *testing.T, got map[string]float64, rounds int, source string) {
	t.Helper()
	for k, v := range roundWant {
		if got[k] != v*float64(rounds) {
			t.Errorf("%s = %v, want %v", k, got[k], v*float64(rounds))
		}
	}
	var sum float64
	for k, v := range got {
		if strings.HasPrefix(k, "jwtwatch_tokens_total{") {
			sum += v
		}
	}
	if want := float64(11 * rounds); sum != want {
		t.Errorf("sum of jwtwatch_tokens_total = %v, want %v", sum, want)
	}
	if k := fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, source); got[k] != float64(linesPerRound*rounds) {
		t.Errorf("%s = %v, want %v", k, got[k], linesPerRound*rounds)
	}
	if k := fmt.Sprintf(`jwtwatch_lines_without_token_total{source=%q}`, source); got[k] != float64(2*rounds) {
		t.Errorf("%s = %v, want %v", k, got[k], 2*rounds)
	}
}

// TestEndToEnd runs the binary on a log that is rotated both ways while it is
// followed, checks every count exactly, restarts it on the same state file and
// checks that nothing is counted twice or lost; everything it printed and
// served is then searched for the tokens and secrets it was given.
func TestEndToEnd(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "gateway.log")
	statePath := filepath.Join(dir, "state.json")
	var served []string
	record := func(b string) { served = append(served, b) }

	appendLines(t, logPath, []string{pinoLine(time.Now(), "Bearer old-line-before-start", 200)}) // before start: skipped (start at end)
	// No grace: a token minted with the old key a minute after the start is issued_after_rotation.
	args := []string{"--log.path=" + logPath, "--state.file=" + statePath, "--state.checkpoint-interval=200ms", "--rotation.grace=0s"}
	p := start(t, s.env(), args...)
	tr := &traffic{s: s, rotated: time.Now()}

	total := 0
	batch := func(n int) {
		t.Helper()
		appendLines(t, logPath, tr.rounds(n))
		total += n
		waitFor(t, 20*time.Second, fmt.Sprintf("%d rounds to be counted", total), func() bool {
			return p.scrape(t, nil)[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= float64(linesPerRound*total)
		})
	}
	reopens := func() float64 {
		return p.scrape(t, nil)[fmt.Sprintf(`jwtwatch_source_reopens_total{source=%q}`, logPath)]
	}

	batch(20)

	// rename + create, the way logrotate does by default.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	batch(15)

	// copytruncate: copy away, truncate in place.
	old, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath+".2", old, 0o644); err != nil {
		t.Fatal(err)
	}
	r0 := reopens()
	if err := os.Truncate(logPath, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the truncation to be noticed", func() bool { return reopens() > r0 })
	batch(10)

	got := p.scrape(t, record)
	checkCounts(t, got, total, logPath)
	if got[fmt.Sprintf(`jwtwatch_source_reopens_total{source=%q}`, logPath)] < 2 {
		t.Errorf("reopens = %v, want at least 2 (rename and truncate)", reopens())
	}
	started := got[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`]
	if started == 0 {
		t.Fatal("no rotation start reported")
	}
	// By default the previous key waits for the tokens nobody saw: the
	// longest lifetime seen is over two hours (old-key tokens issued an
	// hour before the rotation, expiring an hour after their line).
	lifetime := got[`jwtwatch_token_max_lifetime_seconds{token="access"}`]
	if got[`jwtwatch_rotation_wait_for_unseen`] != 1 || got[`jwtwatch_previous_key_removal_blocked{reason="unseen_tokens_may_be_valid",token="access"}`] != 1 || lifetime < 2*3600 {
		t.Errorf("wait for unseen %v, blocked by unseen tokens %v, longest lifetime %v; want 1, 1, over 2h", got[`jwtwatch_rotation_wait_for_unseen`],
			got[`jwtwatch_previous_key_removal_blocked{reason="unseen_tokens_may_be_valid",token="access"}`], lifetime)
	}
	if all := got[`jwtwatch_previous_key_all_expired_timestamp_seconds{token="access"}`]; math.Abs(all-(started+60+lifetime)) > 1e-3 {
		t.Errorf("all expired at %v, want the start + 1m of skew + the lifetime = %v", all, started+60+lifetime)
	}
	for _, path := range []string{"/", "/-/healthy", "/-/ready"} {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
		served = append(served, string(b))
	}
	p.stop(t)

	// Written while jwtwatch is down: read after the restart, exactly once.
	appendLines(t, logPath, tr.rounds(7))
	p2 := start(t, s.env(), append(args, "--no-rotation.wait-for-unseen")...)
	after := 7
	waitFor(t, 20*time.Second, "the lines written while down", func() bool {
		return p2.scrape(t, nil)[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= float64(linesPerRound*after)
	})
	appendLines(t, logPath, tr.rounds(3))
	after += 3
	waitFor(t, 20*time.Second, "lines after the restart", func() bool {
		return p2.scrape(t, nil)[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= float64(linesPerRound*after)
	})
	got = p2.scrape(t, record)
	checkCounts(t, got, after, logPath)
	if s := got[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`]; s != started {
		t.Errorf("rotation start after restart = %v, want %v", s, started)
	}
	if v := got[`jwtwatch_key_last_valid_timestamp_seconds{role="previous",token="access"}`]; v == 0 {
		t.Error("previous key's last valid time not reported after restart")
	}
	if got[`jwtwatch_rotation_wait_for_unseen`] != 0 || got[`jwtwatch_previous_key_removal_blocked{reason="unseen_tokens_may_be_valid",token="access"}`] != 0 ||
		got[`jwtwatch_token_max_lifetime_seconds{token="access"}`] < lifetime {
		t.Errorf("with --no-rotation.wait-for-unseen: wait %v, blocked by unseen tokens %v, longest lifetime %v (was %v)", got[`jwtwatch_rotation_wait_for_unseen`],
			got[`jwtwatch_previous_key_removal_blocked{reason="unseen_tokens_may_be_valid",token="access"}`], got[`jwtwatch_token_max_lifetime_seconds{token="access"}`], lifetime)
	}
	// carol, dave, mallory and the NestJS user 1.
	if v := got[`jwtwatch_key_distinct_subjects{role="previous",token="access"}`]; v != 4 {
		t.Errorf("distinct subjects on the previous key = %v, want 4", v)
	}
	p2.stop(t)

	stateFile, _ := os.ReadFile(statePath)
	everything := strings.Join(served, "\n") + p.output() + p2.output() + string(stateFile)
	assertNoLeak(t, everything, s, tr.used)
}

// assertNoLeak fails on any secret, or any token of at least 20 characters
// (shorter ones such as "not-a-jwt" are ordinary words).
func assertNoLeak(t *testing.T, text string, s secrets, used []string) {
	t.Helper()
	for _, secret := range []string{s.current, s.previous, s.refresh, s.attacker} {
		if strings.Contains(text, secret) {
			t.Errorf("a secret appears in jwtwatch's output")
		}
	}
	leaked := 0
	for _, tok := range used {
		if len(tok) >= 20 && strings.Contains(text, tok) {
			leaked++
		}
		// A token's signature alone is also a leak.
		if i := strings.LastIndexByte(tok, '.'); i > 0 && len(tok)-i > 20 && strings.Contains(text, tok[i+1:]) {
			leaked++
		}
	}
	if leaked > 0 {
		t.Errorf("%d tokens (or their signatures) appear in jwtwatch's output", leaked)
	}
}

// TestStartupErrors checks that bad configuration stops jwtwatch before it
// starts anything, with exit status 2 and one line naming the problem.
func TestStartupErrors(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	log := "--log.path=" + filepath.Join(dir, "gw.log")
	fifo, loop := filepath.Join(dir, "fifo"), filepath.Join(dir, "loop.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no key", nil, []string{log}, "no signing key configured"},
		{"unreadable key file", []string{"JWT_ACCESS_SECRET_FILE=" + filepath.Join(dir, "absent")}, []string{log}, "JWT_ACCESS_SECRET_FILE"},
		{"empty key file", []string{"JWT_ACCESS_SECRET_FILE=" + empty}, []string{log}, "empty"},
		{"variable and file", []string{"JWT_ACCESS_SECRET=" + s.current, "JWT_ACCESS_SECRET_FILE=" + empty}, []string{log}, "not both"},
		{"unknown format", s.env(), []string{log, "--log.format=xml"}, "--log.format"},
		{"regex without token group", s.env(), []string{log, "--log.format=regex", "--log.regex=(?P<status>\\d+)"}, "token"},
		{"regex that does not compile", s.env(), []string{log, "--log.format=regex", "--log.regex=(?P<token>"}, "--log.format"},
		{"unparsable duration", s.env(), []string{log, "--rotation.quiet-period=soon"}, "--rotation.quiet-period"},
		{"no log path", s.env(), nil, "--log.path"},
		{"bad glob", s.env(), []string{"--log.path=/var/log/[x"}, "--log.path"},
		{"corrupt state file", s.env(), []string{log, "--state.file=" + empty}, "--state.file"},
		{"directory as log path", s.env(), []string{"--log.path=" + dir}, dir + `\": not a regular file: a directory`},
		{"FIFO as log path", s.env(), []string{"--log.path=" + fifo}, fifo + `\": not a regular file: a named pipe`},
		{"symlink loop as log path", s.env(), []string{"--log.path=" + loop}, "too many levels of symbolic links"},
		{"no poll interval", s.env(), []string{log, "--log.poll-interval=0s"}, "--log.poll-interval"},
		// Allocated as used, but bounded: 10,000,000 allocated 3 GB up front.
		{"stragglers size beyond the bound", s.env(), []string{log, "--stragglers.size=10000000"}, "--stragglers.size: 10000000 is more than the maximum 10000"},
		{"cache size beyond the bound", s.env(), []string{log, "--jwt.cache-size=10000000"}, "--jwt.cache-size: 10000000 is more than the maximum 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append([]string{"--web.listen-address=127.0.0.1:0"}, tt.args...)...)
			cmd.Env = tt.env
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Fatalf("exit status %d (%v), want 2; output:\n%s", code, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("output %q: want one line mentioning %q", out, tt.want)
			}
			assertNoLeak(t, string(out), s, nil)
		})
	}
}

// TestReload checks SIGHUP and secret-file reloads, and that a broken reload
// keeps the loaded keys without showing a secret.
func TestReload(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "access")
	if err := os.WriteFile(keyFile, []byte(s.current+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "gw.log")
	p := start(t, []string{"JWT_ACCESS_SECRET_FILE=" + keyFile}, "--log.path="+logPath)
	fingerprint := func() string {
		for k, v := range p.scrape(t, nil) {
			if strings.HasPrefix(k, "jwtwatch_key_info{") && strings.Contains(k, `role="current"`) && v == 1 {
				return k
			}
		}
		return ""
	}
	reloads := func(result string) float64 {
		return p.scrape(t, nil)[fmt.Sprintf(`jwtwatch_key_reloads_total{result=%q}`, result)]
	}
	first := fingerprint()

	// The file changes: new key within a second or so.
	if err := os.WriteFile(keyFile, []byte(s.previous+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the changed key file to be loaded", func() bool { return fingerprint() != first })
	second := fingerprint()

	// A broken file: the reload fails, the key stays.
	if err := os.WriteFile(keyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the failed reload to be counted", func() bool { return reloads("failure") >= 1 })
	if fingerprint() != second {
		t.Error("a failed reload changed the loaded key")
	}

	// SIGHUP after fixing it.
	if err := os.WriteFile(keyFile, []byte(s.refresh), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the fixed key file to be loaded", func() bool { return fingerprint() != second })
	before := reloads("success")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the SIGHUP reload", func() bool { return reloads("success") > before })
	p.stop(t)
	if !strings.Contains(p.output(), "key reload failed") {
		t.Errorf("the failed reload was not logged:\n%s", p.output())
	}
	assertNoLeak(t, p.output(), s, nil)
}

// TestStdin follows "-".
func TestStdin(t *testing.T) {
	s := newSecrets(t)
	tr := &traffic{s: s, rotated: time.Now().Add(-time.Minute)}
	p := &proc{cmd: exec.Command(binary, "--web.listen-address=127.0.0.1:0", "--log.path=-"), done: make(chan error, 1)}
	p.cmd.Env = s.env()
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	waitFor(t, 20*time.Second, "jwtwatch to listen", func() bool {
		m := listenRE.FindStringSubmatch(p.output())
		if m != nil {
			p.addr = m[1]
		}
		return m != nil
	})
	w := bufio.NewWriter(stdin)
	for _, l := range tr.rounds(5) {
		fmt.Fprintln(w, l)
	}
	w.Flush()
	waitFor(t, 20*time.Second, "stdin lines", func() bool {
		return p.scrape(t, nil)[`jwtwatch_lines_read_total{source="-"}`] >= 5*linesPerRound
	})
	if got := p.scrape(t, nil)[tokens("access", "current", "valid")]; got != 10 {
		t.Errorf("current valid = %v, want 10", got)
	}
	stdin.Close()
	p.stop(t)
}

// TestEnvironmentFromVariable: JWTWATCH_ENVIRONMENT sets --environment, and
// the flag wins over it, as kingpin's Envar does.
func TestEnvironmentFromVariable(t *testing.T) {
	s := newSecrets(t)
	log := "--log.path=" + filepath.Join(t.TempDir(), "gw.log")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"variable", []string{"JWTWATCH_ENVIRONMENT=staging"}, nil, "staging"},
		{"flag wins", []string{"JWTWATCH_ENVIRONMENT=staging"}, []string{"--environment=production"}, "production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, append(s.env(), tt.env...), append([]string{log}, tt.args...)...)
			got := p.scrape(t, nil)
			n := 0
			for k := range got {
				if strings.HasPrefix(k, "jwtwatch_build_info{") || strings.HasPrefix(k, "jwtwatch_key_info{") {
					n++
					if !strings.Contains(k, `environment="`+tt.want+`"`) {
						t.Errorf("%s, want environment %q", k, tt.want)
					}
				}
			}
			if n < 2 {
				t.Errorf("%d build_info and key_info series", n)
			}
			p.stop(t)
		})
	}
}
