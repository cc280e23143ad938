package inspect

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Found is one token found in what inspect was given, and where it was:
// a JSON member path ("access_token", "data.accessToken"), "Set-Cookie
// NAME", "Cookie NAME" or "Authorization"; empty for a token given alone.
type Found struct {
	Where string
	Token string
}

// tokenNames are the members and cookies a login response carries tokens
// in; one of them holding something other than a JWT is worth a note.
var tokenNames = []string{"access_token", "accessToken", "token", "refresh_token", "refreshToken", "id_token", "idToken"}

// maxDepth bounds the nesting of a login response's JSON that is searched:
// real ones are a few levels deep, and a hostile one must not recurse far.
const maxDepth = 32

// Find returns the tokens in input, in order of appearance, each once:
//   - a token alone, with or without "Bearer " (anything else on one line
//     without spaces is returned as it is, for the verdict to say malformed);
//   - a login response's JSON body: every string member that is a JWT, at
//     any depth (access_token, accessToken, token, refresh_token, ...);
//   - HTTP header lines, such as curl -i prints them before the body (or
//     curl -v with "< " in front): Set-Cookie, Cookie and Authorization.
//
// notes say what was seen but not inspected (an opaque refresh token,
// Basic credentials, JSON that does not parse); they never hold a value.
func Find(input string) (found []Found, notes []string) {
	in := strings.TrimSpace(input)
	if c := Clean(in); c != "" && !strings.ContainsAny(c, " \t\r\n") && !strings.HasPrefix(c, "{") && !strings.HasPrefix(c, "[") {
		return []Found{{Token: c}}, nil
	}
	f := finder{}
	if strings.HasPrefix(in, "{") || strings.HasPrefix(in, "[") {
		f.json(in)
	} else {
		f.message(in)
	}
	return f.found, f.notes
}

type finder struct {
	found []Found
	notes []string
}

// add records a token at where, once: a token seen before gets the new
// place added to its Where.
func (f *finder) add(where, tok string) {
	if i := slices.IndexFunc(f.found, func(x Found) bool { return x.Token == tok }); i >= 0 {
		f.found[i].Where += ", " + where
		return
	}
	f.found = append(f.found, Found{Where: where, Token: tok})
}

// candidate adds value found at where (named name) when it is a JWT, and
// notes a token-named value that is not.
func (f *finder) candidate(where, name, value string) {
	v := Clean(value)
	switch {
	case isJWT(v):
		f.add(where, v)
	case slices.Contains(tokenNames, name) && v != "":
		f.notes = append(f.notes, where+" is not a JWT (an opaque token): not inspected")
	}
}

// message reads header lines up to the first empty line, then the body.
func (f *finder) message(in string) {
	lines := strings.SplitAfter(in, "\n")
	for i, raw := range lines {
		line := strings.TrimRight(raw, "\r\n")
		// curl -v marks response headers "< " and request headers "> ".
		if rest, ok := strings.CutPrefix(line, "< "); ok {
			line = rest
		} else if rest, ok := strings.CutPrefix(line, "> "); ok {
			line = rest
		} else if line == "<" || line == ">" {
			line = ""
		}
		if strings.TrimSpace(line) == "" {
			if body := strings.TrimSpace(strings.Join(lines[i+1:], "")); strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
				f.json(body)
			}
			return
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue // a status or request line
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "authorization":
			scheme, _, _ := strings.Cut(value, " ")
			if !strings.EqualFold(scheme, "bearer") {
				f.notes = append(f.notes, fmt.Sprintf("Authorization uses the %s scheme, not Bearer: no token there", scheme))
				continue
			}
			f.candidate("Authorization", "token", value)
		case "set-cookie":
			pair, _, _ := strings.Cut(value, ";")
			f.cookie("Set-Cookie", pair)
		case "cookie":
			for _, pair := range strings.Split(value, ";") {
				f.cookie("Cookie", pair)
			}
		}
	}
}

func (f *finder) cookie(header, pair string) {
	name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
	if !ok {
		return
	}
	if u, err := strconv.Unquote(value); err == nil {
		value = u
	}
	f.candidate(header+" "+name, name, value)
}

var errTooDeep = errors.New("nested too deeply")

// json walks a JSON document for string members that are tokens.
func (f *finder) json(body string) {
	dec := json.NewDecoder(strings.NewReader(body))
	var walk func(path, name string, depth int) error
	walk = func(path, name string, depth int) error {
		if depth > maxDepth {
			return errTooDeep
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case string:
			f.candidate(path, name, t)
		case json.Delim:
			for i := 0; dec.More(); i++ {
				p, n := fmt.Sprintf("%s[%d]", path, i), name
				if t == '{' {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					n, _ = k.(string)
					p = n
					if path != "" {
						p = path + "." + n
					}
				}
				if err := walk(p, n, depth+1); err != nil {
					return err
				}
			}
			_, err := dec.Token() // the closing delimiter
			return err
		}
		return nil
	}
	switch err := walk("", "", 0); {
	case errors.Is(err, errTooDeep):
		f.notes = append(f.notes, fmt.Sprintf("the JSON is nested deeper than %d levels: the rest was not searched", maxDepth))
	case err != nil:
		f.notes = append(f.notes, "the input is not valid JSON from some point on: the rest was not searched")
	}
}

// isJWT reports whether s has the shape of a JWS compact serialization:
// three base64url segments, the first a JSON object ("eyJ" is `{"`), the
// last possibly empty (alg none).
func isJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	h, rest, _ := strings.Cut(s, ".")
	p, _, _ := strings.Cut(rest, ".")
	return h != "" && p != ""
}
