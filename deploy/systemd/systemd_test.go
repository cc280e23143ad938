package systemd

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/needs"
)

const (
	unitFile  = "jwtwatch.service"
	dropIn    = "jwtwatch.service.d/credentials.conf"
	installed = "/usr/local/bin/jwtwatch"
)

// unit is the [Service] section of a unit and its drop-ins: every value of each key, in order.
type unit map[string][]string

func parse(t *testing.T, files ...string) unit {
	t.Helper()
	u := unit{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		section := ""
		for line := range strings.Lines(string(data)) {
			line = strings.TrimSpace(line)
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "["):
				section = line
			case section == "[Service]":
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					t.Fatalf("%s: %q is no assignment", f, line)
				}
				u[k] = append(u[k], v)
			}
		}
	}
	return u
}

func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	if len(u[key]) != 1 {
		t.Fatalf("%s= set %d times, want once", key, len(u[key]))
	}
	return u[key][0]
}

// TestUnitHardening pins what the issue asks of the unit; systemd-analyze
// below checks that systemd reads it so.
func TestUnitHardening(t *testing.T) {
	u := parse(t, unitFile)
	for key, want := range map[string]string{
		"DynamicUser":            "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"StateDirectory":         "jwtwatch",
		"NoNewPrivileges":        "yes",
		"CapabilityBoundingSet":  "", // empty: no capability at all
		"ExecReload":             "/bin/kill -HUP $MAINPID",
		"EnvironmentFile":        "/etc/jwtwatch/jwtwatch.env",
		"PrivateUsers":           "yes",
		"MemoryDenyWriteExecute": "yes",
	} {
		if got := u.one(t, key); got != want {
			t.Errorf("%s=%s, want %s=%s", key, got, key, want)
		}
	}
	if !slices.Contains(u["SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter=%q lacks @system-service", u["SystemCallFilter"])
	}
	if ro := u.one(t, "ReadOnlyPaths"); ro == "" {
		t.Error("ReadOnlyPaths= names no log directory")
	}
	if exec := u.one(t, "ExecStart"); !strings.HasPrefix(exec, installed+" ") || !strings.Contains(exec, "--state.file=%S/jwtwatch/") {
		t.Errorf("ExecStart=%s: want %s keeping its state in the StateDirectory", exec, installed)
	}

	d := parse(t, dropIn)
	creds := map[string]bool{}
	for _, c := range d["LoadCredential"] {
		name, path, _ := strings.Cut(c, ":")
		if !strings.HasPrefix(path, "/etc/jwtwatch/") {
			t.Errorf("LoadCredential=%s: want a file under /etc/jwtwatch", c)
		}
		creds[name] = true
	}
	for _, e := range d["Environment"] {
		name, val, _ := strings.Cut(e, "=")
		cred, ok := strings.CutPrefix(val, "%d/")
		if !strings.HasSuffix(name, "_FILE") || !ok || !creds[cred] {
			t.Errorf("Environment=%s: want NAME_FILE=%%d/<a loaded credential>", e)
		}
	}
	if len(creds) == 0 {
		t.Error("the credentials drop-in loads no credential")
	}
}

// TestSystemdAnalyze has systemd read the unit, alone and with the
// credentials drop-in: `systemd-analyze verify` must accept it without a
// word, and `systemd-analyze security` must rate it OK or better. verify
// also checks that ExecStart's program exists, so the copy it reads runs a
// jwtwatch built here instead of /usr/local/bin/jwtwatch; nothing else changes.
func TestSystemdAnalyze(t *testing.T) {
	analyze := needs.Tool(t, "systemd", "systemd-analyze")
	bin := needs.Jwtwatch(t, nil, "-race")
	for _, tt := range []struct {
		name    string
		dropIns []string
	}{
		{"unit", nil},
		{"unit with credentials", []string{dropIn}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := installUnit(t, bin, tt.dropIns...)
			cmd := exec.Command(analyze, "verify", "--man=no", path)
			out, err := cmd.CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
			}
			out, err = exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\w+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			t.Logf("systemd-analyze security: exposure %.1f %s", score, m[2])
			if level := string(m[2]); level != "SAFE" && level != "OK" {
				t.Errorf("exposure level %s %s, want OK or better:\n%s", m[1], level, out)
			}
		})
	}
}

// installUnit writes the unit (ExecStart running bin) and the drop-ins into
// a temporary directory laid out as systemd reads it.
func installUnit(t *testing.T, bin string, dropIns ...string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, unitFile)
	if err := os.WriteFile(path, bytes.ReplaceAll(data, []byte(installed), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range dropIns {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(d)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestUnitCommandRuns runs the unit's ExecStart as systemd would run it with
// the credentials drop-in: %S and %d expanded to temporary directories, the
// drop-in's Environment= set, the credentials' files in %d. jwtwatch must
// load every key, reload on the ExecReload signal and stop within
// TimeoutStopSec of SIGTERM. (No systemd runs on these machines, so the
// unit itself cannot be started; see docs/install.md.)
func TestUnitCommandRuns(t *testing.T) {
	bin := needs.Jwtwatch(t, nil, "-race")
	u := parse(t, unitFile, dropIn)
	stateRoot, creds := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(stateRoot, "jwtwatch"), 0o700); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range u["LoadCredential"] {
		name, _, _ := strings.Cut(c, ":")
		if err := os.WriteFile(filepath.Join(creds, name), []byte(strings.Repeat(strconv.Itoa(i), 40)+"\n"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"JWTWATCH_ARGS=--log.path=" + log + " --web.listen-address=127.0.0.1:0"}
	for _, e := range u["Environment"] {
		env = append(env, strings.ReplaceAll(e, "%d", creds))
	}
	args := strings.Fields(strings.ReplaceAll(u.one(t, "ExecStart"), "%S", stateRoot))
	// systemd splits an unbraced $VAR into words.
	var argv []string
	for _, a := range args[1:] {
		if a == "$JWTWATCH_ARGS" {
			argv = append(argv, strings.Fields(strings.TrimPrefix(env[0], "JWTWATCH_ARGS="))...)
			continue
		}
		argv = append(argv, a)
	}
	cmd := exec.Command(bin, argv...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	if keys := waitLine(t, lines, regexp.MustCompile(`msg="keys loaded" keys=(\d+)`)); keys != strconv.Itoa(len(u["LoadCredential"])) {
		t.Errorf("%s keys loaded, want one per credential (%d)", keys, len(u["LoadCredential"]))
	}
	addr := waitLine(t, lines, regexp.MustCompile(`msg="Listening on" address=(\S+)`))

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil { // ExecReload
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(metrics(t, addr), `jwtwatch_key_reloads_total{result="success"} 1`) {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the keys")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, "jwtwatch", "state.json")); err != nil {
		t.Errorf("no state file in the StateDirectory: %v", err)
	}

	stop, err := time.ParseDuration(u.one(t, "TimeoutStopSec"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range lines {
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("jwtwatch exited with %v after SIGTERM", err)
		}
	case <-time.After(stop):
		t.Errorf("jwtwatch did not stop within TimeoutStopSec=%s", stop)
	}
}

// waitLine returns the first submatch of the first line matching re.
func waitLine(t *testing.T, lines <-chan string, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("jwtwatch exited before logging %s", re)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1]
			}
		case <-timeout:
			t.Fatalf("jwtwatch did not log %s", re)
		}
	}
}

func metrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
