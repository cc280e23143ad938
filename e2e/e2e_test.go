package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/alerts"
	"github.com/jwtwatch/jwtwatch/dashboards"
	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/sidecar"
	"github.com/jwtwatch/jwtwatch/internal/state"
)

// forOverride replaces every alert's `for` in the copy of the rules the test
// loads (alerts.WithFor): the shipped durations are minutes to hours.
const forOverride = time.Second

// TestFleet runs three jwtwatch replicas on generated gateway logs, scraped
// by a real Prometheus that evaluates the shipped rules and sends alerts to a
// real Alertmanager, whose webhook is served by the test. gw-a and gw-b watch
// production, gw-s staging, which was given production's access keys. Phase
// one — a forgery burst, a replica whose gateway lacks the previous key and
// answers 200 to forged tokens, tokens minted with the previous key after the
// rotation, and on gw-a a refresh-key rotation an hour old whose new key the
// auth service never used — must deliver the six alerts (forged-token spike,
// missed deploy, minting, authentication bypass, new key unused, key reused
// across environments) and keep them silent where the traffic is healthy;
// every dashboard query must return data. Phase two — only current-key
// traffic and expired old tokens — must turn the fleet-wide removable rule to 1.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and Alertmanager; about a minute")
	}
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cur, prev, attacker := secret(t), secret(t), secret(t)
	refCur, refPrev, stagingRef := secret(t), secret(t), secret(t)
	production := map[string]string{
		"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev, "JWT_ACCESS_ISSUER": "auth-service",
		"JWT_REFRESH_SECRET": refCur, "JWT_REFRESH_SECRET_PREVIOUS": refPrev,
	}
	// Staging reuses production's access keys; its refresh key is its own.
	staging := map[string]string{"JWT_ACCESS_SECRET": cur, "JWT_ACCESS_SECRET_PREVIOUS": prev, "JWT_ACCESS_ISSUER": "auth-service", "JWT_REFRESH_SECRET": stagingRef}
	started := time.Now()
	// gw-a's state file says its refresh rotation started an hour ago.
	refreshRotated := filepath.Join(dir, "gw-a.state")
	if err := state.Save(refreshRotated, state.File{Rotation: rotation.Snapshot{Rotations: map[keys.Family]rotation.Rotation{
		keys.Refresh: {CurrentFingerprint: keys.Fingerprint([]byte(refCur)), Started: started.Add(-time.Hour), Exact: true},
	}}}); err != nil {
		t.Fatal(err)
	}
	replicas := map[string]*replica{
		"gw-a": startReplica(t, ctx, dir, "gw-a", "production", refreshRotated, production),
		"gw-b": startReplica(t, ctx, dir, "gw-b", "production", "", production),
		"gw-s": startReplica(t, ctx, dir, "gw-s", "staging", "", staging),
	}

	api, hook := startStack(t, ctx, dir, replicas["gw-a"].addr, replicas["gw-b"].addr, replicas["gw-s"].addr)

	// Phase one. Old-key tokens were issued just before the rotation and
	// expire at the end of the phase; gw-b's gateway lacks the previous key
	// and rejects them, and answers 200 to forged tokens. Tokens live
	// seconds, as the window does, so that the wait for the tokens nobody saw
	// (the rotation + the longest lifetime, about a minute) ends within the
	// test.
	phaseEnd := time.Now().Add(40 * time.Second).Truncate(time.Second)
	// A gateway that checks exp, as the healthy ones do (JWT times are whole seconds).
	accepts := func(at, exp time.Time) int {
		if at.Before(exp) {
			return 200
		}
		return 401
	}
	stopOne := traffic(t, 100*time.Millisecond, func(now time.Time) {
		old := sign(t, prev, "carol", started.Add(-10*time.Second), phaseEnd)
		replicas["gw-a"].write(t, line(now, sign(t, cur, "alice", now, now.Add(30*time.Second)), 200), line(now, old, accepts(now, phaseEnd)))
		replicas["gw-b"].write(t, line(now, sign(t, cur, "bob", now, now.Add(30*time.Second)), 200), line(now, old, 401))
		replicas["gw-s"].write(t, line(now, sign(t, cur, "stella", now, now.Add(30*time.Second)), 200))
		// Minted with the previous key after the rotation: iat beyond the start,
		// the grace (2s) and the clock skew (5s), on a line written after it,
		// within the skew of the iat (so not issued_in_future) and of the clock
		// (so its own time counts).
		replicas["gw-a"].write(t, line(now.Add(4*time.Second), sign(t, prev, "mallory", now.Add(8*time.Second), phaseEnd), accepts(now.Add(4*time.Second), phaseEnd)))
		for range 3 {
			replicas["gw-a"].write(t, line(now, sign(t, attacker, "admin", now, now.Add(time.Hour)), 401))
		}
		replicas["gw-b"].write(t, line(now, sign(t, attacker, "admin", now, now.Add(time.Hour)), 200))
		// The auth service still signs refresh tokens with the old refresh key.
		replicas["gw-a"].write(t, line(now, sign(t, refPrev, "alice", now, now.Add(time.Hour)), 201))
	})
	instance := func(name string) func(map[string]string) bool {
		return func(l map[string]string) bool { return l["instance"] == replicas[name].addr }
	}
	fingerprint := func(secret string) func(map[string]string) bool {
		return func(l map[string]string) bool { return l["fingerprint"] == keys.Fingerprint([]byte(secret)) }
	}
	want := map[string]func(map[string]string) bool{
		"JWTWatchForgedTokenSpike":          func(map[string]string) bool { return true },
		"JWTWatchGatewayRejectsPreviousKey": instance("gw-b"),
		"JWTWatchPreviousKeyMintingTokens":  func(l map[string]string) bool { return l["token"] == "access" },
		"JWTWatchAuthenticationBypass": func(l map[string]string) bool {
			return instance("gw-b")(l) && l["key"] == "none" && l["result"] == "bad_signature"
		},
		"JWTWatchNewKeyUnused":                func(l map[string]string) bool { return instance("gw-a")(l) && l["token"] == "refresh" },
		"JWTWatchKeyReusedAcrossEnvironments": fingerprint(cur),
	}
	for name, match := range want {
		hook.wait(t, 90*time.Second, name, match)
	}
	// Silent where the traffic is healthy (checked once all the above fired,
	// so the same evaluations had every chance to fire these too).
	silent := map[string]func(map[string]string) bool{
		"JWTWatchGatewayRejectsPreviousKey": instance("gw-a"),
		"JWTWatchAuthenticationBypass": func(l map[string]string) bool {
			return instance("gw-a")(l) || instance("gw-s")(l)
		},
		"JWTWatchNewKeyUnused": func(l map[string]string) bool { return !instance("gw-a")(l) || l["token"] != "refresh" },
		"JWTWatchKeyReusedAcrossEnvironments": func(l map[string]string) bool {
			return fingerprint(refCur)(l) || fingerprint(refPrev)(l) || fingerprint(stagingRef)(l)
		},
		"JWTWatchCurrentKeyMismatch": func(map[string]string) bool { return true },
	}
	for name, match := range silent {
		if a, ok := hook.find(name, match); ok {
			t.Errorf("%s fired for healthy traffic: %v", name, a.Labels)
		}
	}

	// Every dashboard query returns data while the fleet is in this state.
	built, err := dashboards.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range built {
		for _, q := range dashboards.Queries(b.Dashboard) {
			expr := dashboards.Expand(q)
			eventually(t, 30*time.Second, fmt.Sprintf("dashboard query %q to return data", expr), func() error {
				n, err := api.count(expr)
				if err == nil && n == 0 {
					err = fmt.Errorf("no data")
				}
				return err
			})
		}
	}
	if v, err := api.scalar(`token:jwtwatch_previous_key_removable:min{token="access"}`); err != nil || v != 0 {
		t.Errorf("removable during old-key traffic = %v (%v), want 0", v, err)
	}
	stopOne()

	// Phase two: current-key traffic and expired old tokens only.
	stopTwo := traffic(t, 100*time.Millisecond, func(now time.Time) {
		for _, r := range replicas {
			r.write(t, line(now, sign(t, cur, "alice", now, now.Add(30*time.Second)), 200),
				line(now, sign(t, prev, "carol", started.Add(-time.Hour), started.Add(time.Second)), 401))
		}
	})
	defer stopTwo()
	eventually(t, 90*time.Second, "the fleet-wide removable rule to be 1", func() error {
		v, err := api.scalar(`token:jwtwatch_previous_key_removable:min{token="access"}`)
		if err == nil && v != 1 {
			err = fmt.Errorf("value %v", v)
		}
		return err
	})
}

