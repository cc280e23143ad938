package parse

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// randomBytes returns n bytes drawn from alphabet.
func randomBytes(r *rand.Rand, alphabet string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// TestSpecialMaskLowest pins what scanString relies on: the lowest flag of
// specialMask is the first special byte.
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
		got := bits.TrailingZeros64(specialMask(binary.LittleEndian.Uint64(word))) / 8
		if got != want {
			t.Fatalf("%q: first special at %d, mask says %d", word, want, got)
		}
	}
}

// refScanString is scanString written plainly, byte by byte.
func refScanString(b []byte, i int) (int, bool) {
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
				if i+5 >= len(b) || hex4(b[i+2:i+6]) < 0 {
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

func TestScanString(t *testing.T) {
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
			end, esc := scanString([]byte(tt.in), 0)
			if end != tt.end || esc != tt.esc {
				t.Fatalf("got %d %v, want %d %v", end, esc, tt.end, tt.esc)
			}
		})
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aaaaaaaaZ9 \"\\/bnu0e\x00\x1f\xc3\xa9"
	for range 100000 {
		b := append([]byte{'"'}, randomBytes(r, alphabet, r.IntN(40))...)
		gotEnd, gotEsc := scanString(b, 0)
		wantEnd, wantEsc := refScanString(b, 0)
		if gotEnd != wantEnd || gotEsc != wantEsc {
			t.Fatalf("%q: got %d %v, want %d %v", b, gotEnd, gotEsc, wantEnd, wantEsc)
		}
	}
}

// TestUnescape checks unescape against encoding/json.
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
		if got := unescape(nil, raw); string(got) != want {
			t.Fatalf("%q: got %q, want %q", raw, got, want)
		}
	}
}

// TestMayHoldToken asserts that mayHoldToken never rules out a string in
// which findBearer or findRawJWT finds something, raw or escaped, and that
// it does rule out common strings.
func TestMayHoldToken(t *testing.T) {
	finds := func(s []byte) bool {
		_, bearer := findBearer(s)
		_, raw := findRawJWT(s)
		return bearer || raw
	}
	for _, s := range []string{"GET", "api.example.com", "/api/v1/users?page=2", "curl/8.5.0", "::ffff:10.0.0.1", "2026-11-27T13:33:38.123Z"} {
		if mayHoldToken([]byte(s), false) {
			t.Errorf("%q: may hold a token", s)
		}
	}
	for _, s := range []string{"Bearer x", "BEARER abc", "eyJ.x.", "a eyJhb.eyJ.sig b", "x Bearer  eyJ"} {
		if !mayHoldToken([]byte(s), false) {
			t.Errorf("%q: may not hold a token", s)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = "bBeEaArRyJ. x-_\\"
	for range 300000 {
		s := randomBytes(r, alphabet, r.IntN(24))
		if finds(s) && !mayHoldToken(s, false) {
			t.Fatalf("%q: finders find a token, mayHoldToken says no", s)
		}
	}
	// Escaped: encode decoded strings the way loggers might, \u escapes
	// included, and ask about the raw form.
	escapes := map[byte][]string{
		' ': {`\u0020`}, 'e': {`\u0065`}, 'y': {`\u0079`}, 'J': {`\u004a`, `\u004A`},
		'r': {`\u0072`}, '"': {`\"`, `\u0022`}, '\\': {`\\`}, '/': {`\/`}, '\n': {`\n`},
	}
	for range 300000 {
		d := randomBytes(r, "bBeaRrryJ. x\"\\/\n", r.IntN(24))
		var raw []byte
		for _, c := range d {
			if alt, ok := escapes[c]; ok && (c < ' ' || c == '"' || c == '\\' || r.IntN(4) == 0) {
				raw = append(raw, alt[r.IntN(len(alt))]...)
			} else {
				raw = append(raw, c)
			}
		}
		if !utf8.Valid(raw) || !bytes.Equal(unescape(nil, raw), d) {
			t.Fatalf("bad encoding of %q: %q", d, raw)
		}
		if finds(d) && !mayHoldToken(raw, bytes.IndexByte(raw, '\\') >= 0) {
			t.Fatalf("%q (raw %q): finders find a token, mayHoldToken says no", d, raw)
		}
	}
}

func TestIsAuthorization(t *testing.T) {
	for _, key := range []string{"authorization", "Authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"} {
		if !isAuthorization([]byte(key)) {
			t.Errorf("%q: not authorization", key)
		}
	}
	for _, key := range []string{"", "authorizatio", "authorizations", "authorizatioN ", "authorizatiom",
		"Authorisation", "remoteAddress", "authorization"[1:] + "a", "\x01uthorization", "authorizatio\x0e"} {
		if isAuthorization([]byte(key)) {
			t.Errorf("%q: authorization", key)
		}
	}
	// Every one-byte change of the name is either a case change or a miss.
	name := []byte("authorization")
	for i := range name {
		for c := range 256 {
			key := bytes.Clone(name)
			key[i] = byte(c)
			if got, want := isAuthorization(key), equalFold(key, "authorization"); got != want {
				t.Fatalf("%q: got %v, want %v", key, got, want)
			}
		}
	}
}
