package keys

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sentinel errors of the key file; wrapped with the file, the entry and what is wrong.
var (
	ErrKeyFile     = errors.New("invalid key file")
	ErrSecretInKey = errors.New("the key file never holds a secret: name it with secret_env or secret_file")
	ErrInsecureURL = errors.New("jwks_url must be https (or allow http with --keys.jwks.allow-http)")
	ErrConflict    = errors.New("conflicting key configuration")
)

// KeyFile is a parsed --keys.file: per token family, an optional issuer and
// the entries naming where each key's material is. Parsing reads no key
// material; Static and Entry.FromSet do.
type KeyFile struct {
	Path    string
	Entries []Entry
	// Issuers holds the issuers the file sets, by family.
	Issuers map[Family]string
}

// Entry is one item of a family's keys list: exactly one material source,
// and for a JWK Set (file or URL) the roles of its keys by kid.
type Entry struct {
	Family Family
	Index  int
	Line   int
	Path   string // of the key file, for messages

	Role Role   // of a single key
	Alg  string // of a single key; for a set, of its keys without "alg"
	KID  string // of a single key

	SecretEnv  string
	SecretFile string
	PEMFile    string
	JWKFile    string
	JWKSFile   string
	JWKSURL    string

	// Roles names the role of a set's keys by kid; DefaultRole is the role
	// of the others (previous unless set).
	Roles       map[string]Role
	DefaultRole Role
}

// Name says which entry this is: the file, family and index, and its line.
func (e Entry) Name() string {
	return fmt.Sprintf("%s: %s.keys[%d] (line %d)", e.Path, e.Family, e.Index, e.Line)
}

// IsSet reports whether the entry is a JWK Set (file or URL).
func (e Entry) IsSet() bool { return e.JWKSFile != "" || e.JWKSURL != "" }

// RedactedURL is the JWKS URL without user information, query or fragment,
// as it may be shown in logs and labels.
func (e Entry) RedactedURL() string { return RedactURL(e.JWKSURL) }

// RedactURL drops user information, query and fragment from a URL: any of
// them may carry a credential.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	s := r.String()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?…"
	}
	return s
}

// entry members, for the strict check that names an unknown one.
var entryFields = []string{"role", "alg", "kid", "secret_env", "secret_file", "pem_file", "jwk_file", "jwks_file", "jwks_url", "roles", "default_role"}

// Members that would put key material into the file itself.
var secretFields = []string{"secret", "key", "k", "d", "value", "private_key", "password"}

// ParseKeyFile parses the key file's YAML, checking its structure: known
// members only, one material source per entry, roles and algorithms that
// exist, https JWKS URLs unless allowHTTP. Errors name the file, the entry
// and its line, and never echo a value that could be a secret.
func ParseKeyFile(path string, data []byte, allowHTTP bool) (*KeyFile, error) {
	kf := &KeyFile{Path: path, Issuers: map[Family]string{}}
	fail := func(line int, where string, err error) error {
		return fmt.Errorf("%w: %s: %s (line %d): %w", ErrKeyFile, path, where, line, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: not YAML: %w", ErrKeyFile, path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w: %s: empty", ErrKeyFile, path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "top level", errors.New("want a mapping of token families (access, refresh)"))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		name, body := root.Content[i], root.Content[i+1]
		fam := Family(name.Value)
		if fam != Access && fam != Refresh {
			return nil, fail(name.Line, name.Value, errors.New("unknown token family (want access or refresh)"))
		}
		if body.Kind != yaml.MappingNode {
			return nil, fail(body.Line, name.Value, errors.New("want a mapping with keys and optionally issuer"))
		}
		for j := 0; j+1 < len(body.Content); j += 2 {
			k, v := body.Content[j], body.Content[j+1]
			switch k.Value {
			case "issuer":
				if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
					return nil, fail(v.Line, string(fam)+".issuer", errors.New("want a non-empty string"))
				}
				kf.Issuers[fam] = strings.TrimSpace(v.Value)
			case "keys":
				if v.Kind != yaml.SequenceNode {
					return nil, fail(v.Line, string(fam)+".keys", errors.New("want a list of keys"))
				}
				for idx, n := range v.Content {
					e, err := parseEntry(n, fam, idx, path, allowHTTP)
					if err != nil {
						return nil, fail(n.Line, fmt.Sprintf("%s.keys[%d]", fam, idx), err)
					}
					kf.Entries = append(kf.Entries, e)
				}
			default:
				if slices.Contains(secretFields, k.Value) {
					return nil, fail(k.Line, string(fam)+"."+k.Value, ErrSecretInKey)
				}
				return nil, fail(k.Line, string(fam)+"."+k.Value, errors.New("unknown member (want issuer, keys)"))
			}
		}
	}
	return kf, nil
}

