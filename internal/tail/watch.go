package tail

import (
	"fmt"
	"log"
	"runtime"
	"sync"
	"time"

	"github.com/nxadm/tail/util"
	"github.com/nxadm/tail/watch"
	"gopkg.in/tomb.v1"
)

// nxadm is what jwtwatch sets of nxadm/tail's process-wide variables, once,
// by the first Tailer that uses nxadm's watcher and before any watcher runs.
var nxadm struct {
	once sync.Once
	poll time.Duration
}

// useNxadm sets how often nxadm/tail's polling watcher stats a path (a
// package variable of its watch package, read by every watcher) and keeps
// that watcher from ending the process. The first call sets both; a later
// one asking for another interval is refused, as nxadm has one for the
// whole process.
//
// nxadm's poller calls util.Fatal, which logs and then calls os.Exit(1), when
// a stat fails with anything but "not found" (a symlink loop, a directory
// that can no longer be searched). Followers stat their paths themselves and
// start no watcher on such a path, but a path can turn bad between two of
// their looks. util.Fatal writes to util.LOGGER before it exits, so that
// logger is replaced by one whose write ends the calling goroutine, nxadm's
// poller, instead: os.Exit is never reached, whatever the message says, and
// the follower sees the bad path at its next look (within a second).
func useNxadm(d time.Duration) error {
	nxadm.once.Do(func() {
		nxadm.poll = d
		watch.POLL_DURATION = d
		util.LOGGER = &util.Logger{Logger: log.New(fatalGuard{}, "", 0)}
	})
	if nxadm.poll != d {
		return fmt.Errorf("%w: poll interval %v, but nxadm/tail polls every %v in this process", ErrBadConfig, d, nxadm.poll)
	}
	return nil
}

// fatalGuard ends the goroutine that writes to it. Only util.Fatal writes to
// util.LOGGER.
type fatalGuard struct{}

func (fatalGuard) Write([]byte) (int, error) {
	runtime.Goexit()
	return 0, nil
}

// watching is one use of a watch.FileWatcher: the changes of an open file,
// or the wait for the path to appear.
type watching struct {
	tomb    *tomb.Tomb
	file    *file              // the file whose changes are watched
	changes *watch.FileChanges // set when watching a file
	exists  chan struct{}      // closed when the path appeared (or the wait failed)
	done    chan struct{}      // closed when the wait's goroutine returned
}

// watchChanges watches the path for changes of f, opened at it.
func (s *source) watchChanges(f *file) *watching {
	tb := new(tomb.Tomb)
	ch, err := s.t.cfg.NewWatcher(s.path).ChangeEvents(tb, f.off.Load())
	if err != nil {
		// The path changed under us; the next look finds out how.
		return nil
	}
	return &watching{tomb: tb, file: f, changes: ch}
}

// watchExists waits for the path to appear.
func (s *source) watchExists() *watching {
	w := &watching{tomb: new(tomb.Tomb), exists: make(chan struct{}), done: make(chan struct{})}
	fw := s.t.cfg.NewWatcher(s.path)
	go func() {
		defer close(w.done)
		if err := fw.BlockUntilExists(w.tomb); err != tomb.ErrDying {
			close(w.exists)
		}
	}()
	return w
}

// stop ends the watch. nxadm's change poller is not waited for: it sees its
// tomb dying within one poll interval.
func (w *watching) stop() {
	w.tomb.Kill(nil)
	if w.done != nil {
		<-w.done
	}
}
