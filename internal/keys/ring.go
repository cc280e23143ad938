package keys

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// roleRank orders keys in a Set: current first, then next, previous, retired.
func roleRank(r Role) int {
	switch r {
	case Current:
		return 0
	case Next:
		return 1
	case Previous:
		return 2
	}
	return 3
}

// Assemble combines the keys of the environment variables and of the key
// file (kf and its loaded keys, nil without one) into the Set jwtwatch
// checks tokens against, and checks the whole:
//   - at least one key;
//   - at most one current key per family, and no key the key file adds
//     twice in a family (the same secret or public key): either names both
//     places;
//   - an issuer set by a variable and by the key file must agree;
//   - a family with keys has a current key, unless the key file names a
//     current kid that its JWK Set does not hold yet (a note says so).
//
// Keys are ordered current, next, previous, retired; access before refresh;
// the environment's before the file's.
func Assemble(env Env, kf *KeyFile, fileKeys []Key) (Set, error) {
	set := Set{Issuers: map[Family]string{}, Files: slices.Clone(env.Files)}
	set.Keys = append(slices.Clone(env.Keys), fileKeys...)
	slices.SortStableFunc(set.Keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(roleRank(a.Role), roleRank(b.Role)), cmp.Compare(familyRank(a.Family), familyRank(b.Family)))
	})
	if len(set.Keys) == 0 {
		if kf != nil {
			return Set{}, fmt.Errorf("%w: neither the environment nor %s configures one", ErrNoKey, kf.Path)
		}
		return Set{}, fmt.Errorf("%w: set JWT_ACCESS_SECRET or JWT_ACCESS_SECRET_FILE", ErrNoKey)
	}
	for i, a := range set.Keys {
		for _, b := range set.Keys[:i] {
			if a.Family != b.Family {
				continue
			}
			switch {
			case a.Role == Current && b.Role == Current:
				return Set{}, fmt.Errorf("%w: %s has two current keys: %s and %s", ErrConflict, a.Family, where(b), where(a))
			case SameMaterial(a, b) && !(a.env && b.env):
				// The variables alone may repeat a secret (a rotation rolled
				// back); the key file adding one already configured is a conflict.
				return Set{}, fmt.Errorf("%w: the same %s key is configured twice: as %s by %s and as %s by %s", ErrConflict, a.Family, b.Role, where(b), a.Role, where(a))
			}
		}
	}
	for f, iss := range env.Issuers {
		set.Issuers[f] = iss
	}
	if kf != nil {
		for f, iss := range kf.Issuers {
			if old, ok := env.Issuers[f]; ok && old != iss {
				return Set{}, fmt.Errorf("%w: the %s issuer is %q by %s but %q by %s %s.issuer", ErrConflict, f, old, env.IssuerVars[f], iss, kf.Path, f)
			}
			set.Issuers[f] = iss
		}
	}
	if _, ok := set.Issuers[Refresh]; !ok {
		if iss, ok := set.Issuers[Access]; ok {
			set.Issuers[Refresh] = iss
		}
	}
	for _, f := range []Family{Access, Refresh} {
		i := slices.IndexFunc(set.Keys, func(k Key) bool { return k.Family == f })
		if i < 0 || slices.ContainsFunc(set.Keys, func(k Key) bool { return k.Family == f && k.Role == Current }) {
			continue
		}
		if kid, ok := pendingCurrent(kf, f); ok {
			set.Notes = append(set.Notes, fmt.Sprintf("%s has no current key until its JWK Set holds kid %q", f, kid))
			continue
		}
		return Set{}, fmt.Errorf("%s: %w (%s)", where(set.Keys[i]), ErrPreviousAlone, f)
	}
	if kf != nil {
		set.Files = append(set.Files, kf.Path)
	}
	return set, nil
}

// pendingCurrent returns a kid that a JWK Set entry of family f names
// current.
func pendingCurrent(kf *KeyFile, f Family) (string, bool) {
	if kf == nil {
		return "", false
	}
	for _, e := range kf.Entries {
		if e.Family != f {
			continue
		}
		for _, kid := range sortedKeys(e.Roles) {
			if e.Roles[kid] == Current {
				return kid, true
			}
		}
	}
	return "", false
}

func familyRank(f Family) int {
	if f == Access {
		return 0
	}
	return 1
}

// where names a key's origin for an error message.
func where(k Key) string {
	if k.Source != "" {
		return k.Source
	}
	return string(k.Family) + "/" + string(k.Role)
}

// Summary describes the keys of a set by family, role, algorithm, kid and
// fingerprint, never by value, for a log line.
func (s Set) Summary() string {
	parts := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		parts[i] = fmt.Sprintf("%s/%s %s %s", k.Family, k.Role, k.Alg, k.Fingerprint)
		if k.KID != "" {
			parts[i] += fmt.Sprintf(" kid=%q", k.KID)
		}
	}
	return strings.Join(parts, ", ")
}

// Config says where the keys are: the environment (through Lookup and
// ReadFile, os.LookupEnv and os.ReadFile in production) and optionally a
// key file.
type Config struct {
	Lookup   func(string) (string, bool)
	ReadFile func(string) ([]byte, error)
	// File is the --keys.file path; empty for none.
	File string
	// AllowHTTP accepts http:// JWKS URLs (--keys.jwks.allow-http).
	AllowHTTP bool
	// Remote returns the JWK Set a jwks_url entry serves (the sidecar's last
	// good fetch, or one fetch for inspect and scan). Nil fails any URL entry.
	Remote func(Entry) ([]byte, error)
}

// LoadAll reads the environment variables and the key file with everything
// it names, and assembles them. A JWKS URL's set comes from c.Remote.
func LoadAll(c Config) (Set, error) {
	env, err := LoadEnv(c.Lookup, c.ReadFile)
	if err != nil {
		return Set{}, err
	}
	if c.File == "" {
		return Assemble(env, nil, nil)
	}
	data, err := c.ReadFile(c.File)
	if err != nil {
		return Set{}, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	kf, err := ParseKeyFile(c.File, data, c.AllowHTTP)
	if err != nil {
		return Set{}, err
	}
	fileKeys, files, notes, err := kf.Static(c.Lookup, c.ReadFile)
	if err != nil {
		return Set{}, err
	}
	var urls []Remote
	for _, e := range kf.Entries {
		if e.JWKSURL == "" {
			continue
		}
		if c.Remote == nil {
			return Set{}, fmt.Errorf("%w: %s: jwks_url %s: not fetched", ErrKeyFile, e.Name(), e.RedactedURL())
		}
		data, err := c.Remote(e)
		if err != nil {
			return Set{}, fmt.Errorf("%s: jwks_url %s: %w", e.Name(), e.RedactedURL(), err)
		}
		ks, ns, err := e.FromSet(data)
		if err != nil {
			return Set{}, err
		}
		urls = append(urls, Remote{Entry: e, Keys: len(ks)})
		fileKeys, notes = append(fileKeys, ks...), append(notes, ns...)
	}
	set, err := Assemble(env, kf, fileKeys)
	if err != nil {
		return Set{}, err
	}
	// The key file itself is in files already (first); Assemble added it too.
	set.Files = append(env.Files, files...)
	set.Notes = append(notes, set.Notes...)
	set.Remotes = urls
	return set, nil
}

// Remote is a JWKS URL entry of the key file, with how many keys its set
// gave.
type Remote struct {
	Entry Entry
	Keys  int
}
