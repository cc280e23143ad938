package keys

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Configured is one key the configuration names, read on its own: the key,
// or why it cannot be loaded. `jwtwatch check-keys` reports them all, where
// Load and LoadAll stop at the first error.
type Configured struct {
	// Source is where the key comes from: the variable (NAME, or NAME_FILE
	// for a secret file), or the key file's entry and what it names.
	Source string
	Family Family
	Role   Role
	Key    Key   // when Err is nil
	Err    error // what loading would refuse, naming the source, never a secret
}

// Checked is everything ReadEach read.
type Checked struct {
	Keys []Configured
	// Issuers are the expected issuers, by family, as LoadAll sets them
	// (the refresh issuer defaults to the access issuer).
	Issuers map[Family]string
	// Problems are what loading would refuse of the configuration as a
	// whole: a key file that cannot be read, keys that do not assemble into
	// a set (no key, a previous key without a current one, two current
	// keys, one key twice, issuers that disagree). Keys that could not be
	// loaded are not assembled: their own errors say why.
	Problems []error
}

// ReadEach reads every key the configuration c names, each on its own: the
// environment variables that are set, in Load's order, then each entry of
// the key file (a JWK Set's keys one by one; a JWKS URL through c.Remote).
// err is only what leaves nothing to check: an issuer variable given twice.
func ReadEach(c Config) (Checked, error) {
	var ch Checked
	var env Env
	for _, l := range layout {
		cf := Configured{Source: l.name, Family: l.f, Role: l.r}
		secret, src, ok, err := value(l.name, c.Lookup, c.ReadFile)
		if src != "" {
			cf.Source = src
		}
		switch {
		case err != nil:
			cf.Err = err
		case !ok:
			continue
		case strings.TrimSpace(string(secret)) == "":
			cf.Err = fmt.Errorf("%s: %w", src, ErrEmpty)
		default:
			cf.Key = New(l.f, l.r, secret)
			cf.Key.Source, cf.Key.env = src, true
			env.Keys = append(env.Keys, cf.Key)
		}
		ch.Keys = append(ch.Keys, cf)
	}
	var err error
	if env.Issuers, env.IssuerVars, err = readIssuers(c.Lookup, c.ReadFile); err != nil {
		return Checked{}, err
	}
	kf, fileKeys, fileRead := ch.readFile(c)
	if fileRead && !slices.ContainsFunc(ch.Keys, func(cf Configured) bool { return cf.Err != nil }) {
		set, err := Assemble(env, kf, fileKeys)
		if err != nil {
			ch.Problems = append(ch.Problems, err)
		}
		ch.Issuers = set.Issuers
	}
	if len(ch.Issuers) == 0 {
		// Not assembled: the issuers as Assemble would set them, where it
		// can tell.
		ch.Issuers = maps.Clone(env.Issuers)
		if kf != nil {
			maps.Copy(ch.Issuers, kf.Issuers)
		}
		if _, ok := ch.Issuers[Refresh]; !ok && ch.Issuers[Access] != "" {
			ch.Issuers[Refresh] = ch.Issuers[Access]
		}
	}
	return ch, nil
}

// readFile reads each entry of the key file c names, if any, adding a
// Configured per key, or per entry that cannot be loaded. It returns the
// parsed file and the keys it gave; ok is false when the file itself
// cannot be read or parsed (a problem added).
func (ch *Checked) readFile(c Config) (kf *KeyFile, keys []Key, ok bool) {
	if c.File == "" {
		return nil, nil, true
	}
	data, err := c.ReadFile(c.File)
	if err != nil {
		ch.Problems = append(ch.Problems, fmt.Errorf("%w: %w", ErrKeyFile, err))
		return nil, nil, false
	}
	if kf, err = ParseKeyFile(c.File, data, c.AllowHTTP); err != nil {
		ch.Problems = append(ch.Problems, err)
		return nil, nil, false
	}
	for _, e := range kf.Entries {
		var ks []Key
		switch {
		case e.JWKSURL != "" && c.Remote == nil:
			err = fmt.Errorf("%w: %s: jwks_url %s: not fetched", ErrKeyFile, e.Name(), e.RedactedURL())
		case e.JWKSURL != "":
			var body []byte
			if body, err = c.Remote(e); err != nil {
				err = fmt.Errorf("%s: jwks_url %s: %w", e.Name(), e.RedactedURL(), err)
				break
			}
			ks, _, err = e.FromSet(body)
		case e.JWKSFile != "":
			var body []byte
			if body, err = c.ReadFile(e.JWKSFile); err != nil {
				err = fmt.Errorf("%w: %s: jwks_file %q: %w", ErrKeyFile, e.Name(), e.JWKSFile, err)
				break
			}
			ks, _, err = e.FromSet(body)
		default:
			var k Key
			k, err = e.single(c.Lookup, c.ReadFile)
			ks = []Key{k}
		}
		if err != nil {
			ch.Keys = append(ch.Keys, Configured{Source: e.Name(), Family: e.Family, Role: e.Role, Err: err})
			continue
		}
		for _, k := range ks {
			ch.Keys = append(ch.Keys, Configured{Source: cmpOr(k.Source, e.Name()), Family: k.Family, Role: k.Role, Key: k})
		}
		keys = append(keys, ks...)
	}
	return kf, keys, true
}

// readIssuers reads JWT_ACCESS_ISSUER and JWT_REFRESH_ISSUER (or their
// _FILE forms) as given, by family, with the variable each came from.
func readIssuers(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (issuers, vars map[Family]string, err error) {
	issuers, vars = map[Family]string{}, map[Family]string{}
	for _, v := range []struct {
		name string
		f    Family
	}{{"JWT_ACCESS_ISSUER", Access}, {"JWT_REFRESH_ISSUER", Refresh}} {
		iss, src, ok, err := value(v.name, lookup, readFile)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			issuers[v.f] = strings.TrimSpace(string(iss))
			vars[v.f] = src
		}
	}
	return issuers, vars, nil
}
