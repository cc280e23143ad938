package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// material writes the public keys and secrets a key file names into dir.
type material struct {
	dir                      string
	rsaPEM, ecPEM, certPEM   string // paths
	privPEM                  string
	edJWK, rsaJWKNoAlg       string
	jwks                     string
	secretFile               string
	secret, fileSecret       string
	rsaFP, ecFP, edFP, edFP2 string
}

func newMaterial(t *testing.T) *material {
	t.Helper()
	m := &material{dir: t.TempDir(), secret: strings.Repeat("v", 40), fileSecret: strings.Repeat("f", 40)}
	write := func(name string, data []byte) string {
		p := filepath.Join(m.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	m.rsaPEM = write("rsa.pem", pemOf("PUBLIC KEY", der))
	m.rsaFP = Fingerprint(der)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ = x509.MarshalPKIXPublicKey(&ek.PublicKey)
	m.ecPEM = write("ec.pem", pemOf("PUBLIC KEY", der))
	m.ecFP = Fingerprint(der)
	tmpl := &x509.Certificate{SerialNumber: bigOne()}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ek.PublicKey, ek)
	if err != nil {
		t.Fatal(err)
	}
	m.certPEM = write("cert.pem", pemOf("CERTIFICATE", cert))
	pk, _ := x509.MarshalPKCS8PrivateKey(ek)
	m.privPEM = write("private.pem", pemOf("PRIVATE KEY", pk))
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	j, _ := PublicJWK(ed, "ed-1", "EdDSA")
	m.edJWK = write("ed.jwk", j)
	der, _ = x509.MarshalPKIXPublicKey(ed)
	m.edFP = Fingerprint(der)
	j2, _ := PublicJWK(&rk.PublicKey, "rsa-1", "")
	m.rsaJWKNoAlg = write("rsa.jwk", j2)
	ed2, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ = x509.MarshalPKIXPublicKey(ed2)
	m.edFP2 = Fingerprint(der)
	set1, _ := PublicJWK(ed, "k1", "EdDSA")
	set2, _ := PublicJWK(ed2, "k2", "EdDSA")
	m.jwks = write("set.json", []byte(`{"keys":[`+string(set1)+`,`+string(set2)+`,{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`))
	m.secretFile = write("secret", []byte(m.fileSecret+"\n"))
	return m
}

func (m *material) env() func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == "OLD_ACCESS_SECRET" {
			return m.secret, true
		}
		return "", false
	}
}

// load writes the key file and loads it beside the environment env.
func (m *material) load(t *testing.T, yaml string, env map[string]string) (Set, error) {
	t.Helper()
	path := filepath.Join(m.dir, "keys.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadAll(Config{
		Lookup: func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			return m.env()(k)
		},
		ReadFile: os.ReadFile, File: path,
		Remote: func(e Entry) ([]byte, error) { return os.ReadFile(m.jwks) },
	})
}

