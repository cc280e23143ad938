package tail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	nxtail "github.com/nxadm/tail"
)

// maxBackoffChecks caps the number of checks between restarts of a follower
// that keeps dying (e.g. an unreadable file).
const maxBackoffChecks = 64

// source is one followed path (or stdin). Its state is written only by its
// run goroutine; mu lets Sources read it concurrently.
type source struct {
	t    *Tailer
	path string
	log  *slog.Logger

	off atomic.Int64 // just past the last line sent

	mu   sync.Mutex
	f    *os.File // our own handle on the file nxadm reads: identity, size, drain
	id   FileID
	open bool
	size int64 // stdin only: bytes read

	cur      *follower // nil while a dead follower waits for its restart
	suspect  int       // consecutive checks suggesting nxadm missed a rotation
	lastSize int64     // file size at the previous check
	lastOff  int64     // offset at the previous check
	backoff  int       // checks between restarts of a dying follower
	wait     int       // checks left before the next restart
}

// follower is one nxadm tail of a source.
type follower struct {
	tl     *nxtail.Tail
	events chan event
	// stop is closed before tl.Stop so that a logger call blocked on events
	// returns and nxadm can see that it is dying.
	stop chan struct{}
}

// eventKind is a state change reported by nxadm through its logger.
type eventKind int

const (
	evMoved     eventKind = iota + 1 // "Re-opening moved/deleted file"
	evTruncated                      // "Re-opening truncated file"
	evWaiting                        // "Waiting for ... to appear"
	evReopened                       // "Successfully reopened"
)

// event is sent by the logger adapter from nxadm's goroutine, which waits for
// ack: nxadm is thereby held until the source has acted, so events and lines
// arrive in the order nxadm produced them and the file can be identified
// right after nxadm opened it.
type event struct {
	kind eventKind
	ack  chan struct{}
}

// nxadmLog adapts nxadm's logger to events. nxadm reports reopening only
// through log messages, so recognising them is the one way to learn of a
// reopen at the moment it happens (rather than at the next line).
type nxadmLog struct {
	events chan<- event
	stop   <-chan struct{}
	log    *slog.Logger
}

// classify recognises the nxadm messages that report a state change.
func classify(msg []byte) eventKind {
	switch {
	case bytes.HasPrefix(msg, []byte("Re-opening moved/deleted file")):
		return evMoved
	case bytes.HasPrefix(msg, []byte("Re-opening truncated file")):
		return evTruncated
	case bytes.HasPrefix(msg, []byte("Waiting for ")):
		return evWaiting
	case bytes.HasPrefix(msg, []byte("Successfully reopened")):
		return evReopened
	}
	return 0
}

func (w *nxadmLog) Write(p []byte) (int, error) {
	kind := classify(p)
	if kind == 0 {
		w.log.Debug("nxadm/tail", "msg", string(bytes.TrimSpace(p)))
		return len(p), nil
	}
	ev := event{kind: kind, ack: make(chan struct{})}
	select {
	case w.events <- ev:
	case <-w.stop:
		return len(p), nil
	}
	select {
	case <-ev.ack:
	case <-w.stop:
	}
	return len(p), nil
}

func (s *source) snapshot() Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := Source{Path: s.path, File: s.id, Offset: s.off.Load(), Open: s.open, Size: s.size}
	if s.f != nil {
		if fi, err := s.f.Stat(); err == nil {
			src.Size = fi.Size()
		}
	}
	return src
}

// setFile replaces the handle on the current file, closing the previous one.
func (s *source) setFile(f *os.File, id FileID, off int64) {
	s.mu.Lock()
	if s.f != nil && s.f != f {
		s.f.Close()
	}
	s.f, s.id, s.open = f, id, f != nil
	s.mu.Unlock()
	s.off.Store(off)
	s.suspect = 0
}

// openPath opens the file now at the path and identifies it.
func (s *source) openPath() (*os.File, FileID, int64, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, FileID{}, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, FileID{}, 0, err
	}
	return f, fileID(fi), fi.Size(), nil
}

