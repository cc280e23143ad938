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
// refuse is reported with its error, the others still are read.
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
	got, issuers, err := ReadEach(env(in), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		s := fmt.Sprintf("%s %s/%s", c.Variable, c.Family, c.Role)
		switch {
		case c.Err != nil:
			for _, sentinel := range []error{ErrBothSet, ErrEmpty, ErrUnreadable} {
				if errors.Is(c.Err, sentinel) {
					s += " err " + sentinel.Error()
				}
			}
		default:
			s += " " + c.Key.Fingerprint + " " + c.Key.Source
		}
		lines = append(lines, s)
	}
	want := []string{
		"JWT_ACCESS_SECRET access/current " + Fingerprint([]byte("an-access-secret-an-access-secret")) + " JWT_ACCESS_SECRET",
		"JWT_REFRESH_SECRET_FILE refresh/current " + Fingerprint([]byte("a-refresh-secret-a-refresh-secret ")) + " JWT_REFRESH_SECRET_FILE",
		"JWT_ACCESS_SECRET_PREVIOUS access/previous err " + ErrBothSet.Error(),
		"JWT_REFRESH_SECRET_PREVIOUS refresh/previous err " + ErrEmpty.Error(),
		"JWT_ACCESS_SECRET_RETIRED_FILE access/retired err " + ErrUnreadable.Error(),
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("ReadEach:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if issuers[Access] != "auth-service" || issuers[Refresh] != "auth-service" {
		t.Errorf("issuers = %v", issuers)
	}
	if _, _, err := ReadEach(env(map[string]string{"JWT_ACCESS_ISSUER": "a", "JWT_ACCESS_ISSUER_FILE": file}), os.ReadFile); !errors.Is(err, ErrBothSet) {
		t.Errorf("both forms of the issuer: err = %v", err)
	}
}
