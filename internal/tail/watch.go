package tail

import (
	"log"
	"runtime"
	"time"

	"github.com/nxadm/tail/util"
	"github.com/nxadm/tail/watch"
	"gopkg.in/tomb.v1"
)

// SetPollInterval sets how often nxadm/tail's polling watcher stats a path
// (a package variable of its watch package, read by every watcher) and
// keeps that watcher from ending the process. Call it once, before anything
// is followed: the binary does, from --log.poll-interval.
//
// nxadm's poller calls util.Fatal, which logs and then calls os.Exit(1), when
// a stat fails with anything but "not found" (a symlink loop, a directory
// that can no longer be searched). Followers stat their paths themselves and
// start no watcher on such a path, but a path can turn bad between two of
// their looks. util.Fatal writes to util.LOGGER before it exits, so that
// logger is replaced by one whose write ends the calling goroutine, nxadm's
// poller, instead: os.Exit is never reached, whatever the message says, and
// the follower sees the bad path at its next look (within a second).
//
// Setting what is already set writes nothing, so that calling it again with
// the same interval (the binary's run, called several times by its tests)
// does not race with watchers started before.
func SetPollInterval(d time.Duration) {
	if watch.POLL_DURATION != d {
		watch.POLL_DURATION = d
	}
	if _, guarded := util.LOGGER.Writer().(fatalGuard); !guarded {
		util.LOGGER = &util.Logger{Logger: log.New(fatalGuard{}, "", 0)}
	}
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
