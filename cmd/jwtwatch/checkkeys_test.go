package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// TestCheckKeys runs the Pre-Rotation Checklist command over the same
// variables and files the sidecar reads: exit 0 clean, 1 problems, 2 usage;
// no secret in any output.
func TestCheckKeys(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	spaced := write("spaced", s.refresh+"  \n")
	other := write("other-environments.txt", "# staging\n"+keys.Fingerprint([]byte(s.previous))+" staging access/current\n")
	badList := write("bad.txt", "0123456789ab\nnot-a-fingerprint\n")
	const weak = "CHANGE_ME_jwt_access_secret_2024"
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	weakRSA := write("weak.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	keyFile := write("keys.yaml", "\naccess:\n  keys:\n    - role: previous\n      secret_env: OLD_SECRET\n    - role: retired\n      alg: RS256\n      pem_file: "+weakRSA+"\n")
	conflicting := write("two-current.yaml", "access:\n  keys:\n    - role: current\n      alg: RS256\n      pem_file: "+weakRSA+"\n")
	fpCurrent := keys.Fingerprint([]byte(s.current))
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     []string // in stdout (stderr for exit 2)
	}{
		{"clean", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_ACCESS_SECRET_PREVIOUS": s.previous, "JWT_REFRESH_SECRET": s.refresh, "JWT_ACCESS_ISSUER": "auth-service"},
			nil, exitOK, []string{"access/current   JWT_ACCESS_SECRET           " + fpCurrent + "  HS256  43 bytes  ok", "access/previous", "refresh/current",
				`issuers: access "auth-service", refresh "auth-service"`, "3 key(s) checked: no problem found."}},
		{"placeholder previous key", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_ACCESS_SECRET_PREVIOUS": weak},
			nil, exitFailed, []string{"access/previous  JWT_ACCESS_SECRET_PREVIOUS", "1 problem", "access/previous placeholder:", "fix them before"}},
		{"secret file with trailing spaces", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_REFRESH_SECRET_FILE": spaced},
			nil, exitFailed, []string{"refresh/current  JWT_REFRESH_SECRET_FILE", "refresh/current whitespace:"}},
		{"one secret for both families", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_REFRESH_SECRET": s.current},
			nil, exitFailed, []string{"access/current same_key: the same key as refresh/current (JWT_REFRESH_SECRET)"}},
		{"another environment's key, by flag", map[string]string{"JWT_ACCESS_SECRET": s.current},
			[]string{"--forbid-fingerprint=" + strings.ToUpper(fpCurrent)}, exitFailed, []string{"fingerprint " + fpCurrent + " is listed in --forbid-fingerprint"}},
		{"another environment's key, by file", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_ACCESS_SECRET_PREVIOUS": s.previous},
			[]string{"--forbid-fingerprints-file", other}, exitFailed, []string{"is listed in " + other + ":2 (staging access/current)"}},
		{"unreadable secret file", map[string]string{"JWT_ACCESS_SECRET_FILE": filepath.Join(dir, "absent")},
			nil, exitFailed, []string{"access/current  JWT_ACCESS_SECRET_FILE  -            -    -     1 problem", "load_error"}},
		{"nothing configured", map[string]string{}, nil, exitFailed, []string{"no_key"}},
		// The key file of issue 13: a weak RSA key, the current key twice.
		{"a key file", map[string]string{"JWT_ACCESS_SECRET": s.current, "OLD_SECRET": s.previous},
			[]string{"--keys.file", keyFile}, exitFailed, []string{
				keyFile + ": access.keys[0] (line 4) secret_env OLD_SECRET", keys.Fingerprint([]byte(s.previous)) + "  HS256  43 bytes   ok",
				"access/retired", "RS256  1024 bits  1 problem", "short: an RSA key of 1024 bits: RS256 wants at least 2048",
			}},
		{"a key file that conflicts", map[string]string{"JWT_ACCESS_SECRET": s.current},
			[]string{"--keys.file", conflicting}, exitFailed, []string{"conflict:", "access has two current keys"}},
		{"a forbidden list with a bad line", map[string]string{"JWT_ACCESS_SECRET": s.current},
			[]string{"--forbid-fingerprints-file=" + badList}, exitUsage, []string{badList + ":2"}},
		{"a forbidden list that is missing", map[string]string{"JWT_ACCESS_SECRET": s.current},
			[]string{"--forbid-fingerprints-file=" + filepath.Join(dir, "absent.txt")}, exitUsage, []string{"--forbid-fingerprints-file"}},
		{"a bad fingerprint flag", map[string]string{"JWT_ACCESS_SECRET": s.current},
			[]string{"--forbid-fingerprint=xyz"}, exitUsage, []string{"--forbid-fingerprint"}},
		{"an unknown output", map[string]string{"JWT_ACCESS_SECRET": s.current}, []string{"--output=yaml"}, exitUsage, []string{"--output"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range append(keys.Variables(), "JWT_ACCESS_SECRET_RETIRED", "JWT_REFRESH_SECRET_RETIRED", "OLD_SECRET") {
				for _, name := range []string{v, v + "_FILE"} {
					if val, ok := tt.env[name]; ok {
						t.Setenv(name, val)
					} else {
						t.Setenv(name, "")
						os.Unsetenv(name)
					}
				}
			}
			outputs := []string{"--output=text", "--output=json"}
			if tt.wantCode == exitUsage {
				outputs = []string{""}
			}
			for _, output := range outputs {
				var out, errOut bytes.Buffer
				args := []string{"check-keys"}
				if output != "" {
					args = append(args, output)
				}
				code := run(append(args, tt.args...), nil, &out, &errOut)
				if code != tt.wantCode {
					t.Fatalf("%s: exit %d, want %d; stdout %q stderr %q", output, code, tt.wantCode, out.String(), errOut.String())
				}
				assertNoLeak(t, out.String()+errOut.String(), secrets{s.current, s.previous, s.refresh, weak}, nil)
				if code == exitUsage {
					for _, w := range tt.want {
						if !strings.Contains(errOut.String(), w) {
							t.Errorf("stderr lacks %q: %q", w, errOut.String())
						}
					}
					return
				}
				if output == "--output=json" {
					var r struct {
						OK   bool `json:"ok"`
						Keys []struct {
							Token, Role, Fingerprint string
							Problems                 []struct{ Check, Message string }
						}
					}
					if err := json.Unmarshal(out.Bytes(), &r); err != nil {
						t.Fatalf("JSON output: %v\n%s", err, out.String())
					}
					if r.OK != (code == exitOK) {
						t.Errorf("ok %t with exit %d", r.OK, code)
					}
					continue
				}
				for _, w := range tt.want {
					if !strings.Contains(out.String(), w) {
						t.Errorf("output lacks %q:\n%s", w, out.String())
					}
				}
			}
		})
	}
}
