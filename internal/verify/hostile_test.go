package verify_test

// This file is an external test package so that it can hand verdicts to
// rotation.Tracker, which imports verify.

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

const hostileIssuer = "https://auth.example.test"

// hostileNow is the time every token is checked at.
var hostileNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// rawB64 encodes s as a JWT segment.
func rawB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hmac256 is the HS256 signature of signed under secret, computed here to
// check that a key a verdict names really signed the token.
func hmac256(secret []byte, signed string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// seal signs already encoded segments as they are, so hostile encodings
// carry a signature that matches them.
func seal(secret []byte, header, payload string) string {
	return gatewaylog.Segments(gatewaylog.HS256(secret), header, payload)
}

// jws signs raw header and payload JSON with HS256.
func jws(secret []byte, header, payload string) string {
	return seal(secret, rawB64(header), rawB64(payload))
}

// object builds a JSON object from raw `"name":value` members, in order and
// with duplicates as given.
func object(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

// caseVariants returns every upper/lower-case spelling of s (2^len(s) of them).
func caseVariants(s string) []string {
	var out []string
	for mask := range 1 << len(s) {
		b := []byte(s)
		for i := range b {
			if mask&(1<<i) != 0 {
				b[i] = bytes.ToUpper(b[i : i+1])[0]
			}
		}
		out = append(out, string(b))
	}
	return out
}

// flipTrailingBits changes the unused low bits of the last character of a
// raw base64url segment: lenient decoders return the same bytes, a strict
// decoder refuses it.
func flipTrailingBits(tb testing.TB, seg string) string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		tb.Fatalf("segment of length %d has no unused bits", len(seg))
	}
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	out := seg[:len(seg)-1] + string(alphabet[i^1])
	lenient, err1 := base64.RawURLEncoding.DecodeString(out)
	orig, err2 := base64.RawURLEncoding.DecodeString(seg)
	if err1 != nil || err2 != nil || !bytes.Equal(lenient, orig) {
		tb.Fatal("flipped segment does not decode to the same bytes leniently")
	}
	return out
}

// padSegment re-encodes a raw segment with '=' padding, which must show.
func padSegment(tb testing.TB, seg string) string {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		tb.Fatal(err)
	}
	out := base64.URLEncoding.EncodeToString(b)
	if !strings.HasSuffix(out, "=") {
		tb.Fatalf("%d bytes encode without padding", len(b))
	}
	return out
}

func split3(tb testing.TB, tok string) (h, p, s string) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func randomSecret(tb testing.TB) []byte {
	tb.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// perCheck measures what one Check of tok costs on the heap, averaged.
func perCheck(v *verify.Verifier, tok string) (allocs float64, bytesPer uint64) {
	const runs = 50
	check := func() { v.Check(tok, hostileNow) }
	allocs = testing.AllocsPerRun(runs, check)
	// AllocsPerRun pins GOMAXPROCS to 1 for the same reason: nothing else
	// should allocate between the two readings.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	check()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		check()
	}
	runtime.ReadMemStats(&after)
	return allocs, (after.TotalAlloc - before.TotalAlloc) / runs
}

