package scan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// corpus returns every line of the committed incident logs, in the order
// the tests scan them.
func corpus(t *testing.T) [][]byte {
	t.Helper()
	var all [][]byte
	for _, name := range inputs {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(name) == ".gz" {
			b = gunzip(t, b)
		}
		all = append(all, bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))...)
	}
	return all
}

// writeShards cuts lines into n files of consecutive lines (the second one
// gzipped) and returns their paths.
func writeShards(t *testing.T, lines [][]byte, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		part := bytes.Join(lines[i*len(lines)/n:(i+1)*len(lines)/n], nil)
		name := "shard-" + strconv.Itoa(i+1) + ".log"
		if i == 1 {
			part, name = gz(t, part), name+".gz"
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, part, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

// scanPaths scans files in order with one scanner.
func scanPaths(t *testing.T, o Options, paths ...string) *Scanner {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		f, _, err := OpenInput(p)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Read(filepath.Base(p), f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// sameReport fails unless two reports render alike in every format, the
// JSON with its state.
func sameReport(t *testing.T, what string, got, want Report) {
	t.Helper()
	g, w := render(t, got), render(t, want)
	for ext := range w {
		if !bytes.Equal(g[ext], w[ext]) {
			t.Errorf("%s: the %s report differs from one scan's\n--- got\n%s\n--- want\n%s", what, ext, g[ext], w[ext])
		}
	}
}

// TestMergeShards scans the incident corpus whole and in four shards, each
// a scan of its own written as JSON, merges the JSON reports and finds the
// report of the whole scan, for every report the golden tests make.
func TestMergeShards(t *testing.T) {
	k := newTestKeys()
	paths := writeShards(t, corpus(t), 4)
	for name, opts := range map[string]func(Options) Options{
		"incident": func(o Options) Options { return o },
		"overview": func(o Options) Options { o.Select, o.Rotations = "", nil; return o },
		"window": func(o Options) Options {
			o.From, o.Until, o.Top = hm(12, 0, 0), hm(13, 0, 0), 2
			return o
		},
	} {
		t.Run(name, func(t *testing.T) {
			o := opts(incidentOptions(k))
			whole := scanPaths(t, o, paths...).Report()
			var merged *Scanner
			for _, p := range paths {
				var buf bytes.Buffer
				if err := WriteJSON(&buf, scanPaths(t, o, p).Report()); err != nil {
					t.Fatal(err)
				}
				var r Report
				if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
					t.Fatal(err)
				}
				s, err := FromReport(r)
				if err != nil {
					t.Fatal(err)
				}
				if merged == nil {
					merged = s
				} else if err := merged.Merge(s); err != nil {
					t.Fatal(err)
				}
			}
			sameReport(t, "four shards merged", merged.Report(), whole)
		})
	}
}

// TestMergeShardStartingUnusual cuts the corpus just before the first
// request with the token that lacks iat and exp: in the second shard it is
// the first token, before any norm of claims could form there, and still
// the merged report lists it as one scan does.
func TestMergeShardStartingUnusual(t *testing.T) {
	lines := corpus(t)
	cut := slices.IndexFunc(lines, func(l []byte) bool { return bytes.Contains(l, []byte("payment-methods")) })
	if cut <= 0 {
		t.Fatal("the corpus has no request with the unusual token")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	for path, part := range map[string][][]byte{a: lines[:cut], b: lines[cut:]} {
		if err := os.WriteFile(path, bytes.Join(part, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := incidentOptions(newTestKeys())
	whole := scanPaths(t, o, a, b).Report()
	if !slices.ContainsFunc(whole.Key.SuspiciousTokens, func(st SuspiciousToken) bool { return slices.Contains(st.Reasons, rotation.UnusualClaims) }) {
		t.Fatal("one scan lists no token with unusual claims")
	}
	merged := scanPaths(t, o, a)
	if err := merged.Merge(scanPaths(t, o, b)); err != nil {
		t.Fatal(err)
	}
	sameReport(t, "cut before the unusual token", merged.Report(), whole)
}

// TestMergeRefusesOtherOptions: reports of scans with other keys or
// options do not merge.
func TestMergeRefusesOtherOptions(t *testing.T) {
	k := newTestKeys()
	o := incidentOptions(k)
	a := scanPaths(t, o, filepath.Join("testdata", "edge.log"))
	other := o
	other.Top = 3
	b := scanPaths(t, other, filepath.Join("testdata", "edge.log"))
	if err := a.Merge(b); err == nil {
		t.Fatal("scans with different --top merged")
	}
	// The grace decides issued_during_grace against issued_after_rotation.
	other = o
	other.Policy.Grace = o.Policy.Grace + time.Minute
	c := scanPaths(t, other, filepath.Join("testdata", "edge.log"))
	if err := a.Merge(c); err == nil || !strings.Contains(err.Error(), "--rotation.grace") {
		t.Fatalf("scans with different --rotation.grace: %v", err)
	}
	if _, err := FromReport(Report{}); err == nil {
		t.Fatal("a report without state read")
	}
}

// TestParallelIsSequential scans the incident corpus as one plain file
// split in byte ranges across 2 to 7 scanners, and as the three committed
// files across three, and finds the sequential report each time.
func TestParallelIsSequential(t *testing.T) {
	k := newTestKeys()
	o := incidentOptions(k)
	one := filepath.Join(t.TempDir(), "all.log")
	if err := os.WriteFile(one, bytes.Join(corpus(t), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	want := scanPaths(t, o, one).Report()
	for _, workers := range []int{2, 3, 4, 7} {
		f, size, err := OpenInput(one)
		if err != nil {
			t.Fatal(err)
		}
		p := NewParallel(o, workers)
		p.minRange = 1
		s, err := p.Scan([]Job{{Name: "all.log", R: f, Size: size}})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(s.inputs); got != 1 {
			t.Fatalf("%d inputs reported, want 1", got)
		}
		sameReport(t, strconv.Itoa(workers)+" ranges", s.Report(), want)
		if pr := p.Progress(); pr.Lines != want.Lines.Read || pr.Bytes != size {
			t.Errorf("progress %+v, want %d lines and %d bytes", pr, want.Lines.Read, size)
		}
	}

	var jobs []Job
	var paths []string
	for _, name := range inputs {
		path := filepath.Join("testdata", name)
		paths = append(paths, path)
		f, size, err := OpenInput(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		jobs = append(jobs, Job{Name: filepath.Base(path), R: f, Size: size})
	}
	s, err := NewParallel(o, 3).Scan(jobs)
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, "three files on three scanners", s.Report(), scanPaths(t, o, paths...).Report())
}

// TestLineBounds: every range starts at a line start and they cover the file.
func TestLineBounds(t *testing.T) {
	data := []byte("a\nbb\n\nccc\ndddd\ne")
	for n := 1; n <= 8; n++ {
		b, err := lineBounds(bytes.NewReader(data), int64(len(data)), n)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0 || b[len(b)-1] != int64(len(data)) {
			t.Fatalf("%d: bounds %v do not cover the data", n, b)
		}
		for _, at := range b[1 : len(b)-1] {
			if data[at-1] != '\n' {
				t.Fatalf("%d: bound %d is not a line start", n, at)
			}
		}
	}
}
