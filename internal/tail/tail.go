// Package tail follows log files (and stdin) line by line across rotation,
// reporting each complete line with the file position just past it so that a
// restart can resume exactly there.
//
// Files are read by github.com/nxadm/tail in polling mode. Its inotify mode is
// avoided: it keeps one process-wide watcher whose event channels are keyed by
// path (two tails of a path, or a stop and restart of one, steal or close each
// other's events), and it registers its watch only after reading to EOF, so a
// line written in between waits for the next write. Polling compares the size
// with the read position, so nothing is missed; the cost is up to one poll
// interval (pollInterval) of latency at EOF.
//
// nxadm reports reopens only through its logger, so each tail gets a logger
// whose messages ("Re-opening moved/deleted file", "Re-opening truncated
// file", "Successfully reopened") become events. Beside nxadm's descriptor the
// package keeps its own on the same file, to identify it (Line.File), to
// measure it (Source.Size) and, after a rename or delete, to read the lines
// nxadm skipped: nxadm switches to the new file without finishing the old one.
// nxadm opens files by path, so identities are checked against the path right
// after nxadm opened it; a file replaced again within those microseconds may
// be misattributed.
//
// Known limits: with copytruncate, data written after the truncation that
// outgrows the old size before the next poll is not seen as a truncation (as
// with any follower); lines written to a renamed file after the switch to the
// new one (a writer not yet told to reopen) are not read.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nxadm/tail/watch"
)

// FileID identifies a file independently of its name.
type FileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// Line is one complete line read from a source.
type Line struct {
	// Source is the path the line was read from ("-" for stdin).
	Source string
	// Text is the line without its trailing newline; empty when TooLong.
	Text string
	// TooLong is set, with Text empty, for a line over the configured limit.
	TooLong bool
	// File identifies the file the line came from; Offset is the byte offset
	// just past the line's newline in that file.
	File   FileID
	Offset int64
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
	// File identifies the file currently open; zero while none is.
	File FileID
	// Size is the current size of the open file (bytes read so far for stdin),
	// so Size-Offset is how far the follower is behind.
	Size int64
	// Offset is just past the last line sent for this source.
	Offset int64
	// Open is false while waiting for the file to (re)appear, and for stdin
	// once it reached EOF.
	Open bool
}

// Defaults for the zero values of Config fields.
const (
	DefaultMaxLineBytes = 1 << 20
	DefaultGlobInterval = time.Second
)

// pollInterval is how often nxadm/tail stats a file it has read to the end.
// It bounds how long a new line waits to be read: nxadm's default of 250 ms
// alone would exceed the 100 ms a line may take from written to counted,
// while a stat per file every 25 ms costs nothing measurable.
const pollInterval = 25 * time.Millisecond

// setPollInterval sets nxadm's poll interval once, before any follower can
// read it: it is a package variable of nxadm/tail/watch, the only place
// nxadm takes it from.
var setPollInterval sync.Once

// StdinPath is the path that names standard input.
const StdinPath = "-"

// Errors returned by New and Run.
var (
	ErrNoPaths    = errors.New("no log paths configured")
	ErrEmptyPath  = errors.New("empty log path")
	ErrBadConfig  = errors.New("invalid tail configuration")
	ErrAlreadyRun = errors.New("tailer already run")

	// errReplaced means the path kept naming another file by the time nxadm
	// had opened it.
	errReplaced = errors.New("file replaced while being opened")
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
	// Zero means DefaultGlobInterval.
	GlobInterval time.Duration
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// OnReopen, if set, is called with the source path each time a followed
	// file is reopened after rotation or truncation. It may be called from
	// several goroutines at once and must not block for long.
	OnReopen func(source string)
	// Stdin is what "-" reads; nil means os.Stdin.
	Stdin io.Reader
}

// Tailer follows a set of sources. Create it with New and start it with Run.
type Tailer struct {
	cfg      Config
	log      *slog.Logger
	literals []string
	globs    []string
	stdin    bool

	// checkEvery is how often each file source checks that nxadm/tail did not
	// miss a rotation; stuckChecks consecutive suspicious checks restart it.
	checkEvery  time.Duration
	stuckChecks int

	ran   atomic.Bool
	ready chan struct{}

	mu      sync.Mutex // guards sources and byPath
	sources []*source
	byPath  map[string]bool
}

