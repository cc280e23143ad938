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
