package verify

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// MaxTokenLen bounds the work spent on one token: a longer one is Malformed
// before anything is decoded. Real access and refresh tokens are a few hundred
// bytes and gateways cap request headers at 8–16 KiB, so nothing legitimate is
// lost, while a hostile multi-megabyte "token" costs one length check.
const MaxTokenLen = 16 << 10

// exp, nbf and iat are kept as times from 0001-01-01T00:00:01Z (minNumericDate)
// to 10000-01-01T00:00:00Z (maxNumericDate+1). jsonwebtoken takes any JSON
// number, ±Infinity included; a number beyond that range counts as its end,
// which gives jsonwebtoken's verdict for any line time up to the last second
// of the year 9999 (maxNumericDate).
const (
	minNumericDate = -62135596799
	maxNumericDate = 253402300799
)

// The algorithms a Verifier can check, as indexes: the HMAC ones first, so
// that per-secret pools are indexed by the same number.
const (
	hs256 = iota
	hs384
	hs512
	rs256
	rs384
	rs512
	ps256
	ps384
	ps512
	es256
	es384
	es512
	eddsa
	numAlgs
	numHMAC = hs512 + 1
)

// algIndex maps a header alg to its index, or -1. Matching is exact, like the
// gateway's allow-list: "hs256" is not HS256. Every name is five bytes, so
// it is taken apart (family, then size) rather than switched over whole: a
// switch over thirteen five-byte strings costs string comparisons on the
// hot path, these compile to integer compares.
func algIndex(alg []byte) int {
	if len(alg) != 5 {
		return -1
	}
	var base int
	switch string(alg[:2]) {
	case "HS":
		base = hs256
	case "RS":
		base = rs256
	case "PS":
		base = ps256
	case "ES":
		base = es256
	case "Ed":
		if string(alg[2:]) == "DSA" {
			return eddsa
		}
		return -1
	default:
		return -1
	}
	switch string(alg[2:]) {
	case "256":
		return base
	case "384":
		return base + 1
	case "512":
		return base + 2
	}
	return -1
}

// hashFor returns the hash constructor of an HMAC algorithm index.
func hashFor(alg int) func() hash.Hash {
	switch alg {
	case hs384:
		return sha512.New384
	case hs512:
		return sha512.New
	}
	return sha256.New
}

// pss is RSASSA-PSS as RFC 7518 §3.5 fixes it: the salt as long as the hash.
// golang-jwt's PS methods verify any salt length; the gateway's jsonwebtoken
// (node's RSA_PSS_SALTLEN_DIGEST) does not, so neither does jwtwatch.
func pss(m *jwt.SigningMethodRSAPSS) jwt.SigningMethod {
	return &jwt.SigningMethodRSAPSS{SigningMethodRSA: m.SigningMethodRSA, Options: &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}}
}

// methods verifies the public-key algorithms with golang-jwt. Its ES methods
// take only the fixed-length R||S form of RFC 7518 §3.4: a DER-encoded or
// wrong-length signature fails like any other signature no key verifies.
var methods = [numAlgs]jwt.SigningMethod{
	rs256: jwt.SigningMethodRS256, rs384: jwt.SigningMethodRS384, rs512: jwt.SigningMethodRS512,
	ps256: pss(jwt.SigningMethodPS256), ps384: pss(jwt.SigningMethodPS384), ps512: pss(jwt.SigningMethodPS512),
	es256: jwt.SigningMethodES256, es384: jwt.SigningMethodES384, es512: jwt.SigningMethodES512,
	eddsa: jwt.SigningMethodEdDSA,
}

// Verifier checks tokens against a fixed key set; safe for concurrent use.
type Verifier struct {
	keys    []keyState        // in set order
	secrets []secretState     // the distinct HMAC secrets, in order of first use
	publics []publicState     // the distinct public keys, cheapest to verify first
	kids    map[string]uint16 // every key ID, with the algorithms its keys accept
	issuers []string          // the distinct configured issuers, whose strings claims reuse
	allowed [numAlgs]bool     // some key accepts the algorithm
	leeway  time.Duration
	enc     *base64.Encoding
	scratch sync.Pool // of *scratch
}

