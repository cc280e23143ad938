package tail

import (
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/lines"
)

// readMoved reads the lines after p from the file p was saved in, now under
// another name beside the path: renamed (the same device and inode) or
// copied before a truncation (the same first bytes). It reports whether that
// file was found; false from ok means emit asked to stop.
func (s *source) readMoved(emit Handler, p Position) (found, ok bool) {
	f := s.findMoved(p)
	if f == nil {
		s.log.Info("the rest of the previous file was not found beside the path", "offset", p.Offset)
		return false, true
	}
	defer f.Close()
	s.log.Info("reading the rest of the previous file", "file", f.Name(), "offset", p.Offset)
	r := lines.NewAt(f, p.Offset, s.t.cfg.MaxLineBytes)
	for {
		text, tooLong, err := r.Next()
		if err != nil {
			return true, true
		}
		l := Line{Source: s.path, TooLong: tooLong, File: p.File, Offset: r.Offset(), Rotated: true}
		if len(text) > 0 {
			l.Text = unsafe.String(&text[0], len(text))
		}
		if !emit(l) {
			return true, false
		}
	}
}

// findMoved looks beside the path, among files whose names start with its
// own (gw.log.1, gw.log-20250101), for the file of p: the latest modified
// that matches.
func (s *source) findMoved(p Position) *os.File {
	dir, base := filepath.Split(s.path)
	entries, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return nil
	}
	var best *os.File
	var bestTime int64
	for _, e := range entries {
		if e.Name() == base || !strings.HasPrefix(e.Name(), base) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), openFlags, 0)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		ok := err == nil && fi.Mode().IsRegular() && fi.Size() >= p.Offset
		if ok {
			id := fileID(fi)
			renamed := p.File.SameFile(id)
			copied := p.File.HeadLen > 0 && (s.cur == nil || !s.cur.id.SameFile(id))
			ok = (renamed || copied) && p.File.matches(f, s.head) && fi.ModTime().UnixNano() >= bestTime
		}
		if !ok {
			f.Close()
			continue
		}
		if best != nil {
			best.Close()
		}
		best, bestTime = f, fi.ModTime().UnixNano()
	}
	return best
}
