package parse

import (
	"bytes"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// What anchoredToken could tell.
const (
	anchorFound  = iota // the token
	anchorNone          // the line has no authorization key with a usable value
	anchorUnsure        // the walker must look
)

// anchoredToken finds, in a plain line (jsonlex.Plain) that is one JSON
// object, the token the walker would take from an "authorization" key in
// auto mode: the first such key (any case, any depth) whose value, or whose
// list's first element, is a Bearer credential. It does not walk the line:
// in plain JSON a quoted name followed by a colon, after an even number of
// quotes, is a key, so it looks at each 'z' or 'Z' that could be the one in
// "authorization".
//
// A value it does not read the way the walker does (a list in a list) makes
// it unsure. What it finds is the walker's only if the line is indeed JSON:
// the caller still walks it (jsonWalker.jump) to tell.
func anchoredToken(b []byte) ([]byte, int) {
	lower, upper := -2, -2 // next 'z' and 'Z' at or after pos; -1: none
	for pos := 0; ; {
		if lower != -1 && lower < pos {
			lower = indexByteFrom(b, pos, 'z')
		}
		if upper != -1 && upper < pos {
			upper = indexByteFrom(b, pos, 'Z')
		}
		z := lower
		if z < 0 || (upper >= 0 && upper < z) {
			z = upper
		}
		if z < 0 {
			return nil, anchorNone
		}
		pos = z + 1
		open, end := z-len("authori")-1, z+len("zation") // the quotes around the name
		if open < 0 || end >= len(b) || b[open] != '"' || b[end] != '"' || !isAuthorization(b[open+1:end]) ||
			bytes.Count(b[:open], []byte{'"'})%2 != 0 {
			continue
		}
		i := jsonlex.SkipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			continue // a value, not a key
		}
		i = jsonlex.SkipSpace(b, i+1)
		if i < len(b) && b[i] == '[' {
			if i = jsonlex.SkipSpace(b, i+1); i < len(b) && b[i] == '[' {
				return nil, anchorUnsure
			}
		}
		if i >= len(b) || b[i] != '"' {
			continue // no string there: no token from this key
		}
		e := jsonlex.QuoteEnd(b, i)
		if e < 0 {
			return nil, anchorUnsure
		}
		if v, ok := headerBearer(b[i+1 : e-1]); ok {
			return v, anchorFound
		}
		pos = max(pos, e)
	}
}

// mayHaveToken reports whether a token can be found anywhere in b: every
// finder needs "eyJ" or "bearer" (any case) in the bytes.
func mayHaveToken(b []byte) bool {
	if bytes.Contains(b, []byte("eyJ")) {
		return true
	}
	for _, c := range []byte{'b', 'B'} {
		for from := 0; ; {
			j := indexByteFrom(b, from, c)
			if j < 0 {
				break
			}
			if hasFoldPrefix(b[j:], "bearer") {
				return true
			}
			from = j + 1
		}
	}
	return false
}
