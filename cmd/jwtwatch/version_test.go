package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/jwtwatch/jwtwatch/internal/needs"
)

const modulePath = "github.com/jwtwatch/jwtwatch"

// TestVersionOfPlainBuilds builds jwtwatch as a user does, without -ldflags
// — `go build` in a git checkout, and `go install …/cmd/jwtwatch@version`
// from a module proxy — and checks that --version, the start-up log and
// jwtwatch_build_info name the version, revision and date. The checkout is a
// fresh repository made from this tree with a known commit time, so the test
// does not depend on how it was checked out (the go command records no VCS
// information in a git worktree, nor with GOFLAGS=-buildvcs=false as this
// project's machines set it).
func TestVersionOfPlainBuilds(t *testing.T) {
	needs.Slow(t)
	git := needs.Tool(t, "git", "git")
	commitTime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	src := checkout(t, git, commitTime)
	rev := strings.TrimSpace(runIn(t, src, nil, git, "rev-parse", "HEAD"))
	pseudo := module.PseudoVersion("v0", "", commitTime, rev[:12])
	const date = "20010203-04:05:06"

	// The machine's GOFLAGS would turn VCS stamping off; a user's go does not.
	goEnv := append(os.Environ(), "GOFLAGS=-buildvcs=auto", "GOTOOLCHAIN=local", "GOWORK=off")

	t.Run("go build", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "jwtwatch")
		runIn(t, src, append(goEnv, "GOPROXY=off"), "go", "build", "-o", bin, "./cmd/jwtwatch")
		want := wantBuild{Version: pseudo, Revision: rev, BuildDate: date}
		checkVersionOutput(t, bin, want)
		checkRunningVersion(t, bin, want)
	})

	t.Run("go install at a version", func(t *testing.T) {
		proxy := moduleProxy(t, src, pseudo, commitTime)
		modcache := strings.TrimSpace(runIn(t, src, nil, "go", "env", "GOMODCACHE"))
		t.Cleanup(func() { forgetModule(t, modcache, pseudo) })
		gobin := t.TempDir()
		runIn(t, t.TempDir(), append(goEnv,
			"GOBIN="+gobin,
			// Our module from the test's proxy; its dependencies from the
			// module cache, which has the layout of a proxy too.
			"GOPROXY=file://"+proxy+",file://"+filepath.Join(modcache, "cache", "download"),
			"GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=",
		), "go", "install", modulePath+"/cmd/jwtwatch@"+pseudo)
		// A module zip has no VCS metadata: the pseudo-version is all there is.
		checkVersionOutput(t, filepath.Join(gobin, "jwtwatch"), wantBuild{Version: pseudo, Revision: rev[:12], BuildDate: date})
	})
}

// wantBuild is what the checks expect a binary to report.
type wantBuild struct{ Version, Revision, BuildDate string }

func checkVersionOutput(t *testing.T, bin string, want wantBuild) {
	t.Helper()
	out := runIn(t, t.TempDir(), nil, bin, "--version")
	for _, line := range []string{
		"jwtwatch, version " + want.Version + " (branch: , revision: " + want.Revision + ")",
		"build date:       " + want.BuildDate,
	} {
		if !strings.Contains(out, line) {
			t.Errorf("--version lacks %q:\n%s", line, out)
		}
	}
}

func checkRunningVersion(t *testing.T, bin string, want wantBuild) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "gateway.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, bin, newSecrets(t).env(), "--log.path="+log)
	startLine := regexp.MustCompile(`msg="starting jwtwatch" version=(\S+) revision=(\S+) build_date=(\S+)`).FindStringSubmatch(p.output())
	if startLine == nil || (wantBuild{startLine[1], startLine[2], startLine[3]}) != want {
		t.Errorf("start-up log: got %q, want %+v:\n%s", startLine, want, p.output())
	}
	m := p.scrape(t, nil)
	found := false
	for k, v := range m {
		if strings.HasPrefix(k, "jwtwatch_build_info{") && v == 1 {
			found = true
			if !strings.Contains(k, `revision="`+want.Revision+`"`) || !strings.Contains(k, `version="`+want.Version+`"`) {
				t.Errorf("%s, want version %q and revision %q", k, want.Version, want.Revision)
			}
		}
	}
	if !found {
		t.Error("no jwtwatch_build_info series")
	}
	p.stop(t)
}

// checkout copies this module's files (tracked, and new ones not ignored)
// into a new git repository with one commit made at the given time.
func checkout(t *testing.T, git string, at time.Time) string {
	t.Helper()
	root := strings.TrimSpace(runIn(t, ".", nil, "go", "list", "-m", "-f", "{{.Dir}}"))
	files := runIn(t, root, nil, git, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	src := filepath.Join(t.TempDir(), "jwtwatch")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stamp := at.Format(time.RFC3339)
	env := append(os.Environ(), "GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp,
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	runIn(t, src, env, git, "init", "-q")
	runIn(t, src, env, git, "add", "-A")
	runIn(t, src, env, git, "commit", "-q", "--no-gpg-sign", "-m", "test build")
	return src
}

// moduleProxy lays out a GOPROXY directory serving the module in src at version.
func moduleProxy(t *testing.T, src, version string, at time.Time) string {
	t.Helper()
	proxy := t.TempDir()
	dir := filepath.Join(proxy, modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, module.Version{Path: modulePath, Version: version}, src); err != nil {
		t.Fatalf("module zip: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]any{"Version": version, "Time": at})
	for name, data := range map[string][]byte{
		"list": []byte(version + "\n"), version + ".info": info, version + ".mod": gomod, version + ".zip": zip.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proxy
}

// forgetModule removes the test's version of the module from the module
// cache again (the go command makes it read-only).
func forgetModule(t *testing.T, modcache, version string) {
	extracted := filepath.Join(modcache, modulePath+"@"+version)
	filepath.Walk(extracted, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(extracted); err != nil {
		t.Errorf("clean module cache: %v", err)
	}
	// The downloaded files and the version list the go command cached.
	downloads, _ := filepath.Glob(filepath.Join(modcache, "cache", "download", modulePath, "@v", version+".*"))
	for _, f := range append(downloads, filepath.Join(modcache, "cache", "download", modulePath, "@v", "list")) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Errorf("clean module cache: %v", err)
		}
	}
}

// runIn runs a command in dir and returns its standard output; it fails the
// test with everything printed when the command fails.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestModuleZips checks the module against the rules of module zips: a
// module proxy refuses a version that breaks them, and `go install
// …/cmd/jwtwatch@version` with it (two fuzz seeds whose names differed only
// in case once did).
func TestModuleZips(t *testing.T) {
	root := strings.TrimSpace(runIn(t, ".", nil, "go", "list", "-m", "-f", "{{.Dir}}"))
	files, err := modzip.CheckDir(root)
	if err != nil {
		t.Fatalf("%s cannot be a module zip: %v", root, err)
	}
	if len(files.Valid) == 0 {
		t.Fatal("no file would be in the module zip")
	}
}
