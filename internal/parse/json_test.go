package parse

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// randomBytes returns n bytes drawn from alphabet.
func randomBytes(r *rand.Rand, alphabet string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
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
		if !utf8.Valid(raw) || !bytes.Equal(jsonlex.Unescape(nil, raw), d) {
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
