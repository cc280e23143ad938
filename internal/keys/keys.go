// Package keys loads the signing keys jwtwatch checks tokens against — the
// HMAC secrets of the gateway's environment variables (or mounted secret
// files), and the keys of a --keys.file: HMAC secrets by reference, public
// keys from PEM, JWK and JWK Set files or URLs — and describes them by role
// and one-way fingerprint, never by value.
package keys

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Family says which kind of token a key signs.
type Family string

// Token families, as used in the `token` metric label.
const (
	Access  Family = "access"
	Refresh Family = "refresh"
	// Unknown is the family of a token that no configured key verifies.
	Unknown Family = "unknown"
)

// Families lists every value of the `token` label.
var Families = []Family{Access, Refresh, Unknown}

// Role says where a key stands in the rotation.
type Role string

// Key roles, as used in the `key` and `role` metric labels.
const (
	// Next is a key published ahead of its promotion (Auth0's "next" signing
	// key): a valid token it signs before it is current is suspicious.
	Next     Role = "next"
	Current  Role = "current"
	Previous Role = "previous"
	Retired  Role = "retired"
	// None is the role reported for a token that no configured key verifies.
	None Role = "none"
)

// Roles lists every value of the `key` label.
var Roles = []Role{Next, Current, Previous, Retired, None}

// ParseRole returns the role named s, one a key can have (not None).
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case Next, Current, Previous, Retired:
		return r, true
	}
	return "", false
}

// MinSecretBytes is the size below which a secret is accepted but flagged weak:
// HS256 wants at least 256 bits of key.
const MinSecretBytes = 32

// Sentinel errors of Load; wrapped with the variable's name.
var (
	ErrNoKey         = errors.New("no signing key configured")
	ErrBothSet       = errors.New("set either the variable or its _FILE form, not both")
	ErrEmpty         = errors.New("secret is empty or only whitespace")
	ErrUnreadable    = errors.New("secret file cannot be read")
	ErrPreviousAlone = errors.New("previous key configured without a current key")
	ErrSameSecret    = errors.New("hold the same secret: a previous key must differ from the current one")
	ErrTooLarge      = errors.New("file is too large")
)

// Bounds on the files keys reads: a secret is tens of bytes, a key file or
// a JWK Set a few KiB, and a path such as /dev/zero or a log mounted by
// mistake must be refused at once, not read until memory runs out.
const (
	// MaxSecretFileBytes bounds a *_SECRET_FILE (and an issuer's _FILE).
	MaxSecretFileBytes = 64 << 10
	// MaxFileBytes bounds any file ReadFile reads: the key file, PEM, JWK
	// and JWK Set files.
	MaxFileBytes = 1 << 20
)

// Key is one configured key: an HMAC secret or a public key, bound to one
// algorithm. Its String and LogValue never show the secret.
type Key struct {
	Family      Family
	Role        Role
	Fingerprint string
	// Alg is the JWS algorithm the key verifies (HS256, RS256, ES256, EdDSA, ...).
	Alg string
	// Pinned keys verify only Alg. An unpinned key is an HMAC secret of the
	// environment variables: like the gateway's secret, it verifies every
	// HMAC algorithm the verifier allows (--jwt.algorithm, HS256 by default).
	Pinned bool
	Weak   bool
	// KID is the key ID a token's header names to select the key; empty when
	// the key has none (then it is tried for every token of its algorithm).
	KID string
	// Source names where the key came from (the variable, or the key file
	// and entry), for messages.
	Source string
	// Remembered marks a retired key jwtwatch keeps in memory only: the
	// current key a reload replaced with no previous key configured (see
	// KeepReplaced). It is never persisted; a restart forgets it.
	Remembered bool
	// Whitespace is set when the secret begins or ends with whitespace (a
	// file's single trailing newline already stripped). jwtwatch keeps it, as
	// the gateway's environment would; when the gateway's copy lacks it, every
	// token is bad_signature, so it is worth a warning.
	Whitespace bool
	secret     []byte
	public     crypto.PublicKey
	env        bool // from an environment variable
}

// Secret returns the raw HMAC secret for signature checks, nil for a public
// key. Never log or print it.
func (k Key) Secret() []byte { return k.secret }

// Public returns the public key (*rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey), nil for an HMAC secret.
func (k Key) Public() crypto.PublicKey { return k.public }

// String describes the key without its secret.
func (k Key) String() string {
	if k.KID != "" {
		return fmt.Sprintf("%s/%s key %s (kid %q)", k.Family, k.Role, k.Fingerprint, k.KID)
	}
	return fmt.Sprintf("%s/%s key %s", k.Family, k.Role, k.Fingerprint)
}

// GoString keeps %#v from printing the secret.
func (k Key) GoString() string { return "keys.Key{" + k.String() + "}" }

