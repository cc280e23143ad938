package scan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/klauspost/pgzip"
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
	cr := countingReader{r, read}
	br := bufio.NewReaderSize(cr, 64<<10)
	magic, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, nil, err // Peek hands the error over only once
	}
	if string(magic) != gzipMagic {
		// What Peek buffered, then the input itself: the line reader's
		// reads go straight into its buffer, not through bufio's.
		return io.MultiReader(io.LimitReader(br, int64(br.Buffered())), cr), false, func() error { return nil }, nil
	}
	zr, err := Gunzip(br)
	if err != nil {
		return nil, true, nil, err
	}
	return zr, true, zr.Close, nil
}

// Decompressor names Gunzip's decompressor, for reports of its speed.
const Decompressor = "github.com/klauspost/pgzip"

// Gunzip returns the decompressor scan reads gzip with:
// github.com/klauspost/pgzip, which decompresses ahead of the reader on a
// goroutine of its own, so that on two cores decompression and the scan run
// side by side. Measured on the bench's log (docs/benchmarks.md): alone it
// decompresses at 1.15-1.2 GB/s against 0.9-0.95 for compress/gzip and
// 1.15-1.25 for klauspost/compress/gzip, whose inflater it uses; under a
// scan on two cores it takes a quarter off the total, where the other two,
// decompressing on the scan's goroutine, add their whole time to it. Eight
// read-ahead blocks of 256 KiB bound its memory at 2 MiB per input.
func Gunzip(r io.Reader) (io.ReadCloser, error) {
	return pgzip.NewReaderN(r, 256<<10, 8)
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
