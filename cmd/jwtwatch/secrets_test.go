package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// How soon a changed key must be in use. keyReloadWithin is the guarantee,
// measured from the change to the keys-loaded time jwtwatch reports.
// keyVisibleWithin bounds the change to a freshly signed token being counted
// valid, which adds the tailer's 250 ms poll and a scrape: on a loaded
// 2-core machine with the race detector that reached 2.3 s.
const (
	keyReloadWithin  = time.Second
	keyVisibleWithin = 5 * time.Second
)

// exitStatus runs the binary to completion and returns its exit status and output.
func exitStatus(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...)
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("jwtwatch did not exit; output:\n%s", out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSecretStartupErrors checks that every way of mis-configuring a secret
// stops jwtwatch before it starts, with status 2 and one line that names the
// variable but shows no secret: both VAR and VAR_FILE set (for every key
// variable and the issuer), and an empty or whitespace-only secret given
// directly or through a file.
func TestSecretStartupErrors(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, content)
		return p
	}
	good := file("good", s.previous+"\n")
	log := "--log.path=" + filepath.Join(dir, "gw.log")
	base := "JWT_ACCESS_SECRET=" + s.current

	type tc struct {
		name string
		env  []string
		want []string // all must be in the one line printed
	}
	var tests []tc
	for _, v := range []string{"JWT_ACCESS_SECRET", "JWT_ACCESS_SECRET_PREVIOUS", "JWT_REFRESH_SECRET", "JWT_REFRESH_SECRET_PREVIOUS", "JWT_ACCESS_SECRET_RETIRED", "JWT_REFRESH_SECRET_RETIRED", "JWT_ACCESS_ISSUER", "JWT_REFRESH_ISSUER"} {
		env := []string{v + "=" + s.refresh, v + "_FILE=" + good}
		if v != "JWT_ACCESS_SECRET" {
			env = append(env, base)
		}
		if v == "JWT_REFRESH_SECRET_PREVIOUS" {
			// Otherwise "previous without current" could be the complaint.
			env = append(env, "JWT_REFRESH_SECRET="+s.attacker)
		}
		tests = append(tests, tc{"both " + v + " and its _FILE", env, []string{v, "not both"}})
	}
	for name, content := range map[string]string{"empty": "", "LF only": "\n", "CRLF only": "\r\n", "spaces and LF": "  \t \n", "spaces": "   "} {
		tests = append(tests,
			tc{"current key file " + name, []string{"JWT_ACCESS_SECRET_FILE=" + file("current "+name, content)}, []string{"JWT_ACCESS_SECRET_FILE", "empty"}},
			tc{"refresh previous key file " + name, []string{base, "JWT_REFRESH_SECRET=" + s.refresh, "JWT_REFRESH_SECRET_PREVIOUS_FILE=" + file("previous "+name, content)}, []string{"JWT_REFRESH_SECRET_PREVIOUS_FILE", "empty"}},
		)
	}
	for name, value := range map[string]string{"empty": "", "spaces": "    ", "tab and newline": "\t\n", "CRLF": "\r\n"} {
		tests = append(tests,
			tc{"current key variable " + name, []string{"JWT_ACCESS_SECRET=" + value}, []string{"JWT_ACCESS_SECRET", "empty"}},
			tc{"previous key variable " + name, []string{base, "JWT_ACCESS_SECRET_PREVIOUS=" + value}, []string{"JWT_ACCESS_SECRET_PREVIOUS", "empty"}},
		)
	}
	tests = append(tests,
		// Read at most 64 KiB, so the error comes at once (it read 4.5 GB in 11 s, deaf to SIGTERM).
		tc{"secret file /dev/zero", []string{"JWT_ACCESS_SECRET_FILE=/dev/zero"}, []string{"JWT_ACCESS_SECRET_FILE", "file is too large"}},
		tc{"previous equal to current", []string{base, "JWT_ACCESS_SECRET_PREVIOUS=" + s.current}, []string{"JWT_ACCESS_SECRET and JWT_ACCESS_SECRET_PREVIOUS", "same secret"}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out := exitStatus(t, tt.env, log)
			assertOneLineError(t, code, exitUsage, out, tt.want, s)
		})
	}
}