// start opens the file and starts nxadm on it at the offset decided by
// Positions and FromStart. A file that is missing is waited for by nxadm and
// read from its beginning, as is every file found after start-up.
func (s *source) start(initial bool) {
	f, id, off, err := s.attach(func(f *os.File, id FileID, size int64) int64 {
		saved, hasSaved := s.t.cfg.Positions[s.path]
		off, reason := startOffset(saved, hasSaved, id, size, s.t.cfg.FromStart || !initial)
		if reason != "" {
			s.log.Info("reading file from its start", "reason", reason)
		}
		if off >= 0 {
			return off
		}
		off, err := lastLineStart(f, size, s.t.cfg.MaxLineBytes)
		if err != nil {
			s.log.Warn("finding the last line", "err", err)
			return size
		}
		return off
	})
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("opening file", "err", err)
		}
		s.setFile(nil, FileID{}, 0)
		s.cur, _ = s.newFollower(-1, false)
		return
	}
	s.setFile(f, id, off)
}

// attach opens the file at the path, picks the offset to start at and starts
// nxadm there. nxadm opens by path, so it checks afterwards that the path
// still names the file it identified: then nxadm has that file open too (an
// inode cannot come back to a path while we hold it open).
func (s *source) attach(pick func(f *os.File, id FileID, size int64) int64) (*os.File, FileID, int64, error) {
	for range 5 {
		f, id, size, err := s.openPath()
		if err != nil {
			return nil, FileID{}, 0, err
		}
		off := pick(f, id, size)
		fl, err := s.newFollower(off, true)
		if err == nil {
			if now, _, err := Identify(s.path); err == nil && now == id {
				s.cur = fl
				return f, id, off, nil
			}
			close(fl.stop)
			_ = fl.tl.Stop()
		}
		f.Close()
	}
	return nil, FileID{}, 0, errReplaced
}

// newFollower starts an nxadm tail at off, or with no seek when off < 0.
// With mustExist nxadm opens the file before returning (and fails if it is
// missing); otherwise it waits for the file in its own goroutine.
func (s *source) newFollower(off int64, mustExist bool) (*follower, error) {
	events := make(chan event)
	stop := make(chan struct{})
	cfg := nxtail.Config{
		Follow:        true,
		ReOpen:        true,
		MustExist:     mustExist,
		Poll:          true,
		CompleteLines: true,
		Logger:        log.New(&nxadmLog{events: events, stop: stop, log: s.log}, "", 0),
		// Pipe only skips a position lookup (an lseek per line) whose result
		// nxadm v1.4.11 discards (tail.go:299); each line's offset still comes
		// from the lookup in sendLine, which Pipe does not change.
		Pipe: true,
	}
	if off >= 0 {
		cfg.Location = &nxtail.SeekInfo{Offset: off, Whence: io.SeekStart}
	}
	tl, err := nxtail.TailFile(s.path, cfg)
	if err != nil {
		return nil, err
	}
	return &follower{tl: tl, events: events, stop: stop}, nil
}

// stopFollower stops nxadm and returns the reason it had stopped, if any.
func (s *source) stopFollower() error {
	if s.cur == nil {
		return nil
	}
	close(s.cur.stop)
	// Stop waits for nxadm's goroutine; nxadm's Cleanup is deliberately not
	// called since it breaks later tails of the same file.
	err := s.cur.tl.Stop()
	s.cur = nil
	return err
}

// run forwards lines and handles nxadm's events until ctx is done.
func (s *source) run(ctx context.Context, emit Handler) {
	defer func() {
		s.stopFollower()
		s.setFile(nil, FileID{}, s.off.Load())
	}()
	tick := time.NewTicker(s.t.checkEvery)
	defer tick.Stop()
	for {
		var (
			lines  <-chan *nxtail.Line
			events <-chan event
		)
		if s.cur != nil {
			lines, events = s.cur.tl.Lines, s.cur.events
		}
		select {
		case <-ctx.Done():
			return
		case l, ok := <-lines:
			if !ok {
				s.followerDied()
				continue
			}
			if !s.forward(emit, l) {
				return
			}
		case ev := <-events:
			ok := s.handle(emit, ev.kind)
			close(ev.ack)
			if !ok {
				return
			}
		case <-tick.C:
			if !s.check(emit) {
				return
			}
		}
	}
}

