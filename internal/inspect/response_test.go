package inspect

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// jwtShaped builds a token-shaped string; Find never verifies, so no key is needed.
func jwtShaped(sub string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"sub":"`+sub+`"}`)) + "." + enc.EncodeToString([]byte("signature-of-"+sub))
}

func TestFind(t *testing.T) {
	access, refresh, other := jwtShaped("access"), jwtShaped("refresh"), jwtShaped("other")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + "."
	tests := []struct {
		name      string
		in        string
		want      []Found
		wantNotes []string // substrings, one per note
	}{
		{"bare token", access + "\n", []Found{{Token: access}}, nil},
		{"header value", "Bearer " + access, []Found{{Token: access}}, nil},
		{"not a token at all: inspected as given", "not-a-token", []Found{{Token: "not-a-token"}}, nil},
		{"alg none token", none, []Found{{Token: none}}, nil},
		{"NestJS login response", `{"access_token":"` + access + `"}`, []Found{{Where: "access_token", Token: access}}, nil},
		{"both tokens, snake case", `{"access_token":"` + access + `","refresh_token":"` + refresh + `","expires_in":900,"token_type":"Bearer"}`,
			[]Found{{Where: "access_token", Token: access}, {Where: "refresh_token", Token: refresh}}, nil},
		{"camel case, nested, in order of appearance", `{"data":{"user":{"id":1},"refreshToken":"` + refresh + `","accessToken":"` + access + `"}}`,
			[]Found{{Where: "data.refreshToken", Token: refresh}, {Where: "data.accessToken", Token: access}}, nil},
		{"token member with a Bearer prefix", `{"token":"Bearer ` + access + `"}`, []Found{{Where: "token", Token: access}}, nil},
		{"array of sessions", `{"sessions":[{"token":"` + access + `"},{"token":"` + refresh + `"}]}`,
			[]Found{{Where: "sessions[0].token", Token: access}, {Where: "sessions[1].token", Token: refresh}}, nil},
		{"opaque refresh token is noted, not inspected", `{"access_token":"` + access + `","refresh_token":"8xLOxBtZp8"}`,
			[]Found{{Where: "access_token", Token: access}}, []string{"refresh_token is not a JWT"}},
		{"curl -i output: status line, headers, body",
			"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\n" +
				"Set-Cookie: refresh_token=" + refresh + "; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict\r\n" +
				"Set-Cookie: sid=abc123; Path=/\r\n\r\n" +
				`{"access_token":"` + access + `"}`,
			[]Found{{Where: "Set-Cookie refresh_token", Token: refresh}, {Where: "access_token", Token: access}}, nil},
		{"curl -v response headers", "< HTTP/2 200\n< set-cookie: access_token=\"" + access + "\"; Max-Age=900\n< content-length: 2\n<\n{}",
			[]Found{{Where: "Set-Cookie access_token", Token: access}}, nil},
		{"Authorization header line", "Authorization: Bearer " + access + "\n", []Found{{Where: "Authorization", Token: access}}, nil},
		{"request headers: Authorization and Cookie", "GET /api/v1/orders HTTP/1.1\nauthorization: Bearer " + access + "\nCookie: theme=dark; refresh_token=" + refresh + "\n",
			[]Found{{Where: "Authorization", Token: access}, {Where: "Cookie refresh_token", Token: refresh}}, nil},
		{"Basic credentials are noted", "Authorization: Basic dXNlcjpwYXNz\n", nil, []string{"Authorization uses the Basic scheme"}},
		{"one token in the body and a cookie, inspected once", "HTTP/1.1 200 OK\nSet-Cookie: access_token=" + access + "\n\n" + `{"accessToken":"` + access + `","idToken":"` + other + `"}`,
			[]Found{{Where: "Set-Cookie access_token, accessToken", Token: access}, {Where: "idToken", Token: other}}, nil},
		{"JSON without a token", `{"error":"Unauthorized","statusCode":401}`, nil, nil},
		{"broken JSON", `{"access_token":"` + access, nil, []string{"not valid JSON"}},
		{"deeply nested JSON stops", strings.Repeat("[", 100) + strings.Repeat("]", 100), nil, []string{"nested"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes := Find(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Find found\n  %q\nwant\n  %q", got, tt.want)
			}
			if len(notes) != len(tt.wantNotes) {
				t.Fatalf("notes %q, want %d", notes, len(tt.wantNotes))
			}
			for i, w := range tt.wantNotes {
				if !strings.Contains(notes[i], w) {
					t.Errorf("note %q lacks %q", notes[i], w)
				}
			}
			for _, n := range notes {
				for _, tok := range []string{access, refresh, "8xLOxBtZp8", "dXNlcjpwYXNz"} {
					if strings.Contains(n, tok) {
						t.Errorf("note %q shows a credential", n)
					}
				}
			}
		})
	}
}

// TestRemovedKeyHint: a token no configured key verifies, but whose issuer
// is the auth service's and whose iat is before the rotation, is most
// likely a session of the removed key rather than a forgery.
func TestRemovedKeyHint(t *testing.T) {
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	enc := base64.RawURLEncoding
	tok := func(claims string) string {
		return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString([]byte("sig"))
	}
	before, after := start.Add(-time.Hour).Unix(), start.Add(time.Hour).Unix()
	tests := []struct {
		name   string
		claims string
		starts map[keys.Family]time.Time
		want   string // substring of the note, "" for none
	}{
		{"our issuer, issued before the rotation", fmt.Sprintf(`{"sub":"carol","iss":"auth-service","iat":%d}`, before),
			map[keys.Family]time.Time{keys.Access: start}, "issued before the access rotation started"},
		{"our issuer, no rotation known", fmt.Sprintf(`{"sub":"carol","iss":"auth-service","iat":%d}`, before),
			nil, "if a key was removed lately"},
		{"our issuer, issued after the rotation", fmt.Sprintf(`{"sub":"carol","iss":"auth-service","iat":%d}`, after),
			map[keys.Family]time.Time{keys.Access: start}, ""},
		{"another issuer", fmt.Sprintf(`{"sub":"carol","iss":"evil","iat":%d}`, before), map[keys.Family]time.Time{keys.Access: start}, ""},
		{"no iat", `{"sub":"carol","iss":"auth-service"}`, map[keys.Family]time.Time{keys.Access: start}, ""},
	}
	issuers := map[keys.Family]string{keys.Access: "auth-service", keys.Refresh: "auth-service"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Report{Verdict: verify.Verdict{Family: keys.Unknown, Key: keys.None, Result: verify.BadSignature}}
			r.Claims = decodeJSON(strings.Split(tok(tt.claims), ".")[1])
			r.RemovedKeyHint(issuers, tt.starts)
			got := strings.Join(r.Notes, "\n")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("notes %q, want %q", got, tt.want)
			}
		})
	}
	// A verifying token gets no hint.
	r := Report{Verdict: verify.Verdict{Family: keys.Access, Key: keys.Current, Result: verify.Valid}, Claims: `{"iss":"auth-service","iat":1}`}
	r.RemovedKeyHint(issuers, nil)
	if len(r.Notes) > 0 {
		t.Errorf("a valid token got %q", r.Notes)
	}
}
