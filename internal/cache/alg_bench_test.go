package cache

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// BenchmarkAlgorithms shows what the verdict cache is for with public-key
// algorithms: uncached, an RS256, ES256 or EdDSA token costs a signature
// verification (tens of microseconds against HS256's one), while a repeated
// token is a hit, whose cost does not depend on the algorithm.
func BenchmarkAlgorithms(b *testing.B) {
	exp := t0.Add(time.Hour).Unix()
	claims := jwt.MapClaims{"sub": "u", "iss": accessIss, "exp": exp}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	secret := []byte("0123456789abcdef0123456789abcdef")
	for _, alg := range []struct {
		name string
		priv any
		key  func() keys.Key
	}{
		{"HS256", secret, func() keys.Key { return keys.New(keys.Access, keys.Current, secret) }},
		{"RS256", rk, nil}, {"ES256", ek, nil}, {"EdDSA", edk, nil},
	} {
		k := keys.Key{}
		if alg.key != nil {
			k = alg.key()
		} else {
			if k, err = keys.NewPublic(keys.Access, keys.Current, alg.name, alg.priv.(crypto.Signer).Public()); err != nil {
				b.Fatal(err)
			}
		}
		s := gatewaylog.HMAC("HS256", secret)
		if alg.key == nil {
			s = gatewaylog.PrivateKey(alg.name, alg.priv.(crypto.Signer))
		}
		tok := gatewaylog.Token(s, claims)
		v := verify.New(keys.Set{Keys: []keys.Key{k}, Issuers: map[keys.Family]string{keys.Access: accessIss}}, verify.Options{})
		if got := v.Check(tok, t0); got.Result != verify.Valid {
			b.Fatalf("%s: %s", alg.name, got.Result)
		}
		b.Run("uncached/"+alg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.Check(tok, t0)
			}
		})
		b.Run("hit/"+alg.name, func(b *testing.B) {
			c := New(DefaultSize)
			c.Check(v, tok, t0)
			b.ReportAllocs()
			for b.Loop() {
				if _, hit := c.Check(v, tok, t0); !hit {
					b.Fatal("miss")
				}
			}
		})
	}
}
