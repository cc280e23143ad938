package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor bounds every wait on a condition.
const waitFor = 15 * time.Second

// secretMarker is part of every test line: lines stand for tokens and must
// never reach a log message.
const secretMarker = "secret"

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a running Tailer.
type harness struct {
	t       *testing.T
	tailer  *Tailer
	out     chan Line
	cancel  context.CancelFunc
	done    chan error
	reopens chan string
	logs    *lockedBuffer
	once    sync.Once
}

// startTailer runs a Tailer for cfg until the test ends and waits for Ready.
// opts adjust the Tailer before Run.
func startTailer(t *testing.T, cfg Config, outCap int, opts ...func(*Tailer)) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		out:     make(chan Line, outCap),
		done:    make(chan error, 1),
		reopens: make(chan string, 64),
		logs:    &lockedBuffer{},
	}
	if cfg.OnReopen == nil {
		cfg.OnReopen = func(s string) { h.reopens <- s }
	}
	if cfg.GlobInterval == 0 {
		cfg.GlobInterval = 50 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tl, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, o := range opts {
		o(tl)
	}
	h.tailer = tl
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- tl.Run(ctx, h.out) }()
	t.Cleanup(func() {
		h.stop()
		logs := h.logs.String()
		if strings.Contains(logs, secretMarker) {
			t.Errorf("line text leaked into logs:\n%s", logs)
		}
		if t.Failed() {
			t.Logf("tailer logs:\n%s", logs)
		}
	})
	select {
	case <-tl.Ready():
	case <-time.After(waitFor):
		t.Fatal("Tailer not ready")
	}
	return h
}

// stop cancels Run and checks that it returns nil in time.
func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(waitFor):
			h.t.Error("Run did not return after cancel")
		}
	})
}

// next returns the next line or fails the test at the deadline.
func (h *harness) next() Line {
	h.t.Helper()
	select {
	case l := <-h.out:
		return l
	case <-time.After(waitFor):
		h.t.Fatal("timed out waiting for a line")
		return Line{}
	}
}

// lines reads n lines.
func (h *harness) lines(n int) []Line {
	h.t.Helper()
	got := make([]Line, 0, n)
	for len(got) < n {
		got = append(got, h.next())
	}
	return got
}

// until reads lines up to and including one with the given text.
func (h *harness) until(text string) []Line {
	h.t.Helper()
	var got []Line
	for {
		l := h.next()
		got = append(got, l)
		if l.Text == text {
			return got
		}
	}
}

// noLine checks that no line arrives within d. It is an assertion window,
// not a synchronisation point.
func (h *harness) noLine(d time.Duration) {
	h.t.Helper()
	select {
	case l := <-h.out:
		h.t.Fatalf("unexpected line %q", l.Text)
	case <-time.After(d):
	}
}

