// Package jsonlex is jwtwatch's one JSON lexer: the primitives the three
// JSON walkers (the token finder and the details reader of internal/parse,
// the header and claims reader of internal/verify) are built from. Each
// function takes the input and an offset and returns the offset after what
// it consumed, -1 when the input is not valid JSON there, so that positions
// stay in registers.
//
// There are two kinds of primitives. The validating ones (String, Number,
// Literal, Skip) accept exactly what encoding/json accepts. The plain ones
// (Plain, QuoteEnd, SkipPlain) are for input that Plain has vouched for, no
// backslash and no control byte: there every string ends at its next
// quote, so a container can be skipped by pairing quotes and brackets
// without reading its grammar.
package jsonlex

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds object and array nesting. Gateway log lines and JOSE
// headers are a few levels deep; deeper input is rejected rather than
// recursed into.
const MaxDepth = 128

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// SkipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// String validates the string whose opening quote is at b[i]. It returns
// the offset after the closing quote, -1 when the string is not valid, and
// whether the string has escapes.
//
// Most strings have no escapes, and the per-string overhead is most of what
// validating a log line costs: the loop skips plain bytes eight at a time
// and returns as soon as the first special byte is the closing quote.
func String(b []byte, i int) (int, bool) {
	for i++; i+8 <= len(b); i += 8 {
		// b[i : i+8 : i+8] rather than b[i:] spares the load the masking
		// of a pointer that could be one past the end.
		if m := SpecialMask(binary.LittleEndian.Uint64(b[i : i+8 : i+8])); m != 0 {
			i += bits.TrailingZeros64(m) / 8
			if b[i] == '"' {
				return i + 1, false
			}
			break
		}
	}
	return stringFrom(b, i)
}

// stringFrom is String from offset i inside the string.
func stringFrom(b []byte, i int) (int, bool) {
	esc := false
	for {
		// Most string bytes are plain: skip them eight at a time and jump
		// straight to the first special one.
		for i+8 <= len(b) {
			if m := SpecialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return -1, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return -1, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(b) || Hex4(b[i+2:i+6]) < 0 {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
		case c < 0x20:
			return -1, false
		default:
			i++ // only in the last eight bytes of b
		}
	}
}

// SpecialMask flags the bytes of x (little-endian) that are a quote, a
// backslash or a control character, with the usual SWAR zero-byte test: for
// each probe, (v - 0x01..) &^ v has a byte's top bit set when some byte of
// v is zero (or, for the control test, below 0x20). Borrows only run upward,
// so the lowest flag is always exact; flags above it may be false.
func SpecialMask(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (s-lsb)&^s) & msb
}

// ZeroBytes flags the zero bytes of x: the lowest flag is exact, flags
// above it may be false.
func ZeroBytes(x uint64) uint64 { return (x - lsb) &^ x & msb }

// Number validates the JSON number at b[i] and returns the offset after
// it, -1 when it is not valid.
func Number(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digitsEnd(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digitsEnd(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digitsEnd(b, i)
	}
	return i
}

func digitsEnd(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Literal validates the true, false or null at b[i] and returns the offset
// after it, -1 when there is none.
func Literal(b []byte, i int) int {
	var lit string
	switch b[i] {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	case 'n':
		lit = "null"
	default:
		return -1
	}
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// Skip validates the value at b[i] (after optional whitespace) without
// looking into it; depth is the nesting level a container there has (1 for
// a top-level one).
func Skip(b []byte, i int, depth int) int { return skip(b, i, depth, false) }

// SkipPlain is Skip for input that Plain vouched for: strings end at their
// next quote and are not read, since in such input every string is valid
// whatever it holds. What it accepts is exactly what Skip accepts.
func SkipPlain(b []byte, i int, depth int) int { return skip(b, i, depth, true) }

// SkipMembers validates the members of an object at nesting level depth,
// from the key at b[i] through the closing brace; plain says the input is
// Plain.
func SkipMembers(b []byte, i int, depth int, plain bool) int {
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i = stringEnd(b, i, plain); i < 0 {
			return -1
		}
		i = SkipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = skip(b, i+1, depth+1, plain); i < 0 {
			return -1
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// SkipElems validates the elements of an array at nesting level depth, from
// the element at b[i] through the closing bracket; plain says the input is
// Plain.
func SkipElems(b []byte, i int, depth int, plain bool) int {
	for end := false; ; {
		if i = skip(b, i, depth+1, plain); i < 0 {
			return -1
		}
		if i, end = NextElem(b, i); i < 0 || end {
			return i
		}
	}
}

// NextElem steps over what follows an array element ending at b[i]: to the
// next element after a comma, or past the closing bracket with end set; -1
// when neither follows. Every walker of arrays goes through it.
func NextElem(b []byte, i int) (next int, end bool) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return -1, false
	}
	switch b[i] {
	case ',':
		return i + 1, false
	case ']':
		return i + 1, true
	}
	return -1, false
}

func skip(b []byte, i int, depth int, plain bool) int {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i, plain)
	case c == '{':
		if depth > MaxDepth {
			return -1
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		return SkipMembers(b, i, depth, plain)
	case c == '[':
		if depth > MaxDepth {
			return -1
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		return SkipElems(b, i, depth, plain)
	case c == '-' || isDigit(c):
		return Number(b, i)
	}
	return Literal(b, i)
}

// stringEnd returns the offset after the string at b[i], -1 when it is not
// valid or does not end.
func stringEnd(b []byte, i int, plain bool) int {
	if plain {
		return QuoteEnd(b, i)
	}
	end, _ := String(b, i)
	return end
}

// Valid reports whether b is exactly one JSON value, surrounded by optional
// whitespace and nested at most MaxDepth deep: what encoding/json's Valid
// accepts, bar the depth.
func Valid(b []byte) bool {
	i := Skip(b, 0, 1)
	return i >= 0 && SkipSpace(b, i) == len(b)
}

// Hex4 decodes four hex digits, -1 when they are not.
func Hex4(b []byte) rune {
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

// plainRun returns the offset of the first backslash or non-ASCII byte in s
// at or after i, len(s) when there is none, eight bytes at a time.
func plainRun(s []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if m := (ZeroBytes(x^lsb*'\\') | x) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(s) && s[i] != '\\' && s[i] < utf8.RuneSelf {
		i++
	}
	return i
}

// Unescape appends the decoded contents of a JSON string already validated
// by String (without its quotes) to out. Like encoding/json it turns
// unpaired surrogates and invalid UTF-8 into U+FFFD.
func Unescape(out, s []byte) []byte {
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
				r := Hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = Hex4(s[i+2:])
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
			j := plainRun(s, i+1)
			out = append(out, s[i:j]...)
			i = j
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
