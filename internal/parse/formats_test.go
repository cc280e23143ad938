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
