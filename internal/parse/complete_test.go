package parse

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// completeCorpus is every line of the sample logs, the pino-http ones also
// without their ETag (whose escaped quotes keep a line off the shortcut),
// the lines the benchmark generates, and the committed incident of
// internal/scan.
func completeCorpus(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, src := range []string{"pino-http.log", "json-other.log", "nginx.log", "envoy.log", "nest-text.log", "no-token.log", "garbage.log", "cri.log"} {
		out = append(out, readLines(t, src)...)
	}
	for _, l := range readLines(t, "pino-http.log") {
		out = append(out, bytes.ReplaceAll(l, []byte(`,"etag":"W/\"264-8Jm0Yk3kP1dKqGmGQ3eG2Cw\""`), nil))
	}
	for _, l := range generatedLines(t)[:4] {
		out = append(out, []byte(l))
	}
	b, err := os.ReadFile(filepath.Join("..", "scan", "testdata", "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, bytes.Split(bytes.TrimSpace(b), []byte("\n"))[:40]...)
	plain := 0
	for _, l := range out {
		if jsonlex.Plain(l) && bytes.HasPrefix(l, []byte("{")) {
			plain++
		}
	}
	if plain < 40 {
		t.Fatalf("only %d plain JSON lines: the shortcut is hardly tested", plain)
	}
	return out
}

// sameAsValidated fails unless ParseLine of a complete line gives what
// ParseString (which validates every byte) gives, in every configuration.
func sameAsValidated(t *testing.T, parsers []*Parser, line []byte, what string) {
	t.Helper()
	for _, p := range parsers {
		want, wantErr := p.ParseString(string(line))
		got, gotErr := p.ParseLine(string(line), true)
		if got != want || gotErr != wantErr {
			t.Fatalf("%s, format %s: ParseLine gives %v (token %d bytes, status %d, time %v), ParseString %v (token %d bytes, status %d, time %v)\nline %q",
				what, p.format, gotErr, len(got.Token), got.Status, got.Time, wantErr, len(want.Token), want.Status, want.Time, line)
		}
	}
}

// TestParseLineAgrees shows that not validating a complete line whole
// changes nothing on the sample logs, the generated lines and the scan
// corpus, nor on the ways a line gets broken: cut short (a writer that
// died, a disk that filled), cut short and followed by the next record,
// zeroed in places (a crash before the data reached the disk), or with a
// control byte, a backslash, a quote or a bracket inserted anywhere, or a
// quote, bracket or backslash dropped. CI (JWTWATCH_SLOW=1) tries every
// position of every line; a plain run, a sample of them.
func TestParseLineAgrees(t *testing.T) {
	var parsers []*Parser
	for _, cfg := range []Config{cfgAuto, cfgPino, cfgNginxRe} {
		parsers = append(parsers, mustNew(t, cfg))
	}
	lines := completeCorpus(t)
	r := rand.New(rand.NewPCG(21, 22))
	// Every position with JWTWATCH_SLOW=1 (as CI runs), else a sample.
	positions := func(n int) []int {
		var at []int
		for i := 0; i <= n; i++ {
			if os.Getenv("JWTWATCH_SLOW") != "" || i == 0 || i == n || r.IntN(n+1) < 16 {
				at = append(at, i)
			}
		}
		return at
	}
	n := 0
	check := func(line []byte, what string) {
		sameAsValidated(t, parsers, line, what)
		n++
	}
	for li, line := range lines {
		check(line, "as written")
		next := lines[(li+1)%len(lines)]
		for _, cut := range positions(len(line) - 1) {
			check(line[:cut], fmt.Sprintf("cut at %d", cut))
			check(append(bytes.Clone(line[:cut]), next...), fmt.Sprintf("cut at %d, then the next record", cut))
		}
		for _, at := range positions(len(line)) {
			for _, c := range []byte{0, 0x01, '\t', 0x1f, '\\', '"', '{', '}', '[', ']'} {
				check(append(append(append([]byte{}, line[:at]...), c), line[at:]...), fmt.Sprintf("%q inserted at %d", c, at))
			}
			if at < len(line) {
				switch line[at] {
				case '"', '{', '}', '[', ']', '\\':
					check(append(append([]byte{}, line[:at]...), line[at+1:]...), fmt.Sprintf("%q dropped at %d", line[at], at))
				}
			}
		}
		for range 16 {
			at := r.IntN(len(line) + 1)
			z := bytes.Clone(line)
			clear(z[at:min(len(z), at+1+r.IntN(64))])
			check(z, fmt.Sprintf("zeros from %d", at))
		}
	}
	t.Logf("%d lines, each parsed both ways in %d configurations", n, len(parsers))
}

// TestParseLineTrusts pins what a complete line is not checked for: the
// order of what stands between the strings of a container that holds
// neither the token, the status nor the time. Such a line is read as the
// object it nearly is, where ParseString falls back to reading it as text.
func TestParseLineTrusts(t *testing.T) {
	line := generatedLines(t)[0]
	broken := bytes.Replace([]byte(line), []byte(`"accept":"application/json",`), []byte(`"accept":"application/json" `), 1)
	if bytes.Equal(broken, []byte(line)) {
		t.Fatal("the generated line changed shape")
	}
	p := mustNew(t, cfgAuto)
	complete, err := p.ParseLine(string(broken), true)
	if err != nil || complete.Status != 200 || complete.Time.IsZero() {
		t.Errorf("ParseLine: %v, status %d, time %v; want the JSON fields", err, complete.Status, complete.Time)
	}
	text, err := p.ParseString(string(broken))
	if err != nil || text.Status != 0 || !text.Time.IsZero() || text.Token != complete.Token {
		t.Errorf("ParseString: %v, status %d, time %v; want the token read as text, without status and time", err, text.Status, text.Time)
	}
}
