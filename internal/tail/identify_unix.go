//go:build unix

package tail

import (
	"io/fs"
	"os"
	"syscall"
)

// fileID returns the device and inode behind fi.
func fileID(fi fs.FileInfo) FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
}

// openFlags never block in open: a FIFO that slipped in after the check
// that the path is a regular file opens at once (and is then refused).
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
