package parse

import (
	"bytes"
	"time"
)

// findBearer returns the credentials after the first "Bearer" scheme in b
// (case-insensitive, followed by one or more spaces) whose value is not
// empty.
//
// When the scheme directly follows a quote, as in nginx's "$http_authorization"
// or Envoy's "%REQ(AUTHORIZATION)%", the value runs to the closing quote: that
// is the whole header value, spaces included. Otherwise it runs to the next
// space, quote or punctuation that cannot end a header inside free text.
func findBearer(b []byte) ([]byte, bool) {
	const scheme = "bearer"
	// Next 'b' and 'B' at or after pos, cached so the scan stays linear;
	// -1 means none left, -2 means not looked up yet.
	lower, upper := -2, -2
	for pos := 0; pos+len(scheme) < len(b); {
		if lower != -1 && lower < pos {
			lower = indexByteFrom(b, pos, 'b')
		}
		if upper != -1 && upper < pos {
			upper = indexByteFrom(b, pos, 'B')
		}
		j := lower
		if j < 0 || (upper >= 0 && upper < j) {
			j = upper
		}
		if j < 0 || j+len(scheme) >= len(b) {
			return nil, false
		}
		pos = j + 1
		if b[j+len(scheme)] != ' ' || !hasFoldPrefix(b[j:], scheme) || (j > 0 && isWordByte(b[j-1])) {
			continue
		}
		start := j + len(scheme)
		for start < len(b) && b[start] == ' ' {
			start++
		}
		end := start
		if j > 0 && (b[j-1] == '"' || b[j-1] == '\'') {
			q := b[j-1]
			for end < len(b) && b[end] != q {
				end++
			}
			// A backslash-escaped quote (JSON inside a text line) ends the
			// value too; the backslash is not part of it.
			if end < len(b) && end > start && b[end-1] == '\\' {
				end--
			}
		} else {
			for end < len(b) && !isTextDelim(b[end]) {
				end++
			}
		}
		if v := trimSpace(b[start:end]); len(v) > 0 {
			return v, true
		}
		pos = end
	}
	return nil, false
}

// headerBearer returns the credentials of an Authorization header value
// that uses the Bearer scheme.
func headerBearer(v []byte) ([]byte, bool) {
	v = trimSpace(v)
	if len(v) <= len("bearer") || v[len("bearer")] != ' ' || !hasFoldPrefix(v, "bearer") {
		return nil, false
	}
	v = trimSpace(v[len("bearer"):])
	return v, len(v) > 0
}

// otherScheme reports whether v, an Authorization header value, holds
// credentials of another scheme than Bearer: a scheme name (an HTTP token)
// and, after a space, something. "-", "[Redacted]" and a bare "Bearer" are
// not.
func otherScheme(v []byte) bool {
	v = trimSpace(v)
	n := 0
	for n < len(v) && isSchemeByte(v[n]) {
		n++
	}
	if n == 0 || n >= len(v) || v[n] != ' ' || len(trimSpace(v[n:])) == 0 {
		return false
	}
	return !equalFold(v[:n], "bearer")
}

// isSchemeByte reports whether c may appear in an HTTP auth scheme name
// (RFC 9110's token).
func isSchemeByte(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return isWordByte(c)
}

// registeredSchemes are the HTTP authentication schemes other than Bearer
// (the IANA registry, and AWS's and NTLM) that a text line's quoted field
// can start with. In a text line the Authorization field cannot be told
// apart by name, so only these count, and a request line ("GET /x ...")
// never does.
var registeredSchemes = []string{"basic", "digest", "negotiate", "ntlm", "dpop", "hoba", "mutual",
	"vapid", "scram-sha-1", "scram-sha-256", "gnap", "privatetoken", "concealed", "aws4-hmac-sha256"}

// hasOtherScheme reports whether a text line has a quoted field that starts
// with a registered scheme other than Bearer and a space: nginx's
// "$http_authorization", Envoy's "%REQ(AUTHORIZATION)%".
func hasOtherScheme(line []byte) bool {
	for _, q := range []byte{'"', '\''} {
		for i := bytes.IndexByte(line, q); i >= 0; i = indexByteFrom(line, i+1, q) {
			rest := line[i+1:]
			for _, s := range registeredSchemes {
				if len(rest) > len(s) && rest[len(s)] == ' ' && hasFoldPrefix(rest, s) {
					return true
				}
			}
		}
	}
	return false
}

// explicitToken interprets a value the operator pointed at (a json field or
// regex group): either a header value, whose Bearer credentials are the
// token whatever they look like, or a bare token. A bare value counts only
// if it is token-like (base64url and dots), so other schemes (Basic ...),
// "-" (how nginx and Envoy log an absent header) and redaction markers
// such as pino's "[Redacted]" are no token.
func explicitToken(v []byte) ([]byte, bool) {
	v = trimSpace(v)
	if hasFoldPrefix(v, "bearer") && (len(v) == len("bearer") || isSpace(v[len("bearer")])) {
		v = trimSpace(v[len("bearer"):])
		return v, len(v) > 0
	}
	if len(v) == 0 || (len(v) == 1 && v[0] == '-') {
		return nil, false
	}
	for _, c := range v {
		if !isJWTByte(c) {
			return nil, false
		}
	}
	return v, true
}

