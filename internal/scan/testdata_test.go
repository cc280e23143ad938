package scan

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// The committed logs under testdata/ carry tokens that must verify, so
// their keys cannot be random: each test secret is the hex SHA-256 of a
// fixed string. That is acceptable only because these keys protect nothing;
// TestdataSecret is also what cmd/jwtwatch's scan test puts in the
// environment.
func testdataSecret(name string) string {
	s := sha256.Sum256([]byte("jwtwatch scan test " + name))
	return hex.EncodeToString(s[:])
}

// testKeys are the scenario's keys: the access key rotated at rotationStart
// from previous to current, a refresh key, and an attacker's key that no
// gateway knows.
type testKeys struct {
	current, previous, refresh, attacker string
}

func newTestKeys() testKeys {
	return testKeys{testdataSecret("current"), testdataSecret("previous"), testdataSecret("refresh"), testdataSecret("attacker")}
}

func (k testKeys) set() keys.Set {
	return keys.Set{
		Keys: []keys.Key{
			keys.New(keys.Access, keys.Current, []byte(k.current)),
			keys.New(keys.Refresh, keys.Current, []byte(k.refresh)),
			keys.New(keys.Access, keys.Previous, []byte(k.previous)),
		},
		Issuers: map[keys.Family]string{keys.Access: issuer, keys.Refresh: issuer},
	}
}

func (k testKeys) secrets() []string { return []string{k.current, k.previous, k.refresh, k.attacker} }

const issuer = "https://auth.example.com"

var (
	day = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	// rotationStart is when the access key was rotated.
	rotationStart = hm(9, 0, 0)
	// compromiseAt is when the attacker minted the first token with the old key.
	compromiseAt = hm(12, 17, 0)
)

