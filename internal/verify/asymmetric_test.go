package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

var at = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// pair is a generated key pair bound to one algorithm.
type pair struct {
	alg  string
	priv crypto.Signer
}

var (
	pairsOnce sync.Once
	pairs     map[string][]pair // by algorithm: two distinct pairs each
)

// keyPairs generates, once per test binary, two key pairs for every
// public-key algorithm (RSA keys are slow to make).
func keyPairs(t testing.TB) map[string][]pair {
	t.Helper()
	pairsOnce.Do(func() {
		pairs = map[string][]pair{}
		var rsaKeys []crypto.Signer // RS* and PS* share two RSA keys: they are slow to make
		for _, alg := range keys.Algorithms[3:] {
			for i := range 2 {
				var priv crypto.Signer
				var err error
				switch {
				case (alg[0] == 'R' || alg[0] == 'P') && len(rsaKeys) == 2:
					priv = rsaKeys[i]
				default:
					priv, err = keys.GeneratePair(alg)
				}
				if err != nil {
					panic(err)
				}
				if alg[0] == 'R' && len(rsaKeys) < 2 {
					rsaKeys = append(rsaKeys, priv)
				}
				pairs[alg] = append(pairs[alg], pair{alg: alg, priv: priv})
			}
		}
	})
	return pairs
}