// New validates cfg and returns a Tailer for it.
func New(cfg Config) (*Tailer, error) {
	if len(cfg.Paths) == 0 {
		return nil, ErrNoPaths
	}
	if cfg.MaxLineBytes < 0 {
		return nil, fmt.Errorf("%w: negative MaxLineBytes %d", ErrBadConfig, cfg.MaxLineBytes)
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.GlobInterval < 0 {
		return nil, fmt.Errorf("%w: negative GlobInterval %s", ErrBadConfig, cfg.GlobInterval)
	}
	if cfg.GlobInterval == 0 {
		cfg.GlobInterval = DefaultGlobInterval
	}
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	setPollInterval.Do(func() { watch.POLL_DURATION = pollInterval })
	t := &Tailer{
		cfg:         cfg,
		log:         cfg.Logger,
		checkEvery:  time.Second,
		stuckChecks: 3,
		ready:       make(chan struct{}),
		byPath:      make(map[string]bool),
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
			t.literals = append(t.literals, p)
		}
	}
	return t, nil
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

// Handler receives each complete line, in order per source, on the goroutine
// that follows the source: lines of different sources arrive concurrently.
// Reading that source waits while it runs, so a slow handler slows the
// follower instead of losing lines. It returns false to stop following the
// source at once (its context is done); the line then counts as not sent.
type Handler func(Line) bool

// Run follows every source until ctx is done, sending complete lines to out,
// in order per source. It blocks when out is full rather than dropping lines,
// and never closes out. It returns nil once ctx is done and every follower has
// stopped; it can be called only once.
func (t *Tailer) Run(ctx context.Context, out chan<- Line) error {
	return t.Follow(ctx, func(l Line) bool {
		select {
		case out <- l:
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// Follow is Run with a Handler instead of a channel: a consumer that is
// fast enough to run on the followers' goroutines saves a channel hand-off
// per line.
func (t *Tailer) Follow(ctx context.Context, emit Handler) error {
	if !t.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	if t.stdin {
		s := t.addSource(StdinPath)
		wg.Go(func() { s.runStdin(ctx, emit, t.cfg.Stdin) })
	}
	for _, p := range t.literals {
		t.startFile(ctx, &wg, emit, p, true)
	}
	t.expandGlobs(ctx, &wg, emit, true)
	close(t.ready)

	if len(t.globs) == 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(t.cfg.GlobInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.expandGlobs(ctx, &wg, emit, false)
		}
	}
}

// expandGlobs starts following every regular file matching a glob that is not
// followed yet. Files found after start-up are new data, read from the
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
			if fi, err := os.Stat(m); err != nil || fi.IsDir() {
				continue
			}
			if !initial {
				t.log.Info("following new file", "source", m, "pattern", g)
			}
			t.startFile(ctx, wg, emit, m, initial)
		}
	}
}

func (t *Tailer) following(path string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byPath[path]
}

func (t *Tailer) addSource(path string) *source {
	s := &source{t: t, path: path, log: t.log.With("source", path)}
	t.mu.Lock()
	t.sources = append(t.sources, s)
	t.byPath[path] = true
	t.mu.Unlock()
	return s
}

func (t *Tailer) startFile(ctx context.Context, wg *sync.WaitGroup, emit Handler, path string, initial bool) {
	s := t.addSource(path)
	s.start(initial)
	wg.Go(func() { s.run(ctx, emit) })
}

// startOffset decides where a file with identity id and size starts: at a
// saved position that still fits it, else at 0 when the file changed while we
// were down or is new, else (-1) at its end. reason explains a restart at 0.
func startOffset(saved Position, hasSaved bool, id FileID, size int64, fromStart bool) (off int64, reason string) {
	switch {
	case hasSaved && saved.File != id:
		return 0, "file replaced since position was saved"
	case hasSaved && (saved.Offset > size || saved.Offset < 0):
		return 0, "file shrank since position was saved"
	case hasSaved:
		return saved.Offset, ""
	case fromStart:
		return 0, ""
	default:
		return -1, ""
	}
}
