// Package lines splits logs into lines in bounded memory. It is the one
// line reader of jwtwatch: the follower reads files with it at its own
// offset (pread), scan reads finished files, gzip and stdin with it.
//
// A line is returned as a slice of the reader's buffer, valid until the next
// call: reading costs no allocation and no system call per line, only one
// read per block. A line longer than the limit is skipped to its newline and
// reported as too long. Reading a file at an offset never holds more of a
// line than the limit, however long the line (a 10 MB line, 50 MB of NUL
// bytes): once a line fills a block, the reader looks ahead for its newline
// in block-sized reads and reads the line again only when it fits. A stream
// cannot be read twice, so there the buffer grows up to the limit, never
// beyond.
package lines

import (
	"bytes"
	"errors"
	"io"
)

// BlockSize is how much one read asks for.
const BlockSize = 64 << 10

// DefaultMaxLineBytes is the longest line parsed unless configured
// (--log.max-line-bytes): longer ones are counted and skipped.
const DefaultMaxLineBytes = 1 << 20

// ErrNoLine means that no complete line is available yet: in a file being
// followed, the rest of a partial last line has not been written.
var ErrNoLine = errors.New("no complete line yet")

// Reader splits a file or a stream into lines.
type Reader struct {
	at  io.ReaderAt // file mode
	r   io.Reader   // stream mode
	max int

	buf   []byte
	b, e  int   // buf[b:e] is read and not yet returned
	off   int64 // offset just past the last line returned
	eof   bool  // stream mode: the stream has ended
	reads int64 // reads done, for Reads

	// skip is set while discarding the rest of a line known to be too
	// long; off then moves over the bytes discarded.
	skip bool
	// ahead is set, in file mode, while a line that fills the buffer is
	// looked at past the buffer: scanned bytes after off hold no newline.
	ahead   bool
	scanned int64
}

// NewAt returns a Reader of the file r from offset off, whose lines are at
// most max bytes (without "\n" or "\r\n").
func NewAt(r io.ReaderAt, off int64, max int) *Reader {
	return &Reader{at: r, off: off, max: max, buf: make([]byte, min(BlockSize, max+2))}
}

// New returns a Reader of the stream r.
func New(r io.Reader, max int) *Reader {
	return &Reader{r: r, max: max, buf: make([]byte, min(BlockSize, max+2))}
}

// Offset is just past the last line returned: where reading resumes. In
// stream mode it counts the bytes of the lines returned.
func (r *Reader) Offset() int64 { return r.off }

// Reads is how many reads the reader has done: lines returned between two
// changes of it came in with one read, at one moment.
func (r *Reader) Reads() int64 { return r.reads }

// Buffered is how many bytes after Offset have been read but not returned:
// a partial last line.
func (r *Reader) Buffered() int64 {
	if r.ahead {
		return r.scanned
	}
	return int64(r.e - r.b)
}

// Next returns the next complete line without its "\n" or "\r\n". A line
// longer than the limit comes back as nil with tooLong set. At the end of
// what can be read now it returns ErrNoLine in file mode (a partial last
// line stays unread until its newline is there), io.EOF in stream mode (the
// stream ended; Rest returns a last line without a newline). Other errors
// come from reading.
func (r *Reader) Next() (line []byte, tooLong bool, err error) {
	for {
		if i := bytes.IndexByte(r.buf[r.b:r.e], '\n'); i >= 0 {
			line = r.buf[r.b : r.b+i]
			r.b += i + 1
			r.off += int64(i + 1)
			if r.skip {
				r.skip = false
				return nil, true, nil
			}
			line = trimCR(line)
			if len(line) > r.max {
				return nil, true, nil
			}
			return line, false, nil
		}
		if r.ahead {
			if done, err := r.lookAhead(); done || err != nil {
				return nil, done, err
			}
			continue
		}
		if err := r.fill(); err != nil {
			return nil, false, err
		}
	}
}

// Rest returns, in stream mode after Next returned io.EOF, the last line if
// it had no newline; ok is false when there is none.
func (r *Reader) Rest() (line []byte, tooLong, ok bool) {
	if r.b == r.e && !r.skip {
		return nil, false, false
	}
	line = r.buf[r.b:r.e]
	r.off += int64(r.e - r.b)
	r.b = r.e
	if r.skip {
		r.skip = false
		return nil, true, true
	}
	line = trimCR(line)
	if len(line) > r.max {
		return nil, true, true
	}
	return line, false, true
}

// fill reads more after what is buffered, making room first.
func (r *Reader) fill() error {
	pending := r.e - r.b
	if r.skip || pending > r.max+1 {
		// Too long whatever comes next ("\r" may still come, then "\n"):
		// drop what is held and look for the newline only.
		r.off += int64(pending)
		r.b, r.e, r.skip = 0, 0, true
		pending = 0
	}
	if r.b > 0 {
		copy(r.buf, r.buf[r.b:r.e])
		r.b, r.e = 0, pending
	}
	if r.e == len(r.buf) {
		if r.at != nil {
			// The line fills the buffer: look for its end past it.
			r.ahead, r.scanned = true, int64(r.e)
			r.b, r.e = 0, 0
			return nil
		}
		r.grow(2 * len(r.buf))
	}
	r.reads++
	if r.at != nil {
		n, err := r.at.ReadAt(r.buf[r.e:], r.off+int64(r.e))
		r.e += n
		return readErr(n, err)
	}
	if r.eof {
		return io.EOF
	}
	n, err := r.r.Read(r.buf[r.e:])
	r.e += n
	if err == io.EOF {
		r.eof = true
		if n > 0 {
			return nil
		}
	}
	return err
}

// readErr turns the result of a ReadAt at the end of a file into ErrNoLine.
func readErr(n int, err error) error {
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		return ErrNoLine
	}
	return err
}

// grow enlarges the buffer, never beyond what a line of the limit with its
// "\r\n" needs.
func (r *Reader) grow(n int) {
	n = max(min(n, r.max+2), len(r.buf))
	nb := make([]byte, n)
	copy(nb, r.buf[r.b:r.e])
	r.buf, r.e, r.b = nb, r.e-r.b, 0
}

// lookAhead reads on past a line that filled the buffer (into the same
// buffer: the file keeps the bytes) to find its newline. A line that fits
// is then read again whole, into a buffer just big enough; a longer one is
// skipped. done reports a line skipped.
func (r *Reader) lookAhead() (done bool, err error) {
	for {
		if r.scanned > int64(r.max)+1 {
			// Too long: discard what was looked at, then find the newline.
			r.off += r.scanned
			r.ahead, r.scanned, r.skip = false, 0, true
			return false, nil
		}
		n, err := r.at.ReadAt(r.buf, r.off+r.scanned)
		if i := bytes.IndexByte(r.buf[:n], '\n'); i >= 0 {
			size := r.scanned + int64(i) + 1 // the line with its newline
			r.ahead, r.scanned = false, 0
			if size > int64(r.max)+2 {
				r.off += size
				return true, nil
			}
			if int(size) > len(r.buf) {
				r.buf = make([]byte, size)
			}
			n, err := r.at.ReadAt(r.buf[:size], r.off)
			r.b, r.e = 0, n
			r.reads++
			return false, readErr(n, err)
		}
		r.scanned += int64(n)
		if err := readErr(n, err); err != nil {
			return false, err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// Reset makes r read the file at from offset off, keeping its buffer.
func (r *Reader) Reset(at io.ReaderAt, off int64) {
	*r = Reader{at: at, off: off, max: r.max, buf: r.buf}
}
