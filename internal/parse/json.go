package parse

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// maxDepth bounds object and array nesting, as the lexer does.
const maxDepth = jsonlex.MaxDepth

// Where a value's content goes, as bits: one per field, in field order.
const (
	roleToken  = 1 << fieldToken
	roleStatus = 1 << fieldStatus
	roleTime   = 1 << fieldTime
)

// frame is what the walker looks for in the members of one container. It
// has at most four fields and no arrays so that the compiler keeps it in
// registers; the container's nesting level travels beside it.
type frame struct {
	// need holds the roles that members of the container, or values nested
	// in them, can have: once those fields are settled, the rest of the
	// container is only skipped.
	need int32
	// json: offset of the unmatched rest of each path, -1 when off the path
	tok, status, time int32
}

// offPaths returns the frame of a container that no configured path
// continues into.
func offPaths(need int32) frame { return frame{need: need, tok: -1, status: -1, time: -1} }

// jsonWalker finds the fields of one JSON object with a single pass over
// its bytes and keeps only the values it needs, instead of decoding the
// line: token candidates are slices of the line, and it allocates only to
// keep a token that was written with escapes (or to decode a long escaped
// string).
//
// In auto mode (paths nil) the token is the Bearer value of an
// "authorization" key (any case) at any depth, else a Bearer value or a raw
// JWT inside any string value; the status comes from statusCode, status or
// status_code at the top level or in a top-level res or response object;
// the time from a top-level time, timestamp, @timestamp or ts. In json
// format the configured paths name the fields. The first usable value wins.
//
// Once a container can yield nothing more (its fields are settled, or out
// of its reach), the rest of it is only validated. run reports whether the
// line is valid JSON. With plain set (jsonlex.Plain vouched for the line:
// no backslash, no control byte) the bytes inside strings are not read, as
// any of them is valid there: a string ends at its next quote.
//
// The walking methods take the offset to start at and return the offset
// after what they consumed, -1 when the line is not valid JSON: positions
// then stay in registers instead of going through w.
type jsonWalker struct {
	b     []byte
	plain bool // see above: strings end at their next quote
	// jump, for a complete plain line, skips a container by pairing its
	// brackets (jsonlex.Jump) rather than reading it; run then reports
	// whether the line is JSON as far as what it read tells.
	jump   bool
	square bool               // with jump: the line may hold '[' or ']' (jsonlex.Jump)
	paths  *[numFields]string // json format; nil in auto mode

	tok, bearer, raw []byte // token candidates, nil when none
	otherScheme      bool   // an authorization value of another scheme than Bearer
	status           int
	ts               time.Time
	settled          int32 // roles whose field is final: tok, status, ts found
}

// run reports whether b is exactly one JSON object (surrounded by optional
// whitespace), collecting fields on the way.
func (w *jsonWalker) run() bool {
	b := w.b
	i := jsonlex.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	f := offPaths(roleToken | roleStatus | roleTime)
	if w.paths != nil {
		f.need = 0
		for k, off := range []*int32{&f.tok, &f.status, &f.time} {
			if w.paths[k] != "" {
				*off = 0
				f.need |= 1 << k
			}
		}
	}
	i = w.object(i, f, 1)
	return i >= 0 && jsonlex.SkipSpace(b, i) == len(b)
}

// wants reports whether the members of a container with frame f can still
// change the result.
func (w *jsonWalker) wants(f frame) bool { return f.need&^w.settled != 0 }

// str consumes the string at b[i] and returns the offset after it and
// whether it has escapes.
func (w *jsonWalker) str(i int) (int, bool) {
	if w.plain {
		return jsonlex.QuoteEnd(w.b, i), false
	}
	return jsonlex.String(w.b, i)
}

// skipRest consumes the rest of the container at nesting level depth whose
// members or elements start at b[i], through its closing bracket; obj says
// whether it is an object.
func (w *jsonWalker) skipRest(i int, obj bool, depth int32) int {
	if w.jump {
		open := byte('[')
		if obj {
			open = '{'
		}
		if end := jsonlex.Jump(w.b, i, open, int(depth), w.square); end >= 0 {
			return end
		}
	}
	if obj {
		return jsonlex.SkipMembers(w.b, i, int(depth), w.plain)
	}
	return jsonlex.SkipElems(w.b, i, int(depth), w.plain)
}

