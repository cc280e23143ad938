package tail

import (
	"fmt"
	"hash/crc64"
	"io"
	"os"
)

// HeadBytes is how much of a file's start its identity checksums: enough to
// hold a log line's timestamp and more, as Vector's checksum fingerprint.
const HeadBytes = 1024

var crcTable = crc64.MakeTable(crc64.ECMA)

// FileID identifies a file: device and inode, and a CRC-64 of its first
// HeadLen bytes, so that a file truncated and written again, or another file
// given the same inode, is told apart from the one a position was saved for.
type FileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// HeadLen is 0 in state files written before the checksum existed:
	// then only device and inode are compared.
	HeadLen int    `json:"head_len,omitempty"`
	Head    uint64 `json:"head_crc64,omitempty"`
}

// SameFile reports whether a and b are the same device and inode.
func (a FileID) SameFile(b FileID) bool { return a.Dev == b.Dev && a.Ino == b.Ino }

// headOf returns the checksum of the first n bytes of f, and false when f
// holds fewer. buf must hold n bytes.
func headOf(f io.ReaderAt, n int, buf []byte) (uint64, bool) {
	if n == 0 {
		return 0, true
	}
	m, err := f.ReadAt(buf[:n], 0)
	if m < n || (err != nil && err != io.EOF) {
		return 0, false
	}
	return crc64.Checksum(buf[:n], crcTable), true
}

// matches reports whether f (whose device and inode are id's) still starts
// with the bytes id's checksum was taken of.
func (id FileID) matches(f io.ReaderAt, buf []byte) bool {
	sum, ok := headOf(f, id.HeadLen, buf)
	return ok && sum == id.Head
}

// identify returns the identity of the open file f of size size.
func identify(f *os.File, fi os.FileInfo, buf []byte) FileID {
	id := fileID(fi)
	n := int(min(fi.Size(), HeadBytes))
	if sum, ok := headOf(f, n, buf); ok {
		id.HeadLen, id.Head = n, sum
	}
	return id
}

// readHead is the file's start as the lines reader read it: the identity is
// extended from these bytes, never from what the file holds at a later look,
// so a file truncated and written again past the offset between two looks
// cannot pass for the one the lines came from.
type readHead struct {
	f   io.ReaderAt
	buf [HeadBytes]byte
	n   int // buf[:n] is the file's start, contiguous from offset 0
}

// reset starts the record over for f, whose first bytes are head.
func (h *readHead) reset(f io.ReaderAt, head []byte) {
	h.f = f
	h.n = copy(h.buf[:], head)
}

// ReadAt reads f, recording what it returns of the file's first HeadBytes.
func (h *readHead) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.f.ReadAt(p, off)
	if off <= int64(h.n) && off < HeadBytes {
		if end := min(off+int64(n), HeadBytes); end > off {
			copy(h.buf[off:end], p)
			h.n = max(h.n, int(end))
		}
	}
	return n, err
}

// extend returns id covering all of the head read, when more was read than
// id covers.
func (h *readHead) extend(id FileID) FileID {
	if h.n > id.HeadLen {
		id.HeadLen, id.Head = h.n, crc64.Checksum(h.buf[:h.n], crcTable)
	}
	return id
}

// Identify returns the identity and size of the file at path, following
// symlinks.
func Identify(path string) (FileID, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileID{}, 0, fmt.Errorf("identify: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return FileID{}, 0, fmt.Errorf("identify: %w", err)
	}
	return identify(f, fi, make([]byte, HeadBytes)), fi.Size(), nil
}
