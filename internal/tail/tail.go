// Package tail follows log files (and stdin) line by line across rotation,
// reporting each complete line with the file position just past it so that a
// restart can resume exactly there.
//
// jwtwatch reads the bytes itself: one descriptor per file, read in 64 KiB
// blocks at its own offset with pread (package lines), complete lines only,
// handed to a Handler on the follower's goroutine as views of the block (no
// allocation, system call or channel per line). A file is known by device,
// inode and a CRC-64 of its first KiB (FileID).
//
// When to look is told by a watch.FileWatcher of github.com/nxadm/tail: in
// production its polling watcher (set up by New), in tests a fake one. An
// event is only a reason to look: each time, the follower stats the path and
// its own descriptor and decides from what it finds, so a missed or merged
// event costs latency, never lines, and no behaviour depends on what nxadm
// logs. Besides, each follower looks by itself every second (checkEvery),
// and every poll interval while an old file is still read after a rotation.
//
//   - Rename or delete (logrotate create, nginx, pino): the old descriptor
//     stays open and is read for RotateWait while the new file is read too, so
//     a writer that has not reopened yet loses nothing.
//   - Truncation (copytruncate): seen as a size below the offset read, or as
//     first bytes that no longer match the checksum (truncated and regrown in
//     one go). The lines not read yet are read from the copy when it is
//     there (a file beside it, same name prefix, same checksum); otherwise
//     the bytes known to be unread are reported as lost.
//   - A saved position applies only to the file it was saved for; a file
//     rotated or truncated while jwtwatch was down is reported, the rest of
//     the old file read from where it now is, if found, and the new file read
//     from its start.
//   - Files matched by a glob that are gone for GoneAfter are dropped, with
//     their goroutines.
package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nxadm/tail/watch"
)

// Line is one complete line read from a source.
type Line struct {
	// Source is the path the line was read from ("-" for stdin).
	Source string
	// Text is the line without its trailing newline; empty when TooLong.
	// It is a view of the follower's buffer, valid only until the Handler
	// returns: copy it (strings.Clone) to keep it.
	Text string
	// TooLong is set, with Text empty, for a line over the configured limit.
	TooLong bool
	// Chunk numbers the reads of the line's file (or of stdin): the lines of
	// one chunk came in with one read, at one moment, so a caller may read
	// its clock once per chunk.
	Chunk int64
	// Unterminated marks a line that did not end with a newline: the last
	// of stdin when it closed. Every line of a file ends with one (a
	// partial last line is read once its newline is written).
	Unterminated bool
	// File identifies the file the line came from; Offset is the byte offset
	// just past the line's newline in that file.
	File   FileID
	Offset int64
	// Rotated marks a line of a file the path no longer names (read during
	// RotateWait, or from the copy of a truncated file): it does not move
	// the source's saved position, which follows the file at the path.
	Rotated bool
}

// Position is a saved read position for a path.
type Position struct {
	File   FileID `json:"file"`
	Offset int64  `json:"offset"`
}

// Source describes one followed source at a point in time, for metrics.
type Source struct {
	// Path is the cleaned path, or "-" for stdin.
	Path string
	// File identifies the file the path names; zero while none is open.
	File FileID
	// Size is the current size of that file (bytes read so far for stdin).
	Size int64
	// Offset is just past the last line handled from it.
	Offset int64
	// Behind is the bytes not handled yet, in that file and in files still
	// read after a rotation.
	Behind int64
	// Open is false while waiting for the file to (re)appear, and for stdin
	// once it reached EOF.
	Open bool
}

// Defaults for the zero values of Config fields.
const (
	DefaultMaxLineBytes = 1 << 20
	DefaultGlobInterval = time.Second
	DefaultRotateWait   = 5 * time.Second
	DefaultPollInterval = 25 * time.Millisecond
	DefaultGoneAfter    = time.Minute
)

// StdinPath is the path that names standard input.
const StdinPath = "-"

// Errors returned by New and Run.
var (
	ErrNoPaths    = errors.New("no log paths configured")
	ErrEmptyPath  = errors.New("empty log path")
	ErrBadConfig  = errors.New("invalid tail configuration")
	ErrAlreadyRun = errors.New("tailer already run")
	ErrNotRegular = errors.New("not a regular file")
	ErrBadPath    = errors.New("log path cannot be checked")
)

// Config configures a Tailer.
type Config struct {
	// Paths are files, globs (filepath.Match syntax) or "-" for stdin.
	Paths []string
	// FromStart makes a file with no saved position start at its beginning
	// instead of its end.
	FromStart bool
	// MaxLineBytes is the longest line delivered with its text; longer lines
	// are delivered with TooLong set. Zero means DefaultMaxLineBytes.
	MaxLineBytes int
	// Positions are saved positions by (cleaned) path from a previous run.
	Positions map[string]Position
	// GlobInterval is how often globs are re-expanded to pick up new files.
	GlobInterval time.Duration
	// RotateWait is how long a file is still read after the path stopped
	// naming it (renamed or deleted). Zero means DefaultRotateWait; a
	// negative value reads it to its end once and closes it.
	RotateWait time.Duration
	// PollInterval is how often a follower looks at files nothing watches:
	// old files during RotateWait, a path that cannot be checked.
	PollInterval time.Duration
	// GoneAfter is how long a file matched by a glob may be missing before
	// it is dropped.
	GoneAfter time.Duration
	// NewWatcher returns the watcher of a path; nil means nxadm/tail's
	// polling watcher.
	NewWatcher func(path string) watch.FileWatcher
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Events, called from the followers' goroutines; each may be nil.
	Events Events
	// Stdin is what "-" reads; nil means os.Stdin.
	Stdin io.Reader
}

