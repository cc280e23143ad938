package gatewaylog

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTokenIsGolangJWTs checks that a token is byte for byte the one
// golang-jwt signs for the same claims, in every HMAC algorithm, and that
// golang-jwt verifies it.
func TestTokenIsGolangJWTs(t *testing.T) {
	secret := []byte("a-secret-of-thirty-two-bytes-ok!")
	claims := jwt.MapClaims{"sub": "u1", "iss": "https://auth.example.com", "iat": int64(1764230400), "exp": int64(1764234000), "azp": "web", "jti": "<&>"}
	for alg, method := range map[string]jwt.SigningMethod{"HS256": jwt.SigningMethodHS256, "HS384": jwt.SigningMethodHS384, "HS512": jwt.SigningMethodHS512} {
		want, err := jwt.NewWithClaims(method, claims).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		s := HMAC(alg, secret)
		if got := Token(s, claims); got != want {
			t.Errorf("%s: %s\nwant %s", alg, got, want)
		}
		body, _ := json.Marshal(claims)
		if got := string(NewAppender(s).Append(nil, []byte(JOSEHeader(s)), body)); got != want {
			t.Errorf("%s: Appender gives %s\nwant %s", alg, got, want)
		}
		if _, err := jwt.Parse(want, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{alg}), jwt.WithoutClaimsValidation()); err != nil {
			t.Errorf("%s: golang-jwt refuses the token: %v", alg, err)
		}
	}
	if got := Unsigned(`{"sub":"x"}`); got != "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0." {
		t.Errorf("Unsigned = %s", got)
	}
}

// TestAppendJSONString compares the escaping with encoding/json's.
func TestAppendJSONString(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "Z", " ", `"`, `\`, "/", "<", ">", "&", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
		"é", "☕", "\u2028", "\u2029", "\xff", "\xc3", "\xed\xa0\x80", "😀"}
	for range 50000 {
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	}
}

// TestPinoIsJSON checks that a pino-http line is one JSON object with the
// fields where pino-http puts them.
func TestPinoIsJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := Request{Time: at, ID: 7, Method: "POST", URL: "/a?b=<c>", Headers: []Header{{"host", "api"}, Bearer("tok"), {"user-agent", `say "hi"`}},
		RemoteAddress: "::ffff:10.0.0.1", RemotePort: 5000, Status: 401, ResponseHeaders: []Header{{"content-length", "12"}}, ResponseTime: 3}
	var got struct {
		Time int64 `json:"time"`
		Req  struct {
			ID      int               `json:"id"`
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"req"`
		Res struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
		} `json:"res"`
	}
	if err := json.Unmarshal([]byte(r.Pino()), &got); err != nil {
		t.Fatalf("%s: %v", r.Pino(), err)
	}
	if got.Time != at.UnixMilli() || got.Req.ID != 7 || got.Req.Method != "POST" || got.Req.URL != "/a?b=<c>" ||
		got.Req.Headers["authorization"] != "Bearer tok" || got.Req.Headers["user-agent"] != `say "hi"` ||
		got.Res.StatusCode != 401 || got.Res.Headers["content-length"] != "12" {
		t.Errorf("%s read back as %+v", r.Pino(), got)
	}
	if n := r.Nginx(); n != `::ffff:10.0.0.1 - - [27/Nov/2026:12:00:00 +0000] "POST /a?b=<c> HTTP/1.1" 401 0 "-" "say "hi"" "Bearer tok"` {
		t.Errorf("nginx: %s", n)
	}
	if e := r.Envoy(); e != `[2026-11-27T12:00:00.000Z] "POST /a?b=<c> HTTP/1.1" 401 - 0 0 3 3 "-" "say "hi"" "-" "api" "-" "Bearer tok"` {
		t.Errorf("envoy: %s", e)
	}
}
