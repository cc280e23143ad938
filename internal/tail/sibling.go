package tail

import (
	"bufio"
	"compress/gzip"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/lines"
)

// moved is a file beside the path that holds what a position was saved in.
type moved struct {
	f   *os.File
	gz  bool // compressed since (logrotate's compress): read as a stream
	mod int64
}

// readMoved reads the lines after p from the file p was saved in, now under
// another name beside the path: renamed (the same device and inode), copied
// before a truncation (the same first bytes), or either of them compressed.
// It reports whether that file was found; false from ok means emit asked to
// stop.
func (s *source) readMoved(emit Handler, p Position) (found, ok bool) {
	m := s.findMoved(p)
	if m == nil {
		s.log.Info("the rest of the previous file was not found beside the path", "offset", p.Offset)
		return false, true
	}
	defer m.f.Close()
	s.log.Info("reading the rest of the previous file", "file", m.f.Name(), "offset", p.Offset)
	var r *lines.Reader
	if m.gz {
		zr, err := openGzipAt(m.f, p.Offset)
		if err != nil {
			s.log.Warn("reading the rest of the previous file", "file", m.f.Name(), "err", err)
			return true, true
		}
		r = lines.New(zr, s.t.cfg.MaxLineBytes)
	} else {
		r = lines.NewAt(m.f, p.Offset, s.t.cfg.MaxLineBytes)
	}
	for {
		text, tooLong, err := r.Next()
		if err != nil {
			// A last line without newline in a copy goes on in the file
			// at the path: it is not a line of its own.
			return true, true
		}
		l := Line{Source: s.path, TooLong: tooLong, File: p.File, Offset: p.Offset + r.Offset(), Rotated: true}
		if !m.gz {
			l.Offset = r.Offset()
		}
		if len(text) > 0 {
			l.Text = unsafe.String(&text[0], len(text))
		}
		if !emit(l) {
			return true, false
		}
	}
}

// openGzipAt returns the decompressed content of f from offset off.
func openGzipAt(f *os.File, off int64) (io.Reader, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, zr, off); err != nil {
		return nil, err
	}
	return zr, nil
}

// findMoved looks beside the path, among files whose names start with its
// own (gw.log.1, gw.log-20261127, gw.log.1.gz), for the file of p: the
// latest modified that matches.
func (s *source) findMoved(p Position) *moved {
	dir, base := filepath.Split(s.path)
	entries, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return nil
	}
	var best *moved
	for _, e := range entries {
		if e.Name() == base || !strings.HasPrefix(e.Name(), base) {
			continue
		}
		m := s.candidate(filepath.Join(dir, e.Name()), p)
		if m == nil {
			continue
		}
		if best != nil && best.mod > m.mod {
			m.f.Close()
			continue
		}
		if best != nil {
			best.f.Close()
		}
		best = m
	}
	return best
}

// candidate opens name and returns it if it holds the file of p.
func (s *source) candidate(name string, p Position) *moved {
	f, err := os.OpenFile(name, openFlags, 0)
	if err != nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil
	}
	m := &moved{f: f, mod: fi.ModTime().UnixNano()}
	id := fileID(fi)
	switch {
	case s.cur != nil && s.cur.id.SameFile(id):
	case p.File.SameFile(id) || p.File.HeadLen > 0:
		// Renamed, or a copy: the same first bytes, at least p.Offset long.
		if fi.Size() >= p.Offset && p.File.matches(f, s.head) {
			return m
		}
		if p.File.HeadLen > 0 && gzipHeadMatches(f, p.File, s.head) {
			m.gz = true
			return m
		}
	}
	f.Close()
	return nil
}

// gzipHeadMatches reports whether f is gzip whose content starts with the
// bytes of id's checksum.
func gzipHeadMatches(f *os.File, id FileID, buf []byte) bool {
	zr, err := openGzipAt(f, 0)
	if err != nil {
		return false
	}
	if _, err := io.ReadFull(zr, buf[:id.HeadLen]); err != nil {
		return false
	}
	return crc64.Checksum(buf[:id.HeadLen], crcTable) == id.Head
}
