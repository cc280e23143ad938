package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// MaxTokenLen bounds the work spent on one token: a longer one is Malformed
// before anything is decoded. Real access and refresh tokens are a few hundred
// bytes and gateways cap request headers at 8–16 KiB, so nothing legitimate is
// lost, while a hostile multi-megabyte "token" costs one length check.
const MaxTokenLen = 16 << 10

// maxNumericDate is the latest exp, nbf or iat accepted (9999-12-31T23:59:59Z).
// Anything later, and anything before 1970-01-01T00:00:01Z, is Malformed: no
// issuer mints such dates, and the bound keeps float-to-time conversion exact.
const maxNumericDate = 253402300799

// The HMAC algorithms a Verifier can check, as indexes into per-key pools.
const (
	hs256 = iota
	hs384
	hs512
	numAlgs
)

// algIndex maps a header alg to its index, or -1. Matching is exact, like the
// gateway's allow-list: "hs256" is not HS256.
func algIndex(alg []byte) int {
	switch string(alg) {
	case "HS256":
		return hs256
	case "HS384":
		return hs384
	case "HS512":
		return hs512
	}
	return -1
}

// hashFor returns the hash constructor of an algorithm index.
func hashFor(alg int) func() hash.Hash {
	switch alg {
	case hs384:
		return sha512.New384
	case hs512:
		return sha512.New
	}
	return sha256.New
}

// Verifier checks tokens against a fixed key set; safe for concurrent use.
type Verifier struct {
	keys    []keyState
	allowed [numAlgs]bool
	leeway  time.Duration
	enc     *base64.Encoding
	scratch sync.Pool // of *scratch
}

// keyState is one key with its expected issuer and reusable HMAC states.
type keyState struct {
	family      keys.Family
	role        keys.Role
	fingerprint string
	issuer      string
	macs        [numAlgs]sync.Pool // of hash.Hash, keyed once with the secret
}

// scratch holds the per-call buffers so the hot path does not allocate them.
type scratch struct {
	raw []byte // the token, copied once so hash.Hash can read it without conversions
	buf []byte // decoded header, then decoded payload
	sum [sha512.Size]byte
	sig [sha512.Size]byte
}

// New returns a Verifier for the keys of set, tried in set order (current,
// then previous, then retired; access before refresh), and the issuers in
// set.Issuers. Options.Algorithms entries other than HS256, HS384 and HS512
// are ignored: only HMAC keys exist, and "none" is never allowed.
func New(set keys.Set, opts Options) *Verifier {
	v := &Verifier{
		keys:   make([]keyState, len(set.Keys)),
		leeway: opts.Leeway,
		enc:    base64.RawURLEncoding.Strict(),
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []string{"HS256"}
	}
	for _, a := range algs {
		if i := algIndex([]byte(a)); i >= 0 {
			v.allowed[i] = true
		}
	}
	for i, k := range set.Keys {
		ks := &v.keys[i]
		ks.family, ks.role, ks.fingerprint = k.Family, k.Role, k.Fingerprint
		ks.issuer = set.Issuers[k.Family]
		// Cloned so that a later change to the Set cannot change this Verifier.
		secret := bytes.Clone(k.Secret())
		for a := range ks.macs {
			newHash := hashFor(a)
			ks.macs[a].New = func() any { return hmac.New(newHash, secret) }
		}
	}
	v.scratch.New = func() any { return new(scratch) }
	return v
}

