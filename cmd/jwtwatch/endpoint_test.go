package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// webFixture is a --web.config.file with TLS and basic auth, made for one test.
type webFixture struct {
	config     string         // path of the web config file
	roots      *x509.CertPool // trusts the generated CA only
	user, pass string
	hash       string // bcrypt of pass, as in the config file
}

// newWebFixture generates a CA and a server certificate for 127.0.0.1
// (ECDSA P-256), a random password and its bcrypt hash, and writes the
// exporter-toolkit web config that uses them.
func newWebFixture(t *testing.T) *webFixture {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	serial := func() *big.Int {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "jwtwatch test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "jwtwatch"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))

	pw := make([]byte, 18)
	if _, err := rand.Read(pw); err != nil {
		t.Fatal(err)
	}
	f := &webFixture{config: filepath.Join(dir, "web.yml"), roots: x509.NewCertPool(), user: "prometheus", pass: base64.RawURLEncoding.EncodeToString(pw)}
	f.roots.AddCert(ca)
	hash, err := bcrypt.GenerateFromPassword([]byte(f.pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f.hash = string(hash)
	writeFile(t, f.config, fmt.Sprintf("tls_server_config:\n  cert_file: %q\n  key_file: %q\nbasic_auth_users:\n  %s: %q\n", certFile, keyFile, f.user, f.hash))
	return f
}

// client returns an HTTPS client that trusts only the fixture's CA.
func (f *webFixture) client() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.roots}},
	}
}

// TestEndpointTLSAndBasicAuth runs jwtwatch with a web config enabling TLS
// and basic auth, and checks with real clients: plain HTTP is refused, a
// certificate the client does not trust is refused, every request without
// the right user and password gets 401 and no metrics, and the right ones
// get the metrics, including a token read from the log.
func TestEndpointTLSAndBasicAuth(t *testing.T) {
	s := newSecrets(t)
	f := newWebFixture(t)
	logPath := filepath.Join(t.TempDir(), "gw.log")
	tr := &traffic{s: s}
	now := time.Now()
	appendLines(t, logPath, []string{pinoLine(now, "Bearer "+tr.sign(s.current, "alice", now, now.Add(time.Hour)), 200)})
	p := start(t, s.env(), "--log.path="+logPath, "--log.start-at=beginning", "--web.config.file="+f.config)
	waitFor(t, 20*time.Second, "TLS to be enabled", func() bool { return strings.Contains(p.output(), `msg="TLS is enabled."`) })

	var served []string
	get := func(c *http.Client, url, user, pass string) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		served = append(served, string(b))
		return resp.StatusCode, string(b), err
	}
	metricsURL := "https://" + p.addr + "/metrics"
	valid := `jwtwatch_tokens_total{key="current",result="valid",token="access"} 1`
	waitFor(t, 20*time.Second, "the token to be counted, scraped over TLS with basic auth", func() bool {
		code, body, err := get(f.client(), metricsURL, f.user, f.pass)
		return err == nil && code == http.StatusOK && strings.Contains(body, valid)
	})

	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	tests := []struct {
		name       string
		client     *http.Client
		url        string
		user, pass string
		want       int    // status; 0 means the request must fail
		wantErr    string // for want 0: the error must say this
	}{
		{name: "right credentials", client: f.client(), url: metricsURL, user: f.user, pass: f.pass, want: http.StatusOK},
		{name: "right credentials, health", client: f.client(), url: "https://" + p.addr + "/-/healthy", user: f.user, pass: f.pass, want: http.StatusOK},
		{name: "wrong password", client: f.client(), url: metricsURL, user: f.user, pass: f.pass + "x", want: http.StatusUnauthorized},
		{name: "password of another case", client: f.client(), url: metricsURL, user: f.user, pass: strings.ToUpper(f.pass), want: http.StatusUnauthorized},
		{name: "empty password", client: f.client(), url: metricsURL, user: f.user, want: http.StatusUnauthorized},
		{name: "wrong user", client: f.client(), url: metricsURL, user: "admin", pass: f.pass, want: http.StatusUnauthorized},
		{name: "bcrypt hash as password", client: f.client(), url: metricsURL, user: f.user, pass: f.hash, want: http.StatusUnauthorized},
		{name: "no credentials", client: f.client(), url: metricsURL, want: http.StatusUnauthorized},
		// Every path is behind the web config, the probes too: probing needs
		// credentials (or a TCP probe), as docs/install.md says.
		{name: "no credentials, health", client: f.client(), url: "https://" + p.addr + "/-/healthy", want: http.StatusUnauthorized},
		{name: "no credentials, ready", client: f.client(), url: "https://" + p.addr + "/-/ready", want: http.StatusUnauthorized},
		{name: "right credentials, ready", client: f.client(), url: "https://" + p.addr + "/-/ready", user: f.user, pass: f.pass, want: http.StatusOK},
		{name: "no credentials, status page", client: f.client(), url: "https://" + p.addr + "/", want: http.StatusUnauthorized},
		{name: "no credentials, stragglers", client: f.client(), url: "https://" + p.addr + "/api/v1/stragglers", want: http.StatusUnauthorized},
		{name: "untrusted certificate", client: untrusting, url: metricsURL, user: f.user, pass: f.pass, wantErr: "certificate"},
		// Go's TLS server answers plain HTTP with a bare 400 and closes.
		{name: "plain HTTP", client: http.DefaultClient, url: "http://" + p.addr + "/metrics", user: f.user, pass: f.pass, want: http.StatusBadRequest},
		{name: "plain HTTP, no credentials", client: http.DefaultClient, url: "http://" + p.addr + "/metrics", want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, err := get(tt.client, tt.url, tt.user, tt.pass)
			if tt.want == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("GET = %d, %v; want an error about %q", code, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			if code != tt.want {
				t.Errorf("status = %d, want %d", code, tt.want)
			}
			if got := strings.Contains(body, "jwtwatch_"); got != (code == http.StatusOK && strings.HasSuffix(tt.url, "/metrics")) {
				t.Errorf("status %d, body shows metrics: %v", code, got)
			}
			if code == http.StatusOK && strings.HasSuffix(tt.url, "/metrics") && !strings.Contains(body, valid) {
				t.Errorf("metrics lack %s", valid)
			}
		})
	}
	p.stop(t)
	out := p.output() + strings.Join(served, "\n")
	assertNoLeak(t, out, s, tr.used)
	for _, secret := range []string{f.pass, f.hash} {
		if strings.Contains(p.output(), secret) {
			t.Error("jwtwatch printed the basic-auth password or its hash")
		}
	}
}