// replica is one in-process jwtwatch, the same Run the binary calls.
type replica struct {
	addr string
	mu   sync.Mutex
	log  *os.File
}

// startReplica runs one in-process jwtwatch of an environment reading its
// keys from env, with a state file when stateFile is not empty.
func startReplica(t *testing.T, ctx context.Context, dir, name, environment, stateFile string, env map[string]string) *replica {
	t.Helper()
	return startReplicaWith(t, ctx, dir, name, sidecar.Options{
		Policy:      rotation.Policy{MinWindow: 20 * time.Second, QuietPeriod: 5 * time.Second, Skew: 5 * time.Second, Grace: 2 * time.Second},
		Environment: environment,
		StateFile:   stateFile,
		Lookup:      func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
}

// startReplicaWith runs one in-process jwtwatch on its own log file, with o
// as the rest of its options, until ctx is done.
func startReplicaWith(t *testing.T, ctx context.Context, dir, name string, o sidecar.Options) *replica {
	t.Helper()
	path := filepath.Join(dir, name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	addrs := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	o.LogPaths, o.FromStart, o.ListenAddresses = []string{path}, true, []string{"127.0.0.1:0"}
	o.Logger = slog.New(slog.DiscardHandler)
	o.Listening = func(a []net.Addr) { addrs <- a }
	go func() { done <- sidecar.Run(ctx, o) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("replica %s: %v", name, err)
		}
	})
	select {
	case a := <-addrs:
		return &replica{addr: a[0].String(), log: f}
	case err := <-done:
		done <- err
		t.Fatalf("replica %s: %v", name, err)
	}
	return nil
}

// startStack starts a real Alertmanager, whose webhook the test serves, and
// a real Prometheus that scrapes the targets every second and evaluates the
// shipped rules (every `for` shortened to forOverride), until ctx is done.
func startStack(t *testing.T, ctx context.Context, dir string, targets ...string) (promAPI, *webhook) {
	t.Helper()
	prom := binary(t, "prometheus")
	am := binary(t, "prometheus-alertmanager", "alertmanager")
	hook := newWebhook(t)
	amAddr := freeAddr(t)
	writeFile(t, filepath.Join(dir, "am.yml"), fmt.Sprintf(`
route:
  receiver: test
  group_by: ['...']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s
`, hook.URL))
	run(t, ctx, dir, "alertmanager", am, "--config.file="+filepath.Join(dir, "am.yml"),
		"--storage.path="+filepath.Join(dir, "am-data"), "--web.listen-address="+amAddr, "--cluster.listen-address=")
	waitHTTP(t, "http://"+amAddr+"/-/ready")

	shipped, err := os.ReadFile(filepath.Join("..", "alerts", "jwtwatch.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alerts.WithFor(shipped, forOverride)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules.yml"), string(rules))
	quoted := make([]string, len(targets))
	for i, a := range targets {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	promAddr := freeAddr(t)
	// The job is deliberately not called "jwtwatch": the rules must not depend on it.
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - static_configs: [{targets: [%q]}]
scrape_configs:
  - job_name: gateway-sidecars
    static_configs: [{targets: [%s]}]
`, filepath.Join(dir, "rules.yml"), amAddr, strings.Join(quoted, ", ")))
	run(t, ctx, dir, "prometheus", prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "prom-data"), "--web.listen-address="+promAddr)
	waitHTTP(t, "http://"+promAddr+"/-/ready")
	return promAPI{base: "http://" + promAddr}, hook
}

func (r *replica) write(t *testing.T, lines ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.log.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Error(err)
	}
}

// traffic calls tick every interval until the returned stop is called.
func traffic(t *testing.T, every time.Duration, tick func(time.Time)) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tk.C:
				tick(now)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-stopped }) }
}

// line is a pino-http line of a request with token, answered with status.
func line(at time.Time, token string, status int) string {
	return gatewaylog.Request{Time: at, URL: "/api/v1/orders", Headers: []gatewaylog.Header{gatewaylog.Bearer(token)}, Status: status}.Pino()
}

func sign(_ *testing.T, key, sub string, iat, exp time.Time) string {
	return gatewaylog.Token(gatewaylog.HS256([]byte(key)), map[string]any{"sub": sub, "iss": "auth-service", "iat": iat.Unix(), "exp": exp.Unix()})
}

func secret(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// binary finds a server binary; CI installs them (scripts/test), elsewhere the test is skipped.
func binary(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; scripts/test installs it", names[0])
	}
	t.Skipf("%s not found; scripts/test installs it (Debian packages prometheus, prometheus-alertmanager)", names[0])
	return ""
}

// run starts a server that lives until the test ends; its output goes to a file shown on failure.
func run(t *testing.T, ctx context.Context, dir, name, bin string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("%s output (last 3000 bytes):\n%s", name, tailOf(b, 3000))
		}
	})
}

func tailOf(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	eventually(t, 60*time.Second, u, func() error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", d, what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// promAPI queries Prometheus' HTTP API.
type promAPI struct{ base string }

type queryResult struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

func (p promAPI) query(expr string) (queryResult, error) {
	var r queryResult
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode %q: %w", b, err)
	}
	if r.Status != "success" {
		return r, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r, nil
}

// count returns how many series (or 1 for a scalar) the query returns.
func (p promAPI) count(expr string) (int, error) {
	r, err := p.query(expr)
	if err != nil {
		return 0, err
	}
	if r.Data.ResultType == "scalar" || r.Data.ResultType == "string" {
		return 1, nil
	}
	return len(r.Data.Result), nil
}

// scalar returns the value of a query that yields exactly one series.
func (p promAPI) scalar(expr string) (float64, error) {
	r, err := p.query(expr)
	if err != nil {
		return 0, err
	}
	if len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("%d series", len(r.Data.Result))
	}
	var s struct {
		Value [2]any `json:"value"`
	}
	if err := json.Unmarshal(r.Data.Result[0], &s); err != nil {
		return 0, err
	}
	var v float64
	_, err = fmt.Sscan(fmt.Sprint(s.Value[1]), &v)
	return v, err
}

// webhook is the Alertmanager receiver: it keeps every alert delivered.
type webhook struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []delivered
}

type delivered struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []delivered `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook: %v", err)
		}
		w.mu.Lock()
		w.alerts = append(w.alerts, msg.Alerts...)
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

// find returns a firing alert of that name (any name when empty) whose labels match.
func (w *webhook) find(name string, match func(map[string]string) bool) (delivered, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.alerts {
		if a.Status == "firing" && (name == "" || a.Labels["alertname"] == name) && match(a.Labels) {
			return a, true
		}
	}
	return delivered{}, false
}

func (w *webhook) wait(t *testing.T, d time.Duration, name string, match func(map[string]string) bool) {
	t.Helper()
	eventually(t, d, name+" at the webhook", func() error {
		a, ok := w.find(name, match)
		if !ok {
			return fmt.Errorf("not delivered")
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if a.Annotations[k] == "" {
				t.Errorf("%s delivered without %s", name, k)
			}
		}
		if a.Labels["severity"] == "" {
			t.Errorf("%s delivered without severity", name)
		}
		return nil
	})
}
