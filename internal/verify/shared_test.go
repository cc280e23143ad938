package verify

import (
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// TestSharedSecret covers one secret configured for several keys: the
// token is attributed by its issuer, then by its iat against the rotation
// start, then to the older role, never simply to whichever key comes first.
func TestSharedSecret(t *testing.T) {
	shared, newAccess := newSecret(t), newSecret(t)
	rotated := now.Add(-time.Hour) // the access key rotated an hour ago
	before, after := rotated.Add(-30*time.Minute).Unix(), rotated.Add(10*time.Minute).Unix()
	tok := func(iss any, iat int64) string {
		c := map[string]any{"sub": "u", "iss": iss, "iat": iat, "exp": nowS + 3600}
		if iat == 0 {
			delete(c, "iat")
		}
		if iss == nil {
			delete(c, "iss")
		}
		return sign(t, shared, hdr("HS256"), c)
	}
	// access previous = refresh current: the access key was rotated, the
	// refresh key (the same secret until then) was not.
	previousIsRefresh := []keys.Key{
		keys.New(keys.Access, keys.Current, newAccess),
		keys.New(keys.Refresh, keys.Current, shared),
		keys.New(keys.Access, keys.Previous, shared),
	}
	// access = refresh: one secret, told apart by the issuer.
	oneSecret := []keys.Key{
		keys.New(keys.Access, keys.Current, shared),
		keys.New(keys.Refresh, keys.Current, shared),
	}
	sameIssuer := map[keys.Family]string{keys.Access: accessIss, keys.Refresh: accessIss}
	twoIssuers := map[keys.Family]string{keys.Access: accessIss, keys.Refresh: refreshIss}
	rotations := map[keys.Family]time.Time{keys.Access: rotated, keys.Refresh: rotated.Add(-90 * 24 * time.Hour)}
	tests := []struct {
		name      string
		keys      []keys.Key
		issuers   map[keys.Family]string
		rotations map[keys.Family]time.Time
		in        string
		want      want
	}{
		{"previous = refresh, same issuer: old access token", previousIsRefresh, sameIssuer, rotations, tok(accessIss, before), by(keys.Access, keys.Previous, Valid)},
		{"previous = refresh, same issuer: token issued after the rotation", previousIsRefresh, sameIssuer, rotations, tok(accessIss, after), by(keys.Refresh, keys.Current, Valid)},
		{"previous = refresh, same issuer: no iat", previousIsRefresh, sameIssuer, rotations, tok(accessIss, 0), by(keys.Access, keys.Previous, Valid)},
		{"previous = refresh, same issuer: rotation unknown", previousIsRefresh, sameIssuer, nil, tok(accessIss, after), by(keys.Access, keys.Previous, Valid)},
		{"previous = refresh, same issuer: wrong issuer", previousIsRefresh, sameIssuer, rotations, tok("https://evil.test", before), by(keys.Access, keys.Previous, WrongIssuer)},
		{"previous = refresh, two issuers: old access token", previousIsRefresh, twoIssuers, rotations, tok(accessIss, before), by(keys.Access, keys.Previous, Valid)},
		{"previous = refresh, two issuers: refresh token from before the rotation", previousIsRefresh, twoIssuers, rotations, tok(refreshIss, before), by(keys.Refresh, keys.Current, Valid)},
		{"previous = refresh, two issuers: refresh token", previousIsRefresh, twoIssuers, rotations, tok(refreshIss, after), by(keys.Refresh, keys.Current, Valid)},
		{"previous = refresh, two issuers: access token minted after the rotation", previousIsRefresh, twoIssuers, rotations, tok(accessIss, after), by(keys.Access, keys.Previous, Valid)},
		{"access = refresh, two issuers: access token", oneSecret, twoIssuers, rotations, tok(accessIss, after), by(keys.Access, keys.Current, Valid)},
		{"access = refresh, two issuers: refresh token", oneSecret, twoIssuers, rotations, tok(refreshIss, after), by(keys.Refresh, keys.Current, Valid)},
		{"access = refresh, two issuers: refresh token, rotation unknown", oneSecret, twoIssuers, nil, tok(refreshIss, before), by(keys.Refresh, keys.Current, Valid)},
		{"access = refresh, two issuers: neither issuer", oneSecret, twoIssuers, rotations, tok("https://evil.test", after), by(keys.Access, keys.Current, WrongIssuer)},
		{"access = refresh, two issuers: no issuer", oneSecret, twoIssuers, rotations, tok(nil, after), by(keys.Access, keys.Current, WrongIssuer)},
		{"access = refresh, two issuers: issuer not a string", oneSecret, twoIssuers, rotations, tok([]string{refreshIss}, after), by(keys.Access, keys.Current, WrongIssuer)},
		{"access = refresh, refresh issuer not configured", oneSecret, map[keys.Family]string{keys.Access: accessIss}, rotations, tok("anyone", after), by(keys.Refresh, keys.Current, Valid)},
		{"access = refresh, same issuer: set order", oneSecret, sameIssuer, rotations, tok(accessIss, after), by(keys.Access, keys.Current, Valid)},
		{"forgery", previousIsRefresh, twoIssuers, rotations, sign(t, newSecret(t), hdr("HS256"), claims(nil)), unk(BadSignature)},
		{"not an object: the older role", previousIsRefresh, twoIssuers, rotations, signJSON(shared, `{"alg":"HS256"}`, `"x"`), by(keys.Access, keys.Previous, Malformed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := New(keys.Set{Keys: tt.keys, Issuers: tt.issuers}, Options{Rotations: tt.rotations})
			got := v.Check(tt.in, now)
			if g := (want{got.Family, got.Key, got.Result}); g != tt.want {
				t.Fatalf("Check() = %+v, want %+v", g, tt.want)
			}
			for _, k := range tt.keys {
				if k.Family == got.Family && k.Role == got.Key && k.Fingerprint != got.Fingerprint {
					t.Errorf("Fingerprint = %q, want %q", got.Fingerprint, k.Fingerprint)
				}
			}
			// A cached verdict judged later keeps its key and its rules.
			if j := v.Judge(got, now.Add(2*time.Hour)); j.Family != got.Family || j.Key != got.Key || (got.Result == Valid && j.Result != Expired) {
				t.Errorf("Judge two hours later = %s/%s/%s", j.Family, j.Key, j.Result)
			}
		})
	}
}