// forward sends one of nxadm's lines on out. nxadm's SeekInfo.Offset is the
// reader position just past the line's newline in the file it has open,
// restarting at 0 after a reopen.
func (s *source) forward(emit Handler, l *nxtail.Line) bool {
	if l.Err != nil {
		s.log.Warn("follower", "err", l.Err)
		return true
	}
	if s.f == nil {
		// First line of a file that appeared after start: identify what is
		// at the path now (racy only if it is replaced again meanwhile).
		s.adopt()
	}
	s.backoff, s.suspect = 0, 0
	line := Line{Source: s.path, File: s.id, Offset: l.SeekInfo.Offset}
	text := strings.TrimSuffix(l.Text, "\r")
	if len(text) > s.t.cfg.MaxLineBytes {
		line.TooLong = true
	} else {
		line.Text = text
	}
	if !emit(line) {
		return false
	}
	s.off.Store(line.Offset)
	return true
}

// adopt takes the file now at the path as the one nxadm reads from offset 0.
func (s *source) adopt() bool {
	f, id, _, err := s.openPath()
	if err != nil {
		s.setFile(nil, FileID{}, 0)
		return false
	}
	s.setFile(f, id, 0)
	return true
}

// handle acts on an event from nxadm; false means the handler asked to stop.
func (s *source) handle(emit Handler, kind eventKind) bool {
	s.suspect = 0
	switch kind {
	case evMoved, evTruncated:
		if !s.retire(emit) {
			return false
		}
		if kind == evMoved {
			s.log.Info("file moved or deleted; reopening")
		} else {
			s.log.Info("file truncated; reopening")
		}
	case evWaiting:
		s.log.Info("waiting for file to appear")
	case evReopened:
		s.adopt()
		s.reopened()
	}
	return true
}

func (s *source) reopened() {
	s.log.Info("file reopened")
	if s.t.cfg.OnReopen != nil {
		s.t.cfg.OnReopen(s.path)
	}
}

// retire gives up the current file. If the path no longer names it (rename or
// delete), the lines written to it after nxadm's last read are sent first:
// nxadm switches to the new file without reading the old one to its end.
// After a truncation in place the old bytes are gone, so nothing is read.
func (s *source) retire(emit Handler) bool {
	ok := true
	if s.f != nil {
		if id, _, err := Identify(s.path); err != nil || id != s.id {
			ok = s.drain(emit)
		}
	}
	s.setFile(nil, FileID{}, 0)
	return ok
}

// drain sends the complete lines after the last one sent from the current
// file; an incomplete last line is dropped, as the file is no longer written.
func (s *source) drain(emit Handler) bool {
	off := s.off.Load()
	if fi, err := s.f.Stat(); err != nil || fi.Size() <= off {
		return true
	}
	lr := newLineReader(io.NewSectionReader(s.f, off, 1<<62), s.t.cfg.MaxLineBytes)
	for {
		text, tooLong, n, err := lr.next()
		if err != nil {
			if err != io.EOF {
				s.log.Warn("reading the rest of a rotated file", "err", err)
			}
			return true
		}
		off += n
		line := Line{Source: s.path, TooLong: tooLong, File: s.id, Offset: off}
		if !tooLong {
			line.Text = string(text)
		}
		if !emit(line) {
			return false
		}
		s.off.Store(off)
	}
}

// followerDied handles nxadm giving up (e.g. a read error, or the file
// vanishing right after a reopen): it is restarted after a backoff.
func (s *source) followerDied() {
	err := s.stopFollower()
	s.backoff = min(max(2*s.backoff, 1), maxBackoffChecks)
	s.wait = s.backoff
	s.log.Warn("follower stopped; restarting", "err", err, "after_checks", s.wait)
}