// LogValue keeps the secret out of structured logs even when a Key is logged whole.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token", string(k.Family)),
		slog.String("role", string(k.Role)),
		slog.String("fingerprint", k.Fingerprint),
		slog.String("alg", k.Alg),
		slog.String("kid", k.KID),
		slog.Bool("weak", k.Weak),
	)
}

// New builds an unpinned HS256 key from a raw secret, as an environment
// variable configures it; used by Load and by tests and the demo.
func New(f Family, r Role, secret []byte) Key {
	s := bytes.Clone(secret)
	return Key{Family: f, Role: r, Fingerprint: Fingerprint(s), Alg: "HS256", Weak: len(s) < MinSecretBytes, secret: s}
}

// Fingerprint is a short one-way identifier of a secret: the first 6 bytes of
// a domain-separated SHA-256, in hex. It tells keys apart across replicas
// without revealing them.
func Fingerprint(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("jwtwatch key fingerprint v1\x00"))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// Set is every key loaded, from the environment and the key file: the keys
// in checking order (current, next, previous, retired), the expected
// issuers, and the files to watch for reloads.
type Set struct {
	Keys    []Key
	Issuers map[Family]string
	Files   []string
	// Notes are worth logging at each load: keys of a JWK Set left out,
	// kids named in the key file but not in their set.
	Notes []string
	// Remotes are the JWKS URL entries of the key file, whose sets the
	// keys include.
	Remotes []Remote
}

// Find returns the key of that family and role, if configured.
func (s Set) Find(f Family, r Role) (Key, bool) {
	for _, k := range s.Keys {
		if k.Family == f && k.Role == r {
			return k, true
		}
	}
	return Key{}, false
}

// SharedSecret is one secret configured for several keys, such as an access
// key rotated while the refresh key still uses the old secret.
type SharedSecret struct {
	Fingerprint string
	Keys        []Key
}

// Variables names where the keys sharing the secret come from (the
// variables, or their _FILE forms), or describes keys built without one.
func (s SharedSecret) Variables() []string {
	out := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		out[i] = k.Source
		if out[i] == "" {
			out[i] = string(k.Family) + "/" + string(k.Role)
		}
	}
	return out
}

// String says which variables hold the same secret, by name and fingerprint only.
func (s SharedSecret) String() string {
	return fmt.Sprintf("%s hold the same secret (fingerprint %s)", strings.Join(s.Variables(), " and "), s.Fingerprint)
}

// Shared returns the key material configured for more than one key, in set
// order: one secret in several variables, or one public key for both
// families.
func (s Set) Shared() []SharedSecret {
	var out []SharedSecret
	seen := make([]bool, len(s.Keys))
	for i, k := range s.Keys {
		if seen[i] {
			continue
		}
		group := SharedSecret{Fingerprint: k.Fingerprint, Keys: []Key{k}}
		for j := i + 1; j < len(s.Keys); j++ {
			if !seen[j] && SameMaterial(s.Keys[j], k) {
				seen[j] = true
				group.Keys = append(group.Keys, s.Keys[j])
			}
		}
		if len(group.Keys) > 1 {
			out = append(out, group)
		}
	}
	return out
}

// SameMaterial reports whether two keys hold the same secret, or the same
// public key (its fingerprint hashes the whole key).
func SameMaterial(a, b Key) bool {
	switch {
	case a.secret != nil && b.secret != nil:
		return bytes.Equal(a.secret, b.secret)
	case a.public != nil && b.public != nil:
		return a.Fingerprint == b.Fingerprint
	}
	return false
}

// variable names, in checking order: current keys first, access before refresh.
var layout = []struct {
	name string
	f    Family
	r    Role
}{
	{"JWT_ACCESS_SECRET", Access, Current},
	{"JWT_REFRESH_SECRET", Refresh, Current},
	{"JWT_ACCESS_SECRET_PREVIOUS", Access, Previous},
	{"JWT_REFRESH_SECRET_PREVIOUS", Refresh, Previous},
	{"JWT_ACCESS_SECRET_RETIRED", Access, Retired},
	{"JWT_REFRESH_SECRET_RETIRED", Refresh, Retired},
}

// Variables lists every environment variable Load reads (each also as NAME_FILE).
func Variables() []string {
	out := make([]string, 0, len(layout)+2)
	for _, l := range layout {
		out = append(out, l.name)
	}
	return append(out, "JWT_ACCESS_ISSUER", "JWT_REFRESH_ISSUER")
}