// keyState is one configured key and what its tokens are judged by.
type keyState struct {
	family      keys.Family
	role        keys.Role
	fingerprint string
	kid         string
	algs        uint16 // bit i: accepts algorithm index i
	issuer      string
	// rotated is when the family's current key became current (Options.Rotations);
	// zero when unknown.
	rotated time.Time
}

// secretState is one distinct secret with its reusable HMAC states. Several
// keys share it when one secret is configured in several variables.
type secretState struct {
	macs [numHMAC]sync.Pool // of hash.Hash, keyed once with the secret
	keys []int              // indexes into Verifier.keys, in set order
	algs uint16             // the algorithms any of its keys accepts
}

// publicState is one distinct public key, bound to one algorithm. Several
// keys share it when one key pair signs both families' tokens.
type publicState struct {
	pub  crypto.PublicKey
	alg  int
	cost int   // relative cost of one verification
	keys []int // indexes into Verifier.keys, in set order
}

// scratch holds the per-call buffers so the hot path does not allocate them.
type scratch struct {
	raw  []byte // the token, copied once so hash.Hash can read it without conversions
	hdr  []byte // decoded header
	body []byte // decoded payload
	sig  []byte // decoded signature
	sum  [sha512.Size]byte
}

// New returns a Verifier for the keys of set, tried in set order (current,
// next, previous, retired; access before refresh) within an algorithm, the
// issuers in set.Issuers and, for keys that share key material, the
// rotation starts in opts.Rotations. Each key verifies only its own
// algorithm, except an unpinned HMAC secret (an environment variable), which
// verifies the HMAC algorithms of opts.Algorithms; "none" is never allowed.
func New(set keys.Set, opts Options) *Verifier {
	v := &Verifier{
		keys: make([]keyState, len(set.Keys)),
		// Never reallocated, so no sync.Pool is copied once set up.
		secrets: make([]secretState, 0, len(set.Keys)),
		kids:    map[string]uint16{},
		leeway:  opts.Leeway,
		enc:     base64.RawURLEncoding.Strict(),
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []string{"HS256"}
	}
	var hmacAlgs uint16
	for _, a := range algs {
		if i := algIndex([]byte(a)); i >= 0 && i < numHMAC {
			hmacAlgs |= 1 << i
		}
	}
	var distinct [][]byte
	for i, k := range set.Keys {
		ks := &v.keys[i]
		ks.family, ks.role, ks.fingerprint, ks.kid = k.Family, k.Role, k.Fingerprint, k.KID
		ks.issuer = set.Issuers[k.Family]
		ks.rotated = opts.Rotations[k.Family]
		if ks.issuer != "" && !slices.Contains(v.issuers, ks.issuer) {
			v.issuers = append(v.issuers, ks.issuer)
		}
		alg := algIndex([]byte(k.Alg))
		switch {
		case alg < 0:
			continue // not a key of an algorithm this Verifier knows: it verifies nothing
		case k.Secret() != nil && !k.Pinned:
			ks.algs = hmacAlgs
		case (k.Secret() != nil) == (alg < numHMAC):
			ks.algs = 1 << alg
		}
		if ks.algs == 0 {
			continue
		}
		if k.KID != "" {
			v.kids[k.KID] |= ks.algs
		}
		for a := range numAlgs {
			v.allowed[a] = v.allowed[a] || ks.algs&(1<<a) != 0
		}
		if pub := k.Public(); pub != nil {
			j := slices.IndexFunc(v.publics, func(p publicState) bool { return p.alg == alg && samePublic(p.pub, pub) })
			if j < 0 {
				v.publics = append(v.publics, publicState{pub: pub, alg: alg, cost: verifyCost(alg, pub)})
				j = len(v.publics) - 1
			}
			v.publics[j].keys = append(v.publics[j].keys, i)
			continue
		}
		j := slices.IndexFunc(distinct, func(s []byte) bool { return bytes.Equal(s, k.Secret()) })
		if j < 0 {
			// Cloned so that a later change to the Set cannot change this Verifier.
			secret := bytes.Clone(k.Secret())
			distinct = append(distinct, secret)
			v.secrets = append(v.secrets, secretState{})
			j = len(v.secrets) - 1
			for a := range v.secrets[j].macs {
				newHash := hashFor(a)
				v.secrets[j].macs[a].New = func() any { return hmac.New(newHash, secret) }
			}
		}
		v.secrets[j].keys = append(v.secrets[j].keys, i)
		v.secrets[j].algs |= ks.algs
	}
	if !slices.ContainsFunc(set.Keys, func(k keys.Key) bool { return k.Pinned }) {
		// The environment alone (or no key at all): the gateway's algorithms
		// option decides, as it always has.
		for a := range numHMAC {
			v.allowed[a] = hmacAlgs&(1<<a) != 0
		}
	}
	// Cheapest first: with no kid every key of the algorithm is tried.
	slices.SortStableFunc(v.publics, func(a, b publicState) int { return a.cost - b.cost })
	v.scratch.New = func() any { return new(scratch) }
	return v
}

