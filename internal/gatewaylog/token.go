// Package gatewaylog writes what jwtwatch reads: the request lines an API
// gateway logs (pino-http, nginx's combined format, Envoy's default format,
// each with the Authorization header) and the signed JWTs those requests
// carry. The demo, the benchmark's generator and the tests build their
// traffic with it, so that a change of format is made once.
//
// Tokens are signed by a Signer: an HMAC secret (HS256, HS384, HS512) or a
// private key (RS*, PS*, ES*, EdDSA), optionally named by a key ID.
package gatewaylog

import (
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"

	"github.com/golang-jwt/jwt/v5"
)

// Signer signs a JWS signing input (base64url header, '.', base64url
// payload) with one key.
type Signer interface {
	// Alg is the JWS "alg" header value, e.g. HS256.
	Alg() string
	// KeyID is the "kid" its tokens' headers name, "" for none.
	KeyID() string
	// Sign returns the signature of signingInput.
	Sign(signingInput []byte) ([]byte, error)
}

// hmacSigner is an HMAC key for one of HS256, HS384, HS512.
type hmacSigner struct {
	alg  string
	hash func() hash.Hash
	key  []byte
}

// HMAC returns the signer of alg (HS256, HS384 or HS512) with secret. It
// panics on another alg: that is a mistake in the caller, not in data.
func HMAC(alg string, secret []byte) Signer {
	h := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	if h == nil {
		panic(fmt.Sprintf("gatewaylog: %q is not an HMAC algorithm", alg))
	}
	return &hmacSigner{alg: alg, hash: h, key: append([]byte(nil), secret...)}
}

// HS256 is HMAC("HS256", secret), what the gateway and the auth service use.
func HS256(secret []byte) Signer { return HMAC("HS256", secret) }

func (s *hmacSigner) Alg() string   { return s.alg }
func (s *hmacSigner) KeyID() string { return "" }

func (s *hmacSigner) Sign(input []byte) ([]byte, error) {
	m := hmac.New(s.hash, s.key)
	m.Write(input)
	return m.Sum(nil), nil
}

// keySigner is a private key for one public-key algorithm.
type keySigner struct {
	alg    string
	method jwt.SigningMethod
	key    crypto.Signer
}

// PrivateKey returns the signer of alg (RS256, RS384, RS512, PS256, PS384,
// PS512, ES256, ES384, ES512 or EdDSA) with key, which must be of the
// algorithm's type (*rsa.PrivateKey, *ecdsa.PrivateKey on the matching
// curve, ed25519.PrivateKey). Signing is golang-jwt's. It panics on another
// alg.
func PrivateKey(alg string, key crypto.Signer) Signer {
	m := jwt.GetSigningMethod(alg)
	if m == nil || alg == "none" || alg[0] == 'H' {
		panic(fmt.Sprintf("gatewaylog: %q is not a public-key algorithm", alg))
	}
	return &keySigner{alg: alg, method: m, key: key}
}

func (s *keySigner) Alg() string   { return s.alg }
func (s *keySigner) KeyID() string { return "" }

func (s *keySigner) Sign(input []byte) ([]byte, error) {
	return s.method.Sign(string(input), s.key)
}

// named is a Signer whose tokens name its key.
type named struct {
	Signer
	kid string
}

func (n named) KeyID() string { return n.kid }

// WithKeyID returns s naming its key kid in its tokens' headers.
func WithKeyID(s Signer, kid string) Signer {
	if n, ok := s.(named); ok {
		s = n.Signer
	}
	return named{s, kid}
}

var b64 = base64.RawURLEncoding

// JOSEHeader is the JOSE header of s's tokens, as golang-jwt writes it (its
// header map's keys sorted): {"alg":...,"typ":"JWT"}, with "kid" between
// them when s names its key. jsonwebtoken writes the same without kid.
func JOSEHeader(s Signer) string {
	if kid := s.KeyID(); kid != "" {
		k, _ := json.Marshal(kid) // a string cannot fail
		return `{"alg":"` + s.Alg() + `","kid":` + string(k) + `,"typ":"JWT"}`
	}
	return `{"alg":"` + s.Alg() + `","typ":"JWT"}`
}

// Token returns a compact JWS of claims signed by s, with JOSEHeader(s).
// claims are marshalled by encoding/json (a map's keys sorted), so that a
// token is byte for byte the one golang-jwt signs for the same claims. It
// panics when claims cannot be marshalled or s fails: mistakes of the
// caller, as the HMAC signers cannot fail.
func Token(s Signer, claims any) string {
	body, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("gatewaylog: claims: %v", err))
	}
	return Raw(s, JOSEHeader(s), string(body))
}

// Raw returns a compact JWS of the header and payload JSON exactly as
// given, signed by s: for hostile headers and claims.
func Raw(s Signer, header, payload string) string {
	return Segments(s, b64.EncodeToString([]byte(header)), b64.EncodeToString([]byte(payload)))
}

// Segments returns header.payload.signature for segments already encoded
// (or deliberately not base64url at all), signed by s.
func Segments(s Signer, header, payload string) string {
	input := header + "." + payload
	sig, err := s.Sign([]byte(input))
	if err != nil {
		panic(fmt.Sprintf("gatewaylog: sign with %s: %v", s.Alg(), err))
	}
	return input + "." + b64.EncodeToString(sig)
}

// Unsigned returns an alg "none" token of the claims JSON as given: a
// header {"alg":"none","typ":"JWT"} and an empty signature.
func Unsigned(claims string) string {
	return b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64.EncodeToString([]byte(claims)) + "."
}

// Appender signs many tokens with one key without allocating per token
// beyond the token itself: the benchmark's generator signs a million.
type Appender struct {
	s   Signer
	mac hash.Hash // for HMAC signers; nil for others
	buf []byte
}

// NewAppender returns an Appender for s.
func NewAppender(s Signer) *Appender {
	a := &Appender{s: s}
	inner := s
	if n, ok := s.(named); ok {
		inner = n.Signer
	}
	if h, ok := inner.(*hmacSigner); ok {
		a.mac = hmac.New(h.hash, h.key)
	}
	return a
}

// Header is JOSEHeader of the Appender's signer.
func (a *Appender) Header() []byte { return []byte(JOSEHeader(a.s)) }

// Append appends the token of header and payload JSON to dst.
func (a *Appender) Append(dst []byte, header, payload []byte) []byte {
	start := len(dst)
	dst = b64.AppendEncode(dst, header)
	dst = append(dst, '.')
	dst = b64.AppendEncode(dst, payload)
	var sig []byte
	if a.mac != nil {
		a.mac.Reset()
		a.mac.Write(dst[start:])
		a.buf = a.mac.Sum(a.buf[:0])
		sig = a.buf
	} else {
		var err error
		if sig, err = a.s.Sign(dst[start:]); err != nil {
			panic(fmt.Sprintf("gatewaylog: sign with %s: %v", a.s.Alg(), err))
		}
	}
	dst = append(dst, '.')
	return b64.AppendEncode(dst, sig)
}
