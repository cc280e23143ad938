// Package keycheck is the procedure's Pre-Rotation Checklist for the keys
// themselves, as `jwtwatch check-keys` runs it in CI/CD or by hand before
// new secrets are deployed: per family and role the fingerprint, the
// length, weaknesses (short, low-entropy patterns, placeholders; an RSA key
// under 2048 bits), whitespace around the value, one key in two places,
// fingerprints another environment uses, and what would keep the sidecar
// from loading them. It reports by fingerprint and source, never by value.
package keycheck

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// What a problem is about, as the `check` field of the JSON output says it.
const (
	CheckLoad          = "load_error"
	CheckNoKey         = "no_key"
	CheckPreviousAlone = "previous_without_current"
	CheckKeyFile       = "key_file"
	CheckConflict      = "conflict"
	CheckShort         = "short"
	CheckRepeated      = "repeated"
	CheckFewCharacters = "few_characters"
	CheckPlaceholder   = "placeholder"
	CheckWhitespace    = "whitespace"
	CheckSameKey       = "same_key"
	CheckForbidden     = "forbidden_fingerprint"
)

// minRSABits is the least RSA modulus RS256 and PS256 want (RFC 7518 §3.3).
const minRSABits = 2048

// ErrFingerprint is returned for a forbidden fingerprint that is not one.
var ErrFingerprint = errors.New("not a key fingerprint (12 hexadecimal characters, as jwtwatch_key_info shows them)")

// Problem is one finding. Its message names variables and fingerprints, never a value.
type Problem struct {
	Check   string `json:"check"`
	Message string `json:"message"`
}