// samePublic reports whether two public keys are the same key.
func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// verifyCost estimates one verification with pub in microseconds, as
// measured on a 2-core machine (internal/cache's BenchmarkAlgorithms:
// RS256 with 2048 bits ~30, EdDSA ~46, ES256 ~73): RSA's grows with the
// square of the modulus, ECDSA's with the curve. Only keys of one algorithm
// are ever compared, so only the order within one algorithm matters.
func verifyCost(alg int, pub crypto.PublicKey) int {
	switch alg {
	case eddsa:
		return 46
	case es256:
		return 73
	case es384:
		return 250
	case es512:
		return 700
	}
	if k, ok := pub.(*rsa.PublicKey); ok {
		n := k.N.BitLen()
		return 30 * n * n / (2048 * 2048)
	}
	return 1000
}

// Check classifies token as seen at time at, in the order of RFC 7515 §5.2
// and RFC 7519 §7.2: every segment is decoded as strict base64url first, then
// the header and its algorithm, then the signature against every key, and
// only for a verified signature the claims, which must be a JSON object. A
// token no key verifies is BadSignature whatever its claims say; a segment
// that is not canonical base64url makes the token Malformed whatever its MAC.
//
// The claims are judged as jsonwebtoken (what the NestJS gateway calls)
// judges them, in its order: nbf, then exp, then the issuer:
//   - nbf and exp must be JSON numbers when present (null, a string or
//     anything else is Malformed); any number counts, fractions included,
//     against the line time cut to the whole second, with the leeway:
//     not yet valid when nbf > time+leeway, expired when time >= exp+leeway;
//   - iat is never judged: a non-number is as if absent;
//   - sub may be any JSON value (a string is kept as its content, any other
//     value but null as its JSON text);
//   - iss must be the configured issuer's string when one is configured:
//     missing, different or not a string is WrongIssuer;
//   - a missing exp is valid, like the gateway.
//
// Decisions where the RFCs leave room:
//   - a header "crit" other than an empty array is Malformed (RFC 7515 §4.1.11
//     says reject what is not understood, and we understand no extension;
//     the gateway ignores crit, so such tokens show up as mismatches);
//   - kid, jku, x5u and jwk are ignored: every key is tried;
//   - a duplicated JSON member counts with its last value, as in JSON.parse
//     and encoding/json;
//   - member names match exactly after JSON unescaping: "EXP" is not exp.
//
// When one secret is configured for several keys, the key is chosen by
// attribute.
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

	// RFC 7515 §5.2 steps 2, 6 and 7: no segment is judged before all decode.
	var ok bool
	if sc.hdr, ok = v.decode(sc.hdr, header); !ok || len(payload) == 0 {
		return unknown(Malformed)
	}
	if sc.body, ok = v.decode(sc.body, payload); !ok {
		return unknown(Malformed)
	}
	if sc.sig, ok = v.decode(sc.sig, sig); !ok {
		return unknown(Malformed)
	}
	alg, kid, ok := parseHeader(sc.hdr)
	if !ok {
		return unknown(Malformed)
	}
	// kid is an opaque lookup: it selects the keys that carry it, and an
	// unknown one selects nothing (every key of the algorithm is tried).
	var want uint16 // algorithms of the keys the kid names; 0 when it names none
	if kid != nil {
		want = v.kids[string(kid)]
	}
	if alg < 0 || !v.allowed[alg] || (want != 0 && want&(1<<alg) == 0) {
		return unknownKID(AlgRejected, alg >= 0 && kid != nil && want == 0)
	}
	named := kid != nil
	if want == 0 {
		kid = nil
	}
	var signers []int // the keys sharing the verifying key material
	if alg < numHMAC {
		if s := v.match(alg, kid, signed, sc.sig, sc); s != nil {
			signers = s.keys
		}
	} else if p := v.matchPublic(alg, kid, signed, sc.sig); p != nil {
		signers = p.keys
	}
	if signers == nil {
		return unknownKID(BadSignature, named && want == 0)
	}
	claims, ok := parseClaims(sc.body, v.issuers)
	k := &v.keys[signers[0]]
	if len(signers) > 1 { // key material shared by several keys: pick one
		k = v.attribute(signers, alg, kid, &claims)
	}
	verdict := Verdict{Family: k.family, Key: k.role, Fingerprint: k.fingerprint, Result: Malformed}
	if !ok {
		return verdict
	}
	verdict.Claims = claims
	verdict.Result = v.judge(claims, k.issuer, at)
	return verdict
}

