//go:build !unix

package tail

import (
	"io/fs"
	"os"
)

// fileID returns the zero FileID: without inodes a replaced file is told
// apart only by the checksum of its first bytes and by its size.
func fileID(fs.FileInfo) FileID {
	return FileID{}
}

const openFlags = os.O_RDONLY
