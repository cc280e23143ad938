package parse

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// corpusLines returns every line of every sample log, plus the pino-http
// lines without their ETag header, whose escaped quotes keep them from being
// plain.
func corpusLines(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, src := range []string{"pino-http.log", "json-other.log", "nginx.log", "envoy.log", "nest-text.log", "no-token.log", "garbage.log", "cri.log"} {
		out = append(out, readLines(tb, src)...)
	}
	for _, l := range readLines(tb, "pino-http.log") {
		out = append(out, bytes.ReplaceAll(l, []byte(`\"`), nil))
	}
	return out
}

// walkPaths are the modes walkBoth walks in: auto, then two json formats.
var walkPaths = []*[numFields]string{nil,
	{"req.headers.authorization", "res.statusCode", "time"},
	{"http.request.headers.authorization", "http.response.status_code", "event.created"},
}

// walkBoth walks line once validating every byte and once as the parser
// does (not reading the bytes inside strings of a plain line), in auto mode
// and along each set of paths, and fails on any difference.
func walkBoth(t testing.TB, line []byte, what string) {
	t.Helper()
	plain := jsonlex.Plain(line)
	for _, paths := range walkPaths {
		full := jsonWalker{b: line, paths: paths}
		fast := jsonWalker{b: line, paths: paths, plain: plain}
		okFull, okFast := full.run(), fast.run()
		if okFull != okFast || !bytes.Equal(full.tok, fast.tok) || !bytes.Equal(full.bearer, fast.bearer) ||
			!bytes.Equal(full.raw, fast.raw) || full.status != fast.status || !full.ts.Equal(fast.ts) {
			t.Fatalf("%s (plain %v, paths %v): validating walk %v, plain walk %v\nline %q", what, plain, paths != nil, okFull, okFast, line)
		}
	}
}

// TestPlainWalkAgrees shows that not reading the bytes inside the strings
// of a plain line changes nothing, on the sample logs and on every way a
// line gets broken: cut short (a writer that died, a disk that filled),
// cut short and followed by the next record, zeroed (a crash before the
// data reached the disk), or with a byte inserted or dropped anywhere.
func TestPlainWalkAgrees(t *testing.T) {
	lines := corpusLines(t)
	r := rand.New(rand.NewPCG(21, 22))
	n := 0
	check := func(line []byte, what string) {
		walkBoth(t, line, what)
		n++
	}
	for li, line := range lines {
		check(line, "as written")
		next := lines[(li+1)%len(lines)]
		for cut := range len(line) {
			check(line[:cut], fmt.Sprintf("cut at %d", cut))
			check(append(bytes.Clone(line[:cut]), next...), fmt.Sprintf("cut at %d, then the next record", cut))
		}
		for at := 0; at < len(line); at++ {
			for _, c := range []byte{0, 0x01, '\t', ' ', 0x1f, '\\', '"', '{', '}', '[', ']', ',', ':', '0', 'e', '-', 'x'} {
				check(append(append(append([]byte{}, line[:at]...), c), line[at:]...), fmt.Sprintf("%q inserted at %d", c, at))
			}
			check(append(append([]byte{}, line[:at]...), line[at+1:]...), fmt.Sprintf("byte %d dropped", at))
		}
		for range 200 {
			at := r.IntN(len(line) + 1)
			z := bytes.Clone(line)
			clear(z[at:min(len(z), at+1+r.IntN(64))])
			check(z, fmt.Sprintf("zeros from %d", at))
		}
	}
	t.Logf("%d lines, each walked in 3 modes", n)
}
