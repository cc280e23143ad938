package jsonlex

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// randomBytes returns n bytes drawn from alphabet.
func randomBytes(r *rand.Rand, alphabet string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// TestSpecialMaskLowest pins what String relies on: the lowest flag of
// SpecialMask is the first special byte.
func TestSpecialMaskLowest(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "\x00\x01\x1f !\"#[\\]aZ\x7f\x80\xdc\xff"
	for range 200000 {
		word := randomBytes(r, alphabet, 8)
		want := 8
		for i, c := range word {
			if special(c) {
				want = i
				break
			}
		}
		got := bits.TrailingZeros64(SpecialMask(binary.LittleEndian.Uint64(word))) / 8
		if got != want {
			t.Fatalf("%q: first special at %d, mask says %d", word, want, got)
		}
	}
}

// refString is String written plainly, byte by byte.
func refString(b []byte, i int) (int, bool) {
	esc := false
	for i++; i < len(b); {
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
			i++
		}
	}
	return -1, false
}

func TestString(t *testing.T) {
	tests := []struct {
		name, in string
		end      int
		esc      bool
	}{
		{"empty", `""`, 2, false},
		{"short", `"abc",`, 5, false},
		{"eight", `"abcdefgh"}`, 10, false},
		{"long", `"` + string(bytes.Repeat([]byte("x"), 100)) + `"}`, 102, false},
		{"at the end", `"abc"`, 5, false},
		{"escaped quote", `"a\"b"`, 6, true},
		{"unicode", `"\u00e9"`, 8, true},
		{"unterminated", `"abc`, -1, false},
		{"control", "\"a\tb\"", -1, false},
		{"bad escape", `"a\xb"`, -1, false},
		{"short unicode", `"\u00"`, -1, false},
		{"non-ASCII", `"café"`, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, esc := String([]byte(tt.in), 0)
			if end != tt.end || esc != tt.esc {
				t.Fatalf("got %d %v, want %d %v", end, esc, tt.end, tt.esc)
			}
		})
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aaaaaaaaZ9 \"\\/bnu0e\x00\x1f\xc3\xa9"
	for range 100000 {
		b := append([]byte{'"'}, randomBytes(r, alphabet, r.IntN(40))...)
		gotEnd, gotEsc := String(b, 0)
		wantEnd, wantEsc := refString(b, 0)
		if gotEnd != wantEnd || gotEsc != wantEsc {
			t.Fatalf("%q: got %d %v, want %d %v", b, gotEnd, gotEsc, wantEnd, wantEsc)
		}
	}
}

// TestUnescape checks Unescape against encoding/json.
func TestUnescape(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "Bearer ", "eyJ", "é", `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`,
		`\u0065`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\udc00x`, "0123456789abcdef"}
	for range 20000 {
		var raw []byte
		for range r.IntN(12) {
			raw = append(raw, pieces[r.IntN(len(pieces))]...)
		}
		var want string
		if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &want); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := Unescape(nil, raw); string(got) != want {
			t.Fatalf("%q: got %q, want %q", raw, got, want)
		}
	}
}

func TestSpecialMaskAny(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	for _, bg := range []byte{'a', ' ', '!', '#', 0x7f, 0x80, 0xff, '"' + 1, '\\' + 1} {
		for pos := range 8 {
			for c := range 256 {
				var chunk [8]byte
				for i := range chunk {
					chunk[i] = bg
				}
				chunk[pos] = byte(c)
				want := special(bg) || special(byte(c))
				if got := SpecialMask(binary.LittleEndian.Uint64(chunk[:])) != 0; got != want {
					t.Fatalf("%q: got %v, want %v", chunk, got, want)
				}
			}
		}
	}
}