// skip consumes the container at b[i], at nesting level depth, without
// looking into it.
func (w *jsonWalker) skip(i int, depth int32) int {
	if w.jump && depth <= maxDepth {
		if end := jsonlex.Jump(w.b, i+1, w.b[i], int(depth), w.square); end >= 0 {
			return end
		}
	}
	if w.plain {
		return jsonlex.SkipPlain(w.b, i, int(depth))
	}
	return jsonlex.Skip(w.b, i, int(depth))
}

// object consumes the object at b[i]; f describes it and depth is its
// nesting level, 1 for the line's object.
func (w *jsonWalker) object(i int, f frame, depth int32) int {
	if depth > maxDepth {
		return -1
	}
	b := w.b
	i = jsonlex.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, esc := w.str(i)
		if end < 0 {
			return -1
		}
		key := b[i+1 : end-1]
		if esc {
			var buf [64]byte // escaped keys are rare and short
			key = jsonlex.Unescape(buf[:0], key)
		}
		i = jsonlex.SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		// Decide what the value means. In auto mode any value nested here
		// may hold the token, and below the top level and outside res only
		// an authorization key means more: most keys need no call.
		role, child := int32(0), offPaths(roleToken)
		switch {
		case w.paths != nil:
			role, child = w.classifyPath(f, key)
		case autoKeyLens>>len(key)&1 != 0 && autoKeyStarts>>(key[0]&63)&1 != 0 &&
			(f.need&roleStatus != 0 || len(key) == len("authorization")):
			role, child.need = classifyAuto(f.need, depth, key)
		}
		if i = w.value(i+1, child, role, depth+1); i < 0 {
			return -1
		}
		i = jsonlex.SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = jsonlex.SkipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
		if !w.wants(f) {
			return w.skipRest(i, true, depth)
		}
	}
}

// array consumes the array at b[i]. Only its first element can be the
// token: headers logged as lists (Go's http.Header, Caddy) hold the value
// there.
func (w *jsonWalker) array(i int, role, depth int32) int {
	if depth > maxDepth {
		return -1
	}
	b := w.b
	i = jsonlex.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	elem := offPaths(0) // paths do not go through lists
	if w.paths == nil {
		elem.need = roleToken // any string may hold the token
	}
	role &= roleToken
	for {
		if role&^w.settled == 0 && !w.wants(elem) {
			return w.skipRest(i, false, depth)
		}
		if i = w.value(i, elem, role, depth+1); i < 0 {
			return -1
		}
		role = 0
		var end bool
		if i, end = jsonlex.NextElem(b, i); i < 0 || end {
			return i
		}
	}
}

// value consumes the value at b[i] (after optional whitespace); f and depth
// are the frame and nesting level a container there has.
func (w *jsonWalker) value(i int, f frame, role, depth int32) int {
	b := w.b
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, esc := w.str(i)
		if end < 0 {
			return -1
		}
		// Most strings have no role and can hold no token.
		s := b[i+1 : end-1]
		scan := w.scanStrings() && len(s) >= minTokenString && mayHoldToken(s, esc)
		switch {
		case role&^w.settled == 0 && !scan:
		case !esc:
			w.take(w.examine(s, role, scan))
		default:
			w.examineEscaped(s, role, scan)
		}
		return end
	case c == '{':
		if !w.wants(f) {
			return w.skip(i, depth)
		}
		return w.object(i, f, depth)
	case c == '[':
		return w.array(i, role, depth)
	case c == '-' || isDigit(c):
		end := jsonlex.Number(b, i)
		if end >= 0 && role != 0 {
			w.onNumber(b[i:end], role)
		}
		return end
	}
	return jsonlex.Literal(b, i)
}

