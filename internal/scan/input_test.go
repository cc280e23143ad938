package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// TestWindow checks --from (inclusive) and --until (exclusive) against the
// lines' own times, and lines without a time.
func TestWindow(t *testing.T) {
	k := randomKeys(t)
	tok := sign(k.current, map[string]any{"sub": "u", "iss": issuer, "iat": hm(9, 0, 0).Unix(), "exp": hm(23, 0, 0).Unix()})
	log := strings.Join([]string{
		textLine(hm(9, 59, 59), "10.0.0.1", tok),
		textLine(hm(10, 0, 0), "10.0.0.1", tok),
		textLine(hm(10, 30, 0), "10.0.0.1", tok),
		textLine(hm(11, 0, 0), "10.0.0.1", tok),
		`[Nest] 42 - WARN [JwtAuthGuard] rejected Bearer ` + tok, // no time
		`GET /healthz 200`,                                       // no token
	}, "\n")
	tests := []struct {
		name        string
		from, until time.Time
		want        Lines
		wantFirst   time.Time
		wantLast    time.Time
	}{
		{"everything", time.Time{}, time.Time{}, Lines{Read: 6, Checked: 5, WithoutToken: 1, WithoutTime: 1}, hm(9, 59, 59), hm(11, 0, 0)},
		{"from is inclusive, until exclusive", hm(10, 0, 0), hm(11, 0, 0), Lines{Read: 6, Checked: 2, WithoutToken: 1, WithoutTime: 1, OutsideWindow: 2}, hm(10, 0, 0), hm(10, 30, 0)},
		{"from only", hm(10, 30, 0), time.Time{}, Lines{Read: 6, Checked: 2, WithoutToken: 1, WithoutTime: 1, OutsideWindow: 2}, hm(10, 30, 0), hm(11, 0, 0)},
		{"until only", time.Time{}, hm(10, 0, 0), Lines{Read: 6, Checked: 1, WithoutToken: 1, WithoutTime: 1, OutsideWindow: 3}, hm(9, 59, 59), hm(9, 59, 59)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Keys: k.set(), From: tt.from, Until: tt.until, Now: func() time.Time { return scanTime }})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Read("log", strings.NewReader(log)); err != nil {
				t.Fatal(err)
			}
			r := s.Report()
			if r.Lines != tt.want {
				t.Errorf("Lines = %+v, want %+v", r.Lines, tt.want)
			}
			if !r.FirstSeen.Equal(tt.wantFirst) || !r.LastSeen.Equal(tt.wantLast) {
				t.Errorf("seen %s to %s, want %s to %s", r.FirstSeen, r.LastSeen, tt.wantFirst, tt.wantLast)
			}
			if got := r.Keys[0].Requests; got != tt.want.Checked {
				t.Errorf("access/current requests = %d, want %d", got, tt.want.Checked)
			}
		})
	}
}