// Key is what the checklist says about one configured key.
type Key struct {
	Token keys.Family `json:"token"`
	Role  keys.Role   `json:"role"`
	// Source is where the key comes from: the variable (NAME or NAME_FILE),
	// or the key file's entry.
	Source      string `json:"source"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Alg         string `json:"alg,omitempty"`
	KID         string `json:"kid,omitempty"`
	// Bytes is an HMAC secret's length, Bits an RSA key's.
	Bytes int `json:"bytes,omitempty"`
	Bits  int `json:"bits,omitempty"`
	// Weak is what jwtwatch_key_info's weak label will say: shorter than 32 bytes.
	Weak     bool      `json:"weak"`
	Problems []Problem `json:"problems"`
}

// Report is the checklist's result.
type Report struct {
	Keys    []Key                  `json:"keys"`
	Issuers map[keys.Family]string `json:"issuers,omitempty"`
	// Problems are about the configuration as a whole.
	Problems []Problem `json:"problems"`
	// OK is true when nothing is wrong: exit status 0.
	OK bool `json:"ok"`
}

// Check runs the checklist over what keys.ReadEach read, with forbidden
// mapping each fingerprint another environment uses (lower case) to where
// it was listed.
func Check(ch keys.Checked, forbidden map[string]string) Report {
	r := Report{Keys: []Key{}, Problems: []Problem{}, Issuers: ch.Issuers}
	configured := slices.Clone(ch.Keys)
	slices.SortStableFunc(configured, func(a, b keys.Configured) int {
		return cmp.Or(cmp.Compare(slices.Index(keys.Families, a.Family), slices.Index(keys.Families, b.Family)),
			cmp.Compare(slices.Index(keys.Roles, a.Role), slices.Index(keys.Roles, b.Role)))
	})
	for _, err := range ch.Problems {
		check := CheckConflict
		switch {
		case errors.Is(err, keys.ErrNoKey):
			check = CheckNoKey
		case errors.Is(err, keys.ErrPreviousAlone):
			check = CheckPreviousAlone
		case errors.Is(err, keys.ErrKeyFile):
			check = CheckKeyFile
		}
		r.Problems = append(r.Problems, Problem{check, err.Error()})
	}
	for i, c := range configured {
		k := Key{Token: c.Family, Role: c.Role, Source: c.Source, Problems: []Problem{}}
		if c.Err != nil {
			k.Problems = append(k.Problems, Problem{CheckLoad, c.Err.Error() + ": jwtwatch (and the gateway) cannot use it"})
			r.Keys = append(r.Keys, k)
			continue
		}
		k.Fingerprint, k.Alg, k.KID, k.Weak = c.Key.Fingerprint, c.Key.Alg, c.Key.KID, c.Key.Weak
		if secret := c.Key.Secret(); secret != nil {
			k.Bytes = len(secret)
			k.Problems = append(k.Problems, weaknesses(secret)...)
		} else if pub, ok := c.Key.Public().(*rsa.PublicKey); ok {
			k.Bits = pub.N.BitLen()
			if k.Bits < minRSABits {
				k.Problems = append(k.Problems, Problem{CheckShort, fmt.Sprintf("an RSA key of %d bits: %s wants at least %d", k.Bits, k.Alg, minRSABits)})
			}
		}
		for j, o := range configured {
			if j != i && o.Err == nil && keys.SameMaterial(o.Key, c.Key) {
				k.Problems = append(k.Problems, Problem{CheckSameKey, fmt.Sprintf(
					"the same key as %s/%s (%s): every role and family needs its own", o.Family, o.Role, o.Source)})
			}
		}
		if where, ok := forbidden[k.Fingerprint]; ok {
			k.Problems = append(k.Problems, Problem{CheckForbidden, fmt.Sprintf(
				"fingerprint %s is listed in %s: another environment uses this key (\"Use different secrets per environment\")", k.Fingerprint, where)})
		}
		r.Keys = append(r.Keys, k)
	}
	r.OK = len(r.Problems) == 0 && !slices.ContainsFunc(r.Keys, func(k Key) bool { return len(k.Problems) > 0 })
	return r
}

// placeholderWords are what documentation, templates and tutorials put
// where a secret belongs. A secret made of nothing else (and digits and
// separators) is one of them: "changeme", "your-256-bit-secret" (jwt.io),
// "secretKey" (the NestJS documentation), "CHANGE_ME_jwt_secret_2024".
var placeholderWords = []string{
	"change", "me", "replace", "insert", "here", "your", "my", "our", "the", "super", "top", "very", "some",
	"secret", "secrets", "key", "keys", "jwt", "token", "access", "refresh", "signing", "sign", "hmac", "hs",
	"password", "passwd", "pass", "pwd", "default", "example", "sample", "test", "testing", "dummy", "demo",
	"placeholder", "todo", "fixme", "dev", "development", "staging", "stage", "prod", "production", "local",
	"bit", "bits", "foo", "bar", "baz", "qwerty", "admin", "app", "api", "auth", "please", "value", "string",
}

// weaknesses returns what makes a secret weak, in a fixed order: short,
// repeated (one character, or a sequence of up to 16 bytes), fewer than 8
// distinct characters in 32 bytes or more, placeholder words, whitespace
// around it.
func weaknesses(secret []byte) []Problem {
	var out []Problem
	if len(secret) < keys.MinSecretBytes {
		out = append(out, Problem{CheckShort, fmt.Sprintf(
			"%d bytes: HS256 wants at least %d (256 bits); jwtwatch keygen makes one", len(secret), keys.MinSecretBytes)})
	}
	trimmed := bytes.TrimSpace(secret)
	switch p := period(trimmed); {
	case p == 1:
		out = append(out, Problem{CheckRepeated, "one character repeated: guessed at once, whatever its length"})
	case p > 0:
		out = append(out, Problem{CheckRepeated, fmt.Sprintf("a sequence of %d bytes repeated: no stronger than that sequence", p)})
	default:
		if n := distinct(trimmed); n < 8 && len(trimmed) >= keys.MinSecretBytes {
			out = append(out, Problem{CheckFewCharacters, fmt.Sprintf("only %d distinct characters: far less random than its length suggests", n)})
		}
	}
	if placeholder(trimmed) {
		out = append(out, Problem{CheckPlaceholder, "made only of placeholder words (as in \"change me\", \"your 256 bit secret\", \"secret key\") and digits: " +
			"a value from documentation or a template, not a generated secret"})
	}
	if len(trimmed) != len(secret) {
		out = append(out, Problem{CheckWhitespace, "begins or ends with whitespace (for a secret file: after its one trailing newline): " +
			"a gateway whose copy lacks it rejects every token, and jwtwatch counts them bad_signature"})
	}
	return out
}

// period returns the length of the shortest sequence of at most 16 bytes
// that s is a repetition of (at least twice), or 0.
func period(s []byte) int {
	for p := 1; p <= 16 && 2*p <= len(s); p++ {
		if len(s)%p != 0 {
			continue
		}
		if bytes.Equal(s[p:], s[:len(s)-p]) {
			return p
		}
	}
	return 0
}

func distinct(s []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range s {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

// placeholder reports whether s, lower-cased, with digits, separators and
// other punctuation left out, is a concatenation of placeholder words.
func placeholder(s []byte) bool {
	var letters []byte
	for _, r := range strings.ToLower(string(s)) {
		switch {
		case r >= 'a' && r <= 'z':
			letters = append(letters, byte(r))
		case unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r):
		default:
			return false
		}
	}
	if len(letters) == 0 {
		return false
	}
	// ok[i]: letters[:i] splits into words.
	ok := make([]bool, len(letters)+1)
	ok[0] = true
	for i := 1; i <= len(letters); i++ {
		for _, w := range placeholderWords {
			if len(w) <= i && ok[i-len(w)] && string(letters[i-len(w):i]) == w {
				ok[i] = true
				break
			}
		}
	}
	return ok[len(letters)]
}

// ParseFingerprint checks one --forbid-fingerprint value and returns it in lower case.
func ParseFingerprint(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if b, err := hex.DecodeString(s); err != nil || len(b) != 6 {
		return "", fmt.Errorf("%q: %w", s, ErrFingerprint)
	}
	return s, nil
}

// ReadForbidden reads a --forbid-fingerprints-file: one fingerprint per
// line, first on it, the rest of the line a comment kept for the message;
// blank lines and lines starting with # are skipped. name is the file's
// name, for messages.
func ReadForbidden(r io.Reader, name string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		field, comment, _ := strings.Cut(strings.Join(strings.Fields(line), " "), " ")
		fp, err := ParseFingerprint(field)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out[fp] = fmt.Sprintf("%s:%d", name, n)
		if comment != "" {
			out[fp] += " (" + comment + ")"
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal or a CI log: a table of the
// keys, the issuers, every problem, and the verdict.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if len(r.Keys) > 0 {
		fmt.Fprintln(tw, "KEY\tSOURCE\tFINGERPRINT\tALG\tSIZE\tRESULT")
	}
	problems := len(r.Problems)
	for _, k := range r.Keys {
		result := "ok"
		switch n := len(k.Problems); {
		case n == 1:
			result = "1 problem"
		case n > 1:
			result = fmt.Sprintf("%d problems", n)
		}
		problems += len(k.Problems)
		fp, alg, size := cmp.Or(k.Fingerprint, "-"), cmp.Or(k.Alg, "-"), "-"
		switch {
		case k.Bytes > 0:
			size = fmt.Sprintf("%d bytes", k.Bytes)
		case k.Bits > 0:
			size = fmt.Sprintf("%d bits", k.Bits)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\n", k.Token, k.Role, k.Source, fp, alg, size, result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var iss []string
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		if v, ok := r.Issuers[f]; ok {
			iss = append(iss, fmt.Sprintf("%s %q", f, v))
		}
	}
	if len(iss) > 0 {
		fmt.Fprintf(w, "\nissuers: %s\n", strings.Join(iss, ", "))
	}
	if problems > 0 {
		fmt.Fprintln(w, "\nproblems:")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  - %s: %s\n", p.Check, p.Message)
		}
		for _, k := range r.Keys {
			for _, p := range k.Problems {
				fmt.Fprintf(w, "  - %s/%s %s: %s\n", k.Token, k.Role, p.Check, p.Message)
			}
		}
	}
	switch {
	case r.OK:
		_, err := fmt.Fprintf(w, "\n%d key(s) checked: no problem found.\n", len(r.Keys))
		return err
	default:
		_, err := fmt.Fprintf(w, "\n%d key(s) checked, %d problem(s): fix them before the new secrets are deployed.\n", len(r.Keys), problems)
		return err
	}
}