// TestHostileTokens is the checklist of issue 4's "hostile tokens"
// guarantee: every attack the classifier must see through, with the result
// and key label it must get. TestCheck in verify_test.go covers the
// classifier's rules in depth; this table is the attacker's view. For every
// entry it also asserts: no panic; a key is reported only when that key's
// HMAC, recomputed here independently, matches the strictly decoded
// signature (no accepted forgery); heap use per check is bounded by
// MaxTokenLen whatever the input size, and zero for oversized input; and
// the suspicion reasons rotation.Tracker derives from the verdict.
func TestHostileTokens(t *testing.T) {
	cur, prev, evil := randomSecret(t), randomSecret(t), randomSecret(t)
	set := keys.Set{
		Keys:    []keys.Key{keys.New(keys.Access, keys.Current, cur), keys.New(keys.Access, keys.Previous, prev)},
		Issuers: map[keys.Family]string{keys.Access: hostileIssuer},
	}
	secretOf := map[keys.Role][]byte{keys.Current: cur, keys.Previous: prev}
	// The binary's defaults: HS256 only, no leeway.
	v := verify.New(set, verify.Options{})
	trackerNow := hostileNow.Add(-30 * time.Second)
	tracker, err := rotation.New(rotation.Policy{Skew: time.Minute}, func() time.Time { return trackerNow }, rotation.Snapshot{})
	if err != nil {
		t.Fatal(err)
	}
	tracker.SetKeys(set.Keys) // the rotation started 30 s before the tokens are seen, after their iat

	nowS := hostileNow.Unix()
	num := func(name string, n int64) string { return fmt.Sprintf("%q:%d", name, n) }
	sub, iss := `"sub":"user-1"`, `"iss":"`+hostileIssuer+`"`
	iat, exp := num("iat", nowS-60), num("exp", nowS+3600)
	past, future := num("exp", nowS-10), num("exp", nowS+3600)
	claims := object(sub, iss, iat, exp)
	hs := `{"alg":"HS256","typ":"JWT"}`
	valid := jws(cur, hs, claims)
	vh, vp, vs := split3(t, valid)
	withHeader := func(members ...string) string { return object(append([]string{`"alg":"HS256"`}, members...)...) }
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObj := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	twoMB := object(sub, iss, exp, `"pad":"`+strings.Repeat("x", 2<<20)+`"`)

	type entry struct {
		name    string
		in      string
		key     keys.Role // keys.None: no key may be reported
		want    verify.Result
		reasons []rotation.Reason
	}
	none := func(name, in string, r verify.Result) entry {
		return entry{name: name, in: in, key: keys.None, want: r}
	}
	byKey := func(name, in string, k keys.Role, r verify.Result) entry {
		return entry{name: name, in: in, key: k, want: r}
	}

	var tests []entry

	// alg "none" in all 16 case spellings, unsigned and carrying a real MAC.
	spellings := caseVariants("none")
	if len(spellings) != 16 || len(slices.Compact(slices.Sorted(slices.Values(spellings)))) != 16 {
		t.Fatalf("want 16 distinct spellings of none, got %q", spellings)
	}
	for _, alg := range spellings {
		h := `{"alg":"` + alg + `","typ":"JWT"}`
		tests = append(tests,
			none("alg "+alg+" unsigned", rawB64(h)+"."+rawB64(claims)+".", verify.AlgRejected),
			none("alg "+alg+" with the current key's MAC", jws(cur, h, claims), verify.AlgRejected),
		)
	}

	tests = append(tests,
		// Algorithm confusion: an HS256 MAC under a header naming an asymmetric algorithm.
		none("HS256 MAC, header says RS256", jws(cur, `{"alg":"RS256","typ":"JWT"}`, claims), verify.AlgRejected),
		none("HS256 MAC, header says ES256", jws(cur, `{"alg":"ES256","typ":"JWT"}`, claims), verify.AlgRejected),
		none("HS256 MAC, header says hs256", jws(cur, `{"alg":"hs256","typ":"JWT"}`, claims), verify.AlgRejected),

		// Signature and structure.
		none("empty signature", vh+"."+vp+".", verify.BadSignature),
		none("2 segments", vh+"."+vp, verify.Malformed),
		none("4 segments", valid+"."+vs, verify.Malformed),
		none("4 segments, trailing dot", valid+".", verify.Malformed),
		none("5 segments", valid+"."+vh+"."+vp, verify.Malformed),
		none("5 segments, JWE shape", rawB64(`{"alg":"dir","enc":"A256GCM"}`)+"..AAAA."+vp+".AAAA", verify.Malformed),

		// Strict base64url: padding and non-canonical trailing bits.
		none("header padded", seal(cur, padSegment(t, rawB64(`{"alg":"HS256","x":12}`)), vp), verify.Malformed),
		none("header non-canonical", seal(cur, flipTrailingBits(t, rawB64(`{"alg":"HS256","x":12}`)), vp), verify.Malformed),
		// RFC 7515 §5.2: every segment is decoded before the signature is
		// checked, so a non-canonical one is malformed whatever its MAC.
		none("payload padded", seal(cur, vh, padSegment(t, rawB64(object(sub, iss, exp, `"x":1`)))), verify.Malformed),
		none("payload non-canonical", seal(cur, vh, flipTrailingBits(t, rawB64(object(sub, iss, exp, `"x":1`)))), verify.Malformed),
		none("payload of one character, current key's MAC", seal(cur, vh, "a"), verify.Malformed),
		none("payload of one character, junk MAC", vh+".a."+vs, verify.Malformed),
		none("payload with leading spaces, current key's MAC", seal(cur, vh, "    VGVzdA"), verify.Malformed),
		none("payload with leading spaces, junk MAC", vh+".    VGVzdA."+vs, verify.Malformed),
		none("signature padded", vh+"."+vp+"."+padSegment(t, vs), verify.Malformed),
		none("signature non-canonical", vh+"."+vp+"."+flipTrailingBits(t, vs), verify.Malformed),
		none("signature with CRLF inside", vh+"."+vp+"."+vs[:20]+"\r\n"+vs[20:], verify.Malformed),
		none("signature with an invalid byte appended", valid+"*", verify.Malformed),
		none("signature with a valid character appended", valid+"A", verify.BadSignature),
		// RFC 7519 §7.2: claims are read only behind a verified signature.
		none("payload not a JSON object, attacker's key", jws(evil, hs, "Test"), verify.BadSignature),
		none("payload a JSON array, attacker's key", jws(evil, hs, `["sub","admin"]`), verify.BadSignature),
		byKey("payload not a JSON object, current key", jws(cur, hs, "Test"), keys.Current, verify.Malformed),
		entry{name: "payload a JSON number, previous key", in: jws(prev, hs, "12"), key: keys.Previous, want: verify.Malformed,
			reasons: []rotation.Reason{rotation.NoIssuedAt}},

		// crit names an extension nobody understands.
		none("crit unknown extension, current key's MAC", jws(cur, withHeader(`"crit":["x-unknown"]`, `"x-unknown":true`), claims), verify.Malformed),
		none("crit b64 false, current key's MAC", jws(cur, withHeader(`"crit":["b64"]`, `"b64":false`), claims), verify.Malformed),

		// kid, jku, x5u, jwk do not choose the key: the real key judges.
		byKey("kid path traversal, current key", jws(cur, withHeader(`"kid":"../../../../../../dev/null"`), claims), keys.Current, verify.Valid),
		none("kid path traversal, MAC with /dev/null's empty key", jws(nil, withHeader(`"kid":"../../../../../../dev/null"`), claims), verify.BadSignature),
		none("kid SQL injection, attacker's key", jws(evil, withHeader(`"kid":"x' UNION SELECT 'attacker"`), claims), verify.BadSignature),
		byKey("kid naming the previous key, current key", jws(cur, withHeader(`"kid":"`+set.Keys[1].Fingerprint+`"`), claims), keys.Current, verify.Valid),
		byKey("kid naming the current key, previous key", jws(prev, withHeader(`"kid":"`+set.Keys[0].Fingerprint+`"`), claims), keys.Previous, verify.Valid),
		byKey("jku to an attacker's JWKS, current key", jws(cur, withHeader(`"jku":"https://evil.test/jwks.json"`), claims), keys.Current, verify.Valid),
		none("jku to an attacker's JWKS, attacker's key", jws(evil, withHeader(`"jku":"https://evil.test/jwks.json"`), claims), verify.BadSignature),
		byKey("x5u to an attacker's chain, current key", jws(cur, withHeader(`"x5u":"https://evil.test/chain.pem"`), claims), keys.Current, verify.Valid),
		none("x5u to an attacker's chain, attacker's key", jws(evil, withHeader(`"x5u":"https://evil.test/chain.pem"`), claims), verify.BadSignature),
		byKey("embedded jwk, current key", jws(cur, withHeader(`"jwk":{"kty":"oct","k":"`+base64.RawURLEncoding.EncodeToString(evil)+`"}`), claims), keys.Current, verify.Valid),
		none("embedded jwk holding the attacker's key, attacker's key", jws(evil, withHeader(`"jwk":{"kty":"oct","k":"`+base64.RawURLEncoding.EncodeToString(evil)+`"}`), claims), verify.BadSignature),

		// Claims.
		byKey("missing exp", jws(cur, hs, object(sub, iss, iat)), keys.Current, verify.Valid),
		entry{name: "iat in the future", in: jws(cur, hs, object(sub, iss, num("iat", nowS+3600), num("exp", nowS+7200))), key: keys.Current, want: verify.Valid,
			reasons: []rotation.Reason{rotation.IssuedInFuture}},
		entry{name: "iat in the future, previous key", in: jws(prev, hs, object(sub, iss, num("iat", nowS+3600), num("exp", nowS+7200))), key: keys.Previous, want: verify.Valid,
			reasons: []rotation.Reason{rotation.IssuedAfterRotation, rotation.IssuedInFuture}},
		byKey("iat ahead within the clock skew", jws(cur, hs, object(sub, iss, num("iat", nowS+30), exp)), keys.Current, verify.Valid),
		byKey("duplicate exp, last one valid", jws(cur, hs, object(sub, iss, past, future)), keys.Current, verify.Valid),
		byKey("duplicate exp, last one expired", jws(cur, hs, object(sub, iss, future, past)), keys.Current, verify.Expired),
		byKey("duplicate iss, last one right", jws(cur, hs, object(sub, `"iss":"https://evil.test"`, iss, exp)), keys.Current, verify.Valid),
		byKey("duplicate iss, last one wrong", jws(cur, hs, object(sub, iss, `"iss":"https://evil.test"`, exp)), keys.Current, verify.WrongIssuer),
		none("duplicate alg, last one none", jws(cur, `{"alg":"HS256","alg":"none"}`, claims), verify.AlgRejected),
		byKey("duplicate alg, last one HS256", jws(cur, `{"alg":"none","alg":"HS256"}`, claims), keys.Current, verify.Valid),
		none("duplicate exp forged", jws(evil, hs, object(sub, iss, past, future)), verify.BadSignature),
		byKey("EXP is not exp", jws(cur, hs, object(sub, iss, `"EXP":1`)), keys.Current, verify.Valid),
		byKey("Exp string is not exp", jws(cur, hs, object(sub, iss, `"Exp":"x"`, exp)), keys.Current, verify.Valid),
		byKey("NBF is not nbf", jws(cur, hs, object(sub, iss, exp, num("NBF", nowS+3600))), keys.Current, verify.Valid),
		byKey("ISS is not iss", jws(cur, hs, object(sub, `"ISS":"`+hostileIssuer+`"`, exp)), keys.Current, verify.WrongIssuer),
		byKey("escaped exp is exp", jws(cur, hs, object(sub, iss, `"\u0065xp":`+fmt.Sprint(nowS-10))), keys.Current, verify.Expired),
		none("ALG is not alg", jws(cur, `{"ALG":"HS256"}`, claims), verify.Malformed),
		byKey("Alg none beside alg HS256", jws(cur, `{"Alg":"none","alg":"HS256"}`, claims), keys.Current, verify.Valid),

		// Size and depth.
		none("2 MB token, current key's MAC", jws(cur, hs, twoMB), verify.Malformed),
		none("2 MB token, attacker's key", jws(evil, hs, twoMB), verify.Malformed),
		none("2 MB of dots", strings.Repeat(".", 2<<20), verify.Malformed),
		none("payload nested 20,000 deep", jws(cur, hs, `{"a":`+deep+`}`), verify.Malformed),
		none("payload objects nested 20,000 deep", jws(cur, hs, `{"a":`+deepObj+`}`), verify.Malformed),
		none("header nested 20,000 deep", jws(cur, withHeader(`"x":`+deep), claims), verify.Malformed),
		none("payload 20,000 unclosed arrays", jws(cur, hs, `{"a":`+strings.Repeat("[", 20000)), verify.Malformed),
	)

	// exp, nbf and iat of 0, negative, 1e300 or not a number: judged as the
	// gateway's jsonwebtoken judges them when our key signed them (any number
	// counts; exp and nbf must be numbers, iat is not checked), bad_signature
	// when a forger did.
	for _, c := range []struct {
		claim, val string
		want       verify.Result
		reasons    []rotation.Reason
	}{
		{"exp", "0", verify.Expired, nil},
		{"exp", "-1", verify.Expired, nil},
		{"exp", "-1e300", verify.Expired, nil},
		{"exp", "1e300", verify.Valid, nil},
		{"exp", "1e400", verify.Valid, nil},
		{"exp", fmt.Sprintf(`"%d"`, nowS+3600), verify.Malformed, nil},
		{"exp", `"soon"`, verify.Malformed, nil},
		{"exp", "null", verify.Malformed, nil},
		{"nbf", "0", verify.Valid, nil},
		{"nbf", "-1", verify.Valid, nil},
		{"nbf", "-1e300", verify.Valid, nil},
		{"nbf", "1e300", verify.NotYetValid, nil},
		{"nbf", "1e400", verify.NotYetValid, nil},
		{"nbf", fmt.Sprintf(`"%d"`, nowS-3600), verify.Malformed, nil},
		{"nbf", `"soon"`, verify.Malformed, nil},
		{"nbf", "null", verify.Malformed, nil},
		{"iat", "0", verify.Valid, nil},
		{"iat", "-1", verify.Valid, nil},
		{"iat", "-1e300", verify.Valid, nil},
		{"iat", "1e300", verify.Valid, []rotation.Reason{rotation.IssuedInFuture}},
		{"iat", "1e400", verify.Valid, []rotation.Reason{rotation.IssuedInFuture}},
		{"iat", fmt.Sprintf(`"%d"`, nowS+3600), verify.Valid, nil},
		{"iat", `"soon"`, verify.Valid, nil},
		{"iat", "null", verify.Valid, nil},
	} {
		payload := object(sub, iss, fmt.Sprintf("%q:%s", c.claim, c.val))
		tests = append(tests,
			entry{name: c.claim + " " + c.val, in: jws(cur, hs, payload), key: keys.Current, want: c.want, reasons: c.reasons},
			none(c.claim+" "+c.val+" forged", jws(evil, hs, payload), verify.BadSignature),
		)
	}

	// sub of any JSON type, as the NestJS documentation signs it.
	for _, val := range []string{"1", "-7", "4.2e1", "true", `{"id":1}`, `[1,2]`, "null"} {
		tests = append(tests, byKey("sub "+val, jws(cur, hs, object(`"sub":`+val, iss, iat, exp)), keys.Current, verify.Valid))
	}

	names := map[string]bool{}
	for _, tt := range tests {
		if names[tt.name] {
			t.Fatalf("duplicate test name %q", tt.name)
		}
		names[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Check panicked: %v", r)
				}
			}()
			got := v.Check(tt.in, hostileNow)

			wantFamily := keys.Access
			if tt.key == keys.None {
				wantFamily = keys.Unknown
			}
			if got.Result != tt.want || got.Key != tt.key || got.Family != wantFamily {
				t.Fatalf("Check() = %s/%s/%s, want %s/%s/%s", got.Family, got.Key, got.Result, wantFamily, tt.key, tt.want)
			}

			// No accepted forgery: a reported key must really have signed.
			if got.Key != keys.None {
				i := strings.LastIndexByte(tt.in, '.')
				sig, err := base64.RawURLEncoding.Strict().DecodeString(tt.in[i+1:])
				if err != nil || !hmac.Equal(sig, hmac256(secretOf[got.Key], tt.in[:i])) {
					t.Fatalf("Check() names the %s key, which did not sign this token", got.Key)
				}
				if k, _ := set.Find(keys.Access, got.Key); got.Fingerprint != k.Fingerprint {
					t.Errorf("Fingerprint = %q, want %q", got.Fingerprint, k.Fingerprint)
				}
			} else if c := got.Claims; got.Fingerprint != "" || c.Subject != "" || c.Issuer != "" || c.ClientID != "" ||
				!c.IssuedAt.IsZero() || !c.ExpiresAt.IsZero() || !c.NotBefore.IsZero() {
				t.Errorf("a verdict without a key carries fingerprint %q or claims", got.Fingerprint)
			}

			if reasons := tracker.Record(got, hostileNow); !slices.Equal(reasons, tt.reasons) {
				t.Errorf("Tracker.Record reasons = %v, want %v", reasons, tt.reasons)
			}

			// Bounded memory: a check never holds more than a few copies of
			// the largest token it accepts, and an oversized one costs nothing.
			allocs, perOp := perCheck(v, tt.in)
			if len(tt.in) > verify.MaxTokenLen {
				if allocs != 0 || perOp > 64 {
					t.Errorf("a %d-byte token cost %.0f allocations and %d bytes per check, want none", len(tt.in), allocs, perOp)
				}
			} else if limit := uint64(4 * verify.MaxTokenLen); perOp > limit {
				t.Errorf("a check allocated %d bytes (%.0f allocations), want at most %d", perOp, allocs, limit)
			}
		})
	}
}
