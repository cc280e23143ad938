// Package state persists what must survive a restart — read positions and
// rotation state — in one JSON file replaced atomically, so that a crash at
// any moment leaves either the old or the new file, never a torn one.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/tail"
)

// Version is the state file format; a file of another version is refused
// rather than misread. Positions gained a checksum of the file's first bytes
// (tail.FileID's head_len, head_crc64) without a new version: a file written
// before has none, and its positions are checked by device and inode only.
const Version = 1

// Sentinel errors of Load.
var (
	ErrCorrupt     = errors.New("state file is not valid")
	ErrWrongFormat = errors.New("state file has an unsupported version")
	ErrLocked      = errors.New("state file in use")
)

// File is the content of the state file.
type File struct {
	Version   int                      `json:"version"`
	SavedAt   time.Time                `json:"saved_at"`
	Positions map[string]tail.Position `json:"positions"`
	Rotation  rotation.Snapshot        `json:"rotation"`
}

// Load reads the state file; a missing file is an empty state, not an error.
func Load(path string) (File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{Version: Version, Positions: map[string]tail.Position{}}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("read state file %q: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("state file %q: %w: %w", path, ErrCorrupt, err)
	}
	if f.Version != Version {
		return File{}, fmt.Errorf("state file %q: %w: %d", path, ErrWrongFormat, f.Version)
	}
	if f.Positions == nil {
		f.Positions = map[string]tail.Position{}
	}
	return f, nil
}

// Save writes f to path atomically: a temporary file in the same directory is
// written and fsynced, renamed over path, and the directory fsynced so the
// rename itself is durable.
func Save(path string, f File) error {
	f.Version = Version
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}
