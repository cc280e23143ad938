package lines

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// got is one result of Next (or Rest) in a test.
type got struct {
	text    string
	tooLong bool
	off     int64
}

// readAll reads a stream to its end, Rest included.
func readAll(t *testing.T, r *Reader) []got {
	t.Helper()
	var out []got
	for {
		line, long, err := r.Next()
		if err == io.EOF {
			if line, long, ok := r.Rest(); ok {
				out = append(out, got{string(line), long, r.Offset()})
			}
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, got{string(line), long, r.Offset()})
	}
}

// readAvailable reads a file until ErrNoLine.
func readAvailable(t *testing.T, r *Reader) []got {
	t.Helper()
	var out []got
	for {
		line, long, err := r.Next()
		if errors.Is(err, ErrNoLine) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, got{string(line), long, r.Offset()})
	}
}

func TestLines(t *testing.T) {
	long := strings.Repeat("x", 3*BlockSize)
	tests := []struct {
		name string
		in   string
		max  int
		// stream is what a stream gives (Rest included); file what a file
		// gives: the same but a last line without newline waits.
		want []got
		rest *got
	}{
		{name: "empty", in: "", max: 10},
		{name: "lines", in: "a\nbc\n", max: 10, want: []got{{"a", false, 2}, {"bc", false, 5}}},
		{name: "CRLF", in: "a\r\nb\r\r\n", max: 10, want: []got{{"a", false, 3}, {"b\r", false, 7}}},
		{name: "empty lines", in: "\n\n", max: 10, want: []got{{"", false, 1}, {"", false, 2}}},
		{name: "last line without newline", in: "a\nbc", max: 10, want: []got{{"a", false, 2}}, rest: &got{"bc", false, 4}},
		{name: "exactly the limit", in: "abcd\nabcd\r\n", max: 4, want: []got{{"abcd", false, 5}, {"abcd", false, 11}}},
		{name: "one over the limit", in: "abcde\nab\n", max: 4, want: []got{{"", true, 6}, {"ab", false, 9}}},
		{name: "over the limit with CR", in: "abcde\r\nab\n", max: 4, want: []got{{"", true, 7}, {"ab", false, 10}}},
		{name: "far over the limit", in: "0123456789\n012\n", max: 4, want: []got{{"", true, 11}, {"012", false, 15}}},
		{name: "long last line", in: "a\n0123456789", max: 4, want: []got{{"a", false, 2}}, rest: &got{"", true, 12}},
		{name: "line over a block, limit above it", in: long + "\nz\n", max: 4 * BlockSize,
			want: []got{{long, false, int64(len(long)) + 1}, {"z", false, int64(len(long)) + 3}}},
		{name: "line over a block, limit below it", in: long + "\nz\n", max: 2 * BlockSize,
			want: []got{{"", true, int64(len(long)) + 1}, {"z", false, int64(len(long)) + 3}}},
		{name: "line over a block, one over the limit", in: long + "\nz\n", max: len(long) - 1,
			want: []got{{"", true, int64(len(long)) + 1}, {"z", false, int64(len(long)) + 3}}},
		{name: "line over a block, exactly the limit with CR", in: long + "\r\nz\n", max: len(long),
			want: []got{{long, false, int64(len(long)) + 2}, {"z", false, int64(len(long)) + 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStream := tt.want
			if tt.rest != nil {
				wantStream = append(append([]got(nil), tt.want...), *tt.rest)
			}
			for _, s := range []struct {
				name string
				r    io.Reader
			}{
				{"stream", strings.NewReader(tt.in)},
				{"stream, a byte at a time", iotest.OneByteReader(strings.NewReader(tt.in))},
			} {
				if g := readAll(t, New(s.r, tt.max)); !equal(g, wantStream) {
					t.Errorf("%s: got %v, want %v", s.name, short(g), short(wantStream))
				}
			}
			if g := readAvailable(t, NewAt(strings.NewReader(tt.in), 0, tt.max)); !equal(g, tt.want) {
				t.Errorf("file: got %v, want %v", short(g), short(tt.want))
			}
		})
	}
}

func equal(a, b []got) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// short keeps test failures readable when lines are long.
func short(gs []got) []got {
	out := make([]got, len(gs))
	for i, g := range gs {
		if len(g.text) > 20 {
			g.text = g.text[:20] + "..."
		}
		out[i] = g
	}
	return out
}

// TestFileGrows reads a file while it is written: a partial last line waits
// for its newline, also when it is longer than a block or than the limit.
func TestFileGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewAt(f, 0, 2*BlockSize)
	write := func(s string) {
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		write string
		want  []got
	}{
		{"a\npart", []got{{"a", false, 2}}},
		{"ial", nil},
		{"\n", []got{{"partial", false, 10}}},
		{strings.Repeat("y", BlockSize+10), nil}, // fills the buffer: looked at ahead
		{strings.Repeat("y", 10), nil},
		{"\nb\n", []got{{strings.Repeat("y", BlockSize+20), false, 10 + BlockSize + 21}, {"b", false, 10 + BlockSize + 23}}},
		{strings.Repeat("z", 2*BlockSize+5), nil}, // over the limit, no newline yet
		{strings.Repeat("z", 3*BlockSize), nil},
		{"\nc\n", []got{{"", true, 10 + BlockSize + 23 + 5*BlockSize + 6}, {"c", false, 10 + BlockSize + 23 + 5*BlockSize + 8}}},
	}
	for i, s := range steps {
		write(s.write)
		if g := readAvailable(t, r); !equal(g, s.want) {
			t.Fatalf("step %d: got %v, want %v", i, short(g), short(s.want))
		}
	}
}

