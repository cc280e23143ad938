package parse

import (
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
)

// TestGatewayFormats reads the same request as pino-http, nginx and Envoy
// log it (internal/gatewaylog builds the lines the tests, the demo and the
// benchmark use): every format yields the token, the status, the time and
// the client details.
func TestGatewayFormats(t *testing.T) {
	at := time.Date(2026, 11, 27, 13, 33, 38, 0, time.UTC)
	tok := gatewaylog.Token(gatewaylog.HS256([]byte("secret")), map[string]any{"sub": "u1", "exp": at.Add(time.Hour).Unix()})
	r := gatewaylog.Request{
		Time: at, Method: "POST", URL: "/api/v1/orders", RemoteAddress: "10.0.0.7", Status: 401, BodyBytes: 53, ResponseTime: 4,
		Headers: []gatewaylog.Header{{Name: "host", Value: "api.example.com"}, gatewaylog.Bearer(tok),
			{Name: "user-agent", Value: "okhttp/4.12.0"}, {Name: "x-forwarded-for", Value: "203.0.113.9, 10.0.0.7"}},
	}
	p := mustNew(t, cfgAuto)
	for format, line := range map[string]string{"pino-http": r.Pino(), "nginx": r.Nginx(), "envoy": r.Envoy()} {
		t.Run(format, func(t *testing.T) {
			obs, err := p.ParseString(line)
			if err != nil || obs.Token != tok || obs.Status != 401 || !obs.Time.Equal(at) {
				t.Fatalf("%s\ngives %v, token %v, status %d, time %v", line, err, obs.Token == tok, obs.Status, obs.Time)
			}
			d := p.DetailsString(line)
			wantClient := "203.0.113.9"
			if format == "nginx" {
				wantClient = "10.0.0.7" // combined format logs the peer, not X-Forwarded-For
			}
			if d.UserAgent != "okhttp/4.12.0" || d.Client != wantClient {
				t.Errorf("details %+v, want user agent okhttp/4.12.0 and client %s", d, wantClient)
			}
		})
	}
}

// generatedLines are pino-http lines as the benchmark generates them
// (internal/bench): plain JSON, the token in req.headers.authorization.
func generatedLines(tb testing.TB) []string {
	tb.Helper()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var out []string
	for i := range 64 {
		tok := gatewaylog.Token(gatewaylog.HS256([]byte("secret")), map[string]any{"sub": "user-" + string(rune('a'+i%26)), "iss": "auth-service", "iat": at.Unix(), "exp": at.Add(time.Hour).Unix(), "azp": "web-app"})
		r := gatewaylog.Request{
			Time: at.Add(time.Duration(i) * time.Second), ID: i + 1, URL: "/api/v1/orders", Hostname: "gateway-7d9f8b6c5-x2x4q", PID: 7,
			Headers: []gatewaylog.Header{{Name: "host", Value: "api.example.com"}, gatewaylog.Bearer(tok),
				{Name: "user-agent", Value: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
				{Name: "accept", Value: "application/json"}, {Name: "x-request-id", Value: "477d9783ec46ffb"}},
			RemoteAddress: "::ffff:10.0.0.6", RemotePort: 50412, Status: 200, ResponseTime: 3,
			ResponseHeaders: []gatewaylog.Header{{Name: "content-type", Value: "application/json; charset=utf-8"}, {Name: "content-length", Value: "612"}},
		}
		out = append(out, r.Pino())
	}
	return out
}

// BenchmarkParseLine compares a complete line, as the follower and scan
// hand them over, with ParseString, which validates every byte.
func BenchmarkParseLine(b *testing.B) {
	lines := generatedLines(b)
	p := mustNew(b, cfgAuto)
	for _, complete := range []bool{false, true} {
		name := "validated"
		if complete {
			name = "complete"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(lines[0])))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := p.ParseLine(lines[i%len(lines)], complete); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
