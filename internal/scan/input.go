package scan

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
)

// gzipMagic starts every gzip member (RFC 1952).
const gzipMagic = "\x1f\x8b"

// OpenInput opens a log file for Read, checking up front what can be: that
// it is a readable regular file (or a pipe) and, when its name ends in .gz,
// that it starts like gzip. It returns the file and its size (0 when not a
// regular file).
func OpenInput(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrInput, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %w", ErrInput, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s is a directory", ErrInput, path)
	}
	if strings.HasSuffix(path, ".gz") {
		var magic [2]byte
		_, err := io.ReadFull(f, magic[:])
		if err == nil && string(magic[:]) != gzipMagic {
			err = errNotGzip
		}
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("%w: %s: %w", ErrInput, path, err)
		}
	}
	size := int64(0)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, nil
}

// source wraps an input: it counts the bytes read from it (for the progress
// meter) and decompresses it when it starts with the gzip magic, whatever its
// name.
func source(r io.Reader, read *atomic.Int64) (io.Reader, bool, func() error, error) {
	br := bufio.NewReaderSize(countingReader{r, read}, 64<<10)
	magic, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, nil, err // Peek hands the error over only once
	}
	if string(magic) != gzipMagic {
		return br, false, func() error { return nil }, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, true, nil, err
	}
	return zr, true, zr.Close, nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// lineReader splits a stream into lines of at most max bytes; longer lines
// are skipped, not split, and reported as too long.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its line feed. The slice is valid until
// the next call. err is io.EOF after the last line.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	n := 0
	for first := true; ; first = false {
		chunk, err := l.br.ReadSlice('\n')
		complete := err == nil
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		content := chunk
		if complete {
			content = chunk[:len(chunk)-1]
		}
		n += len(content)
		switch {
		case tooLong:
		case n > l.max:
			tooLong, l.buf = true, l.buf[:0]
		case first && complete:
			return content, false, nil // the common case: no copy
		default:
			l.buf = append(l.buf, content...)
		}
		switch {
		case complete:
			return l.buf, tooLong, nil
		case errors.Is(err, io.EOF):
			if n == 0 && first {
				return nil, false, io.EOF
			}
			return l.buf, tooLong, nil // a last line without line feed
		case err != nil:
			return nil, false, err
		}
	}
}