func parseEntry(n *yaml.Node, fam Family, idx int, path string, allowHTTP bool) (Entry, error) {
	e := Entry{Family: fam, Index: idx, Line: n.Line, Path: path}
	if n.Kind != yaml.MappingNode {
		return e, errors.New("want a mapping")
	}
	var raw struct {
		Role        string            `yaml:"role"`
		Alg         string            `yaml:"alg"`
		KID         string            `yaml:"kid"`
		SecretEnv   string            `yaml:"secret_env"`
		SecretFile  string            `yaml:"secret_file"`
		PEMFile     string            `yaml:"pem_file"`
		JWKFile     string            `yaml:"jwk_file"`
		JWKSFile    string            `yaml:"jwks_file"`
		JWKSURL     string            `yaml:"jwks_url"`
		Roles       map[string]string `yaml:"roles"`
		DefaultRole string            `yaml:"default_role"`
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		switch {
		case slices.Contains(secretFields, name):
			return e, fmt.Errorf("member %q: %w", name, ErrSecretInKey)
		case !slices.Contains(entryFields, name):
			return e, fmt.Errorf("unknown member %q (want one of %s)", name, strings.Join(entryFields, ", "))
		}
	}
	if err := n.Decode(&raw); err != nil {
		return e, fmt.Errorf("wrong type of a member: %w", err)
	}
	e.Alg, e.KID = raw.Alg, raw.KID
	e.SecretEnv, e.SecretFile, e.PEMFile, e.JWKFile, e.JWKSFile, e.JWKSURL = raw.SecretEnv, raw.SecretFile, raw.PEMFile, raw.JWKFile, raw.JWKSFile, raw.JWKSURL
	var sources []string
	for _, s := range []struct{ name, v string }{{"secret_env", e.SecretEnv}, {"secret_file", e.SecretFile}, {"pem_file", e.PEMFile}, {"jwk_file", e.JWKFile}, {"jwks_file", e.JWKSFile}, {"jwks_url", e.JWKSURL}} {
		if s.v != "" {
			sources = append(sources, s.name)
		}
	}
	if len(sources) != 1 {
		return e, fmt.Errorf("want exactly one of secret_env, secret_file, pem_file, jwk_file, jwks_file, jwks_url; got %d", len(sources))
	}
	if e.Alg != "" && !slices.Contains(Algorithms, e.Alg) {
		return e, fmt.Errorf("alg %q: %w (want one of %s)", e.Alg, ErrAlg, strings.Join(Algorithms, ", "))
	}
	if e.IsSet() {
		if raw.Role != "" || e.KID != "" {
			return e, errors.New("a JWK Set names its keys' roles under roles (kid: role) and default_role, not role or kid")
		}
		e.DefaultRole = Previous
		if raw.DefaultRole != "" {
			r, ok := ParseRole(raw.DefaultRole)
			if !ok {
				return e, fmt.Errorf("default_role %q: want next, current, previous or retired", raw.DefaultRole)
			}
			e.DefaultRole = r
		}
		e.Roles = map[string]Role{}
		for kid, rs := range raw.Roles {
			r, ok := ParseRole(rs)
			if !ok {
				return e, fmt.Errorf("roles[%q] = %q: want next, current, previous or retired", kid, rs)
			}
			e.Roles[kid] = r
		}
		if e.DefaultRole == Current {
			return e, errors.New("default_role current: name the one current key by kid under roles")
		}
		if e.JWKSURL != "" {
			u, err := url.Parse(e.JWKSURL)
			if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				return e, fmt.Errorf("jwks_url %q: not an http(s) URL", RedactURL(e.JWKSURL))
			}
			if u.Scheme == "http" && !allowHTTP {
				return e, fmt.Errorf("jwks_url %q: %w", RedactURL(e.JWKSURL), ErrInsecureURL)
			}
		}
		return e, nil
	}
	if raw.Roles != nil || raw.DefaultRole != "" {
		return e, errors.New("roles and default_role belong to a jwks_file or jwks_url entry")
	}
	r, ok := ParseRole(raw.Role)
	if !ok {
		return e, fmt.Errorf("role %q: want next, current, previous or retired", raw.Role)
	}
	e.Role = r
	if (e.SecretEnv != "" || e.SecretFile != "") && e.Alg != "" && !isHMAC(e.Alg) {
		return e, fmt.Errorf("alg %s for an HMAC secret: %w", e.Alg, ErrKeyType)
	}
	return e, nil
}

