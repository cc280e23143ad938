package tail

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/lines"
)

// file is one open file of a source.
type file struct {
	f    *os.File
	id   FileID // written by the source's goroutine under source.mu
	r    *lines.Reader
	head readHead     // what r read of the file's start
	off  atomic.Int64 // just past the last line handled
	size atomic.Int64 // at the last look
	// until is when a file the path no longer names stops being read.
	until time.Time
}

// source is one followed path (or stdin). Its state is written by its run
// goroutine; mu lets Sources read it concurrently.
type source struct {
	t    *Tailer
	path string
	glob bool
	log  *slog.Logger
	head []byte // scratch for checksums

	mu   sync.Mutex
	cur  *file   // the file the path names; nil while none
	old  []*file // files the path named before, read for RotateWait
	size int64   // stdin only: bytes read
	open bool    // stdin only

	// Loop state.
	w         *watching
	opened    bool      // a file was opened in this run: the next is a reopen
	saved     *Position // a saved position whose file must be looked for
	problem   string    // what was last reported about the path, to report once
	goneSince time.Time // when a glob source's path was first seen missing

	// looks counts the looks begun and over, for tests to know when the
	// follower is between two.
	looks, looked atomic.Int64
}

func (s *source) snapshot() Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := Source{Path: s.path, Size: s.size, Offset: s.size, Open: s.open}
	if c := s.cur; c != nil {
		src.File, src.Size, src.Offset, src.Open = c.id, c.size.Load(), c.off.Load(), true
	}
	for _, f := range s.old {
		src.Behind += max(f.size.Load()-f.off.Load(), 0)
	}
	if c := s.cur; c != nil {
		src.Behind += max(c.size.Load()-c.off.Load(), 0)
	}
	return src
}

// start opens the file at the path, if there is one, before Ready: where it
// starts follows from a saved position, FromStart and initial (a file found
// after start-up is new data, read from its start).
func (s *source) start(initial bool) {
	s.looks.Store(1)
	f, err := s.openPath()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.report("cannot open file", err)
		}
		if saved, ok := s.t.cfg.Positions[s.path]; ok {
			s.rotatedWhileDown(saved, Position{}, "file gone since the position was saved")
		}
		return
	}
	off := int64(0)
	saved, hasSaved := s.t.cfg.Positions[s.path]
	switch {
	case hasSaved && s.fits(f, saved):
		off = saved.Offset
	case hasSaved:
		s.rotatedWhileDown(saved, Position{File: f.id}, "file replaced or truncated since the position was saved")
	case s.t.cfg.FromStart || !initial:
	default:
		size := f.size.Load()
		if off, err = lastLineStart(f.f, size, s.t.cfg.MaxLineBytes); err != nil {
			s.log.Warn("finding the last line", "err", err)
			off = size
		}
	}
	f.off.Store(off)
	f.r = lines.NewAt(&f.head, off, s.t.cfg.MaxLineBytes)
	s.setCur(f)
}

// fits reports whether a saved position is one in f.
func (s *source) fits(f *file, p Position) bool {
	return p.File.SameFile(f.id) && p.Offset >= 0 && p.Offset <= f.size.Load() && p.File.matches(f.f, s.head)
}

// rotatedWhileDown reports a saved position that no longer applies; the
// first look reads the rest of its file if it can still be found.
func (s *source) rotatedWhileDown(p, now Position, why string) {
	s.log.Warn("saved position does not fit the file at the path; reading it from its start", "reason", why, "offset", p.Offset)
	if ev := s.t.cfg.Events.RotatedWhileDown; ev != nil {
		ev(s.path, now)
	}
	s.saved = &p
}