// TestRead covers what an input can look like.
func TestRead(t *testing.T) {
	k := randomKeys(t)
	tok := sign(k.current, map[string]any{"sub": "u", "iss": issuer})
	line := textLine(hm(10, 0, 0), "10.0.0.1", tok)
	plain := []byte(line + "\n" + line + "\n")
	multi := append(gz(t, []byte(line+"\n")), gz(t, []byte(line+"\n"))...)
	long := textLine(hm(10, 0, 0), strings.Repeat("x", 600), tok)
	tests := []struct {
		name     string
		in       io.Reader
		max      int
		wantGzip bool
		want     Lines
		wantErr  bool
	}{
		{"plain", bytes.NewReader(plain), 0, false, Lines{Read: 2, Checked: 2}, false},
		{"gzip, told by its magic", bytes.NewReader(gz(t, plain)), 0, true, Lines{Read: 2, Checked: 2}, false},
		{"concatenated gzip members", bytes.NewReader(multi), 0, true, Lines{Read: 2, Checked: 2}, false},
		{"CRLF and no final newline", strings.NewReader(line + "\r\n" + line), 0, false, Lines{Read: 2, Checked: 2}, false},
		{"empty lines count", strings.NewReader("\n\n" + line + "\n"), 0, false, Lines{Read: 3, Checked: 1, WithoutToken: 2}, false},
		{"empty input", strings.NewReader(""), 0, false, Lines{}, false},
		{"long line skipped whole", strings.NewReader(line + "\n" + long + "\n" + line), 500, false, Lines{Read: 3, Checked: 2, TooLong: 1}, false},
		{"long last line", strings.NewReader(line + "\n" + long), 500, false, Lines{Read: 2, Checked: 1, TooLong: 1}, false},
		{"line longer than the read buffer", strings.NewReader(textLine(hm(10, 0, 0), strings.Repeat("y", 100<<10), tok)), 0, false, Lines{Read: 1, Checked: 1}, false},
		{"read one byte at a time", iotest.OneByteReader(bytes.NewReader(gz(t, plain))), 0, true, Lines{Read: 2, Checked: 2}, false},
		{"truncated gzip", bytes.NewReader(gz(t, plain)[:40]), 0, true, Lines{}, true},
		{"broken gzip header", bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), 0, true, Lines{}, true},
		{"read error at once", iotest.TimeoutReader(iotest.OneByteReader(strings.NewReader(line))), 0, false, Lines{}, true},
		{"read error later", io.MultiReader(strings.NewReader(line+"\n"), iotest.ErrReader(errors.New("disk gone"))), 0, false, Lines{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Keys: k.set(), MaxLineBytes: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Read("in", tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Read error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), tok) {
					t.Error("the error holds the token")
				}
				return
			}
			r := s.Report()
			if r.Lines != tt.want {
				t.Errorf("Lines = %+v, want %+v", r.Lines, tt.want)
			}
			if r.Inputs[0].Gzip != tt.wantGzip || r.Inputs[0].Lines != tt.want.Read {
				t.Errorf("Input = %+v", r.Inputs[0])
			}
			if p := s.Progress(); p.Lines != tt.want.Read {
				t.Errorf("Progress().Lines = %d, want %d", p.Lines, tt.want.Read)
			}
		})
	}
}

func TestOpenInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		path     string
		wantSize int64
		wantErr  bool
	}{
		{"plain", write("a.log", []byte("hello\n")), 6, false},
		{"gzip", write("a.log.gz", gz(t, []byte("hello\n"))), int64(len(gz(t, []byte("hello\n")))), false},
		{"named .gz, not gzip", write("b.log.gz", []byte("hello\n")), 0, true},
		{"named .gz, empty", write("c.log.gz", nil), 0, true},
		{"missing", filepath.Join(dir, "nope.log"), 0, true},
		{"directory", dir, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, size, err := OpenInput(tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInput) {
					t.Errorf("error %v does not wrap ErrInput", err)
				}
				return
			}
			defer f.Close()
			if size != tt.wantSize {
				t.Errorf("size %d, want %d", size, tt.wantSize)
			}
			// The file is positioned at its start.
			s, err := New(Options{Keys: randomKeys(t).set()})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Read(tt.path, f); err != nil {
				t.Fatal(err)
			}
			if got := s.Report().Lines.Read; got != 1 {
				t.Errorf("read %d lines, want 1", got)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	k := randomKeys(t)
	set := k.set()
	set.Keys = append(set.Keys, keys.New(keys.Refresh, keys.Previous, []byte(k.attacker)))
	fp := func(f keys.Family, r keys.Role) string { key, _ := set.Find(f, r); return key.Fingerprint }
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"role matches both families", "previous", []string{"access/previous", "refresh/previous"}, false},
		{"family and role", "refresh/previous", []string{"refresh/previous"}, false},
		{"current", "current", []string{"access/current", "refresh/current"}, false},
		{"fingerprint", fp(keys.Access, keys.Previous), []string{"access/previous"}, false},
		{"retired is not loaded", "retired", nil, true},
		{"unknown fingerprint", "0123456789ab", nil, true},
		{"prefix of a fingerprint", fp(keys.Access, keys.Previous)[:6], nil, true},
		{"unknown family", "id/previous", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Keys: set, Select: tt.in})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrNoSuchKey) {
					t.Errorf("error %v does not wrap ErrNoSuchKey", err)
				}
				return
			}
			var got []string
			for _, ref := range s.Report().Key.Keys {
				got = append(got, fmt.Sprintf("%s/%s", ref.Family, ref.Key))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("selected %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{Parse: parseConfig("regex", "(")}); !errors.Is(err, ErrFormat) {
		t.Errorf("bad regex: error %v, want ErrFormat", err)
	}
}