// key returns p's public key as a configured key.
func (p pair) key(t testing.TB, f keys.Family, r keys.Role, kid string) keys.Key {
	t.Helper()
	k, err := keys.NewPublic(f, r, p.alg, p.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	k.KID = kid
	return k
}

// sign signs claims with p under the header's extra members, both
// marshalled as golang-jwt marshals them (keys sorted).
func (p pair) sign(t testing.TB, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	h := map[string]any{"alg": p.alg, "typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return p.signRaw(t, string(hj), string(cj))
}

// fresh are claims valid at `at`.
func fresh() jwt.MapClaims {
	return jwt.MapClaims{"sub": "alice", "iat": at.Add(-time.Minute).Unix(), "exp": at.Add(time.Hour).Unix()}
}

// resign replaces a token's signature with sig.
func resign(tok string, sig []byte) string {
	return tok[:strings.LastIndexByte(tok, '.')+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestEveryAlgorithm checks each public-key algorithm in the order RFC 7515
// §5.2 sets for all of them: a signature no key verifies is bad_signature
// even when the claims have expired too; a non-canonical segment is
// malformed before any signature is checked; an algorithm no key is bound
// to is alg_rejected; then the claims.
func TestEveryAlgorithm(t *testing.T) {
	ps := keyPairs(t)
	for _, alg := range keys.Algorithms[3:] {
		t.Run(alg, func(t *testing.T) {
			p, other := ps[alg][0], ps[alg][1]
			k := p.key(t, keys.Access, keys.Current, "")
			v := verify.New(keys.Set{Keys: []keys.Key{k}}, verify.Options{})
			valid := p.sign(t, nil, fresh())
			expired := fresh()
			expired["exp"] = at.Add(-time.Hour).Unix()
			h, pl, sig := split(valid)
			rawSig, _ := base64.RawURLEncoding.DecodeString(sig)
			tests := []struct {
				name string
				in   string
				want verify.Result
				key  keys.Role
			}{
				{"valid", valid, verify.Valid, keys.Current},
				{"expired", p.sign(t, nil, expired), verify.Expired, keys.Current},
				{"other key", other.sign(t, nil, fresh()), verify.BadSignature, keys.None},
				{"other key and expired", other.sign(t, nil, expired), verify.BadSignature, keys.None},
				{"signature of another payload", h + "." + b64url(`{"sub":"mallory"}`) + "." + sig, verify.BadSignature, keys.None},
				{"payload not JSON, signature good", p.signRaw(t, `{"alg":"`+alg+`"}`, "not claims"), verify.Malformed, keys.Current},
				{"payload not canonical", h + "." + pl + "=" + "." + sig, verify.Malformed, keys.None},
				{"signature not canonical", h + "." + pl + "." + sig + "=", verify.Malformed, keys.None},
				{"signature one byte short", resign(valid, rawSig[:len(rawSig)-1]), verify.BadSignature, keys.None},
				{"empty signature", h + "." + pl + ".", verify.BadSignature, keys.None},
				{"alg none", b64url(`{"alg":"none"}`) + "." + pl + ".", verify.AlgRejected, keys.None},
				{"HS256 over the public key", hmacWithPublicKey(t, p, pl), verify.AlgRejected, keys.None},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got := v.Check(tt.in, at)
					if got.Result != tt.want || got.Key != tt.key {
						t.Errorf("Check = %s/%s, want %s/%s", got.Key, got.Result, tt.key, tt.want)
					}
					if got.Key != keys.None && got.Fingerprint != k.Fingerprint {
						t.Errorf("fingerprint %s, want %s", got.Fingerprint, k.Fingerprint)
					}
				})
			}
		})
	}
}

func split(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw signs a header and payload given as JSON text.
func (p pair) signRaw(t testing.TB, header, payload string) string {
	t.Helper()
	return gatewaylog.Raw(gatewaylog.PrivateKey(p.alg, p.priv), header, payload)
}

// hmacWithPublicKey is the algorithm confusion attack: an HS256 token whose
// secret is the PEM of p's public key, as a library that takes "the key" for
// whatever the header says would verify it.
func hmacWithPublicKey(t testing.TB, p pair, payload string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(p.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return gatewaylog.Segments(gatewaylog.HS256(secret), b64url(`{"alg":"HS256","typ":"JWT"}`), payload)
}

// TestAlgorithmConfusion: an RS256 public key is never an HMAC secret. With
// only public keys, an HS256 header is alg_rejected; beside an HMAC secret it
// is checked against that secret only (bad_signature); with a kid naming the
// RSA key it asks another algorithm than the key's (alg_rejected).
func TestAlgorithmConfusion(t *testing.T) {
	p := keyPairs(t)["RS256"][0]
	rsaKey := p.key(t, keys.Access, keys.Current, "rsa-1")
	secret, err := keys.NewSecret(keys.Access, keys.Previous, "HS256", []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	_, pl, _ := split(p.sign(t, nil, fresh()))
	forged := hmacWithPublicKey(t, p, pl)
	h, _, s := split(forged)
	_ = h
	withKID := b64url(`{"alg":"HS256","kid":"rsa-1"}`) + "." + pl + "." + s
	tests := []struct {
		name string
		set  []keys.Key
		in   string
		want verify.Result
	}{
		{"public keys only", []keys.Key{rsaKey}, forged, verify.AlgRejected},
		{"beside an HMAC secret", []keys.Key{rsaKey, secret}, forged, verify.BadSignature},
		{"kid names the RSA key", []keys.Key{rsaKey, secret}, withKID, verify.AlgRejected},
		{"unpinned environment secret", []keys.Key{rsaKey, keys.New(keys.Refresh, keys.Current, []byte(strings.Repeat("e", 32)))}, forged, verify.BadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verify.New(keys.Set{Keys: tt.set}, verify.Options{}).Check(tt.in, at)
			if got.Result != tt.want || got.Key != keys.None {
				t.Errorf("Check = %s/%s, want none/%s", got.Key, got.Result, tt.want)
			}
		})
	}
}

// TestKID: kid selects the keys that carry it, as an opaque string; an
// unknown kid selects nothing, so every key of the algorithm is tried, and a
// token no key verifies is reported with UnknownKID (a JWK Set may have
// gained the key). jku, x5u and jwk headers are never followed.
func TestKID(t *testing.T) {
	ps := keyPairs(t)["ES256"]
	a, b := ps[0], ps[1]
	ka, kb := a.key(t, keys.Access, keys.Current, "a"), b.key(t, keys.Access, keys.Next, "../b?x=1")
	rs := keyPairs(t)["RS256"][0]
	krs := rs.key(t, keys.Access, keys.Previous, "")
	v := verify.New(keys.Set{Keys: []keys.Key{ka, kb, krs}}, verify.Options{})
	attacker := keyPairs(t)["EdDSA"][0]
	attackerJWK, err := keys.PublicJWK(attacker.priv.Public(), "evil", "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    verify.Result
		key     keys.Role
		unknown bool
	}{
		{"kid of the signer", a.sign(t, map[string]any{"kid": "a"}, fresh()), verify.Valid, keys.Current, false},
		{"kid is opaque", b.sign(t, map[string]any{"kid": "../b?x=1"}, fresh()), verify.Valid, keys.Next, false},
		{"kid of another key", a.sign(t, map[string]any{"kid": "../b?x=1"}, fresh()), verify.BadSignature, keys.None, false},
		{"no kid", b.sign(t, nil, fresh()), verify.Valid, keys.Next, false},
		{"unknown kid, a known signer", a.sign(t, map[string]any{"kid": "gone"}, fresh()), verify.Valid, keys.Current, false},
		{"unknown kid, no known signer", signWith(t, "ES256", map[string]any{"kid": "new"}), verify.BadSignature, keys.None, true},
		{"kid names an ES256 key, header asks RS256", rs.sign(t, map[string]any{"kid": "a"}, fresh()), verify.AlgRejected, keys.None, false},
		{"unknown kid, unknown algorithm", attacker.sign(t, map[string]any{"kid": "new"}, fresh()), verify.AlgRejected, keys.None, true},
		{"kid not a string", a.signRaw(t, `{"alg":"ES256","kid":1}`, `{}`), verify.Malformed, keys.None, false},
		{"jwk header with the attacker's key", signWith(t, ka.Alg, map[string]any{"jwk": attackerJWK}), verify.BadSignature, keys.None, false},
		{"jku header", signWith(t, ka.Alg, map[string]any{"jku": "https://127.0.0.1:1/jwks.json", "kid": "zz"}), verify.BadSignature, keys.None, true},
		{"x5u header", signWith(t, ka.Alg, map[string]any{"x5u": "https://127.0.0.1:1/cert.pem"}), verify.BadSignature, keys.None, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Check(tt.in, at)
			if got.Result != tt.want || got.Key != tt.key || got.UnknownKID() != tt.unknown {
				t.Errorf("Check = %s/%s unknownKID=%v, want %s/%s unknownKID=%v", got.Key, got.Result, got.UnknownKID(), tt.key, tt.want, tt.unknown)
			}
		})
	}
}

// signWith signs fresh claims under an ES* header with the header members
// given, with an attacker's own new key.
func signWith(t testing.TB, alg string, header map[string]any) string {
	t.Helper()
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pair{alg: alg, priv: attacker}.sign(t, header, fresh())
}

// TestECDSASignatureForm: ECDSA signatures are the fixed-length R||S of RFC
// 7518 §3.4. A DER-encoded signature, even one the key made over these very
// bytes, and one of the wrong length are bad_signature: the RFC says their
// "validation has failed", as for an HMAC of the wrong length, and the
// product counts every signature no key verifies as bad_signature.
func TestECDSASignatureForm(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512"} {
		t.Run(alg, func(t *testing.T) {
			p := keyPairs(t)[alg][0]
			v := verify.New(keys.Set{Keys: []keys.Key{p.key(t, keys.Access, keys.Current, "")}}, verify.Options{})
			tok := p.sign(t, nil, fresh())
			h, pl, sig := split(tok)
			raw, _ := base64.RawURLEncoding.DecodeString(sig)
			hash := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg].New()
			hash.Write([]byte(h + "." + pl))
			der, err := ecdsa.SignASN1(rand.Reader, p.priv.(*ecdsa.PrivateKey), hash.Sum(nil))
			if err != nil {
				t.Fatal(err)
			}
			for name, in := range map[string]string{
				"DER":              resign(tok, der),
				"one byte short":   resign(tok, raw[:len(raw)-1]),
				"one byte longer":  resign(tok, append(append([]byte(nil), raw...), 0)),
				"R only":           resign(tok, raw[:len(raw)/2]),
				"R||S zero-padded": resign(tok, append([]byte{0}, raw...)),
			} {
				if got := v.Check(in, at); got.Result != verify.BadSignature || got.Key != keys.None {
					t.Errorf("%s: %s/%s, want none/bad_signature", name, got.Key, got.Result)
				}
			}
			if got := v.Check(tok, at); got.Result != verify.Valid {
				t.Errorf("the R||S original: %s, want valid", got.Result)
			}
		})
	}
}

// TestPSSSaltLength: RFC 7518 §3.5 fixes the salt to the hash size, and the
// gateway's jsonwebtoken verifies with exactly that salt; so does jwtwatch,
// where golang-jwt alone would accept any salt.
func TestPSSSaltLength(t *testing.T) {
	p := keyPairs(t)["PS256"][0]
	v := verify.New(keys.Set{Keys: []keys.Key{p.key(t, keys.Access, keys.Current, "")}}, verify.Options{})
	signing := b64url(`{"alg":"PS256"}`) + "." + b64url(`{"sub":"alice"}`)
	digest := sha256.Sum256([]byte(signing))
	for _, tt := range []struct {
		salt int
		want verify.Result
	}{{rsa.PSSSaltLengthEqualsHash, verify.Valid}, {32, verify.Valid}, {0, verify.BadSignature}, {20, verify.BadSignature}, {rsa.PSSSaltLengthAuto, verify.BadSignature}} {
		sig, err := rsa.SignPSS(rand.Reader, p.priv.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: tt.salt})
		if err != nil {
			t.Fatal(err)
		}
		tok := signing + "." + base64.RawURLEncoding.EncodeToString(sig)
		if got := v.Check(tok, at).Result; got != tt.want {
			t.Errorf("salt length %d: %s, want %s", tt.salt, got, tt.want)
		}
		if err := jwt.SigningMethodPS256.Verify(signing, sig, p.priv.Public()); err != nil {
			t.Errorf("golang-jwt's own PS256 refuses salt length %d: %v (the test's premise)", tt.salt, err)
		}
	}
}