// waitReopen waits for one OnReopen call for path.
func (h *harness) waitReopen(path string) {
	h.t.Helper()
	select {
	case got := <-h.reopens:
		if got != path {
			h.t.Fatalf("OnReopen(%q), want %q", got, path)
		}
	case <-time.After(waitFor):
		h.t.Fatal("timed out waiting for OnReopen")
	}
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// numbered returns n lines "<prefix><i> secret" and their file content.
func numbered(prefix string, n int) ([]string, string) {
	var lines []string
	var b strings.Builder
	for i := 1; i <= n; i++ {
		l := fmt.Sprintf("%s%d %s", prefix, i, secretMarker)
		lines = append(lines, l)
		b.WriteString(l + "\n")
	}
	return lines, b.String()
}

func texts(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// checkOffsets verifies that each line's Offset is just past its newline in
// content, the file it was read from.
func checkOffsets(t *testing.T, content []byte, lines []Line) {
	t.Helper()
	for _, l := range lines {
		if l.TooLong {
			continue
		}
		start := l.Offset - int64(len(l.Text)) - 1
		if start < 0 || l.Offset > int64(len(content)) ||
			string(content[start:l.Offset]) != l.Text+"\n" {
			t.Errorf("line %q: Offset %d is not just past its newline", l.Text, l.Offset)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantErr  error
		wantText string
	}{
		{name: "no paths", cfg: Config{}, wantErr: ErrNoPaths},
		{name: "empty path", cfg: Config{Paths: []string{"a.log", ""}}, wantErr: ErrEmptyPath},
		{name: "bad glob", cfg: Config{Paths: []string{"/var/log/[gw.log"}}, wantErr: filepath.ErrBadPattern, wantText: "/var/log/[gw.log"},
		{name: "negative max line", cfg: Config{Paths: []string{"a.log"}, MaxLineBytes: -1}, wantErr: ErrBadConfig},
		{name: "negative interval", cfg: Config{Paths: []string{"a.log"}, GlobInterval: -time.Second}, wantErr: ErrBadConfig},
		{name: "files globs and stdin", cfg: Config{Paths: []string{"a.log", "/var/log/*.log", "-", "./a.log"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not name %q", err, tt.wantText)
			}
		})
	}
}

func TestNewDeduplicates(t *testing.T) {
	tl, err := New(Config{Paths: []string{"a.log", "./a.log", "x/*.log", "x/*.log", "-", "-"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tl.literals, []string{"a.log"}) || !slices.Equal(tl.globs, []string{"x/*.log"}) || !tl.stdin {
		t.Errorf("literals %q globs %q stdin %v", tl.literals, tl.globs, tl.stdin)
	}
}

func TestIdentify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "abc\n")
	id, size, err := Identify(path)
	if err != nil {
		t.Fatal(err)
	}
	if size != 4 || id == (FileID{}) {
		t.Fatalf("Identify = %v, %d", id, size)
	}
	link := filepath.Join(dir, "link")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	appendFile(t, other, "abc\n")

	tests := []struct {
		name string
		path string
		same bool
	}{
		{name: "same path", path: path, same: true},
		{name: "hard link", path: link, same: true},
		{name: "other file", path: other, same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Identify(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if (got == id) != tt.same {
				t.Errorf("Identify(%s) = %v, first %v, want same=%v", tt.name, got, id, tt.same)
			}
		})
	}
	if _, _, err := Identify(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestStartPosition(t *testing.T) {
	const content = "old1 secret\nold2 secret\n"
	tests := []struct {
		name      string
		content   string
		fromStart bool
		// position returns the saved position given the file's identity.
		position func(id FileID) (Position, bool)
		appended string
		want     []string
	}{
		{
			name:    "end by default",
			content: content, appended: "new\n",
			want: []string{"new"},
		},
		{
			name:    "beginning with FromStart",
			content: content, fromStart: true, appended: "new\n",
			want: []string{"old1 secret", "old2 secret", "new"},
		},
		{
			name:    "saved position",
			content: content, fromStart: true, appended: "new\n",
			position: func(id FileID) (Position, bool) { return Position{File: id, Offset: 12}, true },
			want:     []string{"old2 secret", "new"},
		},
		{
			name:    "saved position at end",
			content: content, fromStart: true, appended: "new\n",
			position: func(id FileID) (Position, bool) { return Position{File: id, Offset: int64(len(content))}, true },
			want:     []string{"new"},
		},
		{
			name:    "saved position of another inode",
			content: content, appended: "new\n",
			position: func(id FileID) (Position, bool) {
				id.Ino++
				return Position{File: id, Offset: 12}, true
			},
			want: []string{"old1 secret", "old2 secret", "new"},
		},
		{
			name:    "saved position past the end",
			content: content, appended: "new\n",
			position: func(id FileID) (Position, bool) { return Position{File: id, Offset: 100}, true },
			want:     []string{"old1 secret", "old2 secret", "new"},
		},
		{
			name:    "end during a partial line",
			content: "old1 secret\nold2-par", appended: "tial\nnew\n",
			want: []string{"old2-partial", "new"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gw.log")
			appendFile(t, path, tt.content)
			cfg := Config{Paths: []string{path}, FromStart: tt.fromStart}
			if tt.position != nil {
				id, _, err := Identify(path)
				if err != nil {
					t.Fatal(err)
				}
				if pos, ok := tt.position(id); ok {
					cfg.Positions = map[string]Position{path: pos}
				}
			}
			h := startTailer(t, cfg, 16)
			appendFile(t, path, tt.appended)
			got := h.until("new")
			if !slices.Equal(texts(got), tt.want) {
				t.Errorf("lines %q, want %q", texts(got), tt.want)
			}
			checkOffsets(t, readFile(t, path), got)
		})
	}
}

func TestFollowsGrowth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	// Unbuffered: the tailer must wait for the reader, never drop.
	h := startTailer(t, Config{Paths: []string{path}}, 0)

	for batch := range 3 {
		lines, data := numbered(fmt.Sprintf("b%d-", batch), 5)
		appendFile(t, path, data)
		got := h.lines(len(lines))
		if !slices.Equal(texts(got), lines) {
			t.Fatalf("batch %d: %q, want %q", batch, texts(got), lines)
		}
	}
	// Write many lines while nobody reads.
	lines, data := numbered("bulk-", 2000)
	appendFile(t, path, data)
	got := h.lines(len(lines))
	if !slices.Equal(texts(got), lines) {
		t.Fatalf("bulk lines out of order or missing")
	}
	checkOffsets(t, readFile(t, path), got)
	if last := got[len(got)-1]; last.Offset != int64(len(readFile(t, path))) {
		t.Errorf("last Offset %d, want file size", last.Offset)
	}
	id, _, _ := Identify(path)
	if got[0].File != id || got[0].Source != path {
		t.Errorf("line File %v Source %q, want %v %q", got[0].File, got[0].Source, id, path)
	}
	// The offset is recorded once the line was handed over, just after.
	waitUntil(t, "Sources offset at the file end", func() bool {
		s := h.tailer.Sources()
		return len(s) == 1 && s[0].Offset == got[len(got)-1].Offset
	})
	want := Source{Path: path, File: id, Size: got[len(got)-1].Offset, Offset: got[len(got)-1].Offset, Open: true}
	if srcs := h.tailer.Sources(); srcs[0] != want {
		t.Errorf("Sources() = %+v, want %+v", srcs[0], want)
	}
}

// rotation scenarios: rotate moves or truncates the file at path and returns
// the path that now holds the old content ("" if none).
type rotation struct {
	name string
	// rotate rotates; it may need the harness to wait for the reopen.
	rotate func(t *testing.T, path string) string
	// waitBeforeWrite: new lines may be written only after the reopen, as
	// with copytruncate new data must not outgrow the old size unnoticed.
	waitBeforeWrite bool
	needs           string // binary the scenario needs
}

func renameCreate(t *testing.T, path string) string {
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	return path + ".1"
}

func copyTruncate(t *testing.T, path string) string {
	if err := os.WriteFile(path+".1", readFile(t, path), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	return path + ".1"
}

func deleteRecreate(t *testing.T, path string) string {
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	return ""
}

// logrotate runs the real logrotate with the given directive.
func logrotate(directive string) func(t *testing.T, path string) string {
	return func(t *testing.T, path string) string {
		dir := filepath.Dir(path)
		conf := filepath.Join(dir, "logrotate.conf")
		body := fmt.Sprintf("%s {\n\trotate 3\n\t%s\n\tmissingok\n\tnocompress\n}\n", path, directive)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("logrotate", "-f", "-s", filepath.Join(dir, "logrotate.state"), conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
		return path + ".1"
	}
}

func TestRotation(t *testing.T) {
	tests := []rotation{
		{name: "rename and create", rotate: renameCreate},
		{name: "copytruncate", rotate: copyTruncate, waitBeforeWrite: true},
		{name: "delete and recreate", rotate: deleteRecreate},
		{name: "logrotate create", rotate: logrotate("create"), needs: "logrotate"},
		{name: "logrotate copytruncate", rotate: logrotate("copytruncate"), waitBeforeWrite: true, needs: "logrotate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs != "" {
				if _, err := exec.LookPath(tt.needs); err != nil {
					t.Skipf("%s not installed", tt.needs)
				}
			}
			t.Parallel()
			path := filepath.Join(t.TempDir(), "gw.log")
			appendFile(t, path, "")
			h := startTailer(t, Config{Paths: []string{path}}, 64)

			before, data := numbered("before-", 3)
			appendFile(t, path, data)
			got := h.lines(len(before))
			if !slices.Equal(texts(got), before) {
				t.Fatalf("before rotation: %q, want %q", texts(got), before)
			}
			if old := tt.rotate(t, path); old != "" {
				checkOffsets(t, readFile(t, old), got)
			}
			if tt.waitBeforeWrite {
				h.waitReopen(path)
			}
			after, data := numbered("after-", 3)
			appendFile(t, path, data+"end\n")
			got = h.until("end")
			if want := append(after, "end"); !slices.Equal(texts(got), want) {
				t.Fatalf("after rotation: %q, want %q", texts(got), want)
			}
			if !tt.waitBeforeWrite {
				h.waitReopen(path)
			}
			// A late duplicate would arrive before this line.
			appendFile(t, path, "end2\n")
			got = append(got, h.until("end2")...)
			if len(got) != len(after)+2 {
				t.Fatalf("duplicate lines: %q", texts(got))
			}
			checkOffsets(t, readFile(t, path), got)
			newID, _, _ := Identify(path)
			for _, l := range got {
				if l.File != newID {
					t.Errorf("line %q File %v, want the new file %v", l.Text, l.File, newID)
				}
			}
			select {
			case s := <-h.reopens:
				t.Errorf("second OnReopen(%q) for one rotation", s)
			default:
			}
		})
	}
}

// TestRotationRaceDrainsOldFile renames the file right after writing to it,
// so nxadm may switch to the new file before reading the last old lines.
func TestRotationRaceDrainsOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	// Room for every line: the test reads only at the end. Renaming right
	// after the reopen often beats nxadm's first look at the new file, which
	// then needs the stall check; make that quick.
	h := startTailer(t, Config{Paths: []string{path}}, 1024, func(tl *Tailer) {
		tl.checkEvery = 100 * time.Millisecond
	})
	var want []string
	for round := range 5 {
		lines, data := numbered(fmt.Sprintf("r%d-", round), 20)
		want = append(want, lines...)
		appendFile(t, path, data)
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, round)); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "")
		h.waitReopen(path)
	}
	appendFile(t, path, "end\n")
	got := h.until("end")
	if want := append(want, "end"); !slices.Equal(texts(got), want) {
		t.Fatalf("got %d lines %q, want %d", len(got), texts(got), len(want))
	}
}