// TestEndpointSlowClients checks that the server timeouts cut off clients
// that open a connection and then trickle a request (slowloris) instead of
// holding a connection and a goroutine for ever, over plain HTTP and TLS,
// while well-behaved scrapes are still served.
func TestEndpointSlowClients(t *testing.T) {
	// ReadHeaderTimeout is 10s; a 30s ReadTimeout backs it. Cutting off
	// later than this means the header timeout is gone.
	const cutOffWithin = 25 * time.Second
	tests := []struct {
		name string
		tls  bool
		// begin sends the first part of a request on a fresh connection.
		begin func(t *testing.T, conn net.Conn, f *webFixture) net.Conn
	}{
		{"plain HTTP, partial header", false, func(t *testing.T, conn net.Conn, _ *webFixture) net.Conn {
			write(t, conn, "GET /metrics HTTP/1.1\r\nHost: jwtwatch\r\nX-Slow: ")
			return conn
		}},
		{"TLS, partial handshake", true, func(t *testing.T, conn net.Conn, _ *webFixture) net.Conn {
			// The first bytes of a TLS record carrying a ClientHello.
			write(t, conn, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
			return conn
		}},
		{"TLS, partial header", true, func(t *testing.T, conn net.Conn, f *webFixture) net.Conn {
			tc := tls.Client(conn, &tls.Config{RootCAs: f.roots, ServerName: "127.0.0.1"})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			write(t, tc, "GET /metrics HTTP/1.1\r\nHost: jwtwatch\r\nX-Slow: ")
			return tc
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSecrets(t)
			args := []string{"--log.path=" + filepath.Join(t.TempDir(), "gw.log")}
			f := newWebFixture(t)
			if tt.tls {
				args = append(args, "--web.config.file="+f.config)
			}
			p := start(t, s.env(), args...)
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			began := time.Now()
			c := tt.begin(t, conn, f)

			// Read until the server hangs up; meanwhile trickle a byte now
			// and then, as a slowloris client does to stay alive.
			closed := make(chan []byte, 1)
			go func() {
				got, _ := io.ReadAll(c)
				closed <- got
			}()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(cutOffWithin)
			scraped := false
			for {
				select {
				case got := <-closed:
					d := time.Since(began)
					t.Logf("cut off after %v", d.Round(time.Millisecond))
					if bytes.Contains(got, []byte("jwtwatch_")) {
						t.Error("the slow client was served metrics")
					}
					if !scraped {
						t.Error("no scrape succeeded while the slow client was connected")
					}
					return
				case <-tick.C:
					c.Write([]byte("x")) // errors once the server has hung up
					if !scraped {
						scraped = scrapeOnce(f, p.addr, tt.tls)
					}
				case <-deadline:
					c.Close()
					t.Fatalf("the server still held the slow connection after %v", cutOffWithin)
				}
			}
		})
	}
}

// scrapeOnce reports whether one ordinary scrape succeeds.
func scrapeOnce(f *webFixture, addr string, useTLS bool) bool {
	c, url := http.DefaultClient, "http://"+addr+"/metrics"
	if useTLS {
		c, url = f.client(), "https://"+addr+"/metrics"
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth(f.user, f.pass)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("jwtwatch_build_info"))
}

func write(t *testing.T, w io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
}

// savedState is the part of the state file this test looks at.
type savedState struct {
	SavedAt   time.Time `json:"saved_at"`
	Positions map[string]struct {
		Offset int64 `json:"offset"`
	} `json:"positions"`
	Rotation struct {
		Rotations map[string]struct {
			CurrentFingerprint string `json:"current_fingerprint"`
		} `json:"rotations"`
	} `json:"rotation"`
}

// TestShutdownWritesFinalState checks that SIGTERM makes jwtwatch (serving
// TLS) stop within 5 s with status 0, after processing what it read and
// writing the state file one last time: checkpoints are an hour apart, so
// the file can only come from the shutdown.
func TestShutdownWritesFinalState(t *testing.T) {
	tests := []struct {
		name string
		// hold opens connections that must not delay or fail the shutdown.
		hold func(t *testing.T, addr string, f *webFixture)
	}{
		{"no clients", func(*testing.T, string, *webFixture) {}},
		{"idle keep-alive scraper", func(t *testing.T, addr string, f *webFixture) {
			if !scrapeOnce(f, addr, true) { // the client keeps the connection open
				t.Fatal("scrape failed")
			}
		}},
		{"slow client mid-request", func(t *testing.T, addr string, f *webFixture) {
			// A half-sent request must not hold the shutdown past the grace period.
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.roots, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			write(t, conn, "GET /metrics HTTP/1.1\r\nHost: jwtwatch\r\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSecrets(t)
			f := newWebFixture(t)
			dir := t.TempDir()
			logPath, statePath := filepath.Join(dir, "gw.log"), filepath.Join(dir, "state.json")
			tr := &traffic{s: s, rotated: time.Now()}
			appendLines(t, logPath, tr.rounds(50))
			p := start(t, s.env(), "--log.path="+logPath, "--log.start-at=beginning", "--state.file="+statePath,
				"--state.checkpoint-interval=1h", "--web.config.file="+f.config)
			waitFor(t, 20*time.Second, "the lines to be read", func() bool {
				return scrapeCount(t, f, p.addr, fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)) >= 50*linesPerRound
			})
			tt.hold(t, p.addr, f)

			sent := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			var exitErr error
			select {
			case exitErr = <-p.done:
				p.done <- exitErr // for the cleanup
			case <-time.After(5 * time.Second):
				t.Fatalf("jwtwatch did not exit within 5s of SIGTERM; output:\n%s", p.output())
			}
			took := time.Since(sent)
			t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
			if exitErr != nil {
				t.Fatalf("jwtwatch exited with %v after SIGTERM; output:\n%s", exitErr, p.output())
			}

			b, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatalf("no final state file: %v", err)
			}
			var st savedState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if st.SavedAt.Before(sent.Add(-time.Second)) || st.SavedAt.After(sent.Add(took+time.Second)) {
				t.Errorf("saved_at = %v, want between SIGTERM at %v and the exit %v later", st.SavedAt, sent, took)
			}
			fi, err := os.Stat(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if pos, ok := st.Positions[logPath]; !ok || pos.Offset != fi.Size() {
				t.Errorf("saved position of %s = %+v (present %v), want offset %d, the end of what was read", logPath, pos, ok, fi.Size())
			}
			if st.Rotation.Rotations["access"].CurrentFingerprint == "" {
				t.Errorf("state file has no rotation state for access tokens:\n%s", b)
			}
			assertNoLeak(t, p.output()+string(b), s, tr.used)
		})
	}
}

// scrapeCount scrapes over TLS with basic auth and returns one sample's value.
func scrapeCount(t *testing.T, f *webFixture, addr, series string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
	req.SetBasicAuth(f.user, f.pass)
	resp, err := f.client().Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return 0
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var n float64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}
