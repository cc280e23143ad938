package jsonlex

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Plain reports whether b has no backslash and no control byte (below
// 0x20). In such input no string has an escape, so every string ends at
// the next quote, and every string is valid whatever it holds: what is left
// of JSON's rules is the order of what stands between the strings. Logged
// JSON is nearly always plain; an escaped quote, a tab or a NUL run left by
// a crash is not.
func Plain(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return false
	}
	// Four words at a time, with the flags ORed: the test is branch-free
	// until the end.
	var m0, m1, m2, m3 uint64
	i := 0
	for ; i+32 <= len(b); i += 32 {
		w := b[i : i+32 : i+32]
		x0, x1 := binary.LittleEndian.Uint64(w[0:8]), binary.LittleEndian.Uint64(w[8:16])
		x2, x3 := binary.LittleEndian.Uint64(w[16:24]), binary.LittleEndian.Uint64(w[24:32])
		m0 |= (x0 - lsb*0x20) &^ x0
		m1 |= (x1 - lsb*0x20) &^ x1
		m2 |= (x2 - lsb*0x20) &^ x2
		m3 |= (x3 - lsb*0x20) &^ x3
	}
	if (m0|m1|m2|m3)&msb != 0 {
		return false
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 {
			return false
		}
	}
	return true
}

// QuoteEnd returns the offset after the quote that closes the string whose
// opening quote is at b[i], in plain input (see Plain), -1 when there is
// none.
func QuoteEnd(b []byte, i int) int {
	i++
	// Most strings are short: a few words hold the closing quote, and
	// looking at them costs less than setting up IndexByte.
	for k := 0; k < 4 && i+8 <= len(b); k++ {
		if m := ZeroBytes(binary.LittleEndian.Uint64(b[i:i+8:i+8]) ^ (lsb * '"')); m != 0 {
			return i + bits.TrailingZeros64(m)/8 + 1
		}
		i += 8
	}
	j := bytes.IndexByte(b[i:], '"')
	if j < 0 {
		return -1
	}
	return i + j + 1
}

// Jump returns the offset after the closing bracket of the container whose
// opening bracket (open, '{' or '[') is at b[i-1] — whose contents continue
// at b[i] — in Plain input, without reading the contents: its brackets are
// found with IndexByte and told in or out of strings by the parity of the
// quotes before them. It returns -1 when the answer cannot be had that way
// (a bracket of the other kind in between, in a string or not; nesting
// deeper than MaxDepth counting from depth, the container's level; no
// close at all): then the contents must be read (SkipPlain).
//
// For valid JSON the answer is the container's end. It is never the end of
// the object of a line cut short, alone or followed by the next record:
// the cut leaves a bracket open, and the record that follows, its quotes
// and brackets paired, cannot close it; or the cut leaves a string open,
// and then no bracket after it is counted in its place. What goes unread is
// the order of what stands between the strings: a missing comma or colon,
// a malformed number, is not noticed.
//
// square says b may hold '[' or ']': without them (SquareFree), a '{' container
// needs no look for other brackets.
func Jump(b []byte, i int, open byte, depth int, square bool) int {
	close, other1, other2 := byte('}'), byte('['), byte(']')
	if open == '[' {
		close, other1, other2 = ']', '{', '}'
	}
	level, quotes := 1, 0
	nextOpen, nextClose := -2, -2 // offsets found; -1: none left; -2: not looked for yet
	for from := i; ; {
		if nextClose != -1 && nextClose < from {
			nextClose = indexFrom(b, from, close)
		}
		if nextOpen != -1 && nextOpen < from {
			nextOpen = indexFrom(b, from, open)
		}
		if nextClose < 0 {
			return -1
		}
		j, opens := nextClose, false
		if nextOpen >= 0 && nextOpen < nextClose {
			j, opens = nextOpen, true
		}
		quotes += bytes.Count(b[from:j], []byte{'"'})
		from = j + 1
		if quotes%2 != 0 {
			continue // in a string
		}
		if opens {
			if depth+level > MaxDepth {
				return -1
			}
			if j+1 < len(b) && b[j+1] == close {
				from = j + 2 // an empty container ("query":{}): no quote in it
				continue
			}
			level++
			continue
		}
		if level--; level == 0 {
			if seg := b[i:j]; (square || open == '[') && (bytes.IndexByte(seg, other1) >= 0 || bytes.IndexByte(seg, other2) >= 0) {
				return -1
			}
			return j + 1
		}
	}
}

// SquareFree reports whether b has no '[' and no ']'; Jump then spares
// itself a look for them in every '{' container.
func SquareFree(b []byte) bool { return bytes.IndexByte(b, '[') < 0 && bytes.IndexByte(b, ']') < 0 }

func indexFrom(b []byte, from int, c byte) int {
	j := bytes.IndexByte(b[from:], c)
	if j < 0 {
		return -1
	}
	return from + j
}