// assertOneLineError checks that jwtwatch stopped with the exit status want
// and one line of output that mentions every one of mention and no secret.
func assertOneLineError(t *testing.T, code, want int, out string, mention []string, s secrets) {
	t.Helper()
	if code != want {
		t.Fatalf("exit status %d, want %d; output:\n%s", code, want, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Errorf("output has %d lines, want 1:\n%s", len(lines), out)
	}
	for _, w := range mention {
		if !strings.Contains(lines[0], w) {
			t.Errorf("output %q does not mention %q", lines[0], w)
		}
	}
	assertNoLeak(t, out, s, nil)
}

// TestSecretFileNewline checks, by verifying real tokens, that exactly one
// trailing LF or CRLF is stripped from a secret file and nothing else is.
func TestSecretFileNewline(t *testing.T) {
	s := newSecrets(t)
	tests := []struct {
		name    string
		content string
		key     string // the secret jwtwatch must have loaded
		notKey  string // a near miss that must not verify
	}{
		{"LF", s.current + "\n", s.current, s.current + "\n"},
		{"CRLF", s.current + "\r\n", s.current, s.current + "\r\n"},
		{"no newline", s.current, s.current, s.current + "\n"},
		{"only one of two LFs", s.current + "\n\n", s.current + "\n", s.current},
		{"CR alone is kept", s.current + "\r", s.current + "\r", s.current},
		{"trailing space is kept", s.current + " \n", s.current + " ", s.current},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			keyFile, logPath := filepath.Join(dir, "access"), filepath.Join(dir, "gw.log")
			writeFile(t, keyFile, tt.content)
			tr := &traffic{s: s}
			now := time.Now()
			appendLines(t, logPath, []string{
				pinoLine(now, "Bearer "+tr.sign(tt.key, "alice", now, now.Add(time.Hour)), 200),
				pinoLine(now, "Bearer "+tr.sign(tt.notKey, "bob", now, now.Add(time.Hour)), 200),
			})
			p := start(t, []string{"JWT_ACCESS_SECRET_FILE=" + keyFile, "JWT_ACCESS_ISSUER=auth-service"}, "--log.path="+logPath, "--log.start-at=beginning")
			var got map[string]float64
			waitFor(t, 20*time.Second, "both lines to be read", func() bool {
				got = p.scrape(t, nil)
				return got[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= 2
			})
			if v := got[tokens("access", "current", "valid")]; v != 1 {
				t.Errorf(`key="current" result="valid" = %v, want 1 (the token signed with the stripped secret)`, v)
			}
			if v := got[tokens("unknown", "none", "bad_signature")]; v != 1 {
				t.Errorf(`result="bad_signature" = %v, want 1 (the token signed with the near miss)`, v)
			}
			p.stop(t)
			assertNoLeak(t, p.output(), s, tr.used)
		})
	}
}

// keyMover changes the access key file one way and reports how.
type keyMover struct {
	name string
	// setup writes the first secret and returns the path for JWT_ACCESS_SECRET_FILE.
	setup func(t *testing.T, dir, secret string) string
	// set makes secret the file's content; broken makes the file unusable.
	set    func(t *testing.T, dir, secret string)
	broken func(t *testing.T, dir string)
	// sighup: the change is invisible to the file watch, so send SIGHUP.
	sighup bool
	// why is what the failed reload's log line must say.
	why string
}

