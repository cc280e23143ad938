package tail

import (
	"sync"
	"testing"
	"time"

	"github.com/nxadm/tail/watch"
	"gopkg.in/tomb.v1"
)

// fakeWatchers stand in for nxadm's polling watcher, as mtail's tests step
// their poller: nothing wakes a follower but the test. Each path has one
// unbuffered channel that every watcher of it reads, so a kick returns once
// the follower has taken it, that is, once it is between two looks.
type fakeWatchers struct {
	mu      sync.Mutex
	wake    map[string]chan bool
	deleted map[string]chan bool
}

func newFakeWatchers() *fakeWatchers {
	return &fakeWatchers{wake: map[string]chan bool{}, deleted: map[string]chan bool{}}
}

func (fw *fakeWatchers) chans(path string) (wake, deleted chan bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.wake[path] == nil {
		fw.wake[path], fw.deleted[path] = make(chan bool), make(chan bool)
	}
	return fw.wake[path], fw.deleted[path]
}

func (fw *fakeWatchers) New(path string) watch.FileWatcher { return fakeWatcher{fw, path} }

type fakeWatcher struct {
	fw   *fakeWatchers
	path string
}

func (w fakeWatcher) BlockUntilExists(t *tomb.Tomb) error {
	wake, _ := w.fw.chans(w.path)
	select {
	case <-wake:
		return nil
	case <-t.Dying():
		return tomb.ErrDying
	}
}

func (w fakeWatcher) ChangeEvents(_ *tomb.Tomb, _ int64) (*watch.FileChanges, error) {
	wake, deleted := w.fw.chans(w.path)
	return &watch.FileChanges{Modified: wake, Truncated: make(chan bool), Deleted: deleted}, nil
}

// kick wakes the follower of path once, as a Modified event or the path
// appearing, and returns when it has taken the event.
func (fw *fakeWatchers) kick(t *testing.T, path string) {
	t.Helper()
	wake, _ := fw.chans(path)
	select {
	case wake <- true:
	case <-time.After(waitFor):
		t.Fatalf("the follower of %s took no event", path)
	}
}

// kickDeleted sends a Deleted event, after which the follower starts
// another watcher.
func (fw *fakeWatchers) kickDeleted(t *testing.T, path string) {
	t.Helper()
	_, deleted := fw.chans(path)
	select {
	case deleted <- true:
	case <-time.After(waitFor):
		t.Fatalf("the follower of %s took no Deleted event", path)
	}
}

// fakeClock is the followers' time and timers; it moves only when told.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			keep = append(keep, tm)
			continue
		}
		tm.ch <- c.now
	}
	c.timers = keep
}
