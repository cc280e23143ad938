package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms lists every JWS algorithm jwtwatch verifies, HMAC first.
var Algorithms = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// RSA key sizes: below MinRSABits Go refuses to verify (every token would be
// bad_signature), so such a key is an error; below WeakRSABits (RFC 7518
// §3.3: 2048 bits or larger MUST be used) it is accepted and flagged weak.
const (
	MinRSABits  = 1024
	WeakRSABits = 2048
)

// Sentinel errors of the key material; wrapped with where the key came from.
var (
	ErrAlg       = errors.New("unknown algorithm")
	ErrKeyType   = errors.New("key does not fit its algorithm")
	ErrPrivate   = errors.New("holds private key material: give the public key only")
	ErrNoPEM     = errors.New("no PEM public key or certificate")
	ErrBadJWK    = errors.New("not a usable JWK")
	ErrSymmetric = errors.New("a symmetric (kty oct) key in a JWK: HMAC secrets come only from secret_env or secret_file")
)

// isHMAC reports whether alg is one of the HMAC algorithms.
func isHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") && slices.Contains(Algorithms, alg) }

// NewSecret builds an HMAC key pinned to alg (HS256, HS384 or HS512).
func NewSecret(f Family, r Role, alg string, secret []byte) (Key, error) {
	if !isHMAC(alg) {
		return Key{}, fmt.Errorf("%q for an HMAC secret: %w (want HS256, HS384 or HS512)", alg, ErrKeyType)
	}
	k := New(f, r, secret)
	k.Alg, k.Pinned = alg, true
	return k, nil
}

// NewPublic builds a key for a public key pinned to alg: RS* and PS* take an
// RSA key, ES256/ES384/ES512 an ECDSA key on P-256/P-384/P-521, EdDSA an
// Ed25519 key. The fingerprint hashes the key's PKIX encoding, so the same
// key gives the same fingerprint whether it came from PEM or a JWK.
func NewPublic(f Family, r Role, alg string, pub crypto.PublicKey) (Key, error) {
	if !slices.Contains(Algorithms, alg) {
		return Key{}, fmt.Errorf("%q: %w", alg, ErrAlg)
	}
	k := Key{Family: f, Role: r, Alg: alg, Pinned: true}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if alg[:2] != "RS" && alg[:2] != "PS" {
			return Key{}, fmt.Errorf("an RSA key for %s: %w", alg, ErrKeyType)
		}
		if p.N.BitLen() < MinRSABits {
			return Key{}, fmt.Errorf("an RSA key of %d bits: %w (at least %d)", p.N.BitLen(), ErrKeyType, MinRSABits)
		}
		k.Weak = p.N.BitLen() < WeakRSABits
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil || p.Curve != want {
			return Key{}, fmt.Errorf("an EC key on %s for %s: %w (ES256 wants P-256, ES384 P-384, ES512 P-521)", p.Curve.Params().Name, alg, ErrKeyType)
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" || len(p) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("an Ed25519 key for %s: %w", alg, ErrKeyType)
		}
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return Key{}, ErrPrivate
	default:
		return Key{}, fmt.Errorf("%T: %w", pub, ErrKeyType)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrKeyType, err)
	}
	k.Fingerprint, k.public = Fingerprint(der), pub
	return k, nil
}

// impliedAlg is the only algorithm an EC or Ed25519 key can verify; RSA keys
// serve RS* and PS* alike, so they have none.
func impliedAlg(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return "ES256"
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// ParsePEM returns the public key of the first PEM block of data that is a
// public key ("PUBLIC KEY", "RSA PUBLIC KEY") or a certificate. A private key
// is refused rather than reduced to its public half: it does not belong on
// a sidecar.
func ParsePEM(data []byte) (crypto.PublicKey, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, ErrNoPEM
		}
		switch {
		case strings.Contains(b.Type, "PRIVATE KEY"):
			return nil, ErrPrivate
		case b.Type == "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrNoPEM, err)
			}
			return pub, nil
		case b.Type == "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrNoPEM, err)
			}
			return pub, nil
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrNoPEM, err)
			}
			return c.PublicKey, nil
		}
	}
}

