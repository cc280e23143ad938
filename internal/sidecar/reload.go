package sidecar

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDelay collapses the burst of events one secret update causes (an
// editor's write and rename, Kubernetes' ..data symlink swap) into one reload.
const reloadDelay = 100 * time.Millisecond

// watchKeys reloads the keys on SIGHUP (fetching the JWKS URLs again too)
// and when a mounted secret file or a file of --keys.file changes. Directories are watched rather than files because Kubernetes
// replaces secret files by swapping a symlink.
func (s *sidecar) watchKeys(ctx context.Context, files []string) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("cannot watch secret files; reload with SIGHUP", "err", err)
		w = nil
	} else {
		defer w.Close()
	}
	watched := map[string]bool{}
	watch := func(files []string) {
		for _, f := range files {
			dir := filepath.Dir(f)
			if w == nil || watched[dir] {
				continue
			}
			if err := w.Add(dir); err != nil {
				s.log.Warn("cannot watch secret directory; reload with SIGHUP", "dir", dir, "err", err)
				continue
			}
			watched[dir] = true
		}
	}
	watch(files)

	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.opts.Reload:
			s.log.Info("reloading keys on SIGHUP")
			if set := s.reload(true); len(set.Keys) > 0 {
				files = set.Files
				watch(files)
			}
		case ev := <-events:
			base := filepath.Base(ev.Name)
			if strings.HasPrefix(base, "..") || slices.ContainsFunc(files, func(f string) bool { return filepath.Clean(f) == filepath.Clean(ev.Name) }) {
				timer.Reset(reloadDelay)
			}
		case err := <-errs:
			s.log.Warn("secret file watch", "err", err)
		case <-timer.C:
			s.log.Info("reloading keys: a key file changed")
			if set := s.reload(false); len(set.Keys) > 0 {
				files = set.Files
				watch(files)
			}
		}
	}
}
