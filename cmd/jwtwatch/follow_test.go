package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/state"
)

// The follower's guarantees that need the whole binary: a second instance
// on the same state file, a symlink loop appearing at a followed path, huge
// lines in bounded memory, files rotated or truncated while down.

// TestStateFileInUse: a second jwtwatch on the same --state.file exits 2
// naming the lock and the first one's pid.
func TestStateFileInUse(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	args := []string{"--log.path=" + filepath.Join(dir, "gw.log"), "--state.file=" + filepath.Join(dir, "state.json")}
	p := start(t, s.env(), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...)
	cmd.Env = s.env()
	out, _ := cmd.CombinedOutput()
	want := fmt.Sprintf("state.json.lock is held by another jwtwatch (pid %d)", p.cmd.Process.Pid)
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), want) {
		t.Fatalf("second instance: exit %d, output %q; want 2 and %q", code, out, want)
	}
	p.stop(t)
}

// TestStateDirReadOnly: a state file jwtwatch cannot write at start-up
// stops it with status 2 and one line that says so; it used to log "will
// retry" first, and then not retry but exit.
func TestStateDirReadOnly(t *testing.T) {
	s := newSecrets(t)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The lock file exists, so only writing the state itself fails.
	writeFile(t, filepath.Join(dir, "state.json.lock"), "")
	readOnly(t, dir)
	code, out := exitStatus(t, s.env(), "--log.path="+filepath.Join(t.TempDir(), "gw.log"), "--state.file="+filepath.Join(dir, "state.json"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if code != exitUsage || !strings.Contains(last, "cannot start") || !strings.Contains(last, "--state.file") || strings.Contains(out, "retry") {
		t.Errorf("exit %d, output:\n%s\nwant 2, ending with why --state.file stops it, promising no retry", code, out)
	}
}

// readOnly makes dir refuse new entries: chmod for a normal user, the
// immutable attribute for root (whom permissions do not stop); it skips the
// test where neither works.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i fails (%v: %s): cannot make a directory read-only", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
}

// TestSymlinkLoopAtPath: a symlink loop (and then a FIFO) appearing where
// the followed file was does not end jwtwatch (nxadm's poller would call
// os.Exit): it warns, goes on, follows the path again once it is a file,
// and still stops within 5 s of SIGTERM with its final checkpoint.
func TestSymlinkLoopAtPath(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	logPath, statePath := filepath.Join(dir, "gateway.log"), filepath.Join(dir, "state.json")
	log := newSeqLog(t, s, logPath)
	log.write(10)
	p := start(t, s.env(), "--log.path="+logPath, "--state.file="+statePath, "--log.start-at=beginning", "--state.checkpoint-interval=1h")
	waitCounted(t, p, logPath, 10)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(logPath, logPath); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the warning", func() bool { return strings.Contains(p.output(), "cannot check the path") })
	// nxadm's poller has stat'ed the loop dozens of times by now (every
	// 25 ms); the process is alive and serving.
	if got := linesRead(p.scrape(t, nil), logPath); got != 10 {
		t.Errorf("lines read %v, want 10", got)
	}
	if err := os.Remove(logPath); err != nil {
		t.Fatal(err)
	}
	log.ends = nil
	appendLines(t, logPath, nil)
	if err := os.Truncate(logPath, 0); err != nil {
		t.Fatal(err)
	}
	log.write(5)
	waitCounted(t, p, logPath, 15)
	p.stop(t)
	st, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if off := st.Positions[logPath].Offset; off != log.end(5) {
		t.Errorf("final checkpoint at offset %d, want %d", off, log.end(5))
	}
}

// TestHugeLinesBoundedRSS: a 10 MB line, then 50 MB of NUL bytes without a
// newline, raise jwtwatch's peak RSS by far less than either, are counted as
// dropped, and the lines after them are read.
func TestHugeLinesBoundedRSS(t *testing.T) {
	if os.Getenv("JWTWATCH_SLOW") == "" {
		t.Skip("slow (builds jwtwatch without the race detector): set JWTWATCH_SLOW=1")
	}
	// The race detector's own memory grows with what the process does,
	// which would hide what this measures: a binary without it.
	plain := filepath.Join(t.TempDir(), "jwtwatch")
	if out, err := exec.Command("go", "build", "-o", plain, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	s := newSecrets(t)
	logPath := filepath.Join(t.TempDir(), "gateway.log")
	log := newSeqLog(t, s, logPath)
	log.write(1)
	// A collection soon after each scrape's garbage, so that what the
	// heap grows by is what the follower keeps.
	p := startBinary(t, plain, append(s.env(), "GOGC=10"), "--log.path="+logPath, "--log.start-at=beginning")
	waitCounted(t, p, logPath, 1)
	for range 50 { // what scrapes need, before the measure
		p.scrape(t, nil)
	}
	before := peakRSS(t, p.cmd.Process.Pid)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(bytes.Repeat([]byte("h"), 10<<20), '\n')); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 50<<20)); err != nil {
		t.Fatal(err)
	}
	dropped := fmt.Sprintf(`jwtwatch_lines_dropped_total{reason="too_long",source=%q}`, logPath)
	waitFor(t, 30*time.Second, "the long line to be dropped and the blob looked at", func() bool {
		got := p.scrape(t, nil)
		return got[dropped] == 1 && got[fmt.Sprintf(`jwtwatch_source_behind_bytes{source=%q}`, logPath)] == 50<<20
	})
	if _, err := f.WriteString("\n" + strings.Repeat("x", 10) + "\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the blob dropped and the next line read", func() bool {
		got := p.scrape(t, nil)
		return got[dropped] == 2 && linesRead(got, logPath) == 4
	})
	after := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS %d KiB before, %d KiB after", before>>10, after>>10)
	// A line held whole would add at least 10 MiB.
	if after-before > 512<<10 {
		t.Errorf("peak RSS rose by %d KiB", (after-before)>>10)
	}
	p.stop(t)
}

