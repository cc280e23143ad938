package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// ring is one way to sign the traffic of a gateway mid-rotation: a current,
// previous and next access key, a refresh key, and an attacker's.
type ring struct {
	alg                                        string
	current, previous, next, refresh, attacker any // []byte secrets or crypto.Signer keys
	used                                       []string
}

func (r *ring) sign(key any, kid string, claims jwt.MapClaims) string {
	var s gatewaylog.Signer
	switch k := key.(type) {
	case []byte:
		s = gatewaylog.HMAC(r.alg, k)
	case crypto.Signer:
		s = gatewaylog.PrivateKey(r.alg, k)
	default:
		panic(fmt.Sprintf("ring: a %T is not a key", key))
	}
	if kid != "" {
		s = gatewaylog.WithKeyID(s, kid)
	}
	tok := gatewaylog.Token(s, claims)
	r.used = append(r.used, tok)
	return tok
}

// lines is the same mix of requests whatever the algorithm; kids name the
// keys of a JWK Set (HMAC secrets have none).
func (r *ring) lines(now, rotated time.Time, kids bool) []string {
	kid := func(k string) string {
		if kids {
			return k
		}
		return ""
	}
	before := rotated.Add(-time.Hour)
	c := func(sub string, iat, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": sub, "iss": "auth-service", "iat": iat.Unix(), "exp": exp.Unix()}
	}
	return []string{
		pinoLine(now, "Bearer "+r.sign(r.current, kid("cur"), c("alice", now, now.Add(time.Hour))), 200),
		pinoLine(now, "Bearer "+r.sign(r.current, kid("cur"), c("bob", now, now.Add(time.Hour))), 200),
		pinoLine(now, "Bearer "+r.sign(r.previous, kid("prev"), c("carol", before, now.Add(time.Hour))), 200),
		pinoLine(now, "Bearer "+r.sign(r.previous, kid("prev"), c("dave", before, now.Add(time.Hour))), 401),
		pinoLine(now, "Bearer "+r.sign(r.next, kid("next"), c("canary", now, now.Add(time.Hour))), 200),
		pinoLine(now, "Bearer "+r.sign(r.refresh, kid("ref"), c("alice", now, now.Add(24*time.Hour))), 201),
		pinoLine(now, "Bearer "+r.sign(r.current, kid("cur"), c("erin", before, now.Add(-time.Minute))), 401),
		pinoLine(now, "Bearer "+r.sign(r.attacker, kid("cur"), c("admin", now, now.Add(-time.Minute))), 401),
		pinoLine(now, "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", 401),
		pinoLine(now, "Bearer not-a-jwt", 401),
		// Minted with the old key after the rotation (run without grace), on a
		// line within the clock skew of its iat and of the clock.
		pinoLine(now.Add(45*time.Second), "Bearer "+r.sign(r.previous, kid("prev"), c("mallory", now.Add(90*time.Second), now.Add(time.Hour))), 200),
	}
}

// run starts jwtwatch on the lines with the ring's keys and returns its
// token counters once every line is counted: every line holds a token, and
// a line is counted as read before its token is checked.
func (r *ring) run(t *testing.T, lines []string, env []string, args ...string) map[string]float64 {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "gateway.log")
	appendLines(t, logPath, lines)
	p := start(t, env, append([]string{"--log.path=" + logPath, "--log.start-at=beginning", "--rotation.grace=0s"}, args...)...)
	var got map[string]float64
	var served []string
	waitFor(t, 20*time.Second, "every line to be read", func() bool {
		got = p.scrape(t, func(b string) { served = append(served, b) })
		checked := 0.0
		for k, v := range got {
			if strings.HasPrefix(k, "jwtwatch_tokens_total{") {
				checked += v
			}
		}
		return checked >= float64(len(lines))
	})
	p.stop(t)
	for _, tok := range r.used {
		if strings.Contains(p.output()+strings.Join(served, ""), tok) {
			t.Fatal("a token appears in jwtwatch's output or metrics")
		}
	}
	out := map[string]float64{}
	for k, v := range got {
		for _, name := range []string{"jwtwatch_tokens_total{", "jwtwatch_gateway_mismatches_total{", "jwtwatch_suspicious_tokens_total{"} {
			if strings.HasPrefix(k, name) {
				out[k] = v
			}
		}
	}
	return out
}

