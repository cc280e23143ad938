package parse

import (
	"bytes"
	"encoding/binary"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds object and array nesting. Gateway log lines are a few
// levels deep; deeper lines are rejected as invalid rather than recursed
// into.
const maxDepth = 128

// Where a value's content goes, as bits: one per field, in field order.
const (
	roleToken  = 1 << fieldToken
	roleStatus = 1 << fieldStatus
	roleTime   = 1 << fieldTime
)

// frame is the walker's position for the values of one container. It has
// no arrays so that it travels in registers.
type frame struct {
	depth     int32 // nesting level of the container, 1 for the line's object
	statusObj bool  // auto: inside a top-level "res" or "response" object
	// json: offset of the unmatched rest of each path, -1 when off the path
	tok, status, time int32
}

// childFrame returns the frame of a container at depth that no configured
// path continues into.
func childFrame(depth int32) frame {
	return frame{depth: depth, tok: -1, status: -1, time: -1}
}

// jsonWalker validates one JSON object with a single pass over its bytes
// and keeps only the values it needs, instead of decoding the line: token
// candidates are slices of the line, and it allocates only to keep a token
// that was written with escapes (or to decode a long escaped string).
//
// In auto mode (paths nil) the token is the Bearer value of an
// "authorization" key (any case) at any depth, else a Bearer value or a raw
// JWT inside any string value; the status comes from statusCode, status or
// status_code at the top level or in a top-level res or response object;
// the time from a top-level time, timestamp, @timestamp or ts. In json
// format the configured paths name the fields. The first usable value wins.
type jsonWalker struct {
	b     []byte
	i     int
	paths *[numFields]string // json format; nil in auto mode

	tok, bearer, raw []byte // token candidates, nil when none
	status           int
	ts               time.Time
}

// run reports whether b is exactly one JSON object (surrounded by optional
// whitespace), collecting fields on the way.
func (w *jsonWalker) run() bool {
	w.skipWS()
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return false
	}
	f := childFrame(1)
	if w.paths != nil {
		for k, off := range []*int32{&f.tok, &f.status, &f.time} {
			if w.paths[k] != "" {
				*off = 0
			}
		}
	}
	if !w.object(f) {
		return false
	}
	w.skipWS()
	return w.i == len(w.b)
}

func (w *jsonWalker) skipWS() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// object consumes an object starting at w.i; f describes the object.
func (w *jsonWalker) object(f frame) bool {
	if f.depth > maxDepth {
		return false
	}
	w.i++ // '{'
	w.skipWS()
	if w.i < len(w.b) && w.b[w.i] == '}' {
		w.i++
		return true
	}
	for {
		if w.i >= len(w.b) || w.b[w.i] != '"' {
			return false
		}
		key, esc, ok := w.str()
		if !ok {
			return false
		}
		if esc {
			var buf [64]byte // escaped keys are rare and short
			key = unescape(buf[:0], key)
		}
		w.skipWS()
		if w.i >= len(w.b) || w.b[w.i] != ':' {
			return false
		}
		w.i++
		role, child := w.classify(f, key)
		if !w.value(child, role) {
			return false
		}
		w.skipWS()
		if w.i >= len(w.b) {
			return false
		}
		switch w.b[w.i] {
		case ',':
			w.i++
			w.skipWS()
		case '}':
			w.i++
			return true
		default:
			return false
		}
	}
}

// array consumes an array starting at w.i. Only its first element can be
// the token: headers logged as lists (Go's http.Header, Caddy) hold the
// value there.
func (w *jsonWalker) array(f frame, role int) bool {
	if f.depth > maxDepth {
		return false
	}
	w.i++ // '['
	w.skipWS()
	if w.i < len(w.b) && w.b[w.i] == ']' {
		w.i++
		return true
	}
	elem := childFrame(f.depth + 1)
	role &= roleToken
	for {
		if !w.value(elem, role) {
			return false
		}
		role = 0
		w.skipWS()
		if w.i >= len(w.b) {
			return false
		}
		switch w.b[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			return true
		default:
			return false
		}
	}
}

// value consumes any value; f is the frame a container value would have.
func (w *jsonWalker) value(f frame, role int) bool {
	w.skipWS()
	if w.i >= len(w.b) {
		return false
	}
	switch c := w.b[w.i]; {
	case c == '{':
		return w.object(f)
	case c == '[':
		return w.array(f, role)
	case c == '"':
		s, esc, ok := w.str()
		if !ok {
			return false
		}
		switch {
		case role == 0 && !w.scanStrings():
		case !esc:
			w.take(w.examine(s, role))
		default:
			// Decode into a scratch buffer and copy only what is kept:
			// lines without a token then cost no allocation even when
			// their strings have escapes.
			var buf [256]byte
			f := w.examine(unescape(buf[:0], s), role)
			w.take(finds{bytes.Clone(f.tok), bytes.Clone(f.bearer), bytes.Clone(f.raw)})
		}
		return true
	case c == '-' || isDigit(c):
		n, ok := w.number()
		if ok && role != 0 {
			w.onNumber(n, role)
		}
		return ok
	case c == 't':
		return w.literal("true")
	case c == 'f':
		return w.literal("false")
	case c == 'n':
		return w.literal("null")
	}
	return false
}