// renameInto replaces dir/name atomically, as editors and config tools do.
func renameInto(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// k8sSwap does what the kubelet does on a secret update: write a new
// timestamped directory, point ..data at it with an atomic rename, remove the old one.
func k8sSwap(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	gen, err := os.MkdirTemp(dir, "..gen-")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, filepath.Join(gen, name), content)
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(gen), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyReload checks, for each way a mounted secret changes, that the new
// key is in use within keyReloadWithin of the change and verifies a freshly
// signed token within keyVisibleWithin; that a broken secret keeps the loaded
// key, is counted as a failed reload and logged with its reason; and that a
// fixed secret is picked up again. Nothing printed or served may show a
// secret or a token.
func TestKeyReload(t *testing.T) {
	movers := []keyMover{
		{
			name: "file written in place",
			setup: func(t *testing.T, dir, secret string) string {
				p := filepath.Join(dir, "access")
				writeFile(t, p, secret+"\n")
				return p
			},
			set:    func(t *testing.T, dir, secret string) { writeFile(t, filepath.Join(dir, "access"), secret+"\n") },
			broken: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "access"), "") },
			why:    "empty",
		},
		{
			name: "file replaced by rename",
			setup: func(t *testing.T, dir, secret string) string {
				p := filepath.Join(dir, "access")
				writeFile(t, p, secret+"\r\n")
				return p
			},
			set:    func(t *testing.T, dir, secret string) { renameInto(t, dir, "access", secret+"\r\n") },
			broken: func(t *testing.T, dir string) { renameInto(t, dir, "access", " \t \n") },
			why:    "empty",
		},
		{
			// Kubernetes: access -> ..data/access, and ..data is swapped atomically.
			name: "kubernetes secret volume",
			setup: func(t *testing.T, dir, secret string) string {
				k8sSwap(t, dir, map[string]string{"access": secret})
				if err := os.Symlink(filepath.Join("..data", "access"), filepath.Join(dir, "access")); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, "access")
			},
			set:    func(t *testing.T, dir, secret string) { k8sSwap(t, dir, map[string]string{"access": secret}) },
			broken: func(t *testing.T, dir string) { k8sSwap(t, dir, map[string]string{"other": "x"}) },
			why:    "cannot be read",
		},
		{
			// The watched path is a symlink into a directory nobody watches.
			name: "SIGHUP",
			setup: func(t *testing.T, dir, secret string) string {
				store := filepath.Join(dir, "store")
				if err := os.Mkdir(store, 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(store, "access"), secret)
				link := filepath.Join(dir, "keys", "access")
				if err := os.Mkdir(filepath.Dir(link), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(store, "access"), link); err != nil {
					t.Fatal(err)
				}
				return link
			},
			set:    func(t *testing.T, dir, secret string) { writeFile(t, filepath.Join(dir, "store", "access"), secret) },
			broken: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "store", "access")) },
			sighup: true,
			why:    "cannot be read",
		},
	}
	for _, m := range movers {
		// One at a time: the timing is what is tested.
		t.Run(m.name, func(t *testing.T) {
			s := newSecrets(t)
			dir := t.TempDir()
			keyDir := filepath.Join(dir, "secret")
			if err := os.Mkdir(keyDir, 0o700); err != nil {
				t.Fatal(err)
			}
			logPath := filepath.Join(dir, "gw.log")
			writeFile(t, logPath, "")
			keyFile := m.setup(t, keyDir, s.previous)
			p := start(t, []string{"JWT_ACCESS_SECRET_FILE=" + keyFile, "JWT_ACCESS_ISSUER=auth-service"}, "--log.path="+logPath)
			waitReady(t, p)
			tr := &traffic{s: s}
			var served []string
			scrape := func() map[string]float64 { return p.scrape(t, func(b string) { served = append(served, b) }) }
			appended := 0
			// settle waits until every appended line is processed, so that
			// counts taken afterwards are not raced by lines in flight.
			settle := func() {
				t.Helper()
				waitFor(t, 20*time.Second, "the appended lines to be read", func() bool {
					return scrape()[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= float64(appended)
				})
			}
			valid := func() float64 { return scrape()[tokens("access", "current", "valid")] }
			reloads := func(result string) float64 {
				return scrape()[fmt.Sprintf(`jwtwatch_key_reloads_total{result=%q}`, result)]
			}
			// loadedAt is when jwtwatch last swapped in a key set, by its own
			// clock: the gauge is set right after the swap.
			loadedAt := func() time.Time {
				return time.Unix(0, int64(scrape()["jwtwatch_keys_loaded_timestamp_seconds"]*1e9))
			}
			// verified waits until a token signed with secret, freshly
			// appended on every poll, is counted valid.
			verified := func(secret, what string) {
				t.Helper()
				settle()
				before := valid()
				waitFor(t, 20*time.Second, "a token signed with the "+what+" key to be counted valid", func() bool {
					now := time.Now()
					appendLines(t, logPath, []string{pinoLine(now, "Bearer "+tr.sign(secret, "alice", now, now.Add(time.Hour)), 200)})
					appended++
					return valid() > before
				})
			}
			// rotate makes secret the key and checks how fast it takes effect.
			rotate := func(secret string) {
				t.Helper()
				settle()
				previously := loadedAt()
				begin := time.Now()
				m.set(t, keyDir, secret)
				if m.sighup {
					if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
						t.Fatal(err)
					}
				}
				verified(secret, "new")
				seen := time.Since(begin)
				loaded := loadedAt()
				t.Logf("new key in use %v after the change; a token signed with it counted valid after %v",
					loaded.Sub(begin).Round(time.Millisecond), seen.Round(time.Millisecond))
				if !loaded.After(previously) {
					t.Fatalf("the key took effect but the keys-loaded time did not move")
				}
				if d := loaded.Sub(begin); d > keyReloadWithin {
					t.Errorf("the new key was put in use %v after the change, want within %v", d.Round(time.Millisecond), keyReloadWithin)
				}
				if seen > keyVisibleWithin {
					t.Errorf("a token signed with the new key was counted valid %v after the change, want within %v", seen.Round(time.Millisecond), keyVisibleWithin)
				}
			}

			rotate(s.current)

			// A broken secret: counted, logged, and the loaded key stays.
			failures, loaded := reloads("failure"), loadedAt()
			m.broken(t, keyDir)
			if m.sighup {
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 20*time.Second, "the failed reload to be counted", func() bool { return reloads("failure") > failures })
			verified(s.current, "kept")
			if !loadedAt().Equal(loaded) {
				t.Error("a failed reload changed the keys-loaded time")
			}
			logged := false
			for l := range strings.SplitSeq(p.output(), "\n") {
				logged = logged || strings.Contains(l, "key reload failed") && strings.Contains(l, m.why)
			}
			if !logged {
				t.Errorf("no log line says the reload failed and why (%q):\n%s", m.why, p.output())
			}

			// Fixed again: the next key is picked up just as fast.
			rotate(s.refresh)
			if m.sighup && !strings.Contains(p.output(), "reloading keys on SIGHUP") {
				t.Error("the reload was not logged as caused by SIGHUP")
			}
			p.stop(t)
			assertNoLeak(t, p.output()+strings.Join(served, "\n"), s, tr.used)
		})
	}
}