// TestJWKSFileLikeHS256 is the newcomer's first run with a JWK Set: the same
// gateway traffic signed with RS256 or ES256 keys published in a JWK Set that
// a key file names by kid, and signed with HS256 secrets from the
// environment (the next key's through the key file), gives exactly the same
// counts by key (current, previous, next), verdict and suspicion.
func TestJWKSFileLikeHS256(t *testing.T) {
	now := time.Now()
	rotated := now.Add(-time.Minute) // jwtwatch starts the rotation when it loads the keys; the log is older

	hs := &ring{alg: "HS256"}
	secret := func() any { return []byte(newSecrets(t).current) }
	hs.current, hs.previous, hs.next, hs.refresh, hs.attacker = secret(), secret(), secret(), secret(), secret()
	dir := t.TempDir()
	hsKeys := filepath.Join(dir, "hs.yaml")
	writeFile(t, hsKeys, "access:\n  keys:\n    - role: next\n      secret_env: JWT_ACCESS_SECRET_NEXT\n")
	env := []string{
		"JWT_ACCESS_SECRET=" + string(hs.current.([]byte)), "JWT_ACCESS_SECRET_PREVIOUS=" + string(hs.previous.([]byte)),
		"JWT_REFRESH_SECRET=" + string(hs.refresh.([]byte)), "JWT_ACCESS_SECRET_NEXT=" + string(hs.next.([]byte)), "JWT_ACCESS_ISSUER=auth-service",
	}
	want := hs.run(t, hs.lines(now, rotated, false), env, "--keys.file="+hsKeys)
	expect := map[string]float64{
		tokens("access", "current", "valid"):                                                             2,
		tokens("access", "previous", "valid"):                                                            3,
		tokens("access", "next", "valid"):                                                                1,
		tokens("refresh", "current", "valid"):                                                            1,
		tokens("access", "current", "expired"):                                                           1,
		tokens("unknown", "none", "bad_signature"):                                                       1,
		`jwtwatch_suspicious_tokens_total{key="next",reason="signed_with_next_key",token="access"}`:      1,
		`jwtwatch_suspicious_tokens_total{key="previous",reason="issued_after_rotation",token="access"}`: 1,
		`jwtwatch_gateway_mismatches_total{gateway="rejected",key="previous",result="valid"}`:            1,
	}
	for k, v := range expect {
		if want[k] != v {
			t.Errorf("HS256: %s = %v, want %v", k, want[k], v)
		}
	}

	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			r := &ring{alg: alg}
			gen := func() any {
				k, err := keys.GeneratePair(alg)
				if err != nil {
					t.Fatal(err)
				}
				return k
			}
			r.current, r.previous, r.next, r.refresh, r.attacker = gen(), gen(), gen(), gen(), gen()
			dir := t.TempDir()
			set := func(name string, kid []string, ks ...any) string {
				var members []string
				for i, k := range ks {
					j, err := keys.PublicJWK(k.(crypto.Signer).Public(), kid[i], alg)
					if err != nil {
						t.Fatal(err)
					}
					members = append(members, string(j))
				}
				p := filepath.Join(dir, name)
				writeFile(t, p, `{"keys":[`+strings.Join(members, ",")+`]}`)
				return p
			}
			access := set("access.json", []string{"cur", "prev", "next"}, r.current, r.previous, r.next)
			refresh := set("refresh.json", []string{"ref"}, r.refresh)
			kf := filepath.Join(dir, "keys.yaml")
			writeFile(t, kf, fmt.Sprintf(`# A newcomer's key file: the JWK Set by kid.
access:
  issuer: auth-service
  keys:
    - jwks_file: %s
      roles: {cur: current, next: next}   # prev, not named, is previous
refresh:
  keys:
    - jwks_file: %s
      roles: {ref: current}
`, access, refresh))
			got := r.run(t, r.lines(now, rotated, true), nil, "--keys.file="+kf)
			if !maps.Equal(got, want) {
				for k := range want {
					if got[k] != want[k] {
						t.Errorf("%s: %s = %v, with HS256 %v", alg, k, got[k], want[k])
					}
				}
				for k := range got {
					if _, ok := want[k]; !ok {
						t.Errorf("%s: %s = %v, not in the HS256 run", alg, k, got[k])
					}
				}
			}
		})
	}
}