// Events report what happened to sources. They may be called from several
// goroutines at once and must not block for long.
type Events struct {
	// Reopened: the path names another file now (rotation, delete and
	// recreate) or its file was truncated, and it is read from its start.
	Reopened func(source string)
	// RotatedWhileDown: a saved position no longer fits the file at its
	// path (replaced or truncated while jwtwatch was down). now is where
	// the path is read from instead: the start of the file there, or the
	// zero Position when there is none yet.
	RotatedWhileDown func(source string, now Position)
	// Lost: bytes known to have been written that will not be read (a
	// truncated file without a copy, a partial last line of a retired file).
	Lost func(source string, bytes int64)
	// Removed: a file matched by a glob was gone for GoneAfter and is no
	// longer followed.
	Removed func(source string)
	// Skipped: a glob matched something that is not a regular file.
	Skipped func(path string)
}

// Tailer follows a set of sources. Create it with New and start it with Run.
type Tailer struct {
	cfg      Config
	log      *slog.Logger
	literals []string
	globs    []string
	stdin    bool

	// Hooks for tests; time.Now, time.After and one second in production.
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time
	checkEvery time.Duration

	ran   atomic.Bool
	ready chan struct{}

	mu      sync.Mutex // guards sources, byPath, skipped
	sources []*source
	byPath  map[string]*source
	skipped map[string]bool
}

