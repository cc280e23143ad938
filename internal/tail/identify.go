package tail

import (
	"fmt"
	"os"
)

// Identify returns the identity (device and inode) and size of the file at
// path, following symlinks.
func Identify(path string) (FileID, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return FileID{}, 0, fmt.Errorf("identify: %w", err)
	}
	return fileID(fi), fi.Size(), nil
}