// classify decides what the value of key means and the frame it gets if it
// is a container.
func (w *jsonWalker) classify(f frame, key []byte) (int, frame) {
	child := childFrame(f.depth + 1)
	role := 0
	if w.paths == nil {
		if equalFold(key, "authorization") {
			role |= roleToken
		}
		switch {
		case f.depth == 1:
			switch string(key) {
			case "time", "timestamp", "@timestamp", "ts":
				role |= roleTime
			case "statusCode", "status", "status_code":
				role |= roleStatus
			case "res", "response":
				child.statusObj = true
			}
		case f.statusObj:
			switch string(key) {
			case "statusCode", "status", "status_code":
				role |= roleStatus
			}
		}
		return role, child
	}
	if f.tok < 0 && f.status < 0 && f.time < 0 {
		return 0, child // off every path: the common case
	}
	var hit bool
	if hit, child.tok = matchKey(w.paths[fieldToken], f.tok, key); hit {
		role |= roleToken
	}
	if hit, child.status = matchKey(w.paths[fieldStatus], f.status, key); hit {
		role |= roleStatus
	}
	if hit, child.time = matchKey(w.paths[fieldTime], f.time, key); hit {
		role |= roleTime
	}
	return role, child
}

// matchKey matches key against path from offset off (-1: off the path). It
// reports whether key is the path's last key, matched in any case as header
// names are, and otherwise the offset of the rest of the path inside key's
// value (-1 when key is not on the path). A key may itself contain dots
// ("http.request"), so paths match key by key and across dotted keys alike.
func matchKey(path string, off int32, key []byte) (bool, int32) {
	if off < 0 {
		return false, -1
	}
	rest := path[off:]
	switch {
	case equalFold(key, rest):
		return true, -1
	case len(rest) > len(key) && rest[len(key)] == '.' && rest[:len(key)] == string(key):
		return false, off + int32(len(key)) + 1
	}
	return false, -1
}

// scanStrings reports whether auto mode still looks for tokens inside
// arbitrary string values.
func (w *jsonWalker) scanStrings() bool { return w.paths == nil && w.tok == nil }

// finds are the token candidates one string yields; nil when none.
type finds struct{ tok, bearer, raw []byte }

// examine applies role to the string s and returns the token candidates in
// it that are still wanted.
func (w *jsonWalker) examine(s []byte, role int) finds {
	var f finds
	if role&roleToken != 0 && w.tok == nil {
		var v []byte
		var ok bool
		if w.paths == nil {
			v, ok = headerBearer(s)
		} else {
			v, ok = explicitToken(s)
		}
		if ok {
			f.tok = v
		}
	}
	if role&roleStatus != 0 && w.status == 0 {
		w.status = parseStatus(s)
	}
	if role&roleTime != 0 && w.ts.IsZero() {
		w.ts = parseTimestamp(s)
	}
	if f.tok == nil && w.scanStrings() {
		if w.bearer == nil {
			if v, ok := findBearer(s); ok {
				f.bearer = v
			}
		}
		if w.raw == nil {
			if v, ok := findRawJWT(s); ok {
				f.raw = v
			}
		}
	}
	return f
}

// take keeps the first candidate of each kind.
func (w *jsonWalker) take(f finds) {
	if w.tok == nil {
		w.tok = f.tok
	}
	if w.bearer == nil {
		w.bearer = f.bearer
	}
	if w.raw == nil {
		w.raw = f.raw
	}
}

func (w *jsonWalker) onNumber(n []byte, role int) {
	if role&roleStatus != 0 && w.status == 0 {
		w.status = parseStatus(n)
	}
	if role&roleTime != 0 && w.ts.IsZero() {
		w.ts = parseEpoch(n)
	}
}

// str consumes a string starting at w.i and returns its raw contents and
// whether they contain escapes.
func (w *jsonWalker) str() ([]byte, bool, bool) {
	b := w.b
	start := w.i + 1
	esc := false
	for i := start; ; {
		// Most string bytes are plain: skip them eight at a time.
		for i+8 <= len(b) && !hasSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return nil, false, false
		}
		switch c := b[i]; {
		case c == '"':
			w.i = i + 1
			return b[start:i], esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return nil, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(b) || hex4(b[i+2:i+6]) < 0 {
					return nil, false, false
				}
				i += 6
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			i++
		}
	}
}

// hasSpecial reports whether any byte of x is a quote, a backslash or a
// control character, with the usual SWAR zero-byte test: for each probe,
// (v - 0x01..) &^ v has a byte's top bit set exactly when some byte of v is
// zero (or, for the control test, below 0x20).
func hasSpecial(x uint64) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x|(q-lsb)&^q|(s-lsb)&^s)&msb != 0
}

// number consumes a JSON number starting at w.i.
func (w *jsonWalker) number() ([]byte, bool) {
	b, start, i := w.b, w.i, w.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return nil, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return nil, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	w.i = i
	return b[start:i], true
}

func (w *jsonWalker) literal(lit string) bool {
	if len(w.b)-w.i < len(lit) || string(w.b[w.i:w.i+len(lit)]) != lit {
		return false
	}
	w.i += len(lit)
	return true
}

// hex4 decodes four hex digits, -1 when they are not.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unescape appends the decoded contents of a JSON string already validated
// by str to out. Like encoding/json it turns unpaired surrogates and
// invalid UTF-8 into U+FFFD.
func unescape(out, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
						r = d
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // '"', '\\', '/'
				out = append(out, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	return out
}