// JWK is one signature key of a JWK or JWK Set, parsed and checked by
// go-jose: base64url members strict, EC points on their curve, Ed25519
// keys of the right length.
type JWK struct {
	KID string
	// Alg is the JWK's "alg" member; empty when it has none.
	Alg    string
	Public crypto.PublicKey
}

// ParseJWK parses one JWK. Symmetric and private keys are refused: neither
// belongs in a JWK jwtwatch reads (a JWK Set is public). Members jwtwatch
// never follows (x5u) are ignored.
func ParseJWK(raw []byte) (JWK, error) {
	var probe struct {
		Kty string `json:"kty"`
		D   string `json:"d"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return JWK{}, fmt.Errorf("%w: not a JSON object", ErrBadJWK)
	}
	if probe.Kty == "oct" {
		return JWK{}, ErrSymmetric
	}
	if probe.D != "" {
		return JWK{}, ErrPrivate
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		// go-jose's message names the member, never a key's value.
		return JWK{}, fmt.Errorf("%w: %w", ErrBadJWK, err)
	}
	if !k.Valid() || !k.IsPublic() {
		return JWK{}, fmt.Errorf("%w: incomplete public key", ErrBadJWK)
	}
	return JWK{KID: k.KeyID, Alg: k.Algorithm, Public: k.Key}, nil
}

// SetMember is one member of a JWK Set: its signature key, or why it is
// left out (Skip, for a key that is not for signatures) or unusable (Err).
type SetMember struct {
	Index int
	JWK   JWK
	// Skip says why a key meant for something else is left out ("use":
	// "enc", an encryption algorithm, a kty jwtwatch does not verify with).
	Skip string
	Err  error
}

// ParseJWKS parses a JWK Set ({"keys": [...]}) member by member, so that one
// key meant for encryption does not hide the signing keys beside it.
func ParseJWKS(data []byte) ([]SetMember, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil || set.Keys == nil {
		return nil, fmt.Errorf("%w: not a JWK Set (a JSON object with a \"keys\" array)", ErrBadJWK)
	}
	out := make([]SetMember, 0, len(set.Keys))
	for i, raw := range set.Keys {
		m := SetMember{Index: i}
		var meta struct {
			Kty    string   `json:"kty"`
			Use    string   `json:"use"`
			Alg    string   `json:"alg"`
			KeyOps []string `json:"key_ops"`
			Crv    string   `json:"crv"`
		}
		_ = json.Unmarshal(raw, &meta)
		switch {
		case meta.Use != "" && meta.Use != "sig":
			m.Skip = fmt.Sprintf("use %q", meta.Use)
		case len(meta.KeyOps) > 0 && !slices.Contains(meta.KeyOps, "verify"):
			m.Skip = "key_ops without verify"
		case meta.Alg != "" && !slices.Contains(Algorithms, meta.Alg):
			m.Skip = fmt.Sprintf("alg %q", meta.Alg)
		case meta.Kty == "OKP" && meta.Crv != "Ed25519":
			m.Skip = fmt.Sprintf("OKP curve %q", meta.Crv)
		case meta.Kty != "RSA" && meta.Kty != "EC" && meta.Kty != "OKP" && meta.Kty != "oct":
			m.Skip = fmt.Sprintf("kty %q", meta.Kty)
		default:
			m.JWK, m.Err = ParseJWK(raw)
		}
		out = append(out, m)
	}
	return out, nil
}

// PublicJWK returns the public JWK of pub for a JWK Set, with its kid and
// alg, as `jwtwatch keygen` prints it.
func PublicJWK(pub crypto.PublicKey, kid, alg string) ([]byte, error) {
	k := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}
	b, err := k.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// GeneratePair returns a new private key for alg, from crypto/rand: a
// 2048-bit RSA key for RS* and PS*, a key on the algorithm's curve for ES*,
// an Ed25519 key for EdDSA. keygen, the demo and the benchmark sign with it.
func GeneratePair(alg string) (crypto.Signer, error) {
	switch {
	case !slices.Contains(Algorithms, alg) || isHMAC(alg):
		return nil, fmt.Errorf("%q: %w (want a public-key algorithm)", alg, ErrAlg)
	case alg == "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case alg[0] == 'E':
		curve := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, WeakRSABits)
}
