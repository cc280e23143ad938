//go:build unix

package tail

import (
	"io/fs"
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