// TestKeyBinding: a key is bound to one algorithm and key type at load.
func TestKeyBinding(t *testing.T) {
	ps := keyPairs(t)
	tests := []struct {
		alg string
		pub crypto.PublicKey
		ok  bool
	}{
		{"RS256", ps["RS256"][0].priv.Public(), true},
		{"PS512", ps["RS256"][0].priv.Public(), true},
		{"ES256", ps["RS256"][0].priv.Public(), false},
		{"HS256", ps["RS256"][0].priv.Public(), false},
		{"ES384", ps["ES256"][0].priv.Public(), false},
		{"ES512", ps["ES512"][0].priv.Public(), true},
		{"EdDSA", ps["ES256"][0].priv.Public(), false},
		{"EdDSA", ps["EdDSA"][0].priv.Public(), true},
		{"RS256", ps["RS256"][0].priv, false}, // a private key
		{"none", ps["EdDSA"][0].priv.Public(), false},
	}
	for _, tt := range tests {
		_, err := keys.NewPublic(keys.Access, keys.Current, tt.alg, tt.pub)
		if (err == nil) != tt.ok {
			t.Errorf("NewPublic(%s, %T) err = %v, want ok %v", tt.alg, tt.pub, err, tt.ok)
		}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := keys.NewPublic(keys.Access, keys.Current, "RS256", &small.PublicKey); err != nil || !k.Weak {
		t.Errorf("a 1024-bit RSA key: weak=%v err=%v, want accepted and weak", k.Weak, err)
	}
}