// Check classifies token as seen at time at. Structure and algorithm come
// first, then the signature against every key, and only for a verified
// signature the claims: a token no key verifies is BadSignature whatever its
// claims say.
//
// Decisions where the RFCs leave room:
//   - a header "crit" other than an empty array is Malformed (RFC 7515 §4.1.11
//     says reject what is not understood, and we understand no extension;
//     the gateway ignores crit, so such tokens show up as mismatches);
//   - kid, jku, x5u and jwk are ignored: every key is tried;
//   - a duplicated JSON member counts with its last value, as in JSON.parse
//     and encoding/json;
//   - member names match exactly after JSON unescaping: "EXP" is not exp;
//   - exp, nbf and iat must be JSON numbers from 1 to maxNumericDate; null, a
//     string or anything else is Malformed; fractions are truncated to the
//     second, like golang-jwt;
//   - sub and iss must be strings when present, else Malformed;
//   - a missing exp is valid, like the gateway; a missing iss is WrongIssuer
//     when an issuer is configured for the key's family.
func (v *Verifier) Check(token string, at time.Time) Verdict {
	if len(token) > MaxTokenLen {
		return unknown(Malformed)
	}
	hLen := strings.IndexByte(token, '.')
	if hLen <= 0 {
		return unknown(Malformed)
	}
	pLen := strings.IndexByte(token[hLen+1:], '.')
	if pLen < 0 || strings.IndexByte(token[hLen+1+pLen+1:], '.') >= 0 {
		return unknown(Malformed)
	}
	sc := v.scratch.Get().(*scratch)
	defer v.scratch.Put(sc)
	sc.raw = append(sc.raw[:0], token...)
	signed := sc.raw[:hLen+1+pLen]
	header, payload, sig := sc.raw[:hLen], signed[hLen+1:], sc.raw[len(signed)+1:]

	hdr, ok := v.decode(sc, header)
	if !ok {
		return unknown(Malformed)
	}
	alg, ok := parseHeader(hdr)
	if !ok {
		return unknown(Malformed)
	}
	if alg < 0 || !v.allowed[alg] {
		return unknown(AlgRejected)
	}

	if len(sig) == 0 || len(sig) > base64.RawURLEncoding.EncodedLen(len(sc.sig)) || hasLineBreak(sig) {
		return unknown(BadSignature)
	}
	n, err := v.enc.Decode(sc.sig[:], sig)
	if err != nil {
		return unknown(BadSignature)
	}
	k := v.match(alg, signed, sc.sig[:n], sc)
	if k == nil {
		return unknown(BadSignature)
	}

	verdict := Verdict{Token: k.family, Key: k.role, Fingerprint: k.fingerprint, Result: Malformed}
	body, ok := v.decode(sc, payload)
	if !ok {
		return verdict
	}
	claims, ok := parseClaims(body, k.issuer)
	if !ok {
		return verdict
	}
	verdict.Claims = claims
	verdict.Result = v.judge(claims, k.issuer, at)
	return verdict
}

// Judge returns vd, a verdict Check of this Verifier returned for some
// time, as Check would return it at time at: only exp, nbf and the issuer
// depend on the time, so a verdict whose claims parsed is judged afresh and
// any other (no key verified, or claims Malformed) is returned unchanged. It
// lets a cache keep the time-independent facts of a verdict without a second
// copy of the claim rules.
func (v *Verifier) Judge(vd Verdict, at time.Time) Verdict {
	if vd.Key == keys.None || vd.Result == Malformed {
		return vd
	}
	for i := range v.keys {
		k := &v.keys[i]
		if k.family == vd.Token && k.role == vd.Key && k.fingerprint == vd.Fingerprint {
			vd.Result = v.judge(vd.Claims, k.issuer, at)
			return vd
		}
	}
	// Not a key of this Verifier: nothing to judge it by.
	return vd
}

// unknown is the verdict for a token no key is known to have signed.
func unknown(r Result) Verdict {
	return Verdict{Token: keys.Unknown, Key: keys.None, Result: r}
}

// match returns the first key whose HMAC of signed equals sig, or nil.
func (v *Verifier) match(alg int, signed, sig []byte, sc *scratch) *keyState {
	for i := range v.keys {
		k := &v.keys[i]
		pool := &k.macs[alg]
		mac := pool.Get().(hash.Hash)
		mac.Reset()
		mac.Write(signed)
		sum := mac.Sum(sc.sum[:0])
		pool.Put(mac)
		if hmac.Equal(sum, sig) {
			return k
		}
	}
	return nil
}

// judge applies the claim checks in golang-jwt v5's order and semantics
// (validator.go): expired when at >= exp+leeway, not yet valid when
// at < nbf-leeway, then the issuer.
func (v *Verifier) judge(c Claims, issuer string, at time.Time) Result {
	switch {
	case !c.ExpiresAt.IsZero() && !at.Before(c.ExpiresAt.Add(v.leeway)):
		return Expired
	case !c.NotBefore.IsZero() && at.Before(c.NotBefore.Add(-v.leeway)):
		return NotYetValid
	case issuer != "" && c.Issuer != issuer:
		return WrongIssuer
	}
	return Valid
}

// decode strictly base64url-decodes seg into sc.buf.
func (v *Verifier) decode(sc *scratch, seg []byte) ([]byte, bool) {
	if len(seg) == 0 || hasLineBreak(seg) {
		return nil, false
	}
	n := v.enc.DecodedLen(len(seg))
	if cap(sc.buf) < n {
		sc.buf = make([]byte, n)
	}
	n, err := v.enc.Decode(sc.buf[:n], seg)
	if err != nil {
		return nil, false
	}
	return sc.buf[:n], true
}