// TestKeyFileStartupErrors: a bad key configuration stops jwtwatch before it
// starts, with exit status 2 and one line naming the file, the key and what
// is wrong, and never a secret; a JWKS URL that cannot be fetched at start
// is no configuration error (exit 1).
func TestKeyFileStartupErrors(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	log := "--log.path=" + filepath.Join(dir, "gw.log")
	kf := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, content)
		return p
	}
	secretFile := kf("secret", s.previous+"\n")
	tests := []struct {
		name string
		file string
		env  []string
		code int
		want []string
	}{
		{"secret in the file", kf("inline.yaml", "access:\n  keys:\n    - role: current\n      secret: "+s.current+"\n"), nil, exitUsage,
			[]string{"inline.yaml", "access.keys[0] (line 3)", "never holds a secret"}},
		{"PEM file missing", kf("pem.yaml", "access:\n  keys:\n    - role: current\n      alg: ES256\n      pem_file: /nonexistent/key.pem\n"), nil, exitUsage,
			[]string{"pem.yaml", "access.keys[0]", "pem_file", "/nonexistent/key.pem", "no such file"}},
		{"two current keys", kf("two.yaml", "access:\n  keys:\n    - role: current\n      secret_file: "+secretFile+"\n"), []string{"JWT_ACCESS_SECRET=" + s.current}, exitUsage,
			[]string{"two current keys", "JWT_ACCESS_SECRET", "two.yaml: access.keys[0]"}},
		{"http JWKS URL", kf("http.yaml", "access:\n  keys:\n    - jwks_url: http://127.0.0.1:1/jwks.json?key="+s.attacker+"\n      roles: {a: current}\n"), nil, exitUsage,
			[]string{"http.yaml", "access.keys[0]", "must be https"}},
		{"JWKS URL unreachable", kf("down.yaml", "access:\n  keys:\n    - jwks_url: https://127.0.0.1:1/jwks.json?key="+s.attacker+"\n      roles: {a: current}\n"), nil, exitFailed,
			[]string{"down.yaml", "access.keys[0]", "https://127.0.0.1:1/jwks.json?…", "cannot fetch"}},
		{"file missing", filepath.Join(dir, "absent.yaml"), nil, exitUsage, []string{"absent.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out := exitStatus(t, tt.env, log, "--keys.file="+tt.file, "--keys.jwks.timeout=2s")
			assertOneLineError(t, code, tt.code, out, tt.want, s)
		})
	}
}

