package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// addSeeds adds every testdata line, plus a few small JSON shapes, to f.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.log"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
	for _, s := range []string{
		`{"a":{"b":"Bearer x"},"s":200,"t":1795786418}`,
		`{"a":{"b":["Bearer \u0078",1]},"s":"200","t":"2026-11-27T13:33:38Z"}`,
		`{"a.b":"eyJx.y.z","s":2e2,"t":-1,"authorization":"bearer y"}`,
		`{"res":{"statusCode":404},"time":1.5e12,"x":[{"Authorization":"Bearer \"q\\"}]}`,
		`{"a":"\ud83d\ude00\ud800","b":"\u0000\/"}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse asserts that Parse never panics, only returns its sentinels and
// never invents a token: a token is part of the line or of one of the
// line's JSON strings once unescaped.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	var parsers []*Parser
	for _, cfg := range []Config{cfgAuto, cfgPino, cfgNginxRe, cfgOptional} {
		parsers = append(parsers, mustNew(f, cfg))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, p := range parsers {
			obs, err := p.Parse(line)
			if err != nil {
				if err != ErrNoToken && err != ErrOtherScheme && err != ErrInvalidLine {
					t.Fatalf("unexpected error %v", err)
				}
				if obs != (Observation{}) {
					t.Fatal("observation not zero on error")
				}
				continue
			}
			if obs.Token == "" {
				t.Fatal("empty token without error")
			}
			if obs.Status != 0 && (obs.Status < 100 || obs.Status > 599) {
				t.Fatalf("status %d", obs.Status)
			}
			if !tokenInLine(line, obs.Token) {
				t.Fatalf("format %s: token (%d bytes) is not in the line", p.format, len(obs.Token))
			}
		}
	})
}

// tokenInLine reports whether tok is in line or in a string of the JSON
// value that starts at the line's first '{', as encoding/json decodes it.
func tokenInLine(line []byte, tok string) bool {
	if bytes.Contains(line, []byte(tok)) {
		return true
	}
	i := bytes.IndexByte(line, '{')
	if i < 0 {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(line[i:]))
	dec.UseNumber() // a number beyond float64 (1e700) is still JSON
	for {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := t.(string); ok && strings.Contains(s, tok) {
			return true
		}
	}
}

// FuzzJSONAgainstStdlib checks the hand-written JSON walker against
// encoding/json: the same lines are valid objects, and the fields it
// extracts, in auto mode and with configured paths, are the ones a
// reference walk over encoding/json's tokens finds. The walk that does not
// read the bytes inside the strings of a plain line must agree with the one
// that does, on any input.
func FuzzJSONAgainstStdlib(f *testing.F) {
	addSeeds(f)
	paths := [][numFields]string{
		{"req.headers.authorization", "res.statusCode", "time"},
		{"a.b", "s", "t"},
		{"a", "a.b", "x"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		walkBoth(t, data, "fuzz")
		w := jsonWalker{b: data}
		got := w.run()
		want := json.Valid(data) && firstByte(data) == '{' && jsonlex.SkipNested(data, 0, 1, maxDepth) >= 0 // depth: jsonlex fuzzes that against encoding/json
		if got != want {
			t.Fatalf("valid = %v, encoding/json says %v", got, want)
		}
		if !got || !utf8.Valid(data) {
			// encoding/json replaces invalid UTF-8 in every string; the
			// walker only in strings it unescapes.
			return
		}
		root, err := decodeTree(json.NewDecoder(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		compareWalk(t, "auto", &w, refWalk(root, nil))
		for i := range paths {
			w := jsonWalker{b: data, paths: &paths[i]}
			if !w.run() {
				t.Fatal("valid in auto mode only")
			}
			compareWalk(t, strings.Join(paths[i][:], ","), &w, refWalk(root, &paths[i]))
		}
	})
}

func compareWalk(t *testing.T, mode string, w *jsonWalker, ref *refResult) {
	t.Helper()
	// Only the winning token counts: the walker stops looking for
	// fallbacks once it has a better one.
	got, gotOK := effective([3][]byte{w.tok, w.bearer, w.raw}, [3]bool{w.tok != nil, w.bearer != nil, w.raw != nil})
	want, wantOK := effective([3][]byte{[]byte(ref.tok[0]), []byte(ref.tok[1]), []byte(ref.tok[2])}, ref.hasTok)
	if gotOK != wantOK || got != want {
		t.Fatalf("%s: token found %v (%d bytes), reference %v (%d bytes)", mode, gotOK, len(got), wantOK, len(want))
	}
	if w.status != ref.status || !w.ts.Equal(ref.ts) {
		t.Fatalf("%s: status %d time %v, reference %d %v", mode, w.status, w.ts, ref.status, ref.ts)
	}
}

func effective(toks [3][]byte, ok [3]bool) (string, bool) {
	for i := range toks {
		if ok[i] {
			return string(toks[i]), true
		}
	}
	return "", false
}

func firstByte(b []byte) byte {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// node is a JSON value with object keys in document order.
type node struct {
	kind byte   // '{', '[', '"', '0' (number) or 'l' (true, false, null)
	text string // string contents or number literal
	keys []string
	vals []*node
}

func decodeTree(dec *json.Decoder) (*node, error) {
	dec.UseNumber()
	var read func() (*node, error)
	read = func() (*node, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch v := tok.(type) {
		case json.Delim:
			n := &node{kind: byte(v)}
			for dec.More() {
				if v == '{' {
					k, err := dec.Token()
					if err != nil {
						return nil, err
					}
					n.keys = append(n.keys, k.(string))
				}
				child, err := read()
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, child)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case string:
			return &node{kind: '"', text: v}, nil
		case json.Number:
			return &node{kind: '0', text: string(v)}, nil
		default:
			return &node{kind: 'l'}, nil
		}
	}
	n, err := read()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return n, nil
}

type refResult struct {
	tok    [3]string // field (or authorization), bearer in a string, raw JWT
	hasTok [3]bool
	status int
	ts     time.Time
}

// refWalk applies the documented rules, independently of the walker, to a
// tree decoded by encoding/json.
func refWalk(root *node, paths *[numFields]string) *refResult {
	r := &refResult{}
	set := func(i int, find func([]byte) ([]byte, bool), s string) {
		if v, ok := find([]byte(s)); ok && !r.hasTok[i] {
			r.tok[i], r.hasTok[i] = string(v), true
		}
	}
	apply := func(v *node, role int) {
		if v.kind == '[' && len(v.vals) > 0 {
			v = v.vals[0]
			role &= roleToken
		}
		switch v.kind {
		case '"':
			if role&roleToken != 0 {
				if paths == nil {
					set(0, headerBearer, v.text)
				} else {
					set(0, explicitToken, v.text)
				}
			}
			if role&roleStatus != 0 && r.status == 0 {
				r.status = parseStatus([]byte(v.text))
			}
			if role&roleTime != 0 && r.ts.IsZero() {
				r.ts = parseTimestamp([]byte(v.text))
			}
		case '0':
			if role&roleStatus != 0 && r.status == 0 {
				r.status = parseStatus([]byte(v.text))
			}
			if role&roleTime != 0 && r.ts.IsZero() {
				r.ts = parseEpoch([]byte(v.text))
			}
		}
	}
	var walk func(n *node, depth int, statusObj bool, rest [numFields]string, live [numFields]bool)
	walk = func(n *node, depth int, statusObj bool, rest [numFields]string, live [numFields]bool) {
		if n.kind == '"' && paths == nil {
			set(1, findBearer, n.text)
			set(2, findRawJWT, n.text)
		}
		for i, child := range n.vals {
			role, childStatus := 0, false
			var childRest [numFields]string
			var childLive [numFields]bool
			if n.kind == '{' {
				key := n.keys[i]
				if paths == nil {
					if asciiFold(key, "authorization") {
						role |= roleToken
					}
					isStatus := key == "statusCode" || key == "status" || key == "status_code"
					if depth == 1 {
						if key == "time" || key == "timestamp" || key == "@timestamp" || key == "ts" {
							role |= roleTime
						}
						if isStatus {
							role |= roleStatus
						}
						childStatus = key == "res" || key == "response"
					} else if statusObj && isStatus {
						role |= roleStatus
					}
				}
				for k := range rest {
					if !live[k] {
						continue
					}
					if asciiFold(key, rest[k]) {
						role |= 1 << k
					} else if after, ok := strings.CutPrefix(rest[k], key+"."); ok {
						childRest[k], childLive[k] = after, true
					}
				}
			}
			if role != 0 {
				apply(child, role)
			}
			walk(child, depth+1, childStatus, childRest, childLive)
		}
	}
	var rest [numFields]string
	var live [numFields]bool
	if paths != nil {
		for k, p := range paths {
			rest[k], live[k] = p, p != ""
		}
	}
	walk(root, 1, false, rest, live)
	return r
}

func asciiFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}