// Static loads the key material of every entry that is not a JWKS URL:
// secrets by reference, PEM, JWK and JWK Set files. It returns the keys, the
// files to watch for a reload (the key file itself first), and notes worth
// logging (keys of a set left out, kids named but absent).
func (kf *KeyFile) Static(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (keys []Key, files, notes []string, err error) {
	files = []string{kf.Path}
	for _, e := range kf.Entries {
		var ks []Key
		var ns []string
		switch {
		case e.JWKSURL != "":
			continue
		case e.JWKSFile != "":
			data, rerr := readFile(e.JWKSFile)
			if rerr != nil {
				return nil, nil, nil, fmt.Errorf("%w: %s: jwks_file %q: %w", ErrKeyFile, e.Name(), e.JWKSFile, rerr)
			}
			ks, ns, err = e.FromSet(data)
			files = append(files, e.JWKSFile)
		default:
			var k Key
			k, err = e.single(lookup, readFile)
			ks = []Key{k}
			for _, f := range []string{e.SecretFile, e.PEMFile, e.JWKFile} {
				if f != "" {
					files = append(files, f)
				}
			}
		}
		if err != nil {
			return nil, nil, nil, err
		}
		keys = append(keys, ks...)
		notes = append(notes, ns...)
	}
	return keys, files, notes, nil
}

// single loads the one key of a secret, PEM or JWK entry.
func (e Entry) single(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (Key, error) {
	fail := func(what string, err error) (Key, error) {
		return Key{}, fmt.Errorf("%w: %s: %s: %w", ErrKeyFile, e.Name(), what, err)
	}
	var k Key
	var err error
	switch {
	case e.SecretEnv != "":
		v, ok := lookup(e.SecretEnv)
		if !ok {
			return fail("secret_env "+e.SecretEnv, errors.New("the variable is not set"))
		}
		if strings.TrimSpace(v) == "" {
			return fail("secret_env "+e.SecretEnv, ErrEmpty)
		}
		k, err = NewSecret(e.Family, e.Role, cmpOr(e.Alg, "HS256"), []byte(v))
		k.Source = e.Name() + " secret_env " + e.SecretEnv
	case e.SecretFile != "":
		b, rerr := readFile(e.SecretFile)
		if rerr != nil {
			return fail(fmt.Sprintf("secret_file %q", e.SecretFile), fmt.Errorf("%w: %w", ErrUnreadable, rerr))
		}
		if b = trimNewline(b); strings.TrimSpace(string(b)) == "" {
			return fail(fmt.Sprintf("secret_file %q", e.SecretFile), ErrEmpty)
		}
		k, err = NewSecret(e.Family, e.Role, cmpOr(e.Alg, "HS256"), b)
		k.Source = e.Name() + " secret_file " + e.SecretFile
	case e.PEMFile != "":
		b, rerr := readFile(e.PEMFile)
		if rerr != nil {
			return fail(fmt.Sprintf("pem_file %q", e.PEMFile), rerr)
		}
		pub, perr := ParsePEM(b)
		if perr != nil {
			return fail(fmt.Sprintf("pem_file %q", e.PEMFile), perr)
		}
		alg := cmpOr(e.Alg, impliedAlg(pub))
		if alg == "" {
			return fail(fmt.Sprintf("pem_file %q", e.PEMFile), errors.New("an RSA key serves RS256/384/512 and PS256/384/512: set alg"))
		}
		k, err = NewPublic(e.Family, e.Role, alg, pub)
		k.KID, k.Source = e.KID, e.Name()+" pem_file "+e.PEMFile
	case e.JWKFile != "":
		b, rerr := readFile(e.JWKFile)
		if rerr != nil {
			return fail(fmt.Sprintf("jwk_file %q", e.JWKFile), rerr)
		}
		jwk, perr := ParseJWK(b)
		if perr != nil {
			return fail(fmt.Sprintf("jwk_file %q", e.JWKFile), perr)
		}
		if e.KID != "" && jwk.KID != "" && e.KID != jwk.KID {
			return fail(fmt.Sprintf("jwk_file %q", e.JWKFile), fmt.Errorf("%w: kid %q in the key file, %q in the JWK", ErrConflict, e.KID, jwk.KID))
		}
		k, err = e.fromJWK(jwk, e.Role)
		k.KID = cmpOr(e.KID, jwk.KID)
		k.Source = e.Name() + " jwk_file " + e.JWKFile
	}
	if err != nil {
		return fail("key", err)
	}
	return k, nil
}

// fromJWK binds a JWK to its algorithm: its own alg member, else the entry's,
// else the only one its curve allows. Both given and different is an error.
func (e Entry) fromJWK(jwk JWK, role Role) (Key, error) {
	alg := jwk.Alg
	switch {
	case alg == "" && e.Alg != "":
		alg = e.Alg
	case alg != "" && e.Alg != "" && alg != e.Alg && !e.IsSet():
		return Key{}, fmt.Errorf("%w: alg %s in the key file, %s in the JWK", ErrConflict, e.Alg, alg)
	case alg == "":
		alg = impliedAlg(jwk.Public)
	}
	if alg == "" {
		return Key{}, errors.New(`an RSA JWK without "alg" serves RS256/384/512 and PS256/384/512: set alg in the key file entry`)
	}
	return NewPublic(e.Family, role, alg, jwk.Public)
}

// FromSet builds the keys of a JWK Set entry from the set's JSON: each
// signature key with the role its kid is named for in roles, else the
// default role. A member meant for something else (encryption) is left out
// with a note; a signature key that cannot be used is an error naming it.
// A kid named in roles but absent from the set is a note: it may be
// published later.
func (e Entry) FromSet(data []byte) (keys []Key, notes []string, err error) {
	where := e.Name()
	if e.JWKSURL != "" {
		where += " jwks_url " + e.RedactedURL()
	} else {
		where += fmt.Sprintf(" jwks_file %q", e.JWKSFile)
	}
	members, err := ParseJWKS(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, where, err)
	}
	present := map[string]bool{}
	for _, m := range members {
		if m.Skip != "" {
			notes = append(notes, fmt.Sprintf("%s: key %d left out (%s)", where, m.Index, m.Skip))
			continue
		}
		name := fmt.Sprintf("key %d", m.Index)
		if m.JWK.KID != "" {
			name += fmt.Sprintf(" (kid %q)", m.JWK.KID)
		}
		if m.Err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %s: %w", ErrKeyFile, where, name, m.Err)
		}
		role, named := e.Roles[m.JWK.KID]
		if !named || m.JWK.KID == "" {
			role = e.DefaultRole
		}
		k, kerr := e.fromJWK(m.JWK, role)
		if kerr != nil {
			return nil, nil, fmt.Errorf("%w: %s: %s: %w", ErrKeyFile, where, name, kerr)
		}
		k.KID, k.Source = m.JWK.KID, where+" "+name
		present[m.JWK.KID] = true
		keys = append(keys, k)
	}
	for _, kid := range sortedKeys(e.Roles) {
		if !present[kid] {
			notes = append(notes, fmt.Sprintf("%s: kid %q, named %s, is not in the set", where, kid, e.Roles[kid]))
		}
	}
	return keys, notes, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
