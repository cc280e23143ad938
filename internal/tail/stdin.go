package tail

import (
	"context"
	"io"
	"sync"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/lines"
)

// runStdin reads the stdin source until EOF or ctx is done. The read runs on
// a goroutine of its own that is not waited for: a blocked read of a
// terminal or pipe cannot be interrupted. It hands lines to emit itself,
// under a lock that runStdin takes when it returns, after which it hands
// over nothing more and exits as soon as its read returns.
func (s *source) runStdin(ctx context.Context, emit Handler, r io.Reader) {
	s.setOpen(true)
	defer s.setOpen(false)
	var (
		mu      sync.Mutex
		stopped bool
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lr := lines.New(r, s.t.cfg.MaxLineBytes)
		for {
			text, tooLong, err := lr.Next()
			unterminated := false
			if err == io.EOF {
				var more bool
				if text, tooLong, more = lr.Rest(); !more {
					s.log.Info("stdin closed")
					return
				}
				err, unterminated = nil, true
			}
			if err != nil {
				s.log.Warn("reading stdin", "err", err)
				return
			}
			l := Line{Source: s.path, TooLong: tooLong, Offset: lr.Offset(), Chunk: lr.Reads(), Unterminated: unterminated}
			if len(text) > 0 {
				l.Text = unsafe.String(&text[0], len(text))
			}
			mu.Lock()
			ok := !stopped && emit(l)
			mu.Unlock()
			if !ok {
				return
			}
			s.mu.Lock()
			s.size = l.Offset
			s.mu.Unlock()
		}
	}()
	select {
	case <-ctx.Done():
	case <-done:
	}
	mu.Lock()
	stopped = true
	mu.Unlock()
}

func (s *source) setOpen(open bool) {
	s.mu.Lock()
	s.open = open
	s.mu.Unlock()
}