// TestHugeLineBoundedMemory reads a 10 MB line and 50 MB of NUL bytes
// without a newline from a file: what is allocated stays far below either.
func TestHugeLineBoundedMemory(t *testing.T) {
	const limit = 1 << 20
	path := filepath.Join(t.TempDir(), "huge")
	var content bytes.Buffer
	content.WriteString("first\n")
	content.Write(bytes.Repeat([]byte("h"), 10<<20))
	content.WriteString("\nafter\n")
	content.Write(make([]byte, 50<<20))
	if err := os.WriteFile(path, content.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	content.Reset()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewAt(f, 0, limit)
	g := readAvailable(t, r)
	runtime.ReadMemStats(&after)
	want := []got{{"first", false, 6}, {"", true, 6 + 10<<20 + 1}, {"after", false, 6 + 10<<20 + 7}}
	if !equal(g, want) {
		t.Fatalf("got %v, want %v", short(g), short(want))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
		t.Errorf("allocated %d KiB reading a 10 MB line and a 50 MB blob, want at most 256", alloc>>10)
	}
	// The blob is known to be too long: once its newline comes, it is one
	// dropped line and the next line is read normally.
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString("\nnext\n"); err != nil {
		t.Fatal(err)
	}
	end := int64(6 + 10<<20 + 7 + 50<<20)
	want = []got{{"", true, end + 1}, {"next", false, end + 6}}
	if g := readAvailable(t, r); !equal(g, want) {
		t.Fatalf("after the blob: got %v, want %v", short(g), short(want))
	}
}

// TestStreamBoundedMemory: a stream holds at most the limit of a line.
func TestStreamBoundedMemory(t *testing.T) {
	const limit = 256 << 10
	in := io.MultiReader(strings.NewReader("a\n"), io.LimitReader(zeros{}, 20<<20), strings.NewReader("\nb\n"))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g := readAll(t, New(in, limit))
	runtime.ReadMemStats(&after)
	if want := []got{{"a", false, 2}, {"", true, 2 + 20<<20 + 1}, {"b", false, 2 + 20<<20 + 3}}; !equal(g, want) {
		t.Fatalf("got %v, want %v", short(g), short(want))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*limit { // the buffer doubles up to the limit
		t.Errorf("allocated %d KiB, want at most %d", alloc>>10, 3*limit>>10)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadError(t *testing.T) {
	boom := errors.New("disk gone")
	r := New(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 10)
	if line, _, err := r.Next(); err != nil || string(line) != "a" {
		t.Fatalf("Next = %q, %v", line, err)
	}
	if _, _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next error %v, want %v", err, boom)
	}
}

// BenchmarkNext is the cost of a line from a file, without the file's
// system calls: one read per 64 KiB block.
func BenchmarkNext(b *testing.B) {
	line := strings.Repeat("x", 799) + "\n"
	data := []byte(strings.Repeat(line, 10000))
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	r := NewAt(bytes.NewReader(data), 0, 1<<20)
	for b.Loop() {
		if _, _, err := r.Next(); err != nil {
			r.Reset(bytes.NewReader(data), 0)
		}
	}
}
