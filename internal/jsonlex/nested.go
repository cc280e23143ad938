package jsonlex

// StdlibDepth is encoding/json's nesting limit: its Valid rejects what nests
// deeper. Token headers and claims are judged against it, not MaxDepth, so
// that a verdict does not depend on the lexer a decoder happens to use.
const StdlibDepth = 10000

// What SkipNested expects next.
const (
	wantValue      = iota // a value
	wantValueOrEnd        // after '[': a value or ']'
	wantKeyOrEnd          // after '{': a key or '}'
	wantKey               // after ',' in an object
	wantColon             // after a key
	wantNext              // after a value: ',' or the closing bracket
)

// SkipNested is Skip without recursion, for input that may nest up to
// limit levels (at most StdlibDepth): depth is the nesting level a
// container at b[i] has. Hostile input nested thousands deep costs no stack
// and no allocation.
func SkipNested(b []byte, i, depth, limit int) int {
	limit = min(limit, StdlibDepth)
	var objs [StdlibDepth/64 + 1]uint64 // bit k: the k-th container open here is an object
	open := 0                           // containers open
	state := wantValue
	for {
		i = SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		c := b[i]
		switch state {
		case wantColon:
			if c != ':' {
				return -1
			}
			i++
			state = wantValue
			continue
		case wantNext:
			obj := objs[(open-1)>>6]>>((open-1)&63)&1 != 0
			switch {
			case c == ',' && obj:
				i, state = i+1, wantKey
				continue
			case c == ',':
				i, state = i+1, wantValue
				continue
			case c == '}' && obj, c == ']' && !obj:
				i, open = i+1, open-1
				if open == 0 {
					return i
				}
				continue
			}
			return -1
		case wantKeyOrEnd, wantKey:
			if c == '}' && state == wantKeyOrEnd {
				i, open = i+1, open-1
				if open == 0 {
					return i
				}
				state = wantNext
				continue
			}
			if c != '"' {
				return -1
			}
			if i, _ = String(b, i); i < 0 {
				return -1
			}
			state = wantColon
			continue
		case wantValueOrEnd:
			if c == ']' {
				i, open = i+1, open-1
				if open == 0 {
					return i
				}
				state = wantNext
				continue
			}
		}
		// A value.
		switch {
		case c == '"':
			i, _ = String(b, i)
		case c == '{' || c == '[':
			if depth+open > limit {
				return -1
			}
			bit := uint64(1) << (open & 63)
			if c == '{' {
				objs[open>>6] |= bit
				state = wantKeyOrEnd
			} else {
				objs[open>>6] &^= bit
				state = wantValueOrEnd
			}
			open++
			i++
			continue
		case c == '-' || isDigit(c):
			i = Number(b, i)
		default:
			i = Literal(b, i)
		}
		if i < 0 || open == 0 {
			return i
		}
		state = wantNext
	}
}