// waitReady waits until jwtwatch has opened its log sources, so that lines
// appended afterwards are read even when it starts at the end of files.
func waitReady(t *testing.T, p *proc) {
	t.Helper()
	waitFor(t, 20*time.Second, "jwtwatch to be ready", func() bool {
		resp, err := http.Get("http://" + p.addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// TestKeyFileSecretsNeverShown extends the leak checks to the key file: HMAC
// secrets it names by variable and by file, a JWKS URL whose query carries a
// credential, a reload that fails on a broken secret file and one that
// succeeds, at debug level. Nothing printed or served (metrics, status page,
// stragglers) shows a secret, a token or the URL's query.
func TestKeyFileSecretsNeverShown(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := keys.PublicJWK(ec.Public(), "es-1", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"keys":[%s]}`, jwk)
	}))
	defer jwksSrv.Close()
	secretFile := filepath.Join(dir, "previous")
	writeFile(t, secretFile, s.previous+"\n")
	kf := filepath.Join(dir, "keys.yaml")
	writeFile(t, kf, fmt.Sprintf(`access:
  issuer: auth-service
  keys:
    - role: current
      secret_env: ACCESS_SIGNING_SECRET
    - role: previous
      secret_file: %s
    - jwks_url: %s/jwks.json?access_token=%s
      roles: {es-1: next}
`, secretFile, jwksSrv.URL, s.attacker))
	logPath := filepath.Join(dir, "gw.log")
	writeFile(t, logPath, "")
	p := start(t, []string{"ACCESS_SIGNING_SECRET=" + s.current, "JWT_REFRESH_SECRET=" + s.refresh},
		"--log.path="+logPath, "--keys.file="+kf, "--keys.jwks.allow-http", "--log.level=debug")
	waitReady(t, p)
	tr := &traffic{s: s}
	now := time.Now()
	nextTok := gatewaylog.Token(gatewaylog.WithKeyID(gatewaylog.PrivateKey("ES256", ec), "es-1"),
		map[string]any{"sub": "canary", "iss": "auth-service", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tr.used = append(tr.used, nextTok)
	lines := append(tr.round(now), pinoLine(now, "Bearer "+nextTok, 200))
	appendLines(t, logPath, lines)
	var served []string
	scrape := func() map[string]float64 { return p.scrape(t, func(b string) { served = append(served, b) }) }
	waitFor(t, 20*time.Second, "the lines to be read", func() bool {
		return scrape()[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, logPath)] >= float64(len(lines))
	})
	got := scrape()
	if got[tokens("access", "previous", "valid")] != 4 || got[tokens("access", "next", "valid")] != 1 {
		t.Errorf("previous valid %v, next valid %v: the key file's keys are not in use", got[tokens("access", "previous", "valid")], got[tokens("access", "next", "valid")])
	}
	// A broken secret file: the reload fails and says why; fixed: it succeeds.
	failures := got[`jwtwatch_key_reloads_total{result="failure"}`]
	writeFile(t, secretFile, "\n")
	waitFor(t, 20*time.Second, "the failed reload", func() bool { return scrape()[`jwtwatch_key_reloads_total{result="failure"}`] > failures })
	writeFile(t, secretFile, s.previous)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the reload on SIGHUP", func() bool { return strings.Contains(p.output(), "reloading keys on SIGHUP") })
	for _, path := range []string{"/", "/api/v1/stragglers"} {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served = append(served, string(b))
	}
	p.stop(t)
	text := p.output() + strings.Join(served, "\n")
	assertNoLeak(t, text, s, tr.used)
	if strings.Contains(text, "access_token") {
		t.Error("the JWKS URL's query appears in jwtwatch's output or metrics")
	}
	if !strings.Contains(p.output(), "key reload failed") || !strings.Contains(p.output(), "empty") {
		t.Errorf("the failed reload is not logged with its reason:\n%s", p.output())
	}
}