// Judge returns vd, a verdict Check of this Verifier returned for some
// time, as Check would return it at time at: only the claims depend on the
// time, so a verdict whose claims were read is judged afresh and any other
// (no key verified, or no JSON object of claims) is returned unchanged. It
// lets a cache keep the time-independent facts of a verdict without a second
// copy of the claim rules.
func (v *Verifier) Judge(vd Verdict, at time.Time) Verdict {
	if vd.Key == keys.None || !vd.Claims.read {
		return vd
	}
	for i := range v.keys {
		k := &v.keys[i]
		if k.family == vd.Family && k.role == vd.Key && k.fingerprint == vd.Fingerprint {
			vd.Result = v.judge(vd.Claims, k.issuer, at)
			return vd
		}
	}
	// Not a key of this Verifier: nothing to judge it by.
	return vd
}

// unknown is the verdict for a token no key is known to have signed.
func unknown(r Result) Verdict {
	return Verdict{Family: keys.Unknown, Key: keys.None, Result: r}
}

// unknownKID is unknown for a token whose header named a kid no key has
// (kid true), or not.
func unknownKID(r Result, kid bool) Verdict {
	return Verdict{Family: keys.Unknown, Key: keys.None, Result: r, Claims: Claims{unknownKID: kid}}
}

// match returns the secret whose HMAC of signed equals sig, or nil. Only
// secrets a key of which accepts alg (and carries kid, when one is given)
// are tried.
func (v *Verifier) match(alg int, kid, signed, sig []byte, sc *scratch) *secretState {
	for i := range v.secrets {
		s := &v.secrets[i]
		if s.algs&(1<<alg) == 0 || (kid != nil && !v.anyKID(s.keys, kid)) {
			continue
		}
		pool := &s.macs[alg]
		mac := pool.Get().(hash.Hash)
		mac.Reset()
		mac.Write(signed)
		sum := mac.Sum(sc.sum[:0])
		pool.Put(mac)
		if hmac.Equal(sum, sig) {
			return s
		}
	}
	return nil
}

// matchPublic returns the public key bound to alg that verifies sig over
// signed, or nil; cheapest first, only those carrying kid when one is given.
func (v *Verifier) matchPublic(alg int, kid, signed, sig []byte) *publicState {
	var str string // converted once, for golang-jwt
	for i := range v.publics {
		p := &v.publics[i]
		if p.alg != alg || (kid != nil && !v.anyKID(p.keys, kid)) {
			continue
		}
		if str == "" {
			str = string(signed)
		}
		if methods[alg].Verify(str, sig, p.pub) == nil {
			return p
		}
	}
	return nil
}

// anyKID reports whether one of the keys carries kid.
func (v *Verifier) anyKID(idx []int, kid []byte) bool {
	for _, i := range idx {
		if v.keys[i].kid == string(kid) {
			return true
		}
	}
	return false
}