func hm(h, m, s int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

// sign signs claims with HS256 the way the auth service does.
func sign(secret string, claims map[string]any) string {
	return gatewaylog.Token(gatewaylog.HS256([]byte(secret)), claims)
}

type logLine struct {
	at   time.Time
	text string
}

// scenario is the committed incident: a gateway (pino-http) and an edge
// proxy (nginx) on 2026-11-27, from 08:00 to 14:00.
type scenario struct {
	gateway, edge []logLine
	tokens        []string // every token written
}

// pino writes one pino-http line.
func (s *scenario) pino(at time.Time, id int, method, url, auth, ua, peer, xff string, status int) {
	headers := []gatewaylog.Header{{Name: "host", Value: "api.example.com"}}
	if auth != "" {
		headers = append(headers, gatewaylog.Header{Name: "authorization", Value: auth})
	}
	headers = append(headers, gatewaylog.Header{Name: "user-agent", Value: ua}, gatewaylog.Header{Name: "accept", Value: "application/json"})
	if xff != "" {
		headers = append(headers, gatewaylog.Header{Name: "x-forwarded-for", Value: xff})
	}
	r := gatewaylog.Request{Time: at, ID: id, Method: method, URL: url, Headers: headers, RemoteAddress: peer, RemotePort: 40000 + id%20000,
		Status: status, ResponseTime: 3 + id%11, Hostname: "gw-1", PID: 7}
	s.gateway = append(s.gateway, logLine{at, r.Pino()})
}

// nginx writes one line of nginx's combined format plus "$http_authorization".
func (s *scenario) nginx(at time.Time, addr, request string, status int, ua, auth string) {
	method, rest, _ := strings.Cut(request, " ")
	url, proto, _ := strings.Cut(rest, " ")
	r := gatewaylog.Request{Time: at, RemoteAddress: addr, Method: method, URL: url, Proto: proto, Status: status, BodyBytes: 53 + status%7,
		Headers: []gatewaylog.Header{{Name: "user-agent", Value: ua}, {Name: "authorization", Value: auth}}}
	s.edge = append(s.edge, logLine{at, r.Nginx()})
}

func (s *scenario) keep(tok string) string {
	if !slices.Contains(s.tokens, tok) {
		s.tokens = append(s.tokens, tok)
	}
	return tok
}

// newScenario builds the incident deterministically.
func newScenario(tb testing.TB, k testKeys) *scenario {
	s := &scenario{}
	id := 0
	next := func() int { id++; return id }
	agents := []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"okhttp/4.12.0",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	}
	end := hm(14, 0, 0)

	// Users: one request every 10 minutes; an access token lives an hour.
	// Tokens issued before the rotation are signed with the previous key and
	// drain away as they expire: each user then sends the expired token once
	// (401), refreshes and carries on with a current-key token.
	for i := range 12 {
		user := fmt.Sprintf("u%02d", i+1)
		ua, peer := agents[i%3], fmt.Sprintf("::ffff:10.1.0.%d", 10+i)
		azp := "web"
		if i%3 == 1 {
			azp = "android"
		}
		refresh := s.keep(sign(k.refresh, map[string]any{"sub": user, "iss": issuer, "iat": hm(7, 0, 0).Add(-7 * 24 * time.Hour).Unix(),
			"exp": hm(7, 0, 0).Add(7 * 24 * time.Hour).Unix(), "azp": azp, "jti": user + "-refresh"}))
		var tok string
		var exp time.Time
		login := func(at time.Time) {
			key := k.current
			if at.Before(rotationStart) {
				key = k.previous
			}
			exp = at.Add(time.Hour)
			tok = s.keep(sign(key, map[string]any{"sub": user, "iss": issuer, "iat": at.Unix(), "exp": exp.Unix(), "azp": azp,
				"jti": fmt.Sprintf("%s-%d", user, at.Unix())}))
		}
		first := hm(8, 0, 7).Add(time.Duration(i) * 4 * time.Minute)
		login(first.Add(-20 * time.Minute))
		for at := first; at.Before(end); at = at.Add(10 * time.Minute) {
			if !at.Before(exp) {
				s.pino(at, next(), "GET", "/api/v1/orders", "Bearer "+tok, ua, peer, "", 401)
				s.pino(at.Add(500*time.Millisecond), next(), "POST", "/auth/refresh", "Bearer "+refresh, ua, peer, "", 201)
				login(at.Add(time.Second))
				at = at.Add(2 * time.Second)
			}
			s.pino(at, next(), "GET", "/api/v1/orders", "Bearer "+tok, ua, peer, "", 200)
		}
	}

	// Health checks carry no token.
	for at := hm(8, 0, 0); at.Before(end); at = at.Add(15 * time.Minute) {
		s.pino(at, next(), "GET", "/healthz", "", "kube-probe/1.31", "::ffff:10.0.0.1", "", 200)
		s.nginx(at.Add(time.Second), "10.0.0.1", "GET /healthz HTTP/1.1", 200, "kube-probe/1.31", "")
	}

	// The compromise: someone holding the previous key mints an admin token
	// at compromiseAt, long after the rotation, with a 24-hour lifetime...
	admin := s.keep(sign(k.previous, map[string]any{"sub": "svc-admin", "iss": issuer, "iat": compromiseAt.Unix(),
		"exp": compromiseAt.Add(24 * time.Hour).Unix(), "azp": "admin-cli", "jti": "c0ffee-01"}))
	for _, at := range []time.Time{hm(12, 17, 42), hm(12, 25, 3), hm(12, 40, 11), hm(13, 5, 9), hm(13, 30, 15)} {
		s.pino(at, next(), "GET", "/api/v1/admin/users", "Bearer "+admin, "python-requests/2.31.0", "::ffff:10.0.0.2", "203.0.113.66, 10.0.0.2", 200)
	}
	// ... and later one impersonating u05, without iat or exp.
	imp := s.keep(sign(k.previous, map[string]any{"sub": "u05", "iss": issuer, "jti": "c0ffee-02"}))
	for _, at := range []time.Time{hm(12, 50, 10), hm(13, 20, 10)} {
		s.pino(at, next(), "GET", "/api/v1/users/u05/payment-methods", "Bearer "+imp, "python-requests/2.31.0", "::ffff:10.0.0.2", "203.0.113.66, 10.0.0.2", 200)
	}

	// Forgeries: a scanner with its own key at the edge, ...
	for at := hm(10, 30, 0); at.Before(hm(10, 45, 0)); at = at.Add(30 * time.Second) {
		tok := s.keep(sign(k.attacker, map[string]any{"sub": "admin", "iss": issuer, "iat": at.Unix(), "exp": at.Add(time.Hour).Unix()}))
		s.nginx(at, "198.51.100.7", "GET /api/v1/admin/users HTTP/1.1", 401, "sqlmap/1.8.2#stable (https://sqlmap.org)", "Bearer "+tok)
	}
	// ... background noise every hour, ...
	for h := 8; h < 14; h++ {
		at := hm(h, 33, 33)
		tok := s.keep(sign(k.attacker, map[string]any{"sub": "root", "iat": at.Unix()}))
		s.nginx(at, fmt.Sprintf("192.0.2.%d", h), "GET /api/v1/orders HTTP/1.1", 401, "Go-http-client/1.1", "Bearer "+tok)
	}
	// ... "alg": "none" at the gateway, ...
	none := s.keep(gatewaylog.Unsigned(`{"sub":"admin","iss":"` + issuer + `"}`))
	for at := hm(13, 0, 0); !at.After(hm(13, 2, 0)); at = at.Add(20 * time.Second) {
		s.pino(at, next(), "GET", "/api/v1/admin/users", "Bearer "+none, "curl/8.4.0", "::ffff:10.0.0.2", "198.51.100.9", 401)
	}
	// ... and a client sending garbage.
	s.nginx(hm(11, 11, 11), "10.9.8.7", "GET /api/v1/orders HTTP/1.1", 401, "curl/8.4.0", "Bearer garbage")

	sortLines := func(ls []logLine) {
		slices.SortStableFunc(ls, func(a, b logLine) int { return a.at.Compare(b.at) })
	}
	sortLines(s.gateway)
	sortLines(s.edge)
	return s
}