// findRawJWT returns the first compact JWS in b: a run of base64url bytes
// starting with "eyJ" (the encoding of `{"`), not preceded by another
// base64url byte, with exactly three dot-separated segments of which the
// first two are not empty. The signature may be empty (alg "none"). A
// sentence-ending dot after the signature is not part of the token; runs
// with more segments (JWE) are not JWS and are skipped.
func findRawJWT(b []byte) ([]byte, bool) {
	for from := 0; from < len(b); {
		j := bytes.Index(b[from:], []byte("eyJ"))
		if j < 0 {
			return nil, false
		}
		j += from
		if j > 0 && isJWTByte(b[j-1]) {
			from = j + 3
			continue
		}
		end, dots := j, 0
		for end < len(b) && isJWTByte(b[end]) {
			if b[end] == '.' {
				dots++
			}
			end++
		}
		from = end
		tok := b[j:end]
		if dots == 3 && tok[len(tok)-1] == '.' {
			tok, dots = tok[:len(tok)-1], 2
		}
		if dots != 2 {
			continue
		}
		d1 := bytes.IndexByte(tok, '.')
		if tok[d1+1] != '.' {
			return tok, true
		}
	}
	return nil, false
}

// textTime returns the timestamp of a text line and the offset just past
// it (0 when none): a leading RFC 3339 field, else the first
// [bracketed] field as in nginx's [$time_local] and Envoy's [%START_TIME%].
func textTime(line []byte) (time.Time, int) {
	if len(line) > 0 && isDigit(line[0]) {
		if sp := bytes.IndexByte(line, ' '); sp > 0 {
			if t, ok := parseRFC3339(line[:sp]); ok {
				return t, sp
			}
		}
	}
	lb := bytes.IndexByte(line, '[')
	if lb < 0 {
		return time.Time{}, 0
	}
	rb := bytes.IndexByte(line[lb:], ']')
	if rb < 0 {
		return time.Time{}, 0
	}
	t := parseTimestamp(line[lb+1 : lb+rb])
	if t.IsZero() {
		return t, 0
	}
	return t, lb + rb + 1
}

// textStatus returns the status that follows the quoted request line
// ("GET /path HTTP/1.1" 200), searching from offset from; 0 when none.
func textStatus(line []byte, from int) int {
	q := bytes.IndexByte(line[from:], '"')
	if q < 0 {
		return 0
	}
	q += from + 1
	e := bytes.IndexByte(line[q:], '"')
	if e < 0 || !bytes.Contains(line[q:q+e], []byte("HTTP/")) {
		return 0
	}
	i := q + e + 1
	if i >= len(line) || line[i] != ' ' {
		return 0
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	n := i
	for n < len(line) && isDigit(line[n]) {
		n++
	}
	if n < len(line) && line[n] != ' ' {
		return 0
	}
	return parseStatus(line[i:n])
}

// parseStatus parses a three-digit HTTP status; anything else is 0.
func parseStatus(b []byte) int {
	if len(b) != 3 || !isDigit(b[0]) || !isDigit(b[1]) || !isDigit(b[2]) {
		return 0
	}
	s := int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0')
	if s < 100 || s > 599 {
		return 0
	}
	return s
}

// stripCRI removes the prefix the Kubernetes container runtime adds to each
// line in /var/log/pods ("2026-11-27T13:33:38.123456789Z stdout F ").
func stripCRI(line []byte) ([]byte, time.Time, bool) {
	if len(line) < 30 || !isDigit(line[0]) {
		return nil, time.Time{}, false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 20 || sp > 40 {
		return nil, time.Time{}, false
	}
	rest := line[sp+1:]
	if !bytes.HasPrefix(rest, []byte("stdout ")) && !bytes.HasPrefix(rest, []byte("stderr ")) {
		return nil, time.Time{}, false
	}
	rest = rest[len("stdout "):]
	if len(rest) < 2 || (rest[0] != 'F' && rest[0] != 'P') || rest[1] != ' ' {
		return nil, time.Time{}, false
	}
	t, ok := parseRFC3339(line[:sp])
	if !ok {
		return nil, time.Time{}, false
	}
	return rest[2:], t, true
}

func indexByteFrom(b []byte, from int, c byte) int {
	i := bytes.IndexByte(b[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// hasFoldPrefix reports whether b starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasFoldPrefix(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if b[i]|0x20 != prefix[i] {
			return false
		}
	}
	return true
}

// equalFold reports whether b and s are equal ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_'
}

// isJWTByte reports whether c can appear in a compact JWS.
func isJWTByte(c byte) bool { return isWordByte(c) || c == '-' || c == '.' }

// isTextDelim reports whether c ends an unquoted bearer value in free text.
func isTextDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', ',', ';', '\\', '(', ')', '[', ']', '{', '}', '<', '>':
		return true
	}
	return false
}
