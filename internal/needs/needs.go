// Package needs lets a test ask for what lies outside Go: a program on the
// PATH (a Debian package that scripts/test installs when missing) or the
// slow flag. Without it the test is skipped, except in CI (CI set), where a
// missing program fails the test: CI must never pass by skipping.
package needs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Slow skips the test unless JWTWATCH_SLOW is set, as .ci/run does: image
// builds, browsers and long soaks run there, once.
func Slow(t testing.TB) {
	t.Helper()
	if os.Getenv("JWTWATCH_SLOW") == "" {
		t.Skip("slow: set JWTWATCH_SLOW=1")
	}
}

// Tool returns the path of the first of names found on the PATH. pkg names
// the Debian package that scripts/test installs for it.
func Tool(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, fmt.Sprintf("%s not found; scripts/test installs it (Debian package %s)", names[0], pkg))
	return ""
}

// Missing ends the test for want of something from outside Go: skipped,
// except in CI, where it fails.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skip(why)
}

// Jwtwatch builds the jwtwatch binary into a temporary directory of the test
// with the given `go build` flags (e.g. -race) and environment additions
// (e.g. CGO_ENABLED=0), and returns its path.
func Jwtwatch(t testing.TB, env []string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwtwatch")
	args := append(append([]string{"build"}, flags...), "-o", bin, "github.com/jwtwatch/jwtwatch/cmd/jwtwatch")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return bin
}