// files renders the scenario as the committed files: the gateway log rotated
// at 11:00 (the older part gzipped) and the edge log.
func (s *scenario) files(tb testing.TB) map[string][]byte {
	var older, newer, edge bytes.Buffer
	for _, l := range s.gateway {
		if l.at.Before(hm(11, 0, 0)) {
			older.WriteString(l.text + "\n")
		} else {
			newer.WriteString(l.text + "\n")
		}
	}
	for _, l := range s.edge {
		edge.WriteString(l.text + "\n")
	}
	return map[string][]byte{
		"gateway.log.1.gz": gz(tb, older.Bytes()),
		"gateway.log":      newer.Bytes(),
		"edge.log":         edge.Bytes(),
	}
}

// inputs are the committed files in the order the tests scan them: the
// newer gateway log first, so that times arrive out of order.
var inputs = []string{"gateway.log", "gateway.log.1.gz", "edge.log"}

func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out) // no name, zero ModTime: reproducible
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func gunzip(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// writeTestdata writes the committed logs (for -update, before the golden
// reports are made from them).
func writeTestdata(t *testing.T) {
	t.Helper()
	for name, b := range newScenario(t, newTestKeys()).files(t) {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTestdataUpToDate regenerates the committed logs and checks that they
// still match the scenario the tests reason about.
func TestTestdataUpToDate(t *testing.T) {
	if *update {
		writeTestdata(t)
	}
	files := newScenario(t, newTestKeys()).files(t)
	for name, want := range files {
		path := filepath.Join("testdata", name)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			got, want = gunzip(t, got), gunzip(t, want)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the scenario; run go test ./internal/scan -update", path)
		}
	}
}