// TestMissedRotation makes nxadm start watching a file only after it was
// replaced (its watcher then takes the new file for the one it reads): the
// stall must be spotted and the new file followed.
func TestMissedRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	old, data := numbered("o", 4)
	appendFile(t, path, data)
	// Unbuffered out holds nxadm in the middle of the old file.
	h := startTailer(t, Config{Paths: []string{path}, FromStart: true}, 0, func(tl *Tailer) {
		tl.checkEvery = 50 * time.Millisecond
	})
	first := h.next()
	if first.Text != old[0] {
		t.Fatalf("first line %q, want %q", first.Text, old[0])
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// Bigger than the old file, so it does not look truncated either.
	fresh, data := numbered("fresh-line-", 10)
	appendFile(t, path, data)

	got := h.until(fresh[len(fresh)-1])
	if want := append(old[1:], fresh...); !slices.Equal(texts(got), want) {
		t.Fatalf("got %q, want %q", texts(got), want)
	}
	h.waitReopen(path)
}

func TestMissingAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	if srcs := h.tailer.Sources(); len(srcs) != 1 || srcs[0].Open {
		t.Errorf("Sources() before the file exists = %+v", srcs)
	}
	lines, data := numbered("l", 3)
	appendFile(t, path, data)
	got := h.lines(3)
	if !slices.Equal(texts(got), lines) {
		t.Fatalf("got %q, want %q (from the beginning)", texts(got), lines)
	}
	checkOffsets(t, readFile(t, path), got)
	waitUntil(t, "source open", func() bool {
		s := h.tailer.Sources()
		return len(s) == 1 && s[0].Open
	})
}

func TestGlobPicksUpNewFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	appendFile(t, a, "old secret\n")
	h := startTailer(t, Config{Paths: []string{filepath.Join(dir, "*.log")}}, 16)

	appendFile(t, a, "a1\n")
	if got := h.next(); got.Text != "a1" || got.Source != a {
		t.Fatalf("got %+v, want a1 from %s (existing file starts at its end)", got, a)
	}
	appendFile(t, filepath.Join(dir, "ignored.txt"), "not matched\n")
	b := filepath.Join(dir, "b.log")
	lines, data := numbered("b", 2)
	appendFile(t, b, data)
	got := h.lines(2)
	if !slices.Equal(texts(got), lines) || got[0].Source != b {
		t.Fatalf("got %+v, want %q from %s", got, lines, b)
	}
	var paths []string
	for _, s := range h.tailer.Sources() {
		paths = append(paths, s.Path)
	}
	if !slices.Equal(paths, []string{a, b}) {
		t.Errorf("Sources paths %q", paths)
	}
}

func TestPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	appendFile(t, path, "full\npart")
	if got := h.next(); got.Text != "full" {
		t.Fatalf("got %q", got.Text)
	}
	// Many of nxadm's polls: the partial line has been seen.
	h.noLine(700 * time.Millisecond)
	appendFile(t, path, "ial\n")
	got := h.next()
	if got.Text != "partial" || got.Offset != int64(len("full\npartial\n")) {
		t.Fatalf("got %+v, want one line \"partial\" ending at the file's end", got)
	}
}

