package verify

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

const (
	accessIss  = "https://auth.example.test"
	refreshIss = "https://auth.example.test/refresh"
)

// now is the fixed "at" of the tests; nowS is it in JWT seconds.
var (
	now  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	nowS = now.Unix()
)

// fixture is a full key set with fresh random secrets, plus a key nobody configured.
type fixture struct {
	ac, rc, ap, rp, ar, rr []byte // access/refresh × current/previous/retired
	attacker               []byte
	set                    keys.Set
}

func newSecret(tb testing.TB) []byte {
	tb.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("rand: %v", err)
	}
	return b
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	fx := &fixture{
		ac: newSecret(tb), rc: newSecret(tb), ap: newSecret(tb),
		rp: newSecret(tb), ar: newSecret(tb), rr: newSecret(tb),
		attacker: newSecret(tb),
	}
	// The order of keys.Load: current, previous, retired; access before refresh.
	fx.set = keys.Set{
		Keys: []keys.Key{
			keys.New(keys.Access, keys.Current, fx.ac),
			keys.New(keys.Refresh, keys.Current, fx.rc),
			keys.New(keys.Access, keys.Previous, fx.ap),
			keys.New(keys.Refresh, keys.Previous, fx.rp),
			keys.New(keys.Access, keys.Retired, fx.ar),
			keys.New(keys.Refresh, keys.Retired, fx.rr),
		},
		Issuers: map[keys.Family]string{keys.Access: accessIss, keys.Refresh: refreshIss},
	}
	return fx
}

// secrets returns every configured secret with its key, in checking order.
func (fx *fixture) secrets() [][]byte { return [][]byte{fx.ac, fx.rc, fx.ap, fx.rp, fx.ar, fx.rr} }

func b64(b []byte) string  { return base64.RawURLEncoding.EncodeToString(b) }
func b64s(s string) string { return b64([]byte(s)) }

// signSegments appends the HMAC (alg HS256, HS384 or HS512) of
// "header.payload" to the given, already encoded, segments, so hostile
// encodings can be signed as they are.
func signSegments(alg string, secret []byte, header, payload string) string {
	return gatewaylog.Segments(gatewaylog.HMAC(alg, secret), header, payload)
}

// signJSON signs raw header and payload JSON with HS256, for hostile JSON.
func signJSON(secret []byte, header, payload string) string {
	return gatewaylog.Raw(gatewaylog.HS256(secret), header, payload)
}

// sign builds a token by hand, so any header is possible. The MAC uses the
// hash the header's alg names when it is HS384 or HS512, else SHA-256.
func sign(tb testing.TB, secret []byte, header, claims map[string]any) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatalf("marshal header: %v", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		tb.Fatalf("marshal claims: %v", err)
	}
	alg := "HS256"
	if a, _ := header["alg"].(string); a == "HS384" || a == "HS512" {
		alg = a
	}
	return signSegments(alg, secret, b64(h), b64(c))
}

// jwtSign builds a token the way the auth service does (byte for byte
// golang-jwt's).
func jwtSign(_ testing.TB, secret []byte, claims jwt.MapClaims) string {
	return gatewaylog.Token(gatewaylog.HS256(secret), claims)
}

func hdr(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "JWT"} }

// absent marks a claim to drop in claims().
type absent struct{}