// TestKeygenPair: keygen writes an Ed25519 or P-256 private key to a new
// 0600 file and prints only the public JWK, whose key is the file's.
func TestKeygenPair(t *testing.T) {
	for _, typ := range []string{"ed25519", "ec-p256"} {
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.pem")
			var out, errOut bytes.Buffer
			if code := run([]string{"keygen", "--type=" + typ, "--private-key-file=" + path, "--kid=2026-12"}, nil, &out, &errOut); code != exitOK {
				t.Fatalf("exit %d; stderr %q", code, errOut.String())
			}
			jwk, err := keys.ParseJWK(out.Bytes())
			if err != nil {
				t.Fatalf("stdout is not a public JWK: %v\n%s", err, out.String())
			}
			if jwk.KID != "2026-12" || jwk.Alg != map[string]string{"ed25519": "EdDSA", "ec-p256": "ES256"}[typ] {
				t.Errorf("kid %q alg %q", jwk.KID, jwk.Alg)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("private key file mode %v, want 0600", fi.Mode().Perm())
			}
			data, _ := os.ReadFile(path)
			block, _ := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("not a PKCS #8 PEM: %q", data)
			}
			priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !priv.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(jwk.Public) {
				t.Error("the JWK is not the private key's public half")
			}
			k, _ := keys.NewPublic(keys.Access, keys.Current, jwk.Alg, jwk.Public)
			if !strings.Contains(errOut.String(), k.Fingerprint) {
				t.Errorf("stderr %q lacks the fingerprint %s", errOut.String(), k.Fingerprint)
			}
			if strings.Contains(out.String()+errOut.String(), string(block.Bytes[len(block.Bytes)-8:])) || strings.Contains(out.String(), "PRIVATE") || strings.Contains(out.String(), `"d"`) {
				t.Error("the private key was printed")
			}
			// Never over an existing key.
			if code := run([]string{"keygen", "--type=" + typ, "--private-key-file=" + path}, nil, &out, &errOut); code != exitUsage {
				t.Errorf("overwriting: exit %d, want %d", code, exitUsage)
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
				t.Error("the existing private key was replaced")
			}
		})
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"keygen", "--type=ed25519"}, nil, &out, &errOut); code != exitUsage || out.Len() != 0 {
		t.Errorf("without --private-key-file: exit %d, stdout %q", code, out.String())
	}
}

// TestInspectAndScanKeyFile: inspect and scan take the same key file as the
// sidecar and attribute tokens of a JWK Set's keys by kid.
func TestInspectAndScanKeyFile(t *testing.T) {
	for _, v := range []string{"JWT_ACCESS_SECRET", "JWT_ACCESS_SECRET_PREVIOUS", "JWT_REFRESH_SECRET", "JWT_ACCESS_ISSUER"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	dir := t.TempDir()
	r := &ring{alg: "ES256"}
	gen := func() any {
		k, err := keys.GeneratePair("ES256")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	r.current, r.previous, r.next, r.refresh, r.attacker = gen(), gen(), gen(), gen(), gen()
	var members []string
	for kid, k := range map[string]any{"cur": r.current, "prev": r.previous, "next": r.next} {
		j, err := keys.PublicJWK(k.(crypto.Signer).Public(), kid, "ES256")
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, string(j))
	}
	set := filepath.Join(dir, "jwks.json")
	writeFile(t, set, `{"keys":[`+strings.Join(members, ",")+`]}`)
	kf := filepath.Join(dir, "keys.yaml")
	writeFile(t, kf, "access:\n  keys:\n    - jwks_file: "+set+"\n      roles: {cur: current, next: next}\n")
	now := time.Now()
	tok := r.sign(r.next, "next", jwt.MapClaims{"sub": "canary", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})

	var out, errOut bytes.Buffer
	if code := run([]string{"inspect", "--keys.file=" + kf, tok}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("inspect: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, w := range []string{"verdict:", "valid", "next key of access tokens", `"kid": "next"`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("inspect output lacks %q:\n%s", w, out.String())
		}
	}
	logPath := filepath.Join(dir, "gw.log")
	appendLines(t, logPath, r.lines(now, now.Add(-time.Minute), true)[:5])
	out.Reset()
	errOut.Reset()
	if code := run([]string{"scan", "--keys.file=" + kf, "--output=json", logPath}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, errOut.String())
	}
	for _, w := range []string{`"next"`, `"current"`, `"previous"`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("scan report lacks %s:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), tok) {
		t.Error("scan shows a token")
	}
}
