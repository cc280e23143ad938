package sidecar

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// idp is an identity provider's JWKS endpoint: ES256 keys by kid, the set
// it publishes, an ETag per set, and a switch that makes it fail.
type idp struct {
	mu        sync.Mutex
	keys      map[string]*ecdsa.PrivateKey
	published []string
	failing   bool
	requests  int
}

func newIDP(t *testing.T, kids ...string) *idp {
	p := &idp{keys: map[string]*ecdsa.PrivateKey{}}
	for _, kid := range kids {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p.keys[kid] = k
	}
	return p
}

func (p *idp) publish(kids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = kids
}

func (p *idp) fail(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = on
}

func (p *idp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if p.failing {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	etag := `"` + strings.Join(p.published, "+") + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var members []string
	for _, kid := range p.published {
		j, err := keys.PublicJWK(p.keys[kid].Public(), kid, "ES256")
		if err != nil {
			panic(err)
		}
		members = append(members, string(j))
	}
	w.Header().Set("ETag", etag)
	fmt.Fprintf(w, `{"keys":[%s]}`, strings.Join(members, ","))
}

func (p *idp) sign(t *testing.T, kid, sub string, iat time.Time) string {
	t.Helper()
	return gatewaylog.Token(gatewaylog.WithKeyID(gatewaylog.PrivateKey("ES256", p.keys[kid]), kid),
		map[string]any{"sub": sub, "iss": "auth", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix()})
}

// families returns the metric families of the sidecar's /metrics.
func families(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	_, body := get(t, base+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// scrape returns every sample of the sidecar's /metrics by its series name.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, f := range families(t, base) {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[name+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

// TestJWKSURL follows a JWKS URL served over TLS through an identity
// provider's rotation, with refreshes driven by the test and an injected
// clock: the set is fetched at start, refreshed conditionally, survives the
// server failing, picks up the new key that the key file names current (the
// rotation starts then), refreshes early, at most once a minute, for a token
// naming a kid no key has, and follows a promotion on SIGHUP.
func TestJWKSURL(t *testing.T) {
	p := newIDP(t, "2026-09", "2026-12", "2027-03")
	p.publish("2026-09")
	srv := httptest.NewTLSServer(p)
	defer srv.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.yaml")
	// The key of December is named current ahead of its publication; the
	// September key, not named, is previous.
	writeKeyFile(t, keyFile, "access:\n  keys:\n    - jwks_url: "+srv.URL+"/.well-known/jwks.json?tenant=t1\n      roles: {\"2026-12\": current}\n")
	logPath := filepath.Join(dir, "gw.log")
	writeKeyFile(t, logPath, "")

	var clockMu sync.Mutex
	now := fixed
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); defer clockMu.Unlock(); now = now.Add(d) }
	ticks := make(chan time.Time)
	hup := make(chan os.Signal, 1)
	sc := startSidecar(t, Options{
		LogPaths: []string{logPath},
		Lookup:   func(string) (string, bool) { return "", false },
		Now:      clock,
		KeysFile: keyFile,
		Reload:   hup,
		JWKS: JWKSOptions{Client: srv.Client(), MinRefreshInterval: time.Minute,
			Ticks: func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }},
	})
	url := srv.URL + "/.well-known/jwks.json?…"
	fetches := func(result string) float64 {
		return scrape(t, sc.base)[fmt.Sprintf(`jwtwatch_jwks_fetches_total{result=%q,url=%q}`, result, url)]
	}
	lines := 0
	send := func(tok string) {
		t.Helper()
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%s GET /api Bearer %s 200\n", clock().Format(time.RFC3339), tok)
		f.Close()
		lines++
		waitFor(t, "the line to be read", func() bool {
			return scrape(t, sc.base)[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= float64(lines)
		})
	}
	tokens := func(key, result string) float64 {
		return scrape(t, sc.base)[fmt.Sprintf(`jwtwatch_tokens_total{key=%q,result=%q,token="access"}`, key, result)]
	}
	tick := func(result string) {
		t.Helper()
		before := fetches(result)
		ticks <- clock()
		waitFor(t, "a "+result+" fetch", func() bool { return fetches(result) > before })
	}
	waitFor(t, "the sidecar to follow the log", func() bool {
		code, _ := get(t, sc.base+"/-/ready")
		return code == http.StatusOK
	})

	// Fetched at start: the September key is in use, as previous.
	if got := fetches("success"); got != 1 {
		t.Fatalf("%v successful fetches at start, want 1", got)
	}
	m := scrape(t, sc.base)
	if m[fmt.Sprintf(`jwtwatch_jwks_keys{url=%q}`, url)] != 1 || m[fmt.Sprintf(`jwtwatch_jwks_last_success_timestamp_seconds{url=%q}`, url)] != float64(fixed.Unix()) {
		t.Errorf("keys or last success wrong: %v", m)
	}
	send(p.sign(t, "2026-09", "alice", clock()))
	if tokens("previous", "valid") != 1 {
		t.Fatalf("the September key's token is not previous/valid")
	}

	// A refresh of an unchanged set is conditional: 304.
	tick("not_modified")

	// The provider publishes the December key: the next refresh makes it
	// current, and the rotation starts now.
	advance(10 * time.Minute)
	p.publish("2026-09", "2026-12")
	tick("success")
	waitFor(t, "the rotation to start", func() bool {
		return scrape(t, sc.base)[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`] == float64(clock().Unix())
	})
	send(p.sign(t, "2026-12", "bob", clock()))
	if tokens("current", "valid") != 1 {
		t.Fatalf("the December key's token is not current/valid")
	}

	// The provider fails, then vanishes: the last good set stays.
	p.fail(true)
	tick("failed")
	send(p.sign(t, "2026-12", "bob", clock()))
	send(p.sign(t, "2026-09", "alice", clock()))
	if tokens("current", "valid") != 2 || tokens("previous", "valid") != 2 {
		t.Fatal("a failed fetch lost keys")
	}
	p.fail(false)

	// A token naming a kid no key has asks for an early fetch, at most once a
	// minute by the injected clock: the March key, not published yet.
	advance(2 * time.Minute)
	before := fetches("not_modified")
	send(p.sign(t, "2027-03", "carol", clock()))
	waitFor(t, "the early fetch", func() bool { return fetches("not_modified") > before })
	send(p.sign(t, "2027-03", "carol", clock().Add(time.Second))) // another token, same minute
	if got := fetches("not_modified"); got != before+1 {
		t.Errorf("%v early fetches within a minute, want 1", got-before)
	}
	if got := scrape(t, sc.base)[`jwtwatch_tokens_total{key="none",result="bad_signature",token="unknown"}`]; got != 2 {
		t.Errorf("tokens of an unpublished key: %v bad_signature, want 2", got)
	}

	// Promotion on SIGHUP: the key file now names March current and December
	// previous, and the provider publishes March.
	advance(time.Hour)
	p.publish("2026-09", "2026-12", "2027-03")
	writeKeyFile(t, keyFile, "access:\n  keys:\n    - jwks_url: "+srv.URL+"/.well-known/jwks.json?tenant=t1\n      roles: {\"2027-03\": current, \"2026-12\": previous, \"2026-09\": retired}\n")
	hup <- syscall.SIGHUP
	waitFor(t, "the promotion", func() bool {
		return scrape(t, sc.base)[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`] == float64(clock().Unix())
	})
	send(p.sign(t, "2027-03", "carol", clock()))
	send(p.sign(t, "2026-09", "alice", clock()))
	if tokens("current", "valid") != 3 || tokens("retired", "valid") != 1 {
		t.Errorf("after the promotion: current %v retired %v", tokens("current", "valid"), tokens("retired", "valid"))
	}
	info := 0
	for k := range scrape(t, sc.base) {
		if strings.HasPrefix(k, "jwtwatch_key_info{") && strings.Contains(k, `kid="2027-03"`) && strings.Contains(k, `role="current"`) {
			info++
		}
	}
	if info != 1 {
		t.Error("jwtwatch_key_info does not show the March key as current by its kid")
	}
	if _, body := get(t, sc.base+"/metrics"); strings.Contains(body, "tenant=t1") {
		t.Error("the URL's query appears in the metrics")
	}
	if err := sc.stop(); err != nil {
		t.Fatal(err)
	}
}
