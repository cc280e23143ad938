package scan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

var update = flag.Bool("update", false, "rewrite testdata logs and golden files")

// scanTime is when the tests' scans run: after the logs end.
var scanTime = hm(15, 0, 0)

// incidentOptions are the options of the worked example of docs/tools.md:
// jwtwatch scan --key previous --rotation-start access=2026-11-27T09:00:00Z,
// with the command's defaults.
func incidentOptions(k testKeys) Options {
	return Options{
		Keys:      k.set(),
		Policy:    rotation.Policy{Skew: time.Minute, Grace: rotation.DefaultGrace},
		Rotations: []RotationStart{{Family: "access", Started: rotationStart, Source: SourceFlag}},
		Select:    "previous",
		Now:       func() time.Time { return scanTime },
	}
}

// scanFiles scans testdata files in order.
func scanFiles(t *testing.T, o Options, names ...string) Report {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		f, _, err := OpenInput(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Read("testdata/"+name, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return s.Report()
}

// render writes the report in every format.
func render(t *testing.T, r Report) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for ext, write := range map[string]func(*bytes.Buffer, Report) error{
		"txt":  func(b *bytes.Buffer, r Report) error { return WriteText(b, r) },
		"json": func(b *bytes.Buffer, r Report) error { return WriteJSON(b, r) },
		"csv":  func(b *bytes.Buffer, r Report) error { return WriteCSV(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatal(err)
		}
		out[ext] = b.Bytes()
	}
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./internal/scan -update and review the diff):\n%s", path, got)
	}
}

// TestGolden scans the committed incident and compares every output format
// with its golden file.
func TestGolden(t *testing.T) {
	if *update {
		writeTestdata(t)
	}
	k := newTestKeys()
	sc := newScenario(t, k)
	tests := []struct {
		name string
		opts func(Options) Options
	}{
		{"incident", func(o Options) Options { return o }},
		{"overview", func(o Options) Options {
			o.Select, o.Rotations = "", nil
			o.Notes = []string{"no rotation start given"}
			return o
		}},
		{"window", func(o Options) Options {
			o.From, o.Until = hm(12, 0, 0), hm(13, 0, 0)
			o.Top = 2
			return o
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scanFiles(t, tt.opts(incidentOptions(k)), inputs...)
			for ext, b := range render(t, r) {
				golden(t, "report-"+tt.name+"."+ext, b)
				assertNoLeak(t, ext, b, sc.tokens, k.secrets())
			}
		})
	}
}

// assertNoLeak fails when a token, a token's signature or a secret appears
// in out.
func assertNoLeak(t *testing.T, what string, out []byte, tokens, secrets []string) {
	t.Helper()
	if len(tokens) == 0 {
		t.Fatal("no tokens to look for")
	}
	text := string(out)
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s: a secret appears in the output", what)
		}
	}
	for _, tok := range tokens {
		if strings.Contains(text, tok) {
			t.Errorf("%s: a token appears in the output", what)
		}
		for i, part := range strings.Split(tok, ".") {
			// Header segments are shared by every token; payloads and
			// signatures are what identify one.
			if i > 0 && len(part) >= 16 && strings.Contains(text, part) {
				t.Errorf("%s: part %d of a token appears in the output", what, i)
			}
		}
	}
}
