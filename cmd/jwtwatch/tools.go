package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jwtwatch/jwtwatch/internal/inspect"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// inspectCmd is `jwtwatch inspect [TOKEN|-]`.
type inspectCmd struct {
	clause    *kingpin.CmdClause
	token     string
	stateFile string
	keys      keyFlags
	verify    verify.Options
	policy    rotation.Policy
	expectKey []string
}

func addInspect(app *kingpin.Application) *inspectCmd {
	c := &inspectCmd{}
	c.clause = app.Command("inspect", "Explain tokens locally: which configured key verifies each, the verdict, the claims. Reads a token, or a login response (its JSON, or curl -i output with Set-Cookie and Authorization headers) and inspects every token in it. Exit 0 all valid, 1 not, 2 usage error or no token.")
	c.clause.Arg("token", "The token or login response, or - (the default) to read it from stdin so it stays out of shell history.").Default("-").StringVar(&c.token)
	c.clause.Flag("expect-key", "Exit 1 unless every token is signed by a key of this role (current after a rotation: the auth service signs with the new key).").PlaceHolder("ROLE").SetValue(&enumValue{flag: "expect-key", options: []string{string(keys.Next), string(keys.Current), string(keys.Previous), string(keys.Retired)}, dst: &c.expectKey})
	c.clause.Flag("state.file", "jwtwatch's state file, for the rotation start (issued_after_rotation).").PlaceHolder("PATH").StringVar(&c.stateFile)
	addKeyFlags(c.clause, &c.keys, false)
	addJWTFlags(c.clause, &c.verify)
	addPolicyFlags(c.clause, &c.policy)
	addRotationFlags(c.clause, &c.policy, false, nil)
	return c
}

func (c *inspectCmd) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	set, err := c.keys.load(ctx, time.Now)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch inspect: %v\n", err)
		return exitUsage
	}
	tok := c.token
	if tok == "-" || tok == "" { // kingpin passes a lone "-" on as ""
		b, err := io.ReadAll(io.LimitReader(stdin, 4<<20))
		if err != nil {
			fmt.Fprintf(stderr, "jwtwatch inspect: read stdin: %v\n", err)
			return exitUsage
		}
		tok = string(b)
	}
	if inspect.Clean(tok) == "" {
		fmt.Fprintln(stderr, "jwtwatch inspect: no token given (argument or stdin)")
		return exitUsage
	}
	found, inputNotes := inspect.Find(tok)
	for _, n := range inputNotes {
		fmt.Fprintf(stderr, "jwtwatch inspect: %s\n", n)
	}
	if len(found) == 0 {
		fmt.Fprintln(stderr, "jwtwatch inspect: no token found in the input (a token, a login response's JSON, or Set-Cookie/Authorization header lines)")
		return exitUsage
	}
	// The rotation starts the state file holds for the loaded current keys;
	// a family without one is not checked for issued_after_rotation, rather
	// than against a start invented now.
	rules := rotation.Rules{Policy: c.policy, Starts: map[keys.Family]time.Time{}}
	var notes []string
	if c.stateFile != "" {
		starts, n, err := savedRotations(c.stateFile, set)
		if err != nil {
			fmt.Fprintf(stderr, "jwtwatch inspect: %v\n", err)
			return exitUsage
		}
		notes, rules.Starts = n, starts
	}
	for _, sh := range set.Shared() {
		notes = append(notes, sh.String()+": the token is told apart by issuer, then by iat against the rotation start, else counted for the older key")
	}
	opts := c.verify
	opts.Algorithms = c.keys.algos
	opts.Rotations = rules.Starts
	v := verify.New(set, opts)
	code := exitOK
	var reports []inspect.Report
	for i, f := range found {
		r := inspect.Token(f.Token, v, rules, now)
		r.Where = f.Where
		r.FreshlyIssued()
		r.RemovedKeyHint(set.Issuers, rules.Starts)
		r.Notes = append(slices.Clone(notes), r.Notes...)
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := r.Write(stdout, set); err != nil {
			return exitFailed
		}
		if r.Verdict.Result != verify.Valid {
			code = exitFailed
		}
		reports = append(reports, r)
	}
	if len(found) > 1 || found[0].Where != "" {
		if err := inspect.WriteSummary(stdout, reports); err != nil {
			return exitFailed
		}
	}
	if len(c.expectKey) > 0 {
		want := keys.Role(c.expectKey[0])
		for _, r := range reports {
			if r.Verdict.Key != want {
				where := r.Where
				if where == "" {
					where = "the token"
				}
				fmt.Fprintf(stdout, "%s: not signed by the %s key (--expect-key)\n", where, want)
				code = exitFailed
			}
		}
	}
	return code
}

