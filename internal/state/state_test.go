package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/tail"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	want := File{
		Version:   Version,
		SavedAt:   time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC),
		Positions: map[string]tail.Position{"/var/log/gw/access.log": {File: tail.FileID{Dev: 2049, Ino: 1234, HeadLen: 1024, Head: 0xfedcba9876543210}, Offset: 98765}},
		Rotation: rotation.Snapshot{
			Rotations: map[keys.Family]rotation.Rotation{keys.Access: {CurrentFingerprint: "abcdef012345", Started: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}},
			Keys:      []rotation.KeyState{{Family: keys.Access, Fingerprint: "abcdef012345", LastValid: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Subjects: []byte{1, 2, 3}}},
		},
	}
	for range 2 { // the second save replaces the first
		if err := Save(path, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file (no temp files left)", len(entries))
	}
}

// TestLoadBeforeChecksum reads a state file written before positions had
// the checksum of the file's first bytes: they load with HeadLen 0, which
// the follower checks by device and inode only.
func TestLoadBeforeChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	old := `{"version": 1, "saved_at": "2026-11-27T13:00:00Z",
  "positions": {"/var/log/gw/access.log": {"file": {"dev": 2049, "ino": 1234}, "offset": 98765}},
  "rotation": {}}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := tail.Position{File: tail.FileID{Dev: 2049, Ino: 1234}, Offset: 98765}
	if p := got.Positions["/var/log/gw/access.log"]; p != want {
		t.Errorf("position %+v, want %+v", p, want)
	}
}

// TestLock: a second lock on the same state file fails, naming the holder;
// after release it is taken again.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	release, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Fatalf("second Lock: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	release()
	release2, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	release2()
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"missing file is an empty state", filepath.Join(dir, "absent"), nil},
		{"torn file", write("torn", `{"version":1,"positions":{`), ErrCorrupt},
		{"not json", write("text", "hello"), ErrCorrupt},
		{"other version", write("v9", `{"version":9}`), ErrWrongFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && f.Positions == nil {
				t.Error("empty state has nil positions")
			}
		})
	}
}

func TestSaveIntoMissingDirectoryFails(t *testing.T) {
	if err := Save(filepath.Join(t.TempDir(), "no", "such", "state.json"), File{}); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
}
