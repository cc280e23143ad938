package tail

import (
	"bytes"
	"compress/gzip"
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
	"syscall"
	"testing"
	"time"

	"github.com/nxadm/tail/util"
	"github.com/nxadm/tail/watch"
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

// harness is a running Tailer, woken by fake watchers on a fake clock.
type harness struct {
	t       *testing.T
	tailer  *Tailer
	out     chan Line
	cancel  context.CancelFunc
	done    chan error
	reopens chan string
	logs    *lockedBuffer
	once    sync.Once
	w       *fakeWatchers
	clock   *fakeClock

	mu     sync.Mutex
	events []string // "rotated_while_down <path>", "lost <path> <n>", "removed <path>", "skipped <path>"
}

func (h *harness) event(e string) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

func (h *harness) eventList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.events...)
}

// realWatcher makes a harness use nxadm's polling watcher and real time.
func realWatcher(tl *Tailer) {
	tl.cfg.NewWatcher = func(p string) watch.FileWatcher { return watch.NewPollingFileWatcher(p) }
	tl.now, tl.after = time.Now, time.After
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
	h.w, h.clock = newFakeWatchers(), newFakeClock()
	if cfg.Events.Reopened == nil {
		cfg.Events.Reopened = func(s string) { h.reopens <- s }
	}
	cfg.Events.RotatedWhileDown = func(s string, _ Position) { h.event("rotated_while_down " + s) }
	cfg.Events.Lost = func(s string, n int64) { h.event(fmt.Sprintf("lost %s %d", s, n)) }
	cfg.Events.Removed = func(s string) { h.event("removed " + s) }
	cfg.Events.Skipped = func(s string) { h.event("skipped " + s) }
	cfg.NewWatcher = h.w.New
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tl, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tl.now, tl.after = h.clock.Now, h.clock.After
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
		if strings.Contains(logs, "level=ERROR") {
			t.Errorf("an error was logged:\n%s", logs)
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
	if tl.cfg.NewWatcher != nil && fmt.Sprintf("%p", tl.cfg.NewWatcher) == fmt.Sprintf("%p", h.w.New) {
		// Each follower takes its first event once its first look is
		// over; after the second its next look is over too: from then
		// on, a kick is taken only between two looks.
		for _, s := range tl.Sources() {
			if s.Path != StdinPath {
				h.settle(s.Path)
			}
		}
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

// kick wakes the follower of path.
func (h *harness) kick(path string) { h.t.Helper(); h.w.kick(h.t, path) }

// settle wakes the follower of path and returns once the look that woke up
// is over (nothing else wakes a follower in these tests).
func (h *harness) settle(path string) {
	h.t.Helper()
	h.tailer.mu.Lock()
	s := h.tailer.byPath[path]
	h.tailer.mu.Unlock()
	if s == nil {
		h.t.Fatalf("%s is not followed", path)
	}
	begun := s.looks.Load()
	h.kick(path)
	for deadline := time.Now().Add(waitFor); ; time.Sleep(50 * time.Microsecond) {
		if n := s.looked.Load(); n > begun && n == s.looks.Load() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the look of %s is not over", path)
		}
	}
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

// nextAdvancing returns the next line, advancing the clock by d until it
// comes: for followers that wait for their own timer.
func (h *harness) nextAdvancing(d time.Duration) Line {
	h.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case l := <-h.out:
			return l
		case <-deadline:
			h.t.Fatal("timed out waiting for a line")
		case <-time.After(time.Millisecond):
			h.clock.Advance(d)
		}
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

// noLine checks that no line was delivered: call it after settle.
func (h *harness) noLine() {
	h.t.Helper()
	select {
	case l := <-h.out:
		h.t.Fatalf("unexpected line %q", l.Text)
	default:
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

func TestMain(m *testing.M) {
	// Tests swap nxadm's watcher in after New (realWatcher), and the
	// child below starts none: set nxadm up as New would.
	if err := useNxadm(DefaultPollInterval); err != nil {
		panic(err)
	}
	if os.Getenv("JWTWATCH_TEST_NXADM_FATAL") != "" {
		// The child of TestNxadmFatalContained: nxadm's poller reports a
		// failed stat of its path with util.Fatal.
		done := make(chan struct{})
		go func() {
			defer close(done)
			util.Fatal("Failed to stat file %v: %v", "/x", syscall.ELOOP)
		}()
		<-done
		fmt.Println("still running")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestNxadmFatalContained: what nxadm's polling watcher does when a stat of
// its path fails with anything but "not found" (util.Fatal: log, then
// os.Exit(1)) ends only the poller's goroutine, not the process.
func TestNxadmFatalContained(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JWTWATCH_TEST_NXADM_FATAL=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "still running") {
		t.Fatalf("util.Fatal ended the process: %v\n%s", err, out)
	}
}

// TestPathTurnsBad replaces a followed file's path with a symlink loop, a
// directory or a FIFO: the follower says so, never blocks or exits, keeps
// reading the file it has open and follows the path again once it names a
// file.
func TestPathTurnsBad(t *testing.T) {
	tests := []struct {
		name string
		bad  func(t *testing.T, path string)
		warn string
	}{
		{"symlink loop", func(t *testing.T, path string) {
			if err := os.Symlink(path, path); err != nil {
				t.Fatal(err)
			}
		}, "cannot check the path"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "no longer names a regular file"},
		{"FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "no longer names a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gw.log")
			w := openWriter(t, path)
			h := startTailer(t, Config{Paths: []string{path}}, 16)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			tt.bad(t, path)
			w.write("still read secret\n")
			h.kick(path)
			if got := h.next(); got.Text != "still read secret" {
				t.Fatalf("got %q", got.Text)
			}
			if !strings.Contains(h.logs.String(), tt.warn) {
				t.Errorf("no warning %q:\n%s", tt.warn, h.logs)
			}
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, "new file secret\n")
			// No watcher on a bad path: the follower looks by itself.
			if got := h.nextAdvancing(time.Second); got.Text != "new file secret" {
				t.Fatalf("got %q", got.Text)
			}
			// Bad again, and stopped while it is.
			h.settle(path)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			tt.bad(t, path)
			h.kick(path)
			start := time.Now()
			h.stop()
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("stopping took %s", d)
			}
		})
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop.log")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
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
		{name: "directory", cfg: Config{Paths: []string{dir}}, wantErr: ErrNotRegular, wantText: dir + `": not a regular file: a directory`},
		{name: "FIFO", cfg: Config{Paths: []string{fifo}}, wantErr: ErrNotRegular, wantText: "named pipe"},
		{name: "symlink loop", cfg: Config{Paths: []string{loop}}, wantErr: ErrBadPath, wantText: loop},
		{name: "missing file", cfg: Config{Paths: []string{filepath.Join(dir, "later.log")}}},
		{name: "files globs and stdin", cfg: Config{Paths: []string{"a.log", "/var/log/*.log", "-", "./a.log"}}},
		{name: "the process's poll interval", cfg: Config{Paths: []string{"a.log"}, PollInterval: DefaultPollInterval}},
		// nxadm/tail has one poll interval per process, set by TestMain.
		{name: "another poll interval", cfg: Config{Paths: []string{"a.log"}, PollInterval: time.Second}, wantErr: ErrBadConfig, wantText: "1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
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
	if size != 4 || id.Ino == 0 || id.HeadLen != 4 {
		t.Fatalf("Identify = %+v, %d", id, size)
	}
	link := filepath.Join(dir, "link")
	if err := os.Link(path, link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	appendFile(t, other, "abc\n")
	long := filepath.Join(dir, "long")
	appendFile(t, long, strings.Repeat("x", 3*HeadBytes))

	tests := []struct {
		name     string
		path     string
		sameFile bool
		sameHead bool
		headLen  int
	}{
		{name: "same path", path: path, sameFile: true, sameHead: true, headLen: 4},
		{name: "hard link", path: link, sameFile: true, sameHead: true, headLen: 4},
		{name: "other file, same bytes", path: other, sameHead: true, headLen: 4},
		{name: "long file: the first KiB", path: long, headLen: HeadBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Identify(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got.SameFile(id) != tt.sameFile || (got.Head == id.Head) != tt.sameHead || got.HeadLen != tt.headLen {
				t.Errorf("Identify(%s) = %+v, first %+v", tt.name, got, id)
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
		position func(id FileID) Position
		appended string
		want     []string
		// rotated: the saved position was reported as not fitting.
		rotated bool
	}{
		{name: "end by default", content: content, appended: "new\n", want: []string{"new"}},
		{name: "beginning with FromStart", content: content, fromStart: true, appended: "new\n", want: []string{"old1 secret", "old2 secret", "new"}},
		{
			name: "saved position", content: content, appended: "new\n",
			position: func(id FileID) Position { return Position{File: id, Offset: 12} },
			want:     []string{"old2 secret", "new"},
		},
		{
			name: "saved position at end", content: content, appended: "new\n",
			position: func(id FileID) Position { return Position{File: id, Offset: int64(len(content))} },
			want:     []string{"new"},
		},
		{
			name: "saved by an older jwtwatch: device and inode only", content: content, appended: "new\n",
			position: func(id FileID) Position { return Position{File: FileID{Dev: id.Dev, Ino: id.Ino}, Offset: 12} },
			want:     []string{"old2 secret", "new"},
		},
		{
			name: "saved position of another inode", content: content, appended: "new\n",
			position: func(id FileID) Position {
				id.Ino++
				return Position{File: id, Offset: 12}
			},
			want: []string{"old1 secret", "old2 secret", "new"}, rotated: true,
		},
		{
			name: "saved position past the end", content: content, appended: "new\n",
			position: func(id FileID) Position { return Position{File: id, Offset: 100} },
			want:     []string{"old1 secret", "old2 secret", "new"}, rotated: true,
		},
		{
			name: "same inode, other first bytes: truncated and rewritten while down", content: content, appended: "new\n",
			position: func(id FileID) Position {
				id.Head++
				return Position{File: id, Offset: 12}
			},
			want: []string{"old1 secret", "old2 secret", "new"}, rotated: true,
		},
		{name: "end during a partial line", content: "old1 secret\nold2-par", appended: "tial\nnew\n", want: []string{"old2-partial", "new"}},
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
				cfg.Positions = map[string]Position{path: tt.position(id)}
			}
			h := startTailer(t, cfg, 16)
			appendFile(t, path, tt.appended)
			h.kick(path)
			got := h.until("new")
			if !slices.Equal(texts(got), tt.want) {
				t.Errorf("lines %q, want %q", texts(got), tt.want)
			}
			checkOffsets(t, readFile(t, path), got)
			if rotated := slices.Contains(h.eventList(), "rotated_while_down "+path); rotated != tt.rotated {
				t.Errorf("rotated while down reported: %v, want %v", rotated, tt.rotated)
			}
		})
	}
}

// TestRotatedWhileDown: the file a position was saved for was renamed
// while jwtwatch was down, and written to after it stopped: its rest is read
// from where it now is, then the new file from its start.
func TestRotatedWhileDown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.log")
	appendFile(t, path, "read secret\n")
	id, _, err := Identify(path)
	if err != nil {
		t.Fatal(err)
	}
	saved := Position{File: id, Offset: int64(len("read secret\n"))}
	appendFile(t, path, "unread secret\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new secret\n")
	h := startTailer(t, Config{Paths: []string{path}, Positions: map[string]Position{path: saved}}, 16)
	h.kick(path)
	got := h.lines(2)
	if want := []string{"unread secret", "new secret"}; !slices.Equal(texts(got), want) {
		t.Fatalf("got %q, want %q", texts(got), want)
	}
	if !got[0].Rotated || got[0].File != id || got[1].Rotated {
		t.Errorf("lines %+v: the first is of the renamed file, the second of the new one", got)
	}
	if !slices.Contains(h.eventList(), "rotated_while_down "+path) {
		t.Errorf("events %q: the rotation while down is not reported", h.eventList())
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
		h.kick(path)
		got := h.lines(len(lines))
		if !slices.Equal(texts(got), lines) {
			t.Fatalf("batch %d: %q, want %q", batch, texts(got), lines)
		}
		h.settle(path) // the look that read them is over
	}
	// Many lines while nobody reads: several blocks.
	lines, data := numbered("bulk-", 20000)
	appendFile(t, path, data)
	h.kick(path)
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
	h.settle(path)
	size := got[len(got)-1].Offset
	want := Source{Path: path, File: id, Size: size, Offset: size, Open: true}
	if srcs := h.tailer.Sources(); len(srcs) != 1 || srcs[0] != want {
		t.Errorf("Sources() = %+v, want %+v", srcs, want)
	}
}

// writer appends to a file through one descriptor, as a gateway does; it
// keeps writing to the same file after a rename.
type writer struct {
	t *testing.T
	f *os.File
}

func openWriter(t *testing.T, path string) *writer {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &writer{t, f}
}

func (w *writer) write(s string) {
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Fatal(err)
	}
}

// TestRotation rotates under the follower, which is woken only by the test.
func TestRotation(t *testing.T) {
	tests := []struct {
		name string
		// rotate rotates while w (open on path) has written lines the
		// follower has not looked at yet; it returns the writer for the
		// lines after the rotation.
		rotate func(t *testing.T, path string, w *writer) *writer
		// late is written with the old writer after the rotation, before
		// the follower looks: only a rename keeps it readable.
		late bool
	}{
		{name: "rename and create, writer still on the old file", late: true, rotate: func(t *testing.T, path string, w *writer) *writer {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			return openWriter(t, path)
		}},
		{name: "delete and recreate", rotate: func(t *testing.T, path string, w *writer) *writer {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			return openWriter(t, path)
		}},
		{name: "copytruncate", rotate: func(t *testing.T, path string, w *writer) *writer {
			if err := os.WriteFile(path+".1", readFile(t, path), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			return w
		}},
		{name: "copytruncate, the copy compressed at once", rotate: func(t *testing.T, path string, w *writer) *writer {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			if _, err := zw.Write(readFile(t, path)); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".1.gz", b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			return w
		}},
		{name: "copytruncate, the copy dated", rotate: func(t *testing.T, path string, w *writer) *writer {
			if err := os.WriteFile(path+"-20261127", readFile(t, path), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			return w
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gw.log")
			w := openWriter(t, path)
			h := startTailer(t, Config{Paths: []string{path}}, 256)

			before, data := numbered("before-", 3)
			w.write(data)
			h.kick(path)
			if got := h.lines(len(before)); !slices.Equal(texts(got), before) {
				t.Fatalf("before rotation: %q, want %q", texts(got), before)
			}
			h.settle(path) // the look that read them is over
			// Written but not looked at when the rotation comes.
			unread, data := numbered("unread-", 3)
			w.write(data)
			nw := tt.rotate(t, path, w)
			var late []string
			if tt.late {
				late, data = numbered("late-", 2)
				w.write(data)
			}
			after, data := numbered("after-", 3)
			nw.write(data)
			h.settle(path) // the rotation is seen
			if tt.late {
				// The old writer goes on until it is told to reopen.
				more, data := numbered("later-", 2)
				w.write(data)
				late = append(late, more...)
				h.kick(path)
			}
			want := slices.Concat(unread, late, after)
			got := h.lines(len(want))
			slices.SortFunc(got, func(a, b Line) int { return strings.Compare(a.Text, b.Text) })
			slices.Sort(want)
			if !slices.Equal(texts(got), want) {
				t.Fatalf("after rotation: %q, want %q", texts(got), want)
			}
			h.waitReopen(path)
			h.settle(path)
			h.noLine()
			newID, _, _ := Identify(path)
			for _, l := range got {
				if fresh := strings.HasPrefix(l.Text, "after-"); fresh != (l.File == newID) || fresh == l.Rotated {
					t.Errorf("line %q: File %+v Rotated %v; the new file is %+v", l.Text, l.File, l.Rotated, newID)
				}
			}
			select {
			case s := <-h.reopens:
				t.Errorf("second reopen of %q for one rotation", s)
			default:
			}
			if ev := h.eventList(); len(ev) > 0 {
				t.Errorf("events %q, want none: nothing was lost", ev)
			}
			if strings.Contains(h.logs.String(), "level=WARN") {
				t.Errorf("a warning was logged for a plain rotation:\n%s", h.logs)
			}
		})
	}
}

// TestRotateWait: the old file is read until RotateWait has passed, then
// closed; what its writer adds after that is not read.
func TestRotateWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	w := openWriter(t, path)
	h := startTailer(t, Config{Paths: []string{path}, RotateWait: 5 * time.Second}, 16)
	fds := openFDs(t)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "")
	h.settle(path)
	if got := openFDs(t); got != fds+1 {
		t.Errorf("%d descriptors open during the rotate wait, want %d (the old file and the new)", got, fds+1)
	}
	w.write("in time secret\n")
	h.clock.Advance(4 * time.Second)
	h.kick(path)
	if got := h.next(); got.Text != "in time secret" || !got.Rotated {
		t.Fatalf("got %+v", got)
	}
	h.clock.Advance(time.Second)
	h.settle(path)
	if got := openFDs(t); got != fds {
		t.Errorf("%d descriptors open after the rotate wait, want %d", got, fds)
	}
	w.write("too late secret\n")
	h.settle(path)
	h.noLine()
}

// TestTruncatedAndRegrown: truncated and written past its old size between
// two looks: the checksum of the first bytes tells.
func TestTruncatedAndRegrown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	appendFile(t, path, "one secret\n")
	h.kick(path)
	h.next()
	h.settle(path) // rewritten between two looks, not within one
	fresh, data := numbered("regrown-line-", 4)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil { // O_TRUNC, then one write
		t.Fatal(err)
	}
	h.kick(path)
	if got := h.lines(len(fresh)); !slices.Equal(texts(got), fresh) {
		t.Fatalf("got %q, want %q", texts(got), fresh)
	}
	h.waitReopen(path)
}

// TestRewrittenBetweenLooks: a file written while a look reads it, then
// truncated and written past the offset before the next look, is told by
// the bytes that were read, not by what the file holds at that next look
// (a look that took the identity from the file then read on mid-line).
func TestRewrittenBetweenLooks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	tl, err := New(Config{Paths: []string{path}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := tl.addSource(path, false)
	s.start(true)
	var got []string
	emit := func(l Line) bool { got = append(got, strings.Clone(l.Text)); return true } // Text is the reader's buffer
	// The append lands after the look checked the file: only the read
	// sees it.
	appendFile(t, path, "one secret\n")
	s.readAll(emit, tl.now())
	fresh, data := numbered("regrown-line-", 4)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	s.step(emit)
	t.Cleanup(s.close)
	if want := append([]string{"one secret"}, fresh...); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestTruncatedWithoutCopy: what was written and not read is counted lost.
func TestTruncatedWithoutCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	appendFile(t, path, "one secret\npartial")
	h.kick(path)
	h.next()
	h.settle(path)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "two\n")
	h.kick(path)
	if got := h.next(); got.Text != "two" {
		t.Fatalf("got %q", got.Text)
	}
	if want := []string{"lost " + path + " 7"}; !slices.Equal(h.eventList(), want) {
		t.Errorf("events %q, want %q", h.eventList(), want)
	}
}

// TestDeletedWatcherEvent: after nxadm's Deleted event the follower starts
// a new watcher and follows the new file.
func TestDeletedWatcherEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	h.settle(path) // watching the file's changes
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.w.kickDeleted(t, path)
	appendFile(t, path, "back secret\n")
	h.kick(path)
	if got := h.next(); got.Text != "back secret" {
		t.Fatalf("got %q", got.Text)
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
	h.kick(path) // the path appeared
	got := h.lines(3)
	if !slices.Equal(texts(got), lines) {
		t.Fatalf("got %q, want %q (from the beginning)", texts(got), lines)
	}
	checkOffsets(t, readFile(t, path), got)
	if s := h.tailer.Sources(); len(s) != 1 || !s[0].Open {
		t.Errorf("Sources() = %+v, want the source open", s)
	}
	select {
	case <-h.reopens:
		t.Error("a file that appears is not a reopen")
	default:
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	appendFile(t, a, "old secret\n")
	if err := os.Mkdir(filepath.Join(dir, "dir.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := startTailer(t, Config{Paths: []string{filepath.Join(dir, "*.log")}}, 16)

	appendFile(t, a, "a1\n")
	h.kick(a)
	if got := h.next(); got.Text != "a1" || got.Source != a {
		t.Fatalf("got %+v, want a1 from %s (existing file starts at its end)", got, a)
	}
	appendFile(t, filepath.Join(dir, "ignored.txt"), "not matched\n")
	b := filepath.Join(dir, "b\xff.log") // not UTF-8: followed all the same
	lines, data := numbered("b", 2)
	appendFile(t, b, data)
	h.clock.Advance(DefaultGlobInterval)
	got := h.lines(2)
	if !slices.Equal(texts(got), lines) || got[0].Source != b {
		t.Fatalf("got %+v, want %q from %q", got, lines, b)
	}
	var paths []string
	for _, s := range h.tailer.Sources() {
		paths = append(paths, s.Path)
	}
	if !slices.Equal(paths, []string{a, b}) {
		t.Errorf("Sources paths %q", paths)
	}
	if want := []string{"skipped " + filepath.Join(dir, "dir.log")}; !slices.Equal(h.eventList(), want) {
		t.Errorf("events %q, want %q", h.eventList(), want)
	}
}

// TestGlobDropsGoneFiles: 60 date-named files, deleted; once gone for
// GoneAfter their followers end and they are reported removed.
func TestGlobDropsGoneFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 60 {
		p := filepath.Join(dir, fmt.Sprintf("gw-2026-10-%02d.log", i+1))
		appendFile(t, p, "x\n")
		paths = append(paths, p)
	}
	goroutines := runtime.NumGoroutine()
	h := startTailer(t, Config{Paths: []string{filepath.Join(dir, "gw-*.log")}, GoneAfter: time.Minute}, 16)
	if n := len(h.tailer.Sources()); n != 60 {
		t.Fatalf("%d sources, want 60", n)
	}
	for _, p := range paths[:59] {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		h.settle(p) // seen missing; the old file is read for the rotate wait
	}
	// Each follower waits for a timer; advancing the clock fires those
	// set so far, again until all were.
	waitUntil(t, "59 sources removed", func() bool {
		h.clock.Advance(time.Minute)
		return len(h.tailer.Sources()) == 1
	})
	if s := h.tailer.Sources(); s[0].Path != paths[59] {
		t.Errorf("left %q, want %q", s[0].Path, paths[59])
	}
	removed := 0
	for _, e := range h.eventList() {
		if strings.HasPrefix(e, "removed ") {
			removed++
		}
	}
	if removed != 59 {
		t.Errorf("%d removed events, want 59", removed)
	}
	// One follower left, and the Tailer's own goroutines.
	waitUntil(t, fmt.Sprintf("goroutines back to about %d", goroutines), func() bool {
		return runtime.NumGoroutine() <= goroutines+4
	})
}

func TestPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	appendFile(t, path, "full\npart")
	h.kick(path)
	if got := h.next(); got.Text != "full" {
		t.Fatalf("got %q", got.Text)
	}
	h.settle(path)
	h.noLine()
	appendFile(t, path, "ial\n")
	h.kick(path)
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
	huge := strings.Repeat("h", 10*limit)
	appendFile(t, path, exact+"\n"+huge+"\nnext\n")
	h.kick(path)
	got := h.lines(3)
	want := []Line{
		{Text: exact, Offset: limit + 1},
		{TooLong: true, Offset: 11*limit + 2},
		{Text: "next", Offset: 11*limit + 7},
	}
	for i := range want {
		if got[i].Text != want[i].Text || got[i].TooLong != want[i].TooLong || got[i].Offset != want[i].Offset {
			t.Errorf("line %d: TooLong %v Offset %d len %d, want TooLong %v Offset %d len %d", i,
				got[i].TooLong, got[i].Offset, len(got[i].Text), want[i].TooLong, want[i].Offset, len(want[i].Text))
		}
	}
}

// TestHugeLinesBoundedMemory follows a file that gets a 10 MB line and then
// 50 MB of NUL bytes without a newline: each is one dropped line, the next
// line is read, and what the follower allocates stays a few hundred KiB.
func TestHugeLinesBoundedMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h := startTailer(t, Config{Paths: []string{path}}, 16)
	var hugeLine, blob bytes.Buffer
	hugeLine.Write(bytes.Repeat([]byte("h"), 10<<20))
	hugeLine.WriteString("\nafter line\n")
	blob.Write(make([]byte, 50<<20))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	appendFile(t, path, hugeLine.String())
	h.kick(path)
	if got := h.lines(2); !got[0].TooLong || got[1].Text != "after line" {
		t.Fatalf("got %+v", got)
	}
	appendFile(t, path, blob.String())
	h.settle(path)
	appendFile(t, path, "\nnext line\n")
	h.kick(path)
	if got := h.lines(2); !got[0].TooLong || got[1].Text != "next line" {
		t.Fatalf("got %+v", got)
	}
	runtime.ReadMemStats(&after)
	// The test itself allocated the 60 MB it wrote; the follower must not
	// add more than a few hundred KiB to that.
	written := uint64(hugeLine.Cap() + blob.Cap() + len("\nnext line\n"))
	if extra := after.TotalAlloc - before.TotalAlloc - written; int64(extra) > 512<<10 {
		t.Errorf("the follower allocated %d KiB for a 10 MB line and a 50 MB blob, want at most 512", extra>>10)
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
			want: []Line{{Text: "a secret", Offset: 10}, {Text: "", Offset: 11}, {Text: "b", Offset: 12, Unterminated: true}},
		},
		{
			name: "too long",
			in:   "0123456789\n012\n0123456789",
			max:  4,
			want: []Line{{TooLong: true, Offset: 11}, {Text: "012", Offset: 15}, {TooLong: true, Offset: 25, Unterminated: true}},
		},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startTailer(t, Config{Paths: []string{"-"}, Stdin: strings.NewReader(tt.in), MaxLineBytes: tt.max}, 16)
			got := h.lines(len(tt.want))
			for i := range got {
				if i > 0 && got[i].Chunk < got[i-1].Chunk {
					t.Errorf("line %d: chunk %d after %d", i, got[i].Chunk, got[i-1].Chunk)
				}
				got[i].Source, got[i].Chunk = "", 0 // how the reads fall is the reader's business
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			waitUntil(t, "stdin done", func() bool { return !h.tailer.Sources()[0].Open })
			h.noLine()
		})
	}
}

// TestStdinStopsWhileBlocked: a read of stdin that never returns does not
// hold up the stop.
func TestStdinStopsWhileBlocked(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	h := startTailer(t, Config{Paths: []string{"-"}, Stdin: r}, 16)
	if _, err := w.WriteString("one secret\n"); err != nil {
		t.Fatal(err)
	}
	if got := h.next(); got.Text != "one secret" {
		t.Fatalf("got %q", got.Text)
	}
	h.stop()
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

// TestTwoTailersSameFile shows that Tailers in one process, on nxadm's real
// watcher, do not share state.
func TestTwoTailersSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.log")
	appendFile(t, path, "")
	h1 := startTailer(t, Config{Paths: []string{path}}, 16, realWatcher)
	h2 := startTailer(t, Config{Paths: []string{path}}, 16, realWatcher)
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
// path, a glob and a rotated file in its rotate wait beside it) 1,000 times:
// goroutines and descriptors return to where they started.
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
		h.settle(filepath.Join(dir, "missing.log"))
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