// isAuthorization reports whether key is "authorization" in any case. All
// its bytes are letters, and a byte ORed with 0x20 is a lower-case letter
// only when it is that letter in either case, so two eight-byte words
// (bytes 0-7 and 5-12) compare all of them.
func isAuthorization(key []byte) bool {
	const (
		lower = 0x2020202020202020
		head  = 0x7a69726f68747561 // "authoriz", little-endian
		tail  = 0x6e6f6974617a6972 // "rization"
	)
	return len(key) == len("authorization") &&
		binary.LittleEndian.Uint64(key[:8])|lower == head &&
		binary.LittleEndian.Uint64(key[5:13])|lower == tail
}

// autoKeyLens has bit n set when some key that classifyAuto knows is n
// bytes long.
const autoKeyLens = 1<<len("ts") | 1<<len("res") | 1<<len("time") | 1<<len("status") |
	1<<len("response") | 1<<len("timestamp") | 1<<len("@timestamp") | 1<<len("status_code") |
	1<<len("authorization")

// autoKeyStarts has bit c&63 set for the first byte c of each key that
// classifyAuto knows, in either case. With autoKeyLens it spares most keys
// the call.
const autoKeyStarts = 1<<('t'&63) | 1<<('@'&63) | 1<<('s'&63) | 1<<('r'&63) | 1<<('a'&63) | 1<<('A'&63)

// classifyAuto classifies key in auto mode, in a container with need at
// nesting level depth: the token is under an authorization key anywhere,
// the status under a status key at the top level or in res or response,
// the time under a time key at the top level. It returns the role of the
// key's value and the need of the value's frame.
func classifyAuto(need, depth int32, key []byte) (int32, int32) {
	top := depth == 1
	status := need&roleStatus != 0
	// Switching on the length first leaves one or two comparisons.
	switch len(key) {
	case len("ts"), len("time"), len("timestamp"):
		if top && (string(key) == "ts" || string(key) == "time" || string(key) == "timestamp") {
			return roleTime, roleToken
		}
	case len("@timestamp"): // = len("statusCode")
		if top && string(key) == "@timestamp" {
			return roleTime, roleToken
		}
		if status && string(key) == "statusCode" {
			return roleStatus, roleToken
		}
	case len("status"), len("status_code"):
		if status && (string(key) == "status" || string(key) == "status_code") {
			return roleStatus, roleToken
		}
	case len("res"), len("response"):
		if top && (string(key) == "res" || string(key) == "response") {
			return 0, roleToken | roleStatus
		}
	case len("authorization"):
		if isAuthorization(key) {
			return roleToken, roleToken
		}
	}
	return 0, roleToken
}

