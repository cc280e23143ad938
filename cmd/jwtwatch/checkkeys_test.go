package main

import (
	"bytes"
	"encoding/json"
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
	fpCurrent := keys.Fingerprint([]byte(s.current))
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     []string // in stdout (stderr for exit 2)
	}{
		{"clean", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_ACCESS_SECRET_PREVIOUS": s.previous, "JWT_REFRESH_SECRET": s.refresh, "JWT_ACCESS_ISSUER": "auth-service"},
			nil, exitOK, []string{"access/current   JWT_ACCESS_SECRET           " + fpCurrent + "  43     ok", "access/previous", "refresh/current",
				`issuers: access "auth-service", refresh "auth-service"`, "3 key(s) checked: no problem found."}},
		{"placeholder previous key", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_ACCESS_SECRET_PREVIOUS": weak},
			nil, exitFailed, []string{"access/previous  JWT_ACCESS_SECRET_PREVIOUS", "1 problem", "access/previous placeholder:", "fix them before"}},
		{"secret file with trailing spaces", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_REFRESH_SECRET_FILE": spaced},
			nil, exitFailed, []string{"refresh/current  JWT_REFRESH_SECRET_FILE", "refresh/current whitespace:"}},
		{"one secret for both families", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_REFRESH_SECRET": s.current},
			nil, exitFailed, []string{"access/current same_secret: the same secret as refresh/current (JWT_REFRESH_SECRET)"}},
		{"another environment's key, by flag", map[string]string{"JWT_ACCESS_SECRET": s.current},
			[]string{"--forbid-fingerprint=" + strings.ToUpper(fpCurrent)}, exitFailed, []string{"fingerprint " + fpCurrent + " is listed in --forbid-fingerprint"}},
		{"another environment's key, by file", map[string]string{"JWT_ACCESS_SECRET": s.current, "JWT_ACCESS_SECRET_PREVIOUS": s.previous},
			[]string{"--forbid-fingerprints-file", other}, exitFailed, []string{"is listed in " + other + ":2 (staging access/current)"}},
		{"unreadable secret file", map[string]string{"JWT_ACCESS_SECRET_FILE": filepath.Join(dir, "absent")},
			nil, exitFailed, []string{"access/current  JWT_ACCESS_SECRET_FILE  -            -      1 problem", "load_error"}},
		{"nothing configured", map[string]string{}, nil, exitFailed, []string{"no_key"}},
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
			for _, v := range append(keys.Variables(), "JWT_ACCESS_SECRET_RETIRED", "JWT_REFRESH_SECRET_RETIRED") {
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