// openPath opens the file at the path without blocking and identifies it.
func (s *source) openPath() (*file, error) {
	if err := checkPath(s.path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.path, openFlags, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotRegular // replaced between the check and the open
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	nf := &file{f: f, id: identify(f, fi, s.head)}
	nf.head.reset(f, s.head[:nf.id.HeadLen])
	nf.size.Store(fi.Size())
	return nf, nil
}

func (s *source) setCur(f *file) {
	s.mu.Lock()
	s.cur = f
	s.mu.Unlock()
	s.opened = true
}

// report logs a problem with the path once, until it changes.
func (s *source) report(msg string, err error) {
	if key := msg + err.Error(); key != s.problem {
		s.problem = key
		s.log.Warn(msg, "err", err)
	}
}

// run follows the source until ctx is done or, for a glob match, the file
// is gone for good.
func (s *source) run(ctx context.Context, emit Handler) {
	defer s.close()
	for first := true; ; first = false {
		if !first {
			s.looks.Add(1) // the first was counted by start
		}
		if !s.step(emit) {
			return
		}
		if s.gone() {
			s.log.Info("file gone; no longer followed", "after", s.t.cfg.GoneAfter)
			s.t.remove(s)
			return
		}
		s.rewatch()
		var (
			modified, truncated, deleted <-chan bool
			exists                       <-chan struct{}
		)
		if w := s.w; w != nil && w.changes != nil {
			modified, truncated, deleted = w.changes.Modified, w.changes.Truncated, w.changes.Deleted
		} else if w != nil {
			exists = w.exists
		}
		every := s.t.checkEvery
		if len(s.old) > 0 || s.problem != "" {
			every = s.t.cfg.PollInterval
		}
		s.looked.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-modified:
		case <-truncated:
		case <-deleted:
			s.stopWatch() // nxadm's poller has ended; the next look finds why
		case <-exists:
			s.stopWatch()
		case <-s.t.after(every):
		}
	}
}

// rewatch makes the watcher fit what the path holds: the changes of the
// current file, or the wait for the path to appear. A path that cannot be
// checked, or holds no regular file, is left to the follower's own looks:
// nxadm's poller would end the process on the first, and report the second
// as appeared at once.
func (s *source) rewatch() {
	switch {
	case s.problem != "":
		s.stopWatch()
	case s.cur != nil:
		if s.w == nil || s.w.file != s.cur {
			s.stopWatch()
			s.w = s.watchChanges(s.cur)
		}
	case s.w == nil || s.w.changes != nil:
		s.stopWatch()
		s.w = s.watchExists()
	}
}

func (s *source) stopWatch() {
	if s.w != nil {
		s.w.stop()
		s.w = nil
	}
}

// gone reports a glob source whose file has been missing for GoneAfter.
func (s *source) gone() bool {
	return s.glob && s.cur == nil && len(s.old) == 0 && !s.goneSince.IsZero() &&
		s.t.now().Sub(s.goneSince) >= s.t.cfg.GoneAfter
}

func (s *source) close() {
	s.stopWatch()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.old {
		f.f.Close()
	}
	if s.cur != nil {
		s.cur.f.Close()
	}
	s.cur, s.old = nil, nil
}

// step looks at the path and the open files, acts on what changed, and
// reads every complete line there is. It returns false when emit asked to
// stop.
func (s *source) step(emit Handler) bool {
	now := s.t.now()
	fi, err := statPath(s.path)
	switch {
	case err == nil:
		s.goneSince = time.Time{}
		if !s.stepPath(emit, fi, now) {
			return false
		}
	case errors.Is(err, fs.ErrNotExist):
		s.problem = ""
		if s.goneSince.IsZero() {
			s.goneSince = now
		}
		s.retire(now)
	case errors.Is(err, ErrNotRegular):
		s.report("the path no longer names a regular file; waiting", err)
		s.retire(now)
	default:
		// A symlink loop, a directory that cannot be searched: whether
		// the file was rotated cannot be known; keep reading what is open.
		s.report("cannot check the path; reading the open file on", err)
	}
	if s.saved != nil {
		p := *s.saved
		s.saved = nil
		if _, ok := s.readMoved(emit, p); !ok {
			return false
		}
	}
	return s.readAll(emit, now)
}

// stepPath handles a path that names a regular file.
func (s *source) stepPath(emit Handler, fi os.FileInfo, now time.Time) bool {
	if s.problem != "" {
		s.log.Info("the path is usable again")
		s.problem = ""
	}
	if s.cur != nil {
		if fileID(fi).SameFile(s.cur.id) {
			return s.checkTruncated(emit)
		}
		s.log.Info("the path names another file; reading the new one, and the old one for the rotate wait", "rotate_wait", s.t.cfg.RotateWait)
		s.retire(now)
	}
	f, err := s.openPath()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.report("cannot open file", err)
		}
		return true
	}
	f.r = lines.NewAt(&f.head, 0, s.t.cfg.MaxLineBytes)
	if s.opened {
		s.reopened()
	}
	s.setCur(f)
	return true
}