// hasLineBreak reports whether b holds CR or LF: the strict decoder rejects
// every other byte outside the unpadded base64url alphabet, '=' included, but
// silently skips these two.
func hasLineBreak(b []byte) bool {
	return bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

// parseHeader returns the algorithm index of a JOSE header (-1 when it is not
// an HMAC one we know, including any spelling of "none"). ok is false when the
// header is not a JSON object with a string alg, or carries a non-empty crit.
func parseHeader(hdr []byte) (alg int, ok bool) {
	// json.Valid is iterative and caps nesting depth, so hostile input cannot
	// exhaust the stack; the walk below relies on it for well-formedness.
	if !json.Valid(hdr) {
		return -1, false
	}
	obj, ok := openObject(hdr)
	if !ok {
		return -1, false
	}
	var algRaw []byte
	critBad := false
	for {
		name, val, more := obj.next()
		if !more {
			break
		}
		switch string(memberName(name)) {
		case "alg":
			if len(val) == 0 || val[0] != '"' {
				return -1, false
			}
			algRaw = val
		case "crit":
			critBad = !isEmptyArray(val)
		}
	}
	if algRaw == nil || critBad {
		return -1, false
	}
	s, ok := stringBytes(algRaw)
	if !ok {
		return -1, false
	}
	return algIndex(s), true
}

// parseClaims decodes the claims jwtwatch needs from a JSON object. issuer, when iss equals it,
// is reused instead of allocating a copy.
func parseClaims(body []byte, issuer string) (Claims, bool) {
	var c Claims
	if !json.Valid(body) {
		return c, false
	}
	obj, ok := openObject(body)
	if !ok {
		return c, false
	}
	azp := false // azp wins over client_id wherever they appear
	for {
		name, val, more := obj.next()
		if !more {
			return c, true
		}
		switch string(memberName(name)) {
		case "azp":
			// Informational only: a non-string client claim does not make the
			// token Malformed, the gateway does not look at it.
			if s, isStr := stringValue(val, ""); isStr && s != "" {
				c.ClientID, azp = s, true
			}
		case "client_id":
			if s, isStr := stringValue(val, ""); isStr && s != "" && !azp {
				c.ClientID = s
			}
		case "exp":
			c.ExpiresAt, ok = numericDate(val)
		case "nbf":
			c.NotBefore, ok = numericDate(val)
		case "iat":
			c.IssuedAt, ok = numericDate(val)
		case "sub":
			c.Subject, ok = stringValue(val, "")
		case "iss":
			c.Issuer, ok = stringValue(val, issuer)
		}
		if !ok {
			return Claims{}, false
		}
	}
}

// numericDate converts a JSON number of seconds the way golang-jwt does
// (truncated to the second), rejecting non-numbers and absurd values.
func numericDate(val []byte) (time.Time, bool) {
	if len(val) == 0 || (val[0] != '-' && (val[0] < '0' || val[0] > '9')) {
		return time.Time{}, false
	}
	// Plain integers, the usual form, skip float parsing; 12 digits cover maxNumericDate.
	if n, ok := smallInt(val); ok {
		if n < 1 || n > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	f, err := strconv.ParseFloat(string(val), 64)
	// The comparison is false for NaN too.
	if err != nil || !(f >= 1 && f <= maxNumericDate) {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// smallInt parses val when it is at most 12 decimal digits.
func smallInt(val []byte) (int64, bool) {
	if len(val) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range val {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// stringValue returns the JSON string val; when it equals known, known itself
// is returned to save an allocation.
func stringValue(val []byte, known string) (string, bool) {
	s, ok := stringBytes(val)
	if !ok {
		return "", false
	}
	if known != "" && string(s) == known {
		return known, true
	}
	return string(s), true
}

// stringBytes returns the content of the JSON string val, unescaping it only
// when it holds escapes or invalid UTF-8 (which encoding/json repairs).
func stringBytes(val []byte) ([]byte, bool) {
	if len(val) < 2 || val[0] != '"' {
		return nil, false
	}
	inner := val[1 : len(val)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return inner, true
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// memberName returns the unescaped JSON string name, to be matched exactly:
// encoding/json's case-insensitive field matching would take "EXP" for exp.
func memberName(name []byte) []byte {
	if len(name) < 2 {
		return nil
	}
	if inner := name[1 : len(name)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	s, _ := stringBytes(name)
	return s
}

// isEmptyArray reports whether val is the JSON array [].
func isEmptyArray(val []byte) bool {
	if len(val) == 0 || val[0] != '[' {
		return false
	}
	i := skipSpace(val, 1)
	return i < len(val) && val[i] == ']'
}