// New validates cfg and returns a Tailer for it. A literal path that exists
// must be a regular file (or a symlink to one) whose path can be checked; a
// missing one is waited for.
func New(cfg Config) (*Tailer, error) {
	if len(cfg.Paths) == 0 {
		return nil, ErrNoPaths
	}
	if cfg.MaxLineBytes < 0 || cfg.GlobInterval < 0 || cfg.PollInterval < 0 || cfg.GoneAfter < 0 {
		return nil, fmt.Errorf("%w: negative limit or interval", ErrBadConfig)
	}
	cfg.MaxLineBytes = cmpOr(cfg.MaxLineBytes, DefaultMaxLineBytes)
	cfg.GlobInterval = cmpOr(cfg.GlobInterval, DefaultGlobInterval)
	cfg.RotateWait = cmpOr(cfg.RotateWait, DefaultRotateWait)
	cfg.PollInterval = cmpOr(cfg.PollInterval, DefaultPollInterval)
	cfg.GoneAfter = cmpOr(cfg.GoneAfter, DefaultGoneAfter)
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.NewWatcher == nil {
		if err := useNxadm(cfg.PollInterval); err != nil {
			return nil, err
		}
		cfg.NewWatcher = func(p string) watch.FileWatcher { return watch.NewPollingFileWatcher(p) }
	}
	t := &Tailer{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        time.Now,
		after:      time.After,
		checkEvery: time.Second,
		ready:      make(chan struct{}),
		byPath:     make(map[string]*source),
		skipped:    make(map[string]bool),
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	seen := make(map[string]bool)
	for _, p := range cfg.Paths {
		if p == "" {
			return nil, ErrEmptyPath
		}
		if p != StdinPath {
			p = filepath.Clean(p)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		switch {
		case p == StdinPath:
			t.stdin = true
		case isGlob(p):
			// Match checks the whole pattern, so "" is enough to validate it.
			if _, err := filepath.Match(p, ""); err != nil {
				return nil, fmt.Errorf("log path %q: %w", p, err)
			}
			t.globs = append(t.globs, p)
		default:
			if err := checkPath(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("log path %q: %w", p, err)
			}
			t.literals = append(t.literals, p)
		}
	}
	return t, nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// checkPath stats path (following symlinks): fs.ErrNotExist when missing,
// ErrNotRegular for a directory, FIFO or device, ErrBadPath when the path
// cannot be resolved (a symlink loop, a directory that cannot be searched).
func checkPath(path string) error {
	_, err := statPath(path)
	return err
}

// statPath is checkPath that also returns what it found.
func statPath(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrBadPath, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s", ErrNotRegular, describeMode(fi.Mode()))
	}
	return fi, nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO); pipe into --log.path=- instead"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// isGlob reports whether p contains filepath.Match meta characters.
func isGlob(p string) bool {
	return strings.ContainsAny(p, `*?[\`)
}

// Ready returns a channel closed once Run has opened every source or started
// waiting for it; a line appended to a followed file after that is delivered.
func (t *Tailer) Ready() <-chan struct{} {
	return t.ready
}

// Sources returns a snapshot of the followed sources in the order they were
// added.
func (t *Tailer) Sources() []Source {
	t.mu.Lock()
	srcs := append([]*source(nil), t.sources...)
	t.mu.Unlock()
	out := make([]Source, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, s.snapshot())
	}
	return out
}

// Handler receives each complete line, in order per file, on the goroutine
// that follows the source: lines of different sources arrive concurrently.
// Reading that source waits while it runs, so a slow handler slows the
// follower instead of losing lines. It returns false to stop following the
// source at once (its context is done); the line then counts as not handled.
type Handler func(Line) bool

// Run follows every source until ctx is done, sending complete lines (their
// Text copied) to out, in order per source. It blocks when out is full
// rather than dropping lines, and never closes out.
func (t *Tailer) Run(ctx context.Context, out chan<- Line) error {
	return t.Follow(ctx, func(l Line) bool {
		l.Text = strings.Clone(l.Text)
		select {
		case out <- l:
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// Follow follows every source until ctx is done, calling emit with each
// line. It returns nil once ctx is done and every follower has stopped (no
// call of emit is running or will come); it can be called only once.
func (t *Tailer) Follow(ctx context.Context, emit Handler) error {
	if !t.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	if t.stdin {
		s := t.addSource(StdinPath, false)
		wg.Go(func() { s.runStdin(ctx, emit, t.cfg.Stdin) })
	}
	for _, p := range t.literals {
		t.startFile(ctx, &wg, emit, p, false, true)
	}
	t.expandGlobs(ctx, &wg, emit, true)
	close(t.ready)

	if len(t.globs) == 0 {
		<-ctx.Done()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.after(t.cfg.GlobInterval):
			t.expandGlobs(ctx, &wg, emit, false)
		}
	}
}

// expandGlobs starts following every regular file matching a glob that is
// not followed yet. Files found after start-up are new data, read from the
// beginning.
func (t *Tailer) expandGlobs(ctx context.Context, wg *sync.WaitGroup, emit Handler, initial bool) {
	for _, g := range t.globs {
		matches, err := filepath.Glob(g)
		if err != nil {
			// Patterns were validated in New; nothing else fails.
			t.log.Warn("expanding glob", "pattern", g, "err", err)
			continue
		}
		for _, m := range matches {
			if t.following(m) {
				continue
			}
			if err := checkPath(m); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					t.skip(m, g, err)
				}
				continue
			}
			if !initial {
				t.log.Info("following new file", "source", m, "pattern", g)
			}
			t.startFile(ctx, wg, emit, m, true, initial)
		}
	}
}

// skip reports once a glob match that cannot be followed.
func (t *Tailer) skip(path, pattern string, err error) {
	t.mu.Lock()
	seen := t.skipped[path]
	t.skipped[path] = true
	t.mu.Unlock()
	if seen {
		return
	}
	t.log.Warn("not following a glob match", "path", path, "pattern", pattern, "err", err)
	if t.cfg.Events.Skipped != nil {
		t.cfg.Events.Skipped(path)
	}
}

func (t *Tailer) following(path string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byPath[path] != nil
}

func (t *Tailer) addSource(path string, glob bool) *source {
	s := &source{t: t, path: path, glob: glob, log: t.log.With("source", path), head: make([]byte, HeadBytes)}
	t.mu.Lock()
	t.sources = append(t.sources, s)
	t.byPath[path] = s
	t.mu.Unlock()
	return s
}

// remove forgets a source whose goroutine has ended for good.
func (t *Tailer) remove(s *source) {
	t.mu.Lock()
	for i, x := range t.sources {
		if x == s {
			t.sources = append(t.sources[:i], t.sources[i+1:]...)
			break
		}
	}
	delete(t.byPath, s.path)
	t.mu.Unlock()
	if t.cfg.Events.Removed != nil {
		t.cfg.Events.Removed(s.path)
	}
}

func (t *Tailer) startFile(ctx context.Context, wg *sync.WaitGroup, emit Handler, path string, glob, initial bool) {
	s := t.addSource(path, glob)
	s.start(initial)
	wg.Go(func() { s.run(ctx, emit) })
}

// lastLineStart returns where the last line of the first end bytes of r
// starts: end itself when they end with a newline. Starting there rather than
// at end means a line being written at start-up is delivered whole. It looks
// back at most max+1 bytes; a longer partial line is still too long when read
// from there.
func lastLineStart(r io.ReaderAt, end int64, maxLine int) (int64, error) {
	limit := max(end-int64(maxLine)-1, 0)
	buf := make([]byte, min(64<<10, end-limit))
	for hi := end; hi > limit; {
		lo := max(hi-int64(len(buf)), limit)
		b := buf[:hi-lo]
		if _, err := r.ReadAt(b, lo); err != nil && err != io.EOF {
			return end, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return lo + int64(i) + 1, nil
		}
		hi = lo
	}
	return limit, nil
}
