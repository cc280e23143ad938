package verify

import (
	"testing"
)

// TestCheckClientID covers Claims.ClientID: azp, else client_id, string
// values only, and never a reason to call a token Malformed.
func TestCheckClientID(t *testing.T) {
	fx := newFixture(t)
	v := New(fx.set, Options{})
	tests := []struct {
		name       string
		in         string
		wantID     string
		wantResult Result
	}{
		{"absent", sign(t, fx.ac, hdr("HS256"), claims(nil)), "", Valid},
		{"azp", sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"azp": "web-app"})), "web-app", Valid},
		{"client_id", sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"client_id": "billing"})), "billing", Valid},
		{"azp wins, client_id first", signJSON(fx.ac, `{"alg":"HS256"}`, `{"client_id":"b","azp":"a","iss":"`+accessIss+`"}`), "a", Valid},
		{"azp wins, client_id last", signJSON(fx.ac, `{"alg":"HS256"}`, `{"azp":"a","client_id":"b","iss":"`+accessIss+`"}`), "a", Valid},
		{"duplicate azp: last string wins", signJSON(fx.ac, `{"alg":"HS256"}`, `{"azp":"a","azp":"c","iss":"`+accessIss+`"}`), "c", Valid},
		{"escaped", signJSON(fx.ac, `{"alg":"HS256"}`, `{"azp":"m\u00fcller\/app","iss":"`+accessIss+`"}`), "müller/app", Valid},
		{"non-string azp ignored, client_id used", signJSON(fx.ac, `{"alg":"HS256"}`, `{"azp":42,"client_id":"b","iss":"`+accessIss+`"}`), "b", Valid},
		{"empty azp ignored", signJSON(fx.ac, `{"alg":"HS256"}`, `{"azp":"","client_id":"b","iss":"`+accessIss+`"}`), "b", Valid},
		{"non-string client_id ignored", signJSON(fx.ac, `{"alg":"HS256"}`, `{"client_id":["x"],"iss":"`+accessIss+`"}`), "", Valid},
		{"null azp ignored", signJSON(fx.ac, `{"alg":"HS256"}`, `{"azp":null,"iss":"`+accessIss+`"}`), "", Valid},
		{"object client_id ignored", signJSON(fx.ac, `{"alg":"HS256"}`, `{"client_id":{"a":1},"iss":"`+accessIss+`"}`), "", Valid},
		{"set for an expired token", sign(t, fx.ap, hdr("HS256"), claims(map[string]any{"azp": "web-app", "exp": nowS - 5})), "web-app", Expired},
		{"none for a forgery", sign(t, fx.attacker, hdr("HS256"), claims(map[string]any{"azp": "web-app"})), "", BadSignature},
		{"set for a claim of the wrong type", sign(t, fx.ac, hdr("HS256"), claims(map[string]any{"azp": "web-app", "exp": "x"})), "web-app", Malformed},
		{"none for claims that are not an object", signJSON(fx.ac, `{"alg":"HS256"}`, `["azp","web-app"]`), "", Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.Check(tt.in, now)
			if got.Result != tt.wantResult {
				t.Errorf("Result = %s, want %s", got.Result, tt.wantResult)
			}
			if got.Claims.ClientID != tt.wantID {
				t.Errorf("ClientID = %q, want %q", got.Claims.ClientID, tt.wantID)
			}
		})
	}
}

// TestParseClaimsClientIDAllocs keeps the common case (no client claim)
// exactly as cheap as before the field existed — one allocation, the
// subject string — and costs one more string when a client claim is
// present. parseClaims is measured directly: Check's pools make counts
// vary under the race detector.
func TestParseClaimsClientIDAllocs(t *testing.T) {
	const base = `"sub":"user-1","iss":"` + accessIss + `","iat":1748772000,"exp":1748775600`
	tests := []struct {
		name string
		in   string
		want float64
	}{
		{"absent", `{` + base + `}`, 1},
		{"non-string", `{` + base + `,"azp":7,"client_id":false}`, 1},
		{"present", `{` + base + `,"azp":"web-app"}`, 2},
		{"both", `{` + base + `,"client_id":"billing","azp":"web-app"}`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.in)
			if _, ok := parseClaims(body, []string{accessIss}); !ok {
				t.Fatal("claims rejected")
			}
			if got := testing.AllocsPerRun(100, func() { parseClaims(body, []string{accessIss}) }); got != tt.want {
				t.Errorf("%v allocations per parse, want %v", got, tt.want)
			}
		})
	}
}