// claims returns typical access-token claims with overrides applied.
func claims(over map[string]any) map[string]any {
	m := map[string]any{"sub": "user-1", "iss": accessIss, "iat": nowS - 60, "exp": nowS + 3600}
	for k, v := range over {
		if _, ok := v.(absent); ok {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// nonCanonical flips an unused trailing bit of a raw base64url string whose
// decoded length is not a multiple of 3: lenient decoders still accept it.
func nonCanonical(tb testing.TB, s string) string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		tb.Fatalf("nonCanonical needs trailing bits; length %d has none", len(s))
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	out := s[:len(s)-1] + string(alphabet[i^1])
	lenient, err1 := base64.RawURLEncoding.DecodeString(out)
	want, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil || !bytes.Equal(lenient, want) {
		tb.Fatalf("nonCanonical: lenient decoding does not round-trip")
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(out); err == nil {
		tb.Fatalf("nonCanonical: strict decoding accepted the result")
	}
	return out
}

// padded encodes s with base64url padding, which must show.
func padded(tb testing.TB, s string) string {
	tb.Helper()
	out := base64.URLEncoding.EncodeToString([]byte(s))
	if !strings.HasSuffix(out, "=") {
		tb.Fatalf("padded: %d bytes encode without padding", len(s))
	}
	return out
}

// segments splits a token into its three parts.
func segments(tb testing.TB, tok string) (h, p, s string) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// want is the expected label triple of a verdict.
type want struct {
	family keys.Family
	key    keys.Role
	result Result
}

func unk(r Result) want                              { return want{keys.Unknown, keys.None, r} }
func by(f keys.Family, r keys.Role, res Result) want { return want{f, r, res} }

func TestCheck(t *testing.T) {
	fx := newFixture(t)
	hs := hdr("HS256")
	ok := func(f keys.Family, r keys.Role) want { return by(f, r, Valid) }
	ac := func(r Result) want { return by(keys.Access, keys.Current, r) }
	// 20,000 levels cannot fit under MaxTokenLen, so the cap rejects them
	// before any decoding (TestParseDeepNesting covers the JSON itself);
	// 5,000 levels fit and must be skipped without recursion.
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	fits := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	nested := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	valid := sign(t, fx.ac, hs, claims(nil))
	vh, vp, vs := segments(t, valid)
	sigBytes, _ := base64.RawURLEncoding.DecodeString(vs)
	hsJSON := `{"alg":"HS256","typ":"JWT"}`
	payload := func(s string) string { return signJSON(fx.ac, hsJSON, s) }
	past, future := nowS-10, nowS+3600

	tests := []struct {
		name     string
		in       string
		at       time.Time // zero means now
		opts     Options
		noIssuer bool
		want     want
	}{
		// Each key role and family.
		{name: "access current", in: valid, want: ok(keys.Access, keys.Current)},
		{name: "access previous", in: sign(t, fx.ap, hs, claims(nil)), want: ok(keys.Access, keys.Previous)},
		{name: "access retired", in: sign(t, fx.ar, hs, claims(nil)), want: ok(keys.Access, keys.Retired)},
		{name: "refresh current", in: sign(t, fx.rc, hs, claims(map[string]any{"iss": refreshIss})), want: ok(keys.Refresh, keys.Current)},
		{name: "refresh previous", in: sign(t, fx.rp, hs, claims(map[string]any{"iss": refreshIss})), want: ok(keys.Refresh, keys.Previous)},
		{name: "refresh retired", in: sign(t, fx.rr, hs, claims(map[string]any{"iss": refreshIss})), want: ok(keys.Refresh, keys.Retired)},
		{name: "signed by golang-jwt", in: jwtSign(t, fx.ac, jwt.MapClaims{"sub": "u", "iss": accessIss, "exp": future}), want: ok(keys.Access, keys.Current)},
		{name: "refresh key, access issuer", in: sign(t, fx.rc, hs, claims(nil)), want: by(keys.Refresh, keys.Current, WrongIssuer)},
		{name: "access key, refresh issuer", in: sign(t, fx.ap, hs, claims(map[string]any{"iss": refreshIss})), want: by(keys.Access, keys.Previous, WrongIssuer)},

		// exp, nbf and leeway, with golang-jwt's boundaries.
		{name: "expired", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": nowS - 1})), want: ac(Expired)},
		{name: "expired by previous key", in: sign(t, fx.ap, hs, claims(map[string]any{"exp": past})), want: by(keys.Access, keys.Previous, Expired)},
		{name: "exp equal to at is expired", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": nowS})), want: ac(Expired)},
		{name: "exp one second ahead", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": nowS + 1})), want: ac(Valid)},
		{name: "exp ahead of sub-second at", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": nowS + 1})), at: now.Add(999 * time.Millisecond), want: ac(Valid)},
		{name: "fractional exp is not truncated", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": float64(nowS) + 0.5})), want: ac(Valid)},
		{name: "fractional exp passed", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": float64(nowS) - 0.5})), want: ac(Expired)},
		{name: "at cut to the second", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": float64(nowS) + 0.5})), at: now.Add(900 * time.Millisecond), want: ac(Valid)},
		{name: "fractional nbf ahead", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": float64(nowS) + 0.5})), at: now.Add(900 * time.Millisecond), want: ac(NotYetValid)},
		{name: "exp as float", in: payload(fmt.Sprintf(`{"iss":%q,"exp":%d.0}`, accessIss, future)), want: ac(Valid)},
		{name: "exp in exponent form", in: payload(fmt.Sprintf(`{"iss":%q,"exp":%.9e}`, accessIss, float64(future))), want: ac(Valid)},
		{name: "missing exp", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": absent{}})), want: ac(Valid)},
		{name: "nbf ahead", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": nowS + 1})), want: ac(NotYetValid)},
		{name: "nbf equal to at", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": nowS})), want: ac(Valid)},
		{name: "leeway keeps recently expired", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": nowS - 29})), opts: Options{Leeway: 30 * time.Second}, want: ac(Valid)},
		{name: "leeway boundary expired", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": nowS - 30})), opts: Options{Leeway: 30 * time.Second}, want: ac(Expired)},
		{name: "leeway accepts early nbf", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": nowS + 30})), opts: Options{Leeway: 30 * time.Second}, want: ac(Valid)},
		{name: "leeway boundary nbf", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": nowS + 31})), opts: Options{Leeway: 30 * time.Second}, want: ac(NotYetValid)},

		// Issuer.
		{name: "wrong issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": "https://evil.test"})), want: ac(WrongIssuer)},
		{name: "issuer differs in case", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": strings.ToUpper(accessIss)})), want: ac(WrongIssuer)},
		{name: "missing issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": absent{}})), want: ac(WrongIssuer)},
		{name: "empty issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": ""})), want: ac(WrongIssuer)},
		{name: "escaped issuer", in: payload(`{"iss":"https:\/\/auth.example.test"}`), want: ac(Valid)},
		{name: "no issuer configured", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": "anyone"})), noIssuer: true, want: ac(Valid)},
		{name: "no issuer configured, none given", in: payload(`{}`), noIssuer: true, want: ac(Valid)},

		// Claim order, as jsonwebtoken's: nbf, then exp, then issuer.
		{name: "nbf beats exp and issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": past, "nbf": future, "iss": "x"})), want: ac(NotYetValid)},
		{name: "nbf beats a bad exp", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": "x", "nbf": future})), want: ac(NotYetValid)},
		{name: "a bad nbf beats exp", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": past, "nbf": "x"})), want: ac(Malformed)},
		{name: "expired beats issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": past, "iss": "x"})), want: ac(Expired)},
		{name: "a bad exp beats issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": "x", "iss": "x"})), want: ac(Malformed)},
		{name: "nbf beats issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": future, "iss": "x"})), want: ac(NotYetValid)},

		// Signature before claims.
		{name: "unknown key", in: sign(t, fx.attacker, hs, claims(nil)), want: unk(BadSignature)},
		{name: "expired forgery", in: sign(t, fx.attacker, hs, claims(map[string]any{"exp": nowS - 3600})), want: unk(BadSignature)},
		{name: "not-yet-valid forgery", in: sign(t, fx.attacker, hs, claims(map[string]any{"nbf": future})), want: unk(BadSignature)},
		{name: "forgery with wrong issuer", in: sign(t, fx.attacker, hs, claims(map[string]any{"iss": "https://evil.test"})), want: unk(BadSignature)},
		{name: "forgery with garbage claims", in: signSegments("HS256", fx.attacker, b64s(hsJSON), "!!!not-base64!!!"), want: unk(Malformed)},
		{name: "forgery with non-JSON claims", in: signJSON(fx.attacker, hsJSON, "not json"), want: unk(BadSignature)},
		{name: "forgery with exp string", in: sign(t, fx.attacker, hs, claims(map[string]any{"exp": "soon"})), want: unk(BadSignature)},
		{name: "forgery with exp 0", in: sign(t, fx.attacker, hs, claims(map[string]any{"exp": 0})), want: unk(BadSignature)},
		{name: "forgery with exp negative", in: sign(t, fx.attacker, hs, claims(map[string]any{"exp": -1})), want: unk(BadSignature)},
		{name: "forgery with exp 1e300", in: sign(t, fx.attacker, hs, claims(map[string]any{"exp": 1e300})), want: unk(BadSignature)},
		{name: "forgery with nbf 1e300", in: sign(t, fx.attacker, hs, claims(map[string]any{"nbf": 1e300})), want: unk(BadSignature)},
		{name: "forgery nested deep", in: signJSON(fx.attacker, hsJSON, `{"a":`+fits+`}`), want: unk(BadSignature)},
		{name: "tampered payload", in: vh + "." + b64s(`{"sub":"admin","iss":"`+accessIss+`"}`) + "." + vs, want: unk(BadSignature)},
		{name: "empty signature", in: vh + "." + vp + ".", want: unk(BadSignature)},
		{name: "signature not base64", in: vh + "." + vp + ".***", want: unk(Malformed)},
		{name: "signature with a byte appended", in: valid + "!", want: unk(Malformed)},
		{name: "signature with a character appended", in: valid + "A", want: unk(BadSignature)},
		{name: "signature longer than any MAC", in: vh + "." + vp + "." + b64(make([]byte, 200)), want: unk(BadSignature)},
		{name: "signature padded", in: vh + "." + vp + "." + base64.URLEncoding.EncodeToString(sigBytes), want: unk(Malformed)},
		{name: "signature non-canonical", in: vh + "." + vp + "." + nonCanonical(t, vs), want: unk(Malformed)},
		{name: "signature with newline", in: vh + "." + vp + "." + vs[:10] + "\n" + vs[10:], want: unk(Malformed)},
		{name: "signature truncated to an impossible length", in: vh + "." + vp + "." + vs[:len(vs)-2], want: unk(Malformed)},
		{name: "signature truncated", in: vh + "." + vp + "." + vs[:len(vs)-3], want: unk(BadSignature)},
		{name: "signature doubled", in: vh + "." + vp + "." + b64(append(bytes.Clone(sigBytes), sigBytes...)), want: unk(BadSignature)},
		{name: "signature standard alphabet", in: vh + "." + vp + "." + strings.NewReplacer("-", "+", "_", "/").Replace(vs) + "+/", want: unk(Malformed)},

		// Algorithms.
		{name: "alg none", in: signJSON(fx.ac, `{"alg":"none"}`, `{}`), want: unk(AlgRejected)},
		{name: "alg None", in: signJSON(fx.ac, `{"alg":"None"}`, `{}`), want: unk(AlgRejected)},
		{name: "alg NONE", in: signJSON(fx.ac, `{"alg":"NONE"}`, `{}`), want: unk(AlgRejected)},
		{name: "alg nOnE", in: signJSON(fx.ac, `{"alg":"nOnE"}`, `{}`), want: unk(AlgRejected)},
		{name: "alg none unsigned", in: b64s(`{"alg":"none"}`) + "." + vp + ".", want: unk(AlgRejected)},
		{name: "alg none escaped", in: signJSON(fx.ac, `{"alg":"n\u006fne"}`, `{}`), want: unk(AlgRejected)},
		{name: "alg none even if configured", in: b64s(`{"alg":"none"}`) + "." + vp + ".", opts: Options{Algorithms: []string{"none", "HS256"}}, want: unk(AlgRejected)},
		{name: "alg RS256 on HMAC token", in: sign(t, fx.ac, hdr("RS256"), claims(nil)), want: unk(AlgRejected)},
		{name: "alg ES256 on HMAC token", in: sign(t, fx.ac, hdr("ES256"), claims(nil)), want: unk(AlgRejected)},
		{name: "alg PS256 on HMAC token", in: sign(t, fx.ac, hdr("PS256"), claims(nil)), want: unk(AlgRejected)},
		{name: "alg lower case", in: sign(t, fx.ac, hdr("hs256"), claims(nil)), want: unk(AlgRejected)},
		{name: "alg empty", in: sign(t, fx.ac, hdr(""), claims(nil)), want: unk(AlgRejected)},
		{name: "HS384 not allowed by default", in: sign(t, fx.ac, hdr("HS384"), claims(nil)), want: unk(AlgRejected)},
		{name: "HS512 not allowed by default", in: sign(t, fx.ac, hdr("HS512"), claims(nil)), want: unk(AlgRejected)},
		{name: "HS384 allowed", in: sign(t, fx.ap, hdr("HS384"), claims(nil)), opts: Options{Algorithms: []string{"HS256", "HS384"}}, want: ok(keys.Access, keys.Previous)},
		{name: "HS512 allowed", in: sign(t, fx.rc, hdr("HS512"), claims(map[string]any{"iss": refreshIss})), opts: Options{Algorithms: []string{"HS512"}}, want: ok(keys.Refresh, keys.Current)},
		{name: "HS384 header, SHA-256 MAC", in: signJSON(fx.ac, `{"alg":"HS384"}`, `{}`), opts: Options{Algorithms: []string{"HS384"}}, want: unk(BadSignature)},
		{name: "HS256 when only HS512 allowed", in: valid, opts: Options{Algorithms: []string{"HS512"}}, want: unk(AlgRejected)},
		{name: "only unusable algorithms configured", in: valid, opts: Options{Algorithms: []string{"RS256"}}, want: unk(AlgRejected)},
		{name: "alg escaped HS256", in: signJSON(fx.ac, `{"alg":"HS\u0032\u00356"}`, `{}`), noIssuer: true, want: ac(Valid)},
		{name: "duplicate alg, last wins", in: signJSON(fx.ac, `{"alg":"none","alg":"HS256"}`, `{}`), noIssuer: true, want: ac(Valid)},
		{name: "duplicate alg, last none", in: signJSON(fx.ac, `{"alg":"HS256","alg":"none"}`, `{}`), want: unk(AlgRejected)},

		// Header fields that must not steer key choice; crit.
		{name: "kid naming previous key is ignored", in: sign(t, fx.ac, map[string]any{"alg": "HS256", "kid": fx.set.Keys[2].Fingerprint}, claims(nil)), want: ok(keys.Access, keys.Current)},
		{name: "embedded jwk is ignored", in: sign(t, fx.attacker, map[string]any{"alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": b64(fx.attacker)}}, claims(nil)), want: unk(BadSignature)},
		{name: "jku and x5u are ignored", in: sign(t, fx.attacker, map[string]any{"alg": "HS256", "jku": "https://evil.test/jwks", "x5u": "https://evil.test/x5u"}, claims(nil)), want: unk(BadSignature)},
		{name: "crit extension", in: sign(t, fx.ac, map[string]any{"alg": "HS256", "crit": []string{"b64"}, "b64": false}, claims(nil)), want: unk(Malformed)},
		{name: "crit not an array", in: signJSON(fx.ac, `{"alg":"HS256","crit":"b64"}`, `{}`), want: unk(Malformed)},
		{name: "crit null", in: signJSON(fx.ac, `{"alg":"HS256","crit":null}`, `{}`), want: unk(Malformed)},
		{name: "crit empty", in: signJSON(fx.ac, `{"alg":"HS256","crit":[ ]}`, `{}`), noIssuer: true, want: ac(Valid)},

		// Structure.
		{name: "empty", in: "", want: unk(Malformed)},
		{name: "one segment", in: "abc", want: unk(Malformed)},
		{name: "two segments", in: vh + "." + vp, want: unk(Malformed)},
		{name: "four segments", in: valid + "." + vs, want: unk(Malformed)},
		{name: "five segments", in: valid + ".a.b", want: unk(Malformed)},
		{name: "only dots", in: "..", want: unk(Malformed)},
		{name: "empty header", in: "." + vp + "." + vs, want: unk(Malformed)},
		{name: "header padded", in: signSegments("HS256", fx.ac, padded(t, `{"alg":"HS256","x":12}`), vp), want: unk(Malformed)},
		{name: "header non-canonical", in: signSegments("HS256", fx.ac, nonCanonical(t, b64s(`{"alg":"HS256","x":12}`)), vp), want: unk(Malformed)},
		{name: "header standard alphabet", in: signSegments("HS256", fx.ac, base64.RawStdEncoding.EncodeToString([]byte(`{"alg":"HS256","x":"??>"}`)), vp), want: unk(Malformed)},
		{name: "header with newline", in: signSegments("HS256", fx.ac, vh[:8]+"\n"+vh[8:], vp), want: unk(Malformed)},
		{name: "header bad length", in: signSegments("HS256", fx.ac, vh+"A", vp), want: unk(Malformed)},
		{name: "header not JSON", in: signJSON(fx.ac, `hello`, `{}`), want: unk(Malformed)},
		{name: "header array", in: signJSON(fx.ac, `[{"alg":"HS256"}]`, `{}`), want: unk(Malformed)},
		{name: "header string", in: signJSON(fx.ac, `"HS256"`, `{}`), want: unk(Malformed)},
		{name: "header trailing data", in: signJSON(fx.ac, `{"alg":"HS256"} {}`, `{}`), want: unk(Malformed)},
		{name: "header without alg", in: signJSON(fx.ac, `{"typ":"JWT"}`, `{}`), want: unk(Malformed)},
		{name: "header ALG case variant", in: signJSON(fx.ac, `{"ALG":"HS256"}`, `{}`), want: unk(Malformed)},
		{name: "header alg number", in: signJSON(fx.ac, `{"alg":256}`, `{}`), want: unk(Malformed)},
		{name: "header alg null", in: signJSON(fx.ac, `{"alg":null}`, `{}`), want: unk(Malformed)},
		{name: "header nested 20000 deep", in: signJSON(fx.ac, `{"alg":"HS256","x":`+deep+`}`, `{}`), want: unk(Malformed)},
		{name: "header nested 5000 deep", in: signJSON(fx.ac, `{"x":`+fits+`,"alg":"none"}`, `{}`), want: unk(AlgRejected)},
		{name: "surrounding space", in: " " + valid, want: unk(Malformed)},
		{name: "over the length cap", in: valid + "." + strings.Repeat("A", MaxTokenLen), want: unk(Malformed)},
		{name: "2 MB token", in: vh + "." + strings.Repeat("A", 2<<20) + "." + vs, want: unk(Malformed)},

		// RFC 7515 §5.2: a payload that is not strict base64url is malformed
		// before any signature is checked, whoever signed it.
		{name: "payload not base64", in: signSegments("HS256", fx.ac, vh, "!!!"), want: unk(Malformed)},
		{name: "payload empty", in: signSegments("HS256", fx.ac, vh, ""), want: unk(Malformed)},
		{name: "payload padded", in: signSegments("HS256", fx.ac, vh, padded(t, `{"exp":12}`)), want: unk(Malformed)},
		{name: "payload non-canonical", in: signSegments("HS256", fx.ac, vh, nonCanonical(t, b64s(`{"iss":"`+accessIss+`"}`))), want: unk(Malformed)},
		{name: "payload of one character", in: signSegments("HS256", fx.ac, vh, "a"), want: unk(Malformed)},
		{name: "payload with spaces", in: signSegments("HS256", fx.ac, vh, "    VGVzdA"), want: unk(Malformed)},
		{name: "payload of one character, forged", in: signSegments("HS256", fx.attacker, vh, "a"), want: unk(Malformed)},
		{name: "payload of one character, junk MAC", in: vh + ".a." + vs, want: unk(Malformed)},
		{name: "payload not JSON, forged", in: signJSON(fx.attacker, hsJSON, "Test"), want: unk(BadSignature)},
		{name: "payload not JSON", in: signJSON(fx.ac, hsJSON, "Test"), want: ac(Malformed)},
		{name: "payload not JSON, previous key", in: signJSON(fx.ap, hsJSON, "Test"), want: by(keys.Access, keys.Previous, Malformed)},

		// Claims of a verified token.
		{name: "payload array", in: payload(`[]`), want: ac(Malformed)},
		{name: "payload string", in: payload(`"x"`), want: ac(Malformed)},
		{name: "payload number", in: payload(`1`), want: ac(Malformed)},
		{name: "payload null", in: payload(`null`), want: ac(Malformed)},
		{name: "payload invalid JSON", in: payload(`{"exp":}`), want: ac(Malformed)},
		{name: "payload trailing data", in: payload(`{} {}`), want: ac(Malformed)},
		{name: "payload nested 20000 deep", in: payload(`{"a":` + deep + `}`), want: unk(Malformed)},
		{name: "payload nested 5000 deep", in: payload(fmt.Sprintf(`{"a":%s,"iss":%q,"exp":%d}`, fits, accessIss, past)), want: ac(Expired)},
		{name: "exp string", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": fmt.Sprint(future)})), want: ac(Malformed)},
		{name: "exp empty string", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": ""})), want: ac(Malformed)},
		{name: "exp 0", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": 0})), want: ac(Expired)},
		{name: "exp -0", in: payload(`{"exp":-0}`), noIssuer: true, want: ac(Expired)},
		{name: "exp negative", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": -1})), want: ac(Expired)},
		{name: "exp -1e300", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": -1e300})), want: ac(Expired)},
		{name: "exp below float range", in: payload(`{"exp":-1e400}`), noIssuer: true, want: ac(Expired)},
		{name: "exp fraction of a second", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": 0.5})), want: ac(Expired)},
		{name: "exp 1e300", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": 1e300})), want: ac(Valid)},
		{name: "exp beyond float range", in: payload(`{"exp":1e400}`), noIssuer: true, want: ac(Valid)},
		{name: "exp beyond year 9999", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": maxNumericDate + 1})), want: ac(Valid)},
		{name: "exp beyond year 9999, in its last second", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": maxNumericDate + 1})), at: time.Unix(maxNumericDate, 0), want: ac(Valid)},
		{name: "exp 1e300, in the last second of 9999", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": 1e300})), at: time.Unix(maxNumericDate, 0), want: ac(Valid)},
		{name: "nbf 1e300, in the last second of 9999", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": 1e300})), at: time.Unix(maxNumericDate, 0), want: ac(NotYetValid)},
		{name: "exp -1e300, in year 1", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": -1e300})), at: time.Unix(minNumericDate, 0), want: ac(Expired)},
		{name: "exp null", in: payload(`{"exp":null}`), want: ac(Malformed)},
		{name: "exp bool", in: payload(`{"exp":true}`), want: ac(Malformed)},
		{name: "exp object", in: payload(`{"exp":{}}`), want: ac(Malformed)},
		{name: "exp array", in: payload(`{"exp":[1]}`), want: ac(Malformed)},
		{name: "nbf 0", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": 0})), want: ac(Valid)},
		{name: "nbf negative", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": -5})), want: ac(Valid)},
		{name: "nbf 1e300", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": 1e300})), want: ac(NotYetValid)},
		{name: "nbf null", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": nil})), want: ac(Malformed)},
		{name: "nbf string", in: sign(t, fx.ac, hs, claims(map[string]any{"nbf": "now"})), want: ac(Malformed)},
		{name: "iat string", in: sign(t, fx.ac, hs, claims(map[string]any{"iat": "then"})), want: ac(Valid)},
		{name: "iat null", in: sign(t, fx.ac, hs, claims(map[string]any{"iat": nil})), want: ac(Valid)},
		{name: "iat object", in: sign(t, fx.ac, hs, claims(map[string]any{"iat": map[string]any{}})), want: ac(Valid)},
		{name: "iat negative", in: sign(t, fx.ac, hs, claims(map[string]any{"iat": -5})), want: ac(Valid)},
		{name: "iat 1e300", in: sign(t, fx.ac, hs, claims(map[string]any{"iat": 1e300})), want: ac(Valid)},
		{name: "sub number", in: sign(t, fx.ac, hs, claims(map[string]any{"sub": 42})), want: ac(Valid)},
		{name: "sub object", in: sign(t, fx.ac, hs, claims(map[string]any{"sub": map[string]any{"id": 42}})), want: ac(Valid)},
		{name: "iss number", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": 42})), want: ac(WrongIssuer)},
		{name: "iss number, no issuer configured", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": 42})), noIssuer: true, want: ac(Valid)},
		{name: "iss array of the issuer", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": []string{accessIss}})), want: ac(WrongIssuer)},
		{name: "malformed claims by previous key", in: sign(t, fx.ap, hs, claims(map[string]any{"exp": "x"})), want: by(keys.Access, keys.Previous, Malformed)},

		// Member names: exact after unescaping, last duplicate wins, only top level.
		{name: "EXP is not exp", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": absent{}, "EXP": past})), want: ac(Valid)},
		{name: "Exp is not exp", in: sign(t, fx.ac, hs, claims(map[string]any{"exp": absent{}, "Exp": past})), want: ac(Valid)},
		{name: "NBF is not nbf", in: sign(t, fx.ac, hs, claims(map[string]any{"NBF": future})), want: ac(Valid)},
		{name: "ISS is not iss", in: sign(t, fx.ac, hs, claims(map[string]any{"iss": absent{}, "ISS": accessIss})), want: ac(WrongIssuer)},
		{name: "EXP does not hide a bad type", in: sign(t, fx.ac, hs, claims(map[string]any{"EXP": "x"})), want: ac(Valid)},
		{name: "escaped exp name is exp", in: payload(fmt.Sprintf(`{"iss":%q,"\u0065xp":%d}`, accessIss, past)), want: ac(Expired)},
		{name: "duplicate exp, last valid", in: payload(fmt.Sprintf(`{"iss":%q,"exp":%d,"exp":%d}`, accessIss, past, future)), want: ac(Valid)},
		{name: "duplicate exp, last expired", in: payload(fmt.Sprintf(`{"iss":%q,"exp":%d,"exp":%d}`, accessIss, future, past)), want: ac(Expired)},
		{name: "nested exp is not exp", in: payload(fmt.Sprintf(`{"iss":%q,"x":{"exp":%d}}`, accessIss, past)), want: ac(Valid)},
		{name: "exp after tricky string", in: payload(fmt.Sprintf(`{"iss":%q,"x":"}\"{]","exp":%d}`, accessIss, past)), want: ac(Expired)},
		{name: "exp after brackets in nested strings", in: payload(fmt.Sprintf(`{"iss":%q,"x":["]}\"",{"y":"}]\\"}],"exp":%d}`, accessIss, past)), want: ac(Expired)},
		{name: "exp after nested arrays", in: payload(fmt.Sprintf(`{"iss":%q,"x":%s,"exp":%d}`, accessIss, nested, past)), want: ac(Expired)},
		{name: "exp after whitespace", in: payload(fmt.Sprintf(" {\n\t\"iss\" : %q ,\r\n \"exp\" : %d } ", accessIss, past)), want: ac(Expired)},
		{name: "unrelated huge number", in: payload(fmt.Sprintf(`{"iss":%q,"x":1e400}`, accessIss)), want: ac(Valid)},
	}

	seen := map[Result]bool{}
	for _, tt := range tests {
		seen[tt.want.result] = true
		t.Run(tt.name, func(t *testing.T) {
			set := fx.set
			if tt.noIssuer {
				set.Issuers = nil
			}
			at := tt.at
			if at.IsZero() {
				at = now
			}
			got := New(set, tt.opts).Check(tt.in, at)
			if g := (want{got.Family, got.Key, got.Result}); g != tt.want {
				t.Fatalf("Check() = %+v, want %+v", g, tt.want)
			}
			wantFP := ""
			if k, ok := fx.set.Find(tt.want.family, tt.want.key); ok {
				wantFP = k.Fingerprint
			}
			if got.Fingerprint != wantFP {
				t.Errorf("Fingerprint = %q, want %q", got.Fingerprint, wantFP)
			}
			if got.Key == keys.None {
				if got.Claims != (Claims{}) {
					t.Errorf("Claims = %+v, want none for %s", got.Claims, got.Result)
				}
			}
		})
	}
	for _, r := range Results {
		if !seen[r] {
			t.Errorf("no test case expects %s", r)
		}
	}
}

func TestCheckClaims(t *testing.T) {
	fx := newFixture(t)
	v := New(fx.set, Options{})
	tests := []struct {
		name string
		in   string
		want Claims
	}{
		{
			name: "all claims",
			in:   sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"nbf": nowS - 30})),
			want: Claims{Subject: "user-1", Issuer: accessIss, IssuedAt: time.Unix(nowS-60, 0), ExpiresAt: time.Unix(nowS+3600, 0), NotBefore: time.Unix(nowS-30, 0)},
		},
		{
			name: "set for an expired token",
			in:   sign(t, fx.ap, hdr("HS256"), claims(map[string]any{"exp": nowS - 5})),
			want: Claims{Subject: "user-1", Issuer: accessIss, IssuedAt: time.Unix(nowS-60, 0), ExpiresAt: time.Unix(nowS-5, 0)},
		},
		{
			name: "set for a wrong issuer",
			in:   sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"iss": "other", "iat": absent{}})),
			want: Claims{Subject: "user-1", Issuer: "other", ExpiresAt: time.Unix(nowS+3600, 0)},
		},
		{
			name: "escaped and non-ASCII strings",
			in:   signJSON(fx.ac, `{"alg":"HS256"}`, `{"sub":"J\u00fcrgen \"J\" \u2603","iss":"https:\/\/auth.example.test"}`),
			want: Claims{Subject: `Jürgen "J" ☃`, Issuer: accessIss},
		},
		{
			name: "raw UTF-8 subject",
			in:   signJSON(fx.ac, `{"alg":"HS256"}`, `{"sub":"Jürgen","iss":"`+accessIss+`"}`),
			want: Claims{Subject: "Jürgen", Issuer: accessIss},
		},
		{
			name: "invalid UTF-8 repaired like encoding/json",
			in:   signJSON(fx.ac, `{"alg":"HS256"}`, "{\"sub\":\"a\xffb\",\"iss\":\""+accessIss+"\"}"),
			want: Claims{Subject: "a\uFFFDb", Issuer: accessIss},
		},
		{name: "bad signature has none", in: sign(t, fx.attacker, hdr("HS256"), claims(nil))},
		{
			name: "read as far as they go when exp is not a number",
			in:   sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"exp": "x"})),
			want: Claims{Subject: "user-1", Issuer: accessIss, IssuedAt: time.Unix(nowS-60, 0)},
		},
		{name: "none when the payload is not an object", in: signJSON(fx.ac, `{"alg":"HS256"}`, `["sub","a"]`)},
		{
			name: "numeric sub as its JSON text (the NestJS docs)",
			in:   signJSON(fx.ac, `{"alg":"HS256"}`, `{"username":"john","sub":1,"iss":"`+accessIss+`"}`),
			want: Claims{Subject: "1", Issuer: accessIss},
		},
		{
			name: "other sub values as their JSON text",
			in:   signJSON(fx.ac, `{"alg":"HS256"}`, `{"sub":{"id":4.2e1,"org":[1,"a"]},"iss":"`+accessIss+`"}`),
			want: Claims{Subject: `{"id":4.2e1,"org":[1,"a"]}`, Issuer: accessIss},
		},
		{name: "null sub is none", in: signJSON(fx.ac, `{"alg":"HS256"}`, `{"sub":null,"iss":"`+accessIss+`"}`), want: Claims{Issuer: accessIss}},
		{name: "iat not a number is none", in: signJSON(fx.ac, `{"alg":"HS256"}`, `{"iat":"1748772000","iss":"`+accessIss+`"}`), want: Claims{Issuer: accessIss}},
		{name: "iss not a string is none", in: signJSON(fx.ac, `{"alg":"HS256"}`, `{"sub":"a","iss":["`+accessIss+`"]}`), want: Claims{Subject: "a"}},
		{
			name: "fractions kept, huge values clamped",
			in:   signJSON(fx.ac, `{"alg":"HS256"}`, `{"iat":1748772000.25,"exp":1e400,"nbf":-1e300}`),
			want: Claims{IssuedAt: time.Unix(1748772000, 250e6), ExpiresAt: time.Unix(maxNumericDate+1, 0), NotBefore: time.Unix(minNumericDate, 0)},
		},
		{name: "case variants are not claims", in: signJSON(fx.ac, `{"alg":"HS256"}`, `{"SUB":"a","Iss":"b","IAT":5,"EXP":5,"NBF":5}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Check(tt.in, now).Claims
			if !claimsEqual(got, tt.want) {
				t.Errorf("Claims = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func claimsEqual(a, b Claims) bool {
	return a.Subject == b.Subject && a.Issuer == b.Issuer && a.IssuedAt.Equal(b.IssuedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.NotBefore.Equal(b.NotBefore)
}

// TestCheckLargestToken checks that the cap is inclusive and not smaller than documented.
func TestCheckLargestToken(t *testing.T) {
	fx := newFixture(t)
	v := New(fx.set, Options{})
	tok := ""
	for n := MaxTokenLen*3/4 - 200; ; n++ {
		next := sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"pad": strings.Repeat("x", n)}))
		if len(next) > MaxTokenLen {
			break
		}
		tok = next
	}
	if len(tok) < MaxTokenLen-4 {
		t.Fatalf("could not build a token near the cap: %d bytes", len(tok))
	}
	if got := v.Check(tok, now); got.Result != Valid {
		t.Errorf("Check(%d-byte token).Result = %s, want %s", len(tok), got.Result, Valid)
	}
}

// TestCheckOversizedWithoutWork checks the length cap comes before any decoding.
func TestCheckOversizedWithoutWork(t *testing.T) {
	fx := newFixture(t)
	v := New(fx.set, Options{})
	valid := sign(t, fx.ac, hdr("HS256"), claims(nil))
	h, _, s := segments(t, valid)
	huge := h + "." + strings.Repeat("eyJhIjoxfQ", 2<<20/10) + "." + s
	var got Verdict
	allocs := testing.AllocsPerRun(20, func() { got = v.Check(huge, now) })
	if got.Result != Malformed {
		t.Errorf("Result = %s, want %s", got.Result, Malformed)
	}
	if allocs != 0 {
		t.Errorf("Check allocated %.0f times for an oversized token, want 0", allocs)
	}
}

// TestParseDeepNesting feeds nesting far beyond what fits under MaxTokenLen
// straight to the JSON checks: no stack exhaustion, no panic.
func TestParseDeepNesting(t *testing.T) {
	nest := func(depth int, open, close string) string {
		return strings.Repeat(open, depth) + strings.Repeat(close, depth)
	}
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"arrays 100", `{"a":` + nest(100, "[", "]") + `,"exp":5}`, true},
		{"arrays 9000", `{"a":` + nest(9000, "[", "]") + `,"exp":5}`, true},
		{"arrays 20000", `{"a":` + nest(20000, "[", "]") + `,"exp":5}`, false},
		{"objects 20000", `{"a":` + nest(20000, `{"a":`, "}") + `}`, false},
		{"arrays 1000000", `{"a":` + nest(1000000, "[", "]") + `}`, false},
		{"unclosed 20000", `{"a":` + strings.Repeat("[", 20000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseClaims([]byte(tt.in), nil)
			if ok != tt.want {
				t.Fatalf("parseClaims ok = %v, want %v", ok, tt.want)
			}
			if ok && c.ExpiresAt.Unix() != 5 {
				t.Errorf("ExpiresAt = %v, want the exp after the nesting", c.ExpiresAt)
			}
			hdr := strings.Replace(tt.in, `"exp":5`, `"alg":"HS256"`, 1)
			if _, _, ok := parseHeader([]byte(hdr)); ok != tt.want {
				t.Errorf("parseHeader ok = %v, want %v", ok, tt.want)
			}
		})
	}
}

func TestCheckNoKeys(t *testing.T) {
	v := New(keys.Set{}, Options{})
	tests := []struct {
		name string
		in   string
		want Result
	}{
		{"well formed", sign(t, newSecret(t), hdr("HS256"), claims(nil)), BadSignature},
		{"alg none", b64s(`{"alg":"none"}`) + "." + b64s(`{}`) + ".", AlgRejected},
		{"garbage", "not-a-token", Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Check(tt.in, now)
			if got.Result != tt.want || got.Family != keys.Unknown || got.Key != keys.None {
				t.Errorf("Check() = %s/%s/%s, want unknown/none/%s", got.Family, got.Key, got.Result, tt.want)
			}
		})
	}
}

// TestNewCopiesSet checks that changing the Set afterwards does not change the Verifier.
func TestNewCopiesSet(t *testing.T) {
	fx := newFixture(t)
	set := keys.Set{
		Keys:    []keys.Key{keys.New(keys.Access, keys.Current, fx.ac)},
		Issuers: map[keys.Family]string{keys.Access: accessIss},
	}
	v := New(set, Options{})
	set.Keys[0].Secret()[0] ^= 0xff
	set.Issuers[keys.Access] = "changed"
	if got := v.Check(sign(t, fx.ac, hdr("HS256"), claims(nil)), now); got.Result != Valid {
		t.Errorf("Result = %s after changing the set, want %s", got.Result, Valid)
	}
}

// TestVerdictDoesNotLeak checks that nothing printed from a verdict holds the
// token, any of its segments, or a secret.
func TestVerdictDoesNotLeak(t *testing.T) {
	fx := newFixture(t)
	v := New(fx.set, Options{})
	for _, tok := range []string{
		sign(t, fx.ac, hdr("HS256"), claims(nil)),
		sign(t, fx.attacker, hdr("HS256"), claims(nil)),
		sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"exp": "x"})),
		sign(t, fx.ac, hdr("none"), claims(nil)),
	} {
		got := v.Check(tok, now)
		out := fmt.Sprintf("%v %+v %#v", got, got, got)
		h, p, s := segments(t, tok)
		for _, secretish := range []string{tok, h, p, s} {
			if strings.Contains(out, secretish) {
				t.Errorf("verdict output %q holds part of the token", got.Result)
			}
		}
		for _, secret := range append(fx.secrets(), fx.attacker) {
			for _, form := range []string{string(secret), hex.EncodeToString(secret), b64(secret), base64.StdEncoding.EncodeToString(secret)} {
				if strings.Contains(out, form) {
					t.Errorf("verdict output %q holds a secret", got.Result)
				}
			}
		}
	}
}

func TestCheckConcurrent(t *testing.T) {
	fx := newFixture(t)
	v := New(fx.set, Options{Algorithms: []string{"HS256", "HS512"}})
	cases := []struct {
		in   string
		want want
	}{
		{sign(t, fx.ac, hdr("HS256"), claims(nil)), by(keys.Access, keys.Current, Valid)},
		{sign(t, fx.rp, hdr("HS512"), claims(map[string]any{"iss": refreshIss})), by(keys.Refresh, keys.Previous, Valid)},
		{sign(t, fx.ar, hdr("HS256"), claims(map[string]any{"exp": nowS - 1})), by(keys.Access, keys.Retired, Expired)},
		{sign(t, fx.attacker, hdr("HS256"), claims(nil)), unk(BadSignature)},
		{sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"exp": "x"})), by(keys.Access, keys.Current, Malformed)},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := cases[(g+i)%len(cases)]
				got := v.Check(c.in, now)
				if w := (want{got.Family, got.Key, got.Result}); w != c.want {
					t.Errorf("Check() = %+v, want %+v", w, c.want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// gatewayResult maps a golang-jwt parse error to a Result; ok is false when
// golang-jwt rejected the token for a reason outside the claim checks.
func gatewayResult(err error) (Result, bool) {
	switch {
	case err == nil:
		return Valid, true
	// golang-jwt reports every failed check; the gateway's jsonwebtoken stops
	// at the first, nbf before exp.
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return NotYetValid, true
	case errors.Is(err, jwt.ErrTokenExpired):
		return Expired, true
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return WrongIssuer, true
	}
	return "", false
}

// parseGateway checks tok with golang-jwt as a gateway configured like v would.
func parseGateway(tok string, secret []byte, at time.Time, leeway time.Duration, issuer string) error {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}),
		jwt.WithTimeFunc(func() time.Time { return at }),
		jwt.WithLeeway(leeway),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	_, err := jwt.NewParser(opts...).Parse(tok, func(*jwt.Token) (any, error) { return secret, nil })
	return err
}

// TestClaimChecksMatchGolangJWT compares the claim verdicts with golang-jwt
// v5's validator across the boundaries of exp, nbf, leeway and issuer, for
// whole seconds: there golang-jwt and jsonwebtoken agree. golang-jwt cuts a
// fractional exp or nbf to the second and jsonwebtoken does not; the gateway
// is jsonwebtoken, so TestMatchesJsonwebtoken covers fractions.
func TestClaimChecksMatchGolangJWT(t *testing.T) {
	fx := newFixture(t)
	offsets := []any{absent{}, -61.0, -60.0, -59.0, -1.0, 0.0, 1.0, 59.0, 60.0, 61.0}
	issuers := []any{absent{}, accessIss, "https://evil.test"}
	for _, leeway := range []time.Duration{0, time.Minute} {
		for _, frac := range []time.Duration{0, 500 * time.Millisecond} {
			at := now.Add(frac)
			v := New(fx.set, Options{Leeway: leeway})
			for _, exp := range offsets {
				for _, nbf := range offsets {
					for _, iss := range issuers {
						c := map[string]any{"sub": "u", "iss": iss, "exp": exp, "nbf": nbf}
						for _, k := range []string{"exp", "nbf"} {
							if off, ok := c[k].(float64); ok {
								c[k] = float64(nowS) + off
							}
						}
						tok := jwtSign(t, fx.ac, jwt.MapClaims(claims(c)))
						want, ok := gatewayResult(parseGateway(tok, fx.ac, at, leeway, accessIss))
						if !ok {
							t.Fatalf("golang-jwt rejected exp=%v nbf=%v iss=%v outside the claim checks", exp, nbf, iss)
						}
						if got := v.Check(tok, at).Result; got != want {
							t.Errorf("leeway=%v at=+%v exp=%v nbf=%v iss=%v: Result = %s, golang-jwt says %s", leeway, frac, exp, nbf, iss, got, want)
						}
					}
				}
			}
		}
	}
}

// FuzzCheck feeds arbitrary tokens. resign, when non-zero, re-signs the first
// two segments with a configured key (low bits) and SHA-256 or SHA-512 (high
// bit), so the fuzzer reaches the claim checks behind a verified signature.
// The oracles are independent of the classifier: strict base64url from
// encoding/base64, HMACs from golang-jwt, the claims from encoding/json read
// by jsonwebtoken's rules (jsonwebtokenJudge), and golang-jwt's own claim
// checks where it agrees with jsonwebtoken.
func FuzzCheck(f *testing.F) {
	fx := newFixture(f)
	secrets := fx.secrets()
	v := New(fx.set, Options{Algorithms: []string{"HS256", "HS512"}})
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	seeds := []string{
		"", ".", "..", "a.b.c", "a.b.c.d",
		sign(f, fx.ac, hdr("HS256"), claims(nil)),
		sign(f, fx.rp, hdr("HS256"), claims(map[string]any{"iss": refreshIss, "exp": nowS - 5})),
		sign(f, fx.ac, hdr("HS512"), claims(map[string]any{"nbf": nowS + 5})),
		sign(f, fx.attacker, hdr("HS256"), claims(nil)),
		sign(f, fx.ac, hdr("none"), claims(nil)),
		sign(f, fx.ac, map[string]any{"alg": "HS256", "crit": []string{"b64"}}, claims(nil)),
		signJSON(fx.ac, `{"alg":"HS256"}`, `{"exp":1e300,"EXP":1,"\u0065xp":"x","sub":1}`),
		signJSON(fx.ac, `{"alg":"HS256"}`, `{"a":`+deep+`}`),
		signJSON(fx.ac, `{"alg":"HS256"}`, `{"x":"}\"{","iss":"https:\/\/auth.example.test","exp":1.5e9}`),
		signJSON(fx.ac, `{"alg":"HS256"}`, `{"sub":1,"iat":"x","nbf":-0,"exp":1748779200.5,"iss":null}`),
		signJSON(fx.ac, `{"alg":"HS256"}`, `Test`),
		signSegments("HS256", fx.ac, b64s(`{"alg":"HS256"}`), "    VGVzdA"),
	}
	for i, s := range seeds {
		f.Add(s, nowS, uint8(i%3))
	}
	f.Fuzz(func(t *testing.T, tok string, atSec int64, resign uint8) {
		if resign != 0 {
			if i := strings.LastIndexByte(tok, '.'); i >= 0 {
				alg := "HS256"
				if resign&0x80 != 0 {
					alg = "HS512"
				}
				secret := secrets[int(resign&0x7f)%len(secrets)]
				h, p, _ := strings.Cut(tok[:i], ".")
				tok = signSegments(alg, secret, h, p)
			}
		}
		// Line times from 1970 to the end of the year 9999, where the
		// clamped claims keep jsonwebtoken's verdict.
		at := time.Unix(int64(uint64(atSec)%(maxNumericDate+1)), 0)
		got := v.Check(tok, at)

		known := false
		for _, r := range Results {
			known = known || got.Result == r
		}
		if !known {
			t.Fatalf("unknown Result %q", got.Result)
		}
		if (got.Key == keys.None) != (got.Family == keys.Unknown) || (got.Key == keys.None) != (got.Fingerprint == "") {
			t.Fatalf("inconsistent verdict labels %s/%s/%q", got.Family, got.Key, got.Fingerprint)
		}

		// RFC 7515 §5.2: a segment that is not strict base64url makes the
		// token malformed before any key is tried.
		parts := strings.Split(tok, ".")
		var raw [3][]byte
		decodes := len(parts) == 3 && len(tok) <= MaxTokenLen
		for j := 0; decodes && j < 3; j++ {
			var err error
			raw[j], err = base64.RawURLEncoding.Strict().DecodeString(parts[j])
			decodes = err == nil && !strings.ContainsAny(parts[j], "\r\n")
		}
		if !decodes {
			if got.Result != Malformed || got.Key != keys.None {
				t.Fatalf("a token that is not three strict base64url segments is %s/%s, want malformed/none", got.Key, got.Result)
			}
			return
		}
		// The MAC is checked with the algorithm the header names, when allowed.
		var header map[string]json.RawMessage
		var alg string
		if json.Unmarshal(raw[0], &header) == nil {
			json.Unmarshal(header["alg"], &alg)
		}
		verifies := func(secret []byte) bool {
			for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
				if m.Alg() == alg && m.Verify(parts[0]+"."+parts[1], raw[2], secret) == nil {
					return true
				}
			}
			return false
		}
		if got.Key == keys.None {
			if got.Result == Valid || got.Result == Expired || got.Result == NotYetValid || got.Result == WrongIssuer {
				t.Fatalf("Result %s without a verifying key", got.Result)
			}
			if got.Result == BadSignature {
				for _, secret := range secrets {
					if verifies(secret) {
						t.Fatalf("bad_signature, but a configured key verifies the token")
					}
				}
			}
			return
		}

		// The reported key must really verify, and be the first that does.
		idx := -1
		for j, k := range fx.set.Keys {
			if k.Fingerprint == got.Fingerprint {
				idx = j
				break
			}
		}
		if idx < 0 || fx.set.Keys[idx].Family != got.Family || fx.set.Keys[idx].Role != got.Key {
			t.Fatalf("verdict names no configured key: %s/%s", got.Family, got.Key)
		}
		if !verifies(secrets[idx]) {
			t.Fatalf("%s/%s key does not verify the token", got.Family, got.Key)
		}
		for j := range idx {
			if verifies(secrets[j]) {
				t.Fatalf("an earlier key also verifies; reported %s/%s", got.Family, got.Key)
			}
		}

		// RFC 7519 §7.2, then the claims as jsonwebtoken reads them.
		issuer := fx.set.Issuers[got.Family]
		want, object := jsonwebtokenJudge(raw[1], issuer, at)
		if !object {
			want = Malformed
		}
		if got.Result != want {
			t.Fatalf("Result = %s, jsonwebtoken's rules on encoding/json say %s", got.Result, want)
		}
		if !object || !wholeSecondClaims(raw[1]) {
			return
		}
		err := parseGateway(tok, secrets[idx], at, 0, issuer)
		if errors.Is(err, jwt.ErrTokenMalformed) {
			// encoding/json into map[string]any refuses numbers beyond float64
			// anywhere in the claims; the gateway's JSON.parse does not.
			return
		}
		if gw, ok := gatewayResult(err); ok && gw != got.Result {
			t.Fatalf("Result = %s, golang-jwt says %v", got.Result, err)
		}
	})
}

// jsonwebtokenJudge applies jsonwebtoken's claim checks (verify.js) to a
// payload decoded by encoding/json, with JavaScript's number semantics: the
// fuzz oracle, written apart from parseClaims and judge. object is false when
// the payload is not a JSON object.
func jsonwebtokenJudge(payload []byte, issuer string, at time.Time) (r Result, object bool) {
	var m map[string]json.RawMessage
	if trimmed := bytes.TrimLeft(payload, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(payload, &m) != nil {
		return "", false
	}
	// number is JSON.parse's number: any JSON number, ±Inf beyond float64.
	number := func(raw json.RawMessage) (float64, bool) {
		if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		return f, err == nil || errors.Is(err, strconv.ErrRange)
	}
	clock := float64(at.Unix())
	if raw, ok := m["nbf"]; ok {
		nbf, isNum := number(raw)
		if !isNum {
			return Malformed, true
		}
		if nbf > clock {
			return NotYetValid, true
		}
	}
	if raw, ok := m["exp"]; ok {
		exp, isNum := number(raw)
		if !isNum {
			return Malformed, true
		}
		if clock >= exp {
			return Expired, true
		}
	}
	if issuer != "" {
		var iss string
		if raw, ok := m["iss"]; !ok || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &iss) != nil || iss != issuer {
			return WrongIssuer, true
		}
	}
	return Valid, true
}

// wholeSecondClaims reports whether exp and nbf are absent or whole numbers
// of seconds from 1 to maxNumericDate: where golang-jwt judges as
// jsonwebtoken does (it cuts fractions and takes 0 for absent).
func wholeSecondClaims(payload []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return false
	}
	for _, name := range []string{"exp", "nbf"} {
		raw, ok := m[name]
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f != math.Trunc(f) || f < 1 || f > maxNumericDate {
			return false
		}
	}
	return true
}

func BenchmarkCheck(b *testing.B) {
	fx := newFixture(b)
	hs := hdr("HS256")
	benches := []struct {
		name string
		in   string
		want Result
	}{
		{"valid/access_current", sign(b, fx.ac, hs, claims(nil)), Valid},
		{"valid/access_previous", sign(b, fx.ap, hs, claims(nil)), Valid},
		{"valid/refresh_retired", sign(b, fx.rr, hs, claims(map[string]any{"iss": refreshIss})), Valid},
		{"expired", sign(b, fx.ac, hs, claims(map[string]any{"exp": nowS - 1})), Expired},
		{"not_yet_valid", sign(b, fx.ac, hs, claims(map[string]any{"nbf": nowS + 60})), NotYetValid},
		{"wrong_issuer", sign(b, fx.ac, hs, claims(map[string]any{"iss": "https://evil.test"})), WrongIssuer},
		{"bad_signature", sign(b, fx.attacker, hs, claims(nil)), BadSignature},
		{"alg_rejected", sign(b, fx.ac, hdr("none"), claims(nil)), AlgRejected},
		{"malformed/structure", "eyJhbGciOiJIUzI1NiJ9.only-two", Malformed},
		{"malformed/claims", sign(b, fx.ac, hs, claims(map[string]any{"exp": "x"})), Malformed},
		{"malformed/oversized", strings.Repeat("A", 2<<20), Malformed},
	}
	v := New(fx.set, Options{})
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			if got := v.Check(bb.in, now).Result; got != bb.want {
				b.Fatalf("Result = %s, want %s", got, bb.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.Check(bb.in, now)
			}
		})
	}
}