func TestTooLong(t *testing.T) {
	const limit = 1 << 20
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}, MaxLineBytes: limit}, 16)
	exact := strings.Repeat("e", limit)
	huge := strings.Repeat("h", 2*limit)
	appendFile(t, path, exact+"\n"+huge+"\nnext\n")
	got := h.lines(3)
	want := []Line{
		{Text: exact, Offset: limit + 1},
		{TooLong: true, Offset: 3*limit + 2},
		{Text: "next", Offset: 3*limit + 7},
	}
	for i := range want {
		if got[i].Text != want[i].Text || got[i].TooLong != want[i].TooLong || got[i].Offset != want[i].Offset {
			t.Errorf("line %d: TooLong %v Offset %d len %d, want TooLong %v Offset %d len %d", i,
				got[i].TooLong, got[i].Offset, len(got[i].Text), want[i].TooLong, want[i].Offset, len(want[i].Text))
		}
	}
}

func TestStdin(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []Line
	}{
		{
			name: "lines and a last line without newline",
			in:   "a secret\r\n\nb",
			want: []Line{{Text: "a secret", Offset: 10}, {Text: "", Offset: 11}, {Text: "b", Offset: 12}},
		},
		{
			name: "too long",
			in:   "0123456789\n012\n0123456789",
			max:  4,
			want: []Line{{TooLong: true, Offset: 11}, {Text: "012", Offset: 15}, {TooLong: true, Offset: 25}},
		},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startTailer(t, Config{Paths: []string{"-"}, Stdin: strings.NewReader(tt.in), MaxLineBytes: tt.max}, 16)
			got := h.lines(len(tt.want))
			for i := range got {
				got[i].Source = ""
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			waitUntil(t, "stdin done", func() bool { return !h.tailer.Sources()[0].Open })
			h.noLine(50 * time.Millisecond)
		})
	}
}

