package main

import (
	"context"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jwtwatch/jwtwatch/internal/jwks"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/sidecar"
)

// keyFlags are the key configuration flags every command that checks tokens
// takes (run, inspect, scan), so that all of them see the same keys.
type keyFlags struct {
	file  string
	jwks  sidecar.JWKSOptions
	algos []string // --jwt.algorithm
}

// addKeyFlags adds --keys.file, the JWKS flags and --jwt.algorithm to a
// command; refresh adds the flags only a running sidecar uses.
func addKeyFlags(c *kingpin.CmdClause, k *keyFlags, refresh bool) {
	c.Flag("keys.file", "YAML file of keys beside the environment variables: per token family, keys with a role (next, current, previous, retired) and an algorithm, from secrets by reference, PEM, JWK, JWK Set files or URLs (docs/keys.md).").PlaceHolder("PATH").StringVar(&k.file)
	c.Flag("keys.jwks.timeout", "Timeout of one fetch of a JWKS URL of the key file.").Default("10s").SetValue(durationValue{"keys.jwks.timeout", &k.jwks.Timeout})
	c.Flag("keys.jwks.allow-http", "Accept http:// JWKS URLs (https is required otherwise).").BoolVar(&k.jwks.AllowHTTP)
	if refresh {
		c.Flag("keys.jwks.refresh-interval", "How often each JWKS URL is fetched again (conditionally); SIGHUP fetches at once.").Default("5m").SetValue(durationValue{"keys.jwks.refresh-interval", &k.jwks.RefreshInterval})
		c.Flag("keys.jwks.min-refresh-interval", "Least time between the early fetches that tokens naming an unknown kid ask for.").Default("1m").SetValue(durationValue{"keys.jwks.min-refresh-interval", &k.jwks.MinRefreshInterval})
	}
	c.Flag("jwt.algorithm", "HMAC algorithm the environment variables' secrets verify; repeatable. A key of --keys.file verifies its own algorithm only.").Default("HS256").SetValue(&enumValue{flag: "jwt.algorithm", options: []string{"HS256", "HS384", "HS512"}, dst: &k.algos, cumulative: true})
}

// load reads the keys once, as inspect and scan use them: each JWKS URL of
// the key file is fetched once.
func (k *keyFlags) load(ctx context.Context, now func() time.Time) (keys.Set, error) {
	return keys.LoadAll(k.config(ctx, now))
}

// config is where the keys are: the process environment, and the key file
// whose JWKS URLs are fetched once each.
func (k *keyFlags) config(ctx context.Context, now func() time.Time) keys.Config {
	return keys.Config{
		Lookup: os.LookupEnv, ReadFile: keys.ReadFile, File: k.file, AllowHTTP: k.jwks.AllowHTTP,
		Remote: func(e keys.Entry) ([]byte, error) {
			f := jwks.New(jwks.Config{URL: e.JWKSURL, Label: e.RedactedURL(), Timeout: k.jwks.Timeout, AllowHTTP: k.jwks.AllowHTTP, Now: now})
			if _, err := f.Fetch(ctx); err != nil {
				return nil, err
			}
			return f.Body(), nil
		},
	}
}
