//go:build !unix

package tail

import "io/fs"

// fileID returns the zero FileID: without inodes a replaced file is detected
// only when it is smaller than the saved offset.
func fileID(fs.FileInfo) FileID {
	return FileID{}
}