// Load reads the secrets and issuers of the environment variables alone and
// checks them as a whole (Assemble). lookup is os.LookupEnv in production and
// readFile is os.ReadFile; both are injected so tests need no process state.
func Load(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (Set, error) {
	env, err := LoadEnv(lookup, readFile)
	if err != nil {
		return Set{}, err
	}
	return Assemble(env, nil, nil)
}

// Env is what the environment variables configure, each variable checked
// on its own; Assemble checks the whole.
type Env struct {
	Keys []Key
	// Issuers holds the issuers set by JWT_ACCESS_ISSUER and
	// JWT_REFRESH_ISSUER (or their _FILE forms), by family, as given.
	Issuers map[Family]string
	// IssuerVars names the variable each issuer came from.
	IssuerVars map[Family]string
	// Files are the secret files to watch for a reload.
	Files []string
}

// LoadEnv reads the key and issuer variables.
func LoadEnv(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (Env, error) {
	env := Env{Issuers: map[Family]string{}, IssuerVars: map[Family]string{}}
	for _, l := range layout {
		secret, src, ok, err := value(l.name, lookup, readFile)
		if err != nil {
			return Env{}, err
		}
		if !ok {
			continue
		}
		if strings.TrimSpace(string(secret)) == "" {
			return Env{}, fmt.Errorf("%s: %w", src, ErrEmpty)
		}
		k := New(l.f, l.r, secret)
		k.Source, k.env = src, true
		k.Whitespace = strings.TrimSpace(string(secret)) != string(secret)
		if strings.HasSuffix(src, "_FILE") {
			file, _ := lookup(l.name + "_FILE")
			env.Files = append(env.Files, file)
		}
		env.Keys = append(env.Keys, k)
	}
	if err := sameAsCurrent(env.Keys); err != nil {
		return Env{}, err
	}
	var err error
	if env.Issuers, env.IssuerVars, err = readIssuers(lookup, readFile); err != nil {
		return Env{}, err
	}
	return env, nil
}

// sameAsCurrent refuses a previous secret equal to its family's current
// one: the two roles would share one key's state, so the previous key would
// look in use as long as the current one is, and "Remove old key" would wait
// for ever. Across families a shared secret is legal (its tokens are told
// apart by issuer, see SharedSecret), and so is a retired secret repeating
// another (Assemble).
func sameAsCurrent(ks []Key) error {
	for _, prev := range ks {
		if prev.Role != Previous {
			continue
		}
		for _, cur := range ks {
			if cur.Role == Current && cur.Family == prev.Family && bytes.Equal(cur.secret, prev.secret) {
				return fmt.Errorf("%s and %s %w (fingerprint %s)", cur.Source, prev.Source, ErrSameSecret, cur.Fingerprint)
			}
		}
	}
	return nil
}

// ReadFile reads a file of keys, at most MaxFileBytes of it: a larger file
// is refused with ErrTooLarge without being read to its end. It is the
// readFile Load and LoadAll want in production.
func ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxFileBytes)
	}
	return b, nil
}

// value reads NAME or NAME_FILE. src names what was read, for error messages.
func value(name string, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (val []byte, src string, ok bool, err error) {
	direct, hasDirect := lookup(name)
	file, hasFile := lookup(name + "_FILE")
	switch {
	case hasDirect && hasFile:
		return nil, name, false, fmt.Errorf("%s and %s_FILE: %w", name, name, ErrBothSet)
	case hasDirect:
		return []byte(direct), name, true, nil
	case hasFile:
		b, err := readFile(file)
		if errors.Is(err, ErrTooLarge) || err == nil && len(b) > MaxSecretFileBytes {
			return nil, name + "_FILE", false, fmt.Errorf("%s_FILE %q: %w: a secret file holds at most %d bytes", name, file, ErrTooLarge, MaxSecretFileBytes)
		}
		if err != nil {
			// The path is not secret; the error text of os.ReadFile holds only the path.
			return nil, name + "_FILE", false, fmt.Errorf("%s_FILE %q: %w: %w", name, file, ErrUnreadable, err)
		}
		b = trimNewline(b)
		if len(b) == 0 {
			return nil, name + "_FILE", false, fmt.Errorf("%s_FILE %q: %w", name, file, ErrEmpty)
		}
		return b, name + "_FILE", true, nil
	}
	return nil, "", false, nil
}

// trimNewline strips exactly one trailing LF or CRLF, as `echo` or an editor
// leaves it; anything else is part of the secret.
func trimNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		return b[:len(b)-1]
	}
	return b
}

// Secret encodings Generate can produce.
const (
	FormatBase64URL = "base64url"
	FormatHex       = "hex"
)

// Sentinel errors of Generate.
var (
	ErrTooShort      = fmt.Errorf("a new secret needs at least %d bytes", MinSecretBytes)
	ErrUnknownFormat = errors.New("unknown secret format; use base64url or hex")
)

// Generate returns a new secret of n random bytes from r (crypto/rand.Reader
// in production), encoded as text that fits an environment variable. The
// gateway uses that text itself as the HMAC key, so its fingerprint is
// Fingerprint([]byte(secret)).
func Generate(r io.Reader, n int, format string) (string, error) {
	if n < MinSecretBytes {
		return "", fmt.Errorf("%d bytes: %w", n, ErrTooShort)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	switch format {
	case FormatBase64URL:
		return base64.RawURLEncoding.EncodeToString(b), nil
	case FormatHex:
		return hex.EncodeToString(b), nil
	}
	return "", fmt.Errorf("%q: %w", format, ErrUnknownFormat)
}