// peakRSS returns VmHWM of a process in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestRotatedWhileDown: files rotated or truncated while jwtwatch was down
// are recognised (jwtwatch_source_rotated_while_down_total), the rest of a
// renamed file is read from where it is now, the new content from its
// start, each line once.
func TestRotatedWhileDown(t *testing.T) {
	tests := []struct {
		name string
		// rotate changes the log while jwtwatch is down; it returns how
		// many lines the restart must read.
		rotate func(t *testing.T, log *seqLog) int
	}{
		{"renamed, written to after the stop, new file", func(t *testing.T, log *seqLog) int {
			log.write(7) // after the last checkpoint: in the renamed file
			if err := os.Rename(log.path, log.path+".1"); err != nil {
				t.Fatal(err)
			}
			log.ends = nil
			appendLines(t, log.path, nil)
			if err := os.Truncate(log.path, 0); err != nil {
				t.Fatal(err)
			}
			log.write(5)
			return 12
		}},
		{"renamed, written to after the stop, the new file still empty", func(t *testing.T, log *seqLog) int {
			log.write(7)
			if err := os.Rename(log.path, log.path+".1"); err != nil {
				t.Fatal(err)
			}
			appendLines(t, log.path, nil)
			if err := os.Truncate(log.path, 0); err != nil {
				t.Fatal(err)
			}
			return 7
		}},
		{"truncated and written again", func(t *testing.T, log *seqLog) int {
			if err := os.Truncate(log.path, 0); err != nil {
				t.Fatal(err)
			}
			log.ends = nil
			log.write(50) // longer than before: only the first bytes tell
			return 50
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSecrets(t)
			dir := t.TempDir()
			logPath, statePath := filepath.Join(dir, "gateway.log"), filepath.Join(dir, "state.json")
			log := newSeqLog(t, s, logPath)
			args := []string{"--log.path=" + logPath, "--state.file=" + statePath, "--log.start-at=beginning"}
			log.write(20)
			p := start(t, s.env(), args...)
			waitCounted(t, p, logPath, 20)
			p.stop(t)
			want := tt.rotate(t, log)
			p = start(t, s.env(), args...)
			got := waitCounted(t, p, logPath, want)
			if n := got[fmt.Sprintf(`jwtwatch_source_rotated_while_down_total{source=%q}`, logPath)]; n != 1 {
				t.Errorf("rotated while down counted %v times, want 1", n)
			}
			p.stop(t)
			// The state saved names the new file: nothing is read again.
			p = start(t, s.env(), args...)
			got = waitCounted(t, p, logPath, 0)
			if n := got[fmt.Sprintf(`jwtwatch_source_rotated_while_down_total{source=%q}`, logPath)]; n != 0 {
				t.Errorf("after a second restart, rotated while down counted %v times, want 0", n)
			}
			p.stop(t)
		})
	}
}