// classifyPath classifies key in json format, along the configured paths.
func (w *jsonWalker) classifyPath(f frame, key []byte) (int32, frame) {
	child := offPaths(0)
	if f.tok < 0 && f.status < 0 && f.time < 0 {
		return 0, child // off every path: the common case
	}
	var role int32
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
	for k, off := range [numFields]int32{child.tok, child.status, child.time} {
		if off >= 0 {
			child.need |= 1 << k
		}
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
// it that are still wanted; scan says whether to look for a Bearer value or
// a raw JWT.
func (w *jsonWalker) examine(s []byte, role int32, scan bool) finds {
	var f finds
	role &^= w.settled
	if role&roleToken != 0 {
		var v []byte
		var ok bool
		if w.paths == nil {
			v, ok = headerBearer(s)
			if !ok && otherScheme(s) {
				w.otherScheme = true
			}
		} else {
			v, ok = explicitToken(s)
		}
		if ok {
			f.tok = v
		}
	}
	if role&roleStatus != 0 {
		w.setStatus(parseStatus(s))
	}
	if role&roleTime != 0 {
		w.setTime(parseTimestamp(s))
	}
	if f.tok == nil && scan {
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

// minTokenString is the length of the shortest string that findBearer or
// findRawJWT can find something in: "eyJ.x." ("Bearer x" is longer).
const minTokenString = len("eyJ.x.")

// mayHoldToken reports whether findBearer or findRawJWT can find anything
// in s. They need what most strings lack, "r " (the end of "Bearer ") or
// "eyJ". When escaped, s is a string's raw contents, and a \u escape, which
// can stand for any byte, counts too; other escapes cannot make either.
func mayHoldToken(s []byte, escaped bool) bool {
	const lsb = 0x0101010101010101
	switch {
	case len(s) < minTokenString:
		return false
	case len(s) < 8:
		for k := 0; k+1 < len(s); k++ {
			if s[k]|0x20 == 'r' && s[k+1] == ' ' || escaped && s[k] == '\\' && s[k+1] == 'u' ||
				s[k] == 'e' && s[k+1] == 'y' && k+2 < len(s) && s[k+2] == 'J' {
				return true
			}
		}
		return false
	}
	// A quick pass for the bytes that stand out (' ', 'J', 'u') rules out
	// most strings before holdsTokenStart looks for the sequences. The
	// last word overlaps the one before unless len(s) is a multiple of 8.
	third := uint64(' ')
	if escaped {
		third = 'u'
	}
	for i := 0; ; i += 8 {
		if i > len(s)-8 {
			i = len(s) - 8
		}
		x := binary.LittleEndian.Uint64(s[i:])
		if jsonlex.ZeroBytes(x^lsb*' ')|jsonlex.ZeroBytes(x^lsb*'J')|jsonlex.ZeroBytes(x^lsb*third) != 0 {
			return holdsTokenStart(s, escaped)
		}
		if i == len(s)-8 {
			return false
		}
	}
}

// holdsTokenStart reports whether s (at least eight bytes) has "r " (any
// case), "eyJ", or when escaped `\u`.
func holdsTokenStart(s []byte, escaped bool) bool {
	const lsb = 0x0101010101010101
	// Words start six bytes apart, so that every three-byte window is
	// inside one; the last word ends with s. Flags above a true zero byte
	// may be false: that only costs a look.
	for i := 0; ; i += 6 {
		if i > len(s)-8 {
			i = len(s) - 8
		}
		x := binary.LittleEndian.Uint64(s[i:])
		m := jsonlex.ZeroBytes((x|lsb*0x20)^lsb*'r')&(jsonlex.ZeroBytes(x^lsb*' ')>>8) |
			jsonlex.ZeroBytes(x^lsb*'e')&(jsonlex.ZeroBytes(x^lsb*'y')>>8)&(jsonlex.ZeroBytes(x^lsb*'J')>>16)
		if escaped {
			m |= jsonlex.ZeroBytes(x^lsb*'\\') & (jsonlex.ZeroBytes(x^lsb*'u') >> 8)
		}
		if m != 0 {
			return true
		}
		if i == len(s)-8 {
			return false
		}
	}
}

// examineEscaped examines the string with escapes whose raw contents are s;
// scan says whether mayHoldToken allows the finders to look. It decodes
// into a scratch buffer and copies only what is kept: lines without a
// token then cost no allocation even when their strings have escapes.
func (w *jsonWalker) examineEscaped(s []byte, role int32, scan bool) {
	var buf [256]byte
	s = jsonlex.Unescape(buf[:0], s)
	f := w.examine(s, role, scan && mayHoldToken(s, false))
	w.take(finds{bytes.Clone(f.tok), bytes.Clone(f.bearer), bytes.Clone(f.raw)})
}

// take keeps the first candidate of each kind.
func (w *jsonWalker) take(f finds) {
	if w.tok == nil && f.tok != nil {
		w.tok = f.tok
		w.settled |= roleToken
	}
	if w.bearer == nil {
		w.bearer = f.bearer
	}
	if w.raw == nil {
		w.raw = f.raw
	}
}

func (w *jsonWalker) onNumber(n []byte, role int32) {
	role &^= w.settled
	if role&roleStatus != 0 {
		w.setStatus(parseStatus(n))
	}
	if role&roleTime != 0 {
		w.setTime(parseEpoch(n))
	}
}

// setStatus keeps a usable status (not 0).
func (w *jsonWalker) setStatus(s int) {
	if s != 0 {
		w.status = s
		w.settled |= roleStatus
	}
}

// setTime keeps a usable time (not zero).
func (w *jsonWalker) setTime(t time.Time) {
	if !t.IsZero() {
		w.ts = t
		w.settled |= roleTime
	}
}