// TestOffsetsResume checks that re-reading a file from any line's Offset
// gives exactly the lines after it.
func TestOffsetsResume(t *testing.T) {
	sample := readFile(t, filepath.Join("testdata", "sample.log"))
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, string(sample))
	h := startTailer(t, Config{Paths: []string{path}, FromStart: true}, 16)
	want := strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(sample), "\r\n", "\n"), "\n"), "\n")
	got := h.lines(len(want))
	if !slices.Equal(texts(got), want) {
		t.Fatalf("got %q, want %q", texts(got), want)
	}
	for i, l := range got {
		rest := strings.ReplaceAll(string(sample[l.Offset:]), "\r\n", "\n")
		if wantRest := strings.Join(want[i+1:], "\n"); strings.TrimSuffix(rest, "\n") != wantRest {
			t.Errorf("line %d: file from Offset %d is not the rest of the lines", i, l.Offset)
		}
	}
}

// TestTwoTailersSameFile shows that Tailers in one process do not share
// watcher state.
func TestTwoTailersSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h1 := startTailer(t, Config{Paths: []string{path}}, 16)
	h2 := startTailer(t, Config{Paths: []string{path}}, 16)
	lines, data := numbered("x", 3)
	appendFile(t, path, data)
	for i, h := range []*harness{h1, h2} {
		if got := h.lines(3); !slices.Equal(texts(got), lines) {
			t.Errorf("tailer %d: %q", i, texts(got))
		}
	}
	h1.stop()
	appendFile(t, path, "more\n")
	if got := h2.next(); got.Text != "more" {
		t.Errorf("after stopping the other tailer: %q", got.Text)
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// TestStartStopDoesNotLeak starts and stops following a file (with a missing
// path and a glob beside it) 1,000 times: goroutines and descriptors return
// to where they started.
func TestStartStopDoesNotLeak(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.log")
	appendFile(t, path, "first\n")
	cfg := Config{
		Paths:     []string{path, filepath.Join(dir, "missing.log"), filepath.Join(dir, "*.txt")},
		FromStart: true,
	}
	cycle := func() {
		h := startTailer(t, cfg, 16)
		if got := h.next(); got.Text != "first" {
			t.Fatalf("got %q", got.Text)
		}
		h.stop()
	}
	cycle() // warm up lazily started runtime goroutines
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for range 1000 {
		cycle()
	}
	waitUntil(t, fmt.Sprintf("goroutines back to %d", goroutines), func() bool {
		return runtime.NumGoroutine() <= goroutines
	})
	if fds >= 0 {
		waitUntil(t, fmt.Sprintf("open fds back to %d", fds), func() bool { return openFDs(t) <= fds })
	}
}

func TestRunTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	h := startTailer(t, Config{Paths: []string{path}}, 1)
	if err := h.tailer.Run(context.Background(), h.out); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run: %v", err)
	}
}

func TestLastLineStart(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		maxLine int
		want    int64
	}{
		{name: "empty", in: "", maxLine: 10, want: 0},
		{name: "ends with newline", in: "ab\ncd\n", maxLine: 10, want: 6},
		{name: "partial last line", in: "ab\ncd", maxLine: 10, want: 3},
		{name: "no newline", in: "abcd", maxLine: 10, want: 0},
		{name: "partial longer than max", in: "ab\ncdefgh", maxLine: 3, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lastLineStart(strings.NewReader(tt.in), int64(len(tt.in)), tt.maxLine)
			if err != nil || got != tt.want {
				t.Errorf("lastLineStart = %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want eventKind
	}{
		{"Re-opening moved/deleted file /x ...\n", evMoved},
		{"Re-opening truncated file /x ...\n", evTruncated},
		{"Waiting for /x to appear...\n", evWaiting},
		{"Successfully reopened /x\n", evReopened},
		{"Successfully reopened truncated /x\n", evReopened},
		{"Leaky bucket full (/x); entering 1s cooloff period.\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := classify([]byte(tt.in)); got != tt.want {
				t.Errorf("classify = %d, want %d", got, tt.want)
			}
		})
	}
}