func (s *source) reopened() {
	if ev := s.t.cfg.Events.Reopened; ev != nil {
		ev(s.path)
	}
}

// retire stops treating the current file as the one at the path: it is read
// on for RotateWait.
func (s *source) retire(now time.Time) {
	if s.cur == nil {
		return
	}
	s.cur.until = now.Add(s.t.cfg.RotateWait)
	s.mu.Lock()
	s.old = append(s.old, s.cur)
	s.cur = nil
	s.mu.Unlock()
}

// checkTruncated handles the current file being truncated: smaller than
// what was read of it, or starting with other bytes than it did.
func (s *source) checkTruncated(emit Handler) bool {
	c := s.cur
	fi, err := c.f.Stat()
	if err != nil {
		s.report("cannot stat the open file", err)
		return true
	}
	size := fi.Size()
	read := c.r.Offset() + c.r.Buffered()
	if id := c.head.extend(c.id); id != c.id {
		s.mu.Lock()
		c.id = id
		s.mu.Unlock()
	}
	if size >= read && c.id.matches(c.f, s.head) {
		if c.id.HeadLen < HeadBytes && size > int64(c.id.HeadLen) {
			// Bytes not read yet: they are read from what the file
			// holds now.
			id := identify(c.f, fi, s.head)
			s.mu.Lock()
			c.id = id
			s.mu.Unlock()
		}
		c.size.Store(size)
		return true
	}
	s.log.Info("file truncated; reading it from its start", "size", size, "offset", c.r.Offset())
	// The lines written since the last read are in the copy, if there is one.
	old := Position{File: c.id, Offset: c.r.Offset()}
	known := c.size.Load()
	found, ok := s.readMoved(emit, old)
	if !ok {
		return false
	}
	if lost := known - old.Offset; lost > 0 && !found {
		s.lost(lost)
	}
	s.mu.Lock()
	c.id = identify(c.f, fi, s.head)
	s.mu.Unlock()
	c.head.reset(c.f, s.head[:c.id.HeadLen])
	c.r.Reset(&c.head, 0)
	c.off.Store(0)
	c.size.Store(size)
	s.reopened()
	return true
}

func (s *source) lost(n int64) {
	s.log.Warn("bytes written to the file will not be read", "bytes", n)
	if ev := s.t.cfg.Events.Lost; ev != nil {
		ev(s.path, n)
	}
}

// readAll reads the old files, then the current one; old files past their
// rotate wait are closed.
func (s *source) readAll(emit Handler, now time.Time) bool {
	var keep, closed []*file
	for _, f := range s.old {
		if !s.read(emit, f, true) {
			return false
		}
		if now.Before(f.until) {
			keep = append(keep, f)
			continue
		}
		if n := f.size.Load() - f.off.Load(); n > 0 {
			s.lost(n) // a last line that never got its newline
		}
		closed = append(closed, f)
	}
	if len(closed) > 0 {
		s.mu.Lock()
		s.old = keep
		s.mu.Unlock()
		for _, f := range closed {
			f.f.Close()
		}
	}
	if s.cur != nil {
		return s.read(emit, s.cur, false)
	}
	return true
}

// read hands every complete line of f to emit.
func (s *source) read(emit Handler, f *file, rotated bool) bool {
	for {
		text, tooLong, err := f.r.Next()
		if err != nil {
			if !errors.Is(err, lines.ErrNoLine) {
				s.report("reading file", err)
			}
			break
		}
		l := Line{Source: s.path, TooLong: tooLong, File: f.id, Offset: f.r.Offset(), Rotated: rotated, Chunk: f.r.Reads()}
		if len(text) > 0 {
			l.Text = unsafe.String(&text[0], len(text))
		}
		if !emit(l) {
			return false
		}
		f.off.Store(l.Offset)
	}
	if fi, err := f.f.Stat(); err == nil {
		f.size.Store(fi.Size())
	}
	return true
}