// TestKeyFile loads a complete key file: every kind of material, roles
// of a set by kid, the environment beside it.
func TestKeyFile(t *testing.T) {
	m := newMaterial(t)
	yaml := fmt.Sprintf(`
access:
  issuer: https://auth.example.test
  keys:
    - role: current
      alg: RS256
      kid: rsa-2026
      pem_file: %s
    - role: previous
      secret_env: OLD_ACCESS_SECRET
    - role: retired
      alg: HS384
      secret_file: %s
    - role: next
      pem_file: %s
refresh:
  keys:
    - jwks_file: %s
      roles: {k1: current, k9: next}
    - role: retired
      jwk_file: %s
`, m.rsaPEM, m.secretFile, m.certPEM, m.jwks, m.edJWK)
	set, err := m.load(t, yaml, map[string]string{"JWT_REFRESH_SECRET_RETIRED": strings.Repeat("r", 32)})
	if err == nil || !errors.Is(err, ErrConflict) {
		// The ed.jwk is the set's k1 key too: the same refresh key twice.
		t.Fatalf("err = %v, want a conflict (the same key in the set and the JWK file)", err)
	}
	for _, w := range []string{"keys.yaml: refresh.keys[0]", "keys.yaml: refresh.keys[1]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the conflict %q does not name %q", err, w)
		}
	}
	yaml = strings.Replace(yaml, "    - role: retired\n      jwk_file: "+m.edJWK+"\n", "", 1)
	set, err = m.load(t, yaml, map[string]string{"JWT_REFRESH_SECRET_RETIRED": strings.Repeat("r", 32)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range set.Keys {
		got = append(got, fmt.Sprintf("%s/%s/%s/%s/%v", k.Family, k.Role, k.Alg, k.KID, k.Pinned))
	}
	want := []string{
		"access/current/RS256/rsa-2026/true", "refresh/current/EdDSA/k1/true",
		"access/next/ES256//true",
		"access/previous/HS256//true", "refresh/previous/EdDSA/k2/true",
		"access/retired/HS384//true", "refresh/retired/HS256//false",
	}
	// The order: role first, then family, then the environment's before the file's.
	if !slices.Equal(got, want) {
		t.Errorf("keys:\n got %q\nwant %q", got, want)
	}
	if set.Keys[0].Fingerprint != m.rsaFP || set.Keys[2].Fingerprint != m.ecFP || set.Keys[1].Fingerprint != m.edFP {
		t.Error("a fingerprint is not that of the key's PKIX encoding")
	}
	if set.Issuers[Access] != "https://auth.example.test" || set.Issuers[Refresh] != "https://auth.example.test" {
		t.Errorf("issuers %v", set.Issuers)
	}
	for _, n := range []string{`key 2 left out (use "enc")`, `kid "k9", named next, is not in the set`} {
		if !slices.ContainsFunc(set.Notes, func(s string) bool { return strings.Contains(s, n) }) {
			t.Errorf("notes %q lack %q", set.Notes, n)
		}
	}
	for _, f := range []string{m.rsaPEM, m.secretFile, m.certPEM, m.jwks, filepath.Join(m.dir, "keys.yaml")} {
		if !slices.Contains(set.Files, f) {
			t.Errorf("files to watch %q lack %s", set.Files, f)
		}
	}
	for _, k := range set.Keys {
		if s := fmt.Sprintf("%v %+v %#v %s", k, k, k, k.Source); strings.Contains(s, m.secret) || strings.Contains(s, m.fileSecret) {
			t.Errorf("a key's text shows its secret: %s", s)
		}
	}
}

// TestKeyFileErrors: every mistake is an error naming the file, the entry
// (and its line) and what is wrong, never showing a secret.
func TestKeyFileErrors(t *testing.T) {
	m := newMaterial(t)
	entry := func(s string) string {
		return "access:\n  keys:\n    - " + strings.ReplaceAll(s, "\n", "\n      ") + "\n"
	}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
		is   error
	}{
		{"not YAML", "access: [", nil, []string{"not YAML"}, ErrKeyFile},
		{"unknown family", "admin:\n  keys: []\n", nil, []string{`admin (line 1)`, "unknown token family"}, ErrKeyFile},
		{"secret inline", entry("role: current\nsecret: " + m.secret), nil, []string{"access.keys[0] (line 3)", `"secret"`, "never holds a secret"}, ErrSecretInKey},
		{"k inline", entry("role: current\nk: " + m.secret), nil, []string{"access.keys[0]", `"k"`}, ErrSecretInKey},
		{"unknown member", entry("role: current\npem: x"), nil, []string{`unknown member "pem"`}, ErrKeyFile},
		{"two sources", entry("role: current\npem_file: a\njwk_file: b"), nil, []string{"exactly one of", "got 2"}, ErrKeyFile},
		{"no source", entry("role: current"), nil, []string{"exactly one of", "got 0"}, ErrKeyFile},
		{"bad role", entry("role: primary\npem_file: " + m.ecPEM), nil, []string{`role "primary"`}, ErrKeyFile},
		{"bad alg", entry("role: current\nalg: HS257\nsecret_env: OLD_ACCESS_SECRET"), nil, []string{`alg "HS257"`}, ErrAlg},
		{"alg none", entry("role: current\nalg: none\npem_file: " + m.ecPEM), nil, []string{`alg "none"`}, ErrAlg},
		{"RSA alg for an HMAC secret", entry("role: current\nalg: RS256\nsecret_env: OLD_ACCESS_SECRET"), nil, []string{"alg RS256 for an HMAC secret"}, ErrKeyType},
		{"unset variable", entry("role: current\nsecret_env: NOPE"), nil, []string{"secret_env NOPE", "not set"}, ErrKeyFile},
		{"empty variable", entry("role: current\nsecret_env: EMPTY"), map[string]string{"EMPTY": "  "}, []string{"secret_env EMPTY"}, ErrEmpty},
		{"missing PEM", entry("role: current\npem_file: /nonexistent.pem"), nil, []string{`pem_file "/nonexistent.pem"`}, ErrKeyFile},
		{"private PEM", entry("role: current\npem_file: " + m.privPEM), nil, []string{"private key material"}, ErrPrivate},
		{"not PEM", entry("role: current\npem_file: " + m.secretFile), nil, []string{"no PEM"}, ErrNoPEM},
		{"RSA without alg", entry("role: current\npem_file: " + m.rsaPEM), nil, []string{"set alg"}, ErrKeyFile},
		{"RSA JWK without alg", entry("role: current\njwk_file: " + m.rsaJWKNoAlg), nil, []string{`without "alg"`}, ErrKeyFile},
		{"EC key for RS256", entry("role: current\nalg: RS256\npem_file: " + m.ecPEM), nil, []string{"an EC key", "RS256"}, ErrKeyType},
		{"JWK alg differs", entry("role: current\nalg: ES256\njwk_file: " + m.edJWK), nil, []string{"alg ES256 in the key file, EdDSA in the JWK"}, ErrConflict},
		{"JWK kid differs", entry("role: current\nkid: other\njwk_file: " + m.edJWK), nil, []string{`kid "other" in the key file, "ed-1" in the JWK`}, ErrConflict},
		{"role on a set", entry("role: current\njwks_file: " + m.jwks), nil, []string{"roles (kid: role)"}, ErrKeyFile},
		{"default current", entry("jwks_file: " + m.jwks + "\ndefault_role: current"), nil, []string{"default_role current"}, ErrKeyFile},
		{"http URL", entry("jwks_url: http://auth.example.test/jwks?token=" + m.secret), nil, []string{"must be https", "http://auth.example.test/jwks?…"}, ErrInsecureURL},
		{"two current keys", entry("role: current\npem_file: " + m.ecPEM), map[string]string{"JWT_ACCESS_SECRET": m.secret}, []string{"two current keys", "JWT_ACCESS_SECRET and", "keys.yaml: access.keys[0] (line 3) pem_file"}, ErrConflict},
		{"same key twice", entry("role: retired\nsecret_env: OLD_ACCESS_SECRET"), map[string]string{"JWT_ACCESS_SECRET": m.secret}, []string{"same access key", "as current by JWT_ACCESS_SECRET", "as retired by", "secret_env OLD_ACCESS_SECRET"}, ErrConflict},
		{"issuer conflict", "access:\n  issuer: b\n  keys:\n    - role: current\n      pem_file: " + m.ecPEM + "\n", map[string]string{"JWT_ACCESS_ISSUER": "a"}, []string{`issuer is "a" by JWT_ACCESS_ISSUER but "b" by`, "access.issuer"}, ErrConflict},
		{"previous alone", entry("role: previous\npem_file: " + m.ecPEM), nil, []string{"access.keys[0]", "without a current key"}, ErrPreviousAlone},
		{"set without a current key", entry("jwks_file: " + m.jwks), nil, []string{"k1", "without a current key"}, ErrPreviousAlone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.load(t, tt.yaml, tt.env)
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.Join(m.dir, "keys.yaml")) && tt.name != "issuer conflict" && tt.name != "two current keys" && tt.name != "same key twice" {
				t.Errorf("%q does not name the key file", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, m.secret) || strings.Contains(msg, m.fileSecret) {
				t.Errorf("%q shows a secret", msg)
			}
		})
	}
}

// TestPendingCurrent: a JWK Set whose named current kid is not published
// yet leaves its family without a current key until it is, with a note.
func TestPendingCurrent(t *testing.T) {
	m := newMaterial(t)
	set, err := m.load(t, "access:\n  keys:\n    - jwks_file: "+m.jwks+"\n      roles: {k3: current}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Find(Access, Current); ok {
		t.Error("a current key appeared")
	}
	if !slices.ContainsFunc(set.Notes, func(s string) bool { return strings.Contains(s, `no current key until its JWK Set holds kid "k3"`) }) {
		t.Errorf("notes %q", set.Notes)
	}
}

func bigOne() *big.Int { return big.NewInt(1) }
