package keys

import (
	"fmt"
	"strings"
)

// Configured is one key variable that is set, read on its own: its key, or
// why it cannot be loaded. `jwtwatch check-keys` reports them all, where
// Load stops at the first error.
type Configured struct {
	// Variable is the variable read: NAME, or NAME_FILE for a secret file.
	Variable string
	Family   Family
	Role     Role
	Key      Key   // when Err is nil
	Err      error // what Load would refuse, naming the variable, never the secret
}

// ReadEach reads every key variable that is set (each also as NAME_FILE),
// in Load's order, and the issuers. Unlike Load it does not stop at a key it
// cannot load, and checks nothing across keys; err is only an issuer Load
// would refuse.
func ReadEach(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (found []Configured, issuers map[Family]string, err error) {
	for _, l := range layout {
		c := Configured{Variable: l.name, Family: l.f, Role: l.r}
		secret, src, ok, err := value(l.name, lookup, readFile)
		if src != "" {
			c.Variable = src
		}
		switch {
		case err != nil:
			c.Err = err
		case !ok:
			continue
		case strings.TrimSpace(string(secret)) == "":
			c.Err = fmt.Errorf("%s: %w", src, ErrEmpty)
		default:
			c.Key = New(l.f, l.r, secret)
			c.Key.Source = src
		}
		found = append(found, c)
	}
	if issuers, _, err = readIssuers(lookup, readFile); err != nil {
		return nil, nil, err
	}
	if _, ok := issuers[Refresh]; !ok {
		if iss, ok := issuers[Access]; ok {
			issuers[Refresh] = iss // as Assemble does
		}
	}
	return found, issuers, nil
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