// keygenCmd is `jwtwatch keygen`.
type keygenCmd struct {
	clause  *kingpin.CmdClause
	bytes   int
	format  []string
	typ     []string
	private string
	kid     string
}

func addKeygen(app *kingpin.Application) *keygenCmd {
	c := &keygenCmd{}
	c.clause = app.Command("keygen", "Print a new random secret on stdout and its fingerprint, as jwtwatch_key_info will show it, on stderr; or, with --type, write a key pair: the private key as PEM to --private-key-file, the public JWK on stdout.")
	c.clause.Flag("type", "What to make: secret (HMAC), ed25519 (EdDSA) or ec-p256 (ES256).").Default("secret").SetValue(&enumValue{flag: "type", options: []string{"secret", "ed25519", "ec-p256"}, dst: &c.typ})
	c.clause.Flag("bytes", "Random bytes in the secret (at least 32).").Default("32").IntVar(&c.bytes)
	c.clause.Flag("format", "Encoding of the secret: base64url or hex.").Default(keys.FormatBase64URL).SetValue(&enumValue{flag: "format", options: []string{keys.FormatBase64URL, keys.FormatHex}, dst: &c.format})
	c.clause.Flag("private-key-file", "With --type ed25519 or ec-p256: where to write the private key (PKCS #8 PEM, mode 0600; an existing file is not overwritten).").PlaceHolder("PATH").StringVar(&c.private)
	c.clause.Flag("kid", "With --type ed25519 or ec-p256: the key ID of the JWK (default: the key's fingerprint).").StringVar(&c.kid)
	return c
}

func (c *keygenCmd) run(stdout, stderr io.Writer) int {
	if c.typ[0] != "secret" {
		return c.pair(stdout, stderr)
	}
	secret, err := keys.Generate(rand.Reader, c.bytes, c.format[0])
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: --bytes: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "fingerprint %s: after the deploy every replica must show jwtwatch_key_info{fingerprint=%q}\n", keys.Fingerprint([]byte(secret)), keys.Fingerprint([]byte(secret)))
	return exitOK
}

// pair writes a new Ed25519 or P-256 key pair: the private key to a new
// file only its owner can read, the public key as a JWK on stdout.
func (c *keygenCmd) pair(stdout, stderr io.Writer) int {
	if c.private == "" {
		fmt.Fprintf(stderr, "jwtwatch keygen: --type %s needs --private-key-file (the private key is never printed)\n", c.typ[0])
		return exitUsage
	}
	alg := map[string]string{"ed25519": "EdDSA", "ec-p256": "ES256"}[c.typ[0]]
	priv, err := keys.GeneratePair(alg)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: %v\n", err)
		return exitFailed
	}
	k, err := keys.NewPublic(keys.Access, keys.Current, alg, priv.Public())
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: %v\n", err)
		return exitFailed
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: %v\n", err)
		return exitFailed
	}
	kid := cmp.Or(c.kid, k.Fingerprint)
	jwk, err := keys.PublicJWK(priv.Public(), kid, alg)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: %v\n", err)
		return exitFailed
	}
	// O_EXCL: never replace a key someone may still sign with.
	f, err := os.OpenFile(c.private, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: --private-key-file: %v\n", err)
		return exitUsage
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "jwtwatch keygen: --private-key-file: %v\n", err)
		return exitFailed
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "jwtwatch keygen: --private-key-file: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s\n", jwk)
	fmt.Fprintf(stderr, "%s key pair: private key in %s; the public JWK (kid %q) above belongs in the JWK Set. Fingerprint %s: after the deploy every replica must show jwtwatch_key_info{fingerprint=%q}\n", alg, c.private, kid, k.Fingerprint, k.Fingerprint)
	return exitOK
}