// attribute picks, among the keys that share the verifying key material and
// accept alg (and carry kid, when one is given), the one the token belongs
// to. With one key there is no choice. Otherwise, in this order of
// precedence:
//  1. a key whose family's issuer the token names as iss, then a key of a
//     family with no issuer configured, over the others;
//  2. a key the token is plausible for: a previous or retired key cannot have
//     signed, for its rightful issuer, a token whose iat is after its family's
//     rotation started (the key is then serving as another family's
//     current key);
//  3. the older role (retired, then previous, then current, then next): when
//     nothing else tells, the token counts for the key whose removal would
//     break it;
//  4. set order.
//
// Only time-independent facts decide, so a cached verdict keeps its key.
func (v *Verifier) attribute(idx []int, alg int, kid []byte, c *Claims) *keyState {
	best, bestScore := -1, -1
	for _, i := range idx {
		k := &v.keys[i]
		if k.algs&(1<<alg) == 0 || (kid != nil && k.kid != string(kid)) {
			continue
		}
		score := 0
		switch {
		case k.issuer != "" && c.flaws&issNotString == 0 && c.Issuer == k.issuer:
			score += 2 << 3
		case k.issuer == "":
			score += 1 << 3
		}
		if k.role == keys.Current || k.role == keys.Next || k.rotated.IsZero() || c.IssuedAt.IsZero() || !c.IssuedAt.After(k.rotated) {
			score += 1 << 2
		}
		switch k.role {
		case keys.Retired:
			score += 3
		case keys.Previous:
			score += 2
		case keys.Current:
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return &v.keys[best]
}

// judge applies jsonwebtoken's claim checks (verify.js) in its order: nbf
// must be a number and not after the clock, exp must be a number and after
// it, then the issuer. Its clock is whole seconds (Math.floor(Date.now() /
// 1000)), so the line time is cut to the second.
func (v *Verifier) judge(c Claims, issuer string, at time.Time) Result {
	// The fraction of the second, dropped: cheaper than Truncate.
	clock := at.Add(-time.Duration(at.Nanosecond()))
	switch {
	case c.flaws&nbfNotNumber != 0:
		return Malformed
	case !c.NotBefore.IsZero() && c.NotBefore.After(clock.Add(v.leeway)):
		return NotYetValid
	case c.flaws&expNotNumber != 0:
		return Malformed
	case !c.ExpiresAt.IsZero() && !clock.Before(c.ExpiresAt.Add(v.leeway)):
		return Expired
	case issuer != "" && (c.flaws&issNotString != 0 || c.Issuer != issuer):
		return WrongIssuer
	}
	return Valid
}

// decode strictly base64url-decodes seg into buf, growing it when needed.
func (v *Verifier) decode(buf, seg []byte) ([]byte, bool) {
	if hasLineBreak(seg) {
		return buf, false
	}
	n := v.enc.DecodedLen(len(seg))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	n, err := v.enc.Decode(buf[:n], seg)
	if err != nil {
		return buf, false
	}
	return buf[:n], true
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
func parseHeader(hdr []byte) (alg int, kid []byte, ok bool) {
	obj, ok := openObject(hdr)
	if !ok {
		return -1, nil, false
	}
	var algRaw, kidRaw []byte
	critBad := false
	for {
		name, val, more := obj.next()
		if !more {
			break
		}
		// Equality tests, not a switch: a switch over the names binary-searches
		// them with string comparisons, these compile to a length check and
		// one load each.
		switch m := memberName(name); {
		case string(m) == "alg":
			if len(val) == 0 || val[0] != '"' {
				return -1, nil, false
			}
			algRaw = val
		case string(m) == "kid":
			// RFC 7515 §4.1.4: a string. Any other value is a header parameter
			// whose syntax is not understood (§5.2 step 5).
			if len(val) == 0 || val[0] != '"' {
				return -1, nil, false
			}
			kidRaw = val
		case string(m) == "crit":
			critBad = !isEmptyArray(val)
		}
	}
	if !obj.valid() || algRaw == nil || critBad {
		return -1, nil, false
	}
	s, ok := stringBytes(algRaw)
	if !ok {
		return -1, nil, false
	}
	if kidRaw != nil {
		if kid, ok = stringBytes(kidRaw); !ok {
			return -1, nil, false
		}
		if kid == nil {
			kid = []byte{} // "kid": "" names a kid, the empty one
		}
	}
	return algIndex(s), kid, true
}

// parseClaims decodes the claims jwtwatch needs from a JSON object; ok is
// false when body is not one. A claim of a type jsonwebtoken refuses is
// recorded in Claims.flaws, for judge. An iss equal to one of known is
// reused instead of allocating a copy.
func parseClaims(body []byte, known []string) (c Claims, ok bool) {
	obj, ok := openObject(body)
	if !ok {
		return c, false
	}
	c.read = true
	azp := false // azp wins over client_id wherever they appear
	for {
		name, val, more := obj.next()
		if !more {
			if !obj.valid() {
				return Claims{}, false
			}
			return c, true
		}
		switch string(memberName(name)) {
		case "azp":
			// Informational only: a non-string client claim does not make the
			// token Malformed, the gateway does not look at it.
			if s, isStr := stringValue(val, nil); isStr && s != "" {
				c.ClientID, azp = s, true
			}
		case "client_id":
			if s, isStr := stringValue(val, nil); isStr && s != "" && !azp {
				c.ClientID = s
			}
		case "exp":
			c.ExpiresAt, c.flaws = numericClaim(val, c.flaws, expNotNumber)
		case "nbf":
			c.NotBefore, c.flaws = numericClaim(val, c.flaws, nbfNotNumber)
		case "iat":
			c.IssuedAt, _ = numericDate(val)
		case "sub":
			c.Subject = subject(val)
		case "iss":
			var isStr bool
			if c.Issuer, isStr = stringValue(val, known); isStr {
				c.flaws &^= issNotString
			} else {
				c.flaws |= issNotString
			}
		}
	}
}

// numericClaim reads a claim that must be a number, setting or clearing its
// flaw (the last duplicate decides).
func numericClaim(val []byte, flaws, notNumber flaw) (time.Time, flaw) {
	t, ok := numericDate(val)
	if !ok {
		return time.Time{}, flaws | notNumber
	}
	return t, flaws &^ notNumber
}

// numericDate converts a JSON number of seconds since the epoch to a time,
// fractions kept to the nanosecond, clamped to [minNumericDate,
// maxNumericDate+1]; ok is false for anything but a number.
func numericDate(val []byte) (time.Time, bool) {
	if len(val) == 0 || (val[0] != '-' && (val[0] < '0' || val[0] > '9')) {
		return time.Time{}, false
	}
	// Plain integers, the usual form, skip float parsing; 11 digits cover maxNumericDate.
	if n, ok := smallInt(val); ok {
		return time.Unix(n, 0).UTC(), true
	}
	// Valid JSON, so the only error is a range error, where ParseFloat
	// returns ±Inf as JSON.parse does.
	f, _ := strconv.ParseFloat(string(val), 64)
	f = max(minNumericDate, min(f, maxNumericDate+1))
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), true
}

// smallInt parses val when it is at most 11 decimal digits.
func smallInt(val []byte) (int64, bool) {
	if len(val) > 11 {
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

// subject returns a sub claim as jwtwatch counts it: the content of a
// string, the JSON text of any other value (a number, as the NestJS
// documentation signs it), "" for null.
func subject(val []byte) string {
	if s, ok := stringValue(val, nil); ok {
		return s
	}
	if string(val) == "null" {
		return ""
	}
	return string(val)
}

// stringValue returns the JSON string val; when it equals one of known,
// that string itself is returned to save an allocation.
func stringValue(val []byte, known []string) (string, bool) {
	s, ok := stringBytes(val)
	if !ok {
		return "", false
	}
	for _, k := range known {
		if string(s) == k {
			return k, true
		}
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
	// object validated the string; Unescape repairs as encoding/json does.
	return jsonlex.Unescape(nil, inner), true
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
	i := jsonlex.SkipSpace(val, 1)
	return i < len(val) && val[i] == ']'
}