// check runs every checkEvery: it restarts a dead follower when its backoff
// is over, identifies a file nxadm opened silently after waiting for it, and
// restarts nxadm when it missed a rotation.
func (s *source) check(emit Handler) bool {
	if s.cur == nil {
		if s.wait--; s.wait > 0 {
			return true
		}
		return s.restart(emit)
	}
	if s.f == nil {
		// nxadm's first open after waiting is silent; the file at the path
		// is the one it opened (or is about to).
		s.adopt()
		return true
	}
	// nxadm's watcher takes the identity of the file at the path when it
	// starts watching, not of the file it has open: if the file was replaced
	// before nxadm first reached its end, nxadm never notices the rotation.
	// Spot it as the path naming another file while nothing moves.
	fi, err := s.f.Stat()
	id, _, perr := Identify(s.path)
	off := s.off.Load()
	if err == nil && perr == nil && id != s.id && fi.Size() == s.lastSize && off == s.lastOff {
		s.suspect++
	} else {
		s.suspect = 0
	}
	if err == nil {
		s.lastSize = fi.Size()
	}
	s.lastOff = off
	if s.suspect < s.t.stuckChecks {
		return true
	}
	s.log.Warn("follower missed a rotation; restarting it")
	s.stopFollower()
	return s.restart(emit)
}

// restart starts a new follower: at the last offset if the path still names
// the current file, else on the file now there, from 0, after draining the
// old one.
func (s *source) restart(emit Handler) bool {
	had := s.f != nil
	f, id, off, err := s.attach(func(_ *os.File, id FileID, size int64) int64 {
		if had && id == s.id && size >= s.off.Load() {
			return s.off.Load()
		}
		return 0
	})
	if err == nil && had && id == s.id {
		truncated := off < s.off.Load()
		s.setFile(f, id, off)
		if truncated {
			s.reopened()
		}
		return true
	}
	// nxadm may already hold lines of the new file; they wait in its channel
	// until the old file's are sent.
	if !s.retire(emit) {
		if f != nil {
			f.Close()
		}
		return false
	}
	if err != nil {
		s.cur, _ = s.newFollower(-1, false)
		return true
	}
	s.setFile(f, id, 0)
	if had {
		s.reopened()
	}
	return true
}

// runStdin reads the stdin source until EOF or ctx is done.
func (s *source) runStdin(ctx context.Context, emit Handler, r io.Reader) {
	s.mu.Lock()
	s.open = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.open = false
		s.mu.Unlock()
	}()

	lines := make(chan Line)
	quit := make(chan struct{})
	defer close(quit)
	var readErr error
	// The reader is not waited for: a blocked read of a terminal or pipe
	// cannot be interrupted. It exits as soon as its read returns.
	go func() {
		defer close(lines)
		lr := newLineReader(r, s.t.cfg.MaxLineBytes)
		var off int64
		for {
			text, tooLong, n, err := lr.next()
			off += n
			if n > 0 && (err == nil || err == io.EOF) {
				line := Line{Source: s.path, TooLong: tooLong, Offset: off}
				if !tooLong {
					line.Text = string(text)
				}
				select {
				case lines <- line:
				case <-quit:
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
		}
	}()

	for {
		select {
		case <-ctx.Done():
			return
		case line, ok := <-lines:
			if !ok {
				if readErr != nil {
					s.log.Warn("reading stdin", "err", readErr)
				}
				s.log.Info("stdin closed")
				return
			}
			if !emit(line) {
				return
			}
			s.off.Store(line.Offset)
			s.mu.Lock()
			s.size = line.Offset
			s.mu.Unlock()
		}
	}
}

// lineReader reads newline-terminated lines holding at most max+2 bytes of a
// line in memory, so a huge line costs no more than the limit.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, maxLine int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: maxLine}
}

// next returns the next line without "\n" or "\r\n" (text is valid until the
// next call, nil when tooLong) and n, the bytes it took. At EOF after a
// partial line it returns that line with io.EOF; at a clean EOF n is 0.
func (lr *lineReader) next() (text []byte, tooLong bool, n int64, err error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		n += int64(len(chunk))
		if !tooLong {
			if len(lr.buf)+len(chunk) > lr.max+2 {
				tooLong, lr.buf = true, lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return nil, true, n, err
		}
		text = bytes.TrimSuffix(lr.buf, []byte("\n"))
		text = bytes.TrimSuffix(text, []byte("\r"))
		if len(text) > lr.max {
			return nil, true, n, err
		}
		return text, false, n, err
	}
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
