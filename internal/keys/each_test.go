package keys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadEach reads every key variable on its own: a variable Load would
// refuse is reported with its error, the others still are read, and
// nothing is assembled while one cannot be loaded.
func TestReadEach(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "refresh")
	if err := os.WriteFile(file, []byte("a-refresh-secret-a-refresh-secret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := map[string]string{
		"JWT_ACCESS_SECRET":               "an-access-secret-an-access-secret",
		"JWT_ACCESS_SECRET_PREVIOUS":      "x",
		"JWT_ACCESS_SECRET_PREVIOUS_FILE": file, // both forms
		"JWT_REFRESH_SECRET_FILE":         file,
		"JWT_REFRESH_SECRET_PREVIOUS":     "  ",
		"JWT_ACCESS_SECRET_RETIRED_FILE":  filepath.Join(dir, "absent"),
		"JWT_ACCESS_ISSUER":               "auth-service\n",
	}
	ch, err := ReadEach(Config{Lookup: env(in), ReadFile: os.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"JWT_ACCESS_SECRET access/current " + Fingerprint([]byte("an-access-secret-an-access-secret")),
		"JWT_REFRESH_SECRET_FILE refresh/current " + Fingerprint([]byte("a-refresh-secret-a-refresh-secret ")),
		"JWT_ACCESS_SECRET_PREVIOUS access/previous err " + ErrBothSet.Error(),
		"JWT_REFRESH_SECRET_PREVIOUS refresh/previous err " + ErrEmpty.Error(),
		"JWT_ACCESS_SECRET_RETIRED_FILE access/retired err " + ErrUnreadable.Error(),
	}
	if got := describe(ch); got != strings.Join(want, "\n") {
		t.Errorf("ReadEach:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if ch.Issuers[Access] != "auth-service" || ch.Issuers[Refresh] != "auth-service" || len(ch.Problems) > 0 {
		t.Errorf("issuers %v, problems %v", ch.Issuers, ch.Problems)
	}
	if _, err := ReadEach(Config{Lookup: env(map[string]string{"JWT_ACCESS_ISSUER": "a", "JWT_ACCESS_ISSUER_FILE": file}), ReadFile: os.ReadFile}); !errors.Is(err, ErrBothSet) {
		t.Errorf("both forms of the issuer: err = %v", err)
	}
	// What only the whole can tell: no key, a previous key alone.
	for in, want := range map[string]error{"": ErrNoKey, "JWT_ACCESS_SECRET_PREVIOUS": ErrPreviousAlone} {
		m := map[string]string{}
		if in != "" {
			m[in] = strings.Repeat("p", 32)
		}
		ch, err := ReadEach(Config{Lookup: env(m), ReadFile: os.ReadFile})
		if err != nil || len(ch.Problems) != 1 || !errors.Is(ch.Problems[0], want) {
			t.Errorf("%q: problems %v (%v), want %v", in, ch.Problems, err, want)
		}
	}
}

// TestReadEachKeyFile reads a key file entry by entry: a JWK Set's keys one
// by one, a JWKS URL through Remote, an entry whose file is missing as an
// error of its own.
func TestReadEachKeyFile(t *testing.T) {
	m := newMaterial(t)
	path := filepath.Join(m.dir, "keys.yaml")
	yaml := fmt.Sprintf(`
access:
  keys:
    - role: current
      alg: RS256
      pem_file: %s
    - role: previous
      secret_env: OLD_ACCESS_SECRET
    - role: retired
      pem_file: %s
refresh:
  keys:
    - jwks_url: https://auth.example.test/jwks.json
      roles: {k1: current, k2: previous}
`, m.rsaPEM, filepath.Join(m.dir, "absent.pem"))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ch, err := ReadEach(Config{Lookup: m.env(), ReadFile: os.ReadFile, File: path,
		Remote: func(Entry) ([]byte, error) { return os.ReadFile(m.jwks) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + ": access.keys[0] (line 4) pem_file " + m.rsaPEM + " access/current " + m.rsaFP,
		path + ": access.keys[1] (line 7) secret_env OLD_ACCESS_SECRET access/previous " + Fingerprint([]byte(m.secret)),
		path + ": access.keys[2] (line 9) access/retired err " + ErrKeyFile.Error(),
		path + `: refresh.keys[0] (line 13) jwks_url https://auth.example.test/jwks.json key 0 (kid "k1") refresh/current ` + m.edFP,
		path + `: refresh.keys[0] (line 13) jwks_url https://auth.example.test/jwks.json key 1 (kid "k2") refresh/previous ` + m.edFP2,
	}
	if got := describe(ch); got != strings.Join(want, "\n") {
		t.Errorf("ReadEach:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if len(ch.Problems) > 0 {
		t.Errorf("problems %v: a key that cannot be loaded leaves the whole unchecked", ch.Problems)
	}
}

// describe renders what ReadEach found, one key a line.
func describe(ch Checked) string {
	var lines []string
	for _, c := range ch.Keys {
		s := fmt.Sprintf("%s %s/%s", c.Source, c.Family, c.Role)
		if c.Err != nil {
			for _, sentinel := range []error{ErrBothSet, ErrEmpty, ErrUnreadable, ErrKeyFile} {
				if errors.Is(c.Err, sentinel) {
					s += " err " + sentinel.Error()
					break
				}
			}
		} else {
			s += " " + c.Key.Fingerprint
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}
