package parse

import (
	"strings"
	"testing"
)

func TestDetails(t *testing.T) {
	cfgNginxDetailsRe := Config{Format: FormatRegex, Pattern: `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d{3}) \S+ "[^"]*" "(?P<user_agent>[^"]*)" "(?P<token>[^"]*)"$`}
	const safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15"
	tests := []struct {
		name string
		cfg  Config
		file string
		line int // 0-based line of file
		want Details
	}{
		{"pino-http", cfgAuto, "pino-http.log", 0, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"pino-http escaped user agent", cfgAuto, "pino-http.log", 3, Details{Client: "10.0.0.1", UserAgent: `Mozilla/5.0 (X11; Linux x86_64) "quoted" \ back`}},
		{"pino-http json format", cfgPino, "pino-http.log", 5, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"pino-http without token", cfgAuto, "no-token.log", 0, Details{Client: "10.0.0.1", UserAgent: "kube-probe/1.31"}},
		{"pino-http behind CRI", cfgAuto, "cri.log", 0, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"nginx behind CRI", cfgAuto, "cri.log", 2, Details{Client: "10.0.0.3", UserAgent: "python-requests/2.32.3"}},
		{"nest text behind CRI", cfgAuto, "cri.log", 1, Details{}},
		{"nginx", cfgAuto, "nginx.log", 0, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"nginx with referer", cfgAuto, "nginx.log", 1, Details{Client: "10.0.0.2", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}},
		{"nginx with user", cfgAuto, "nginx.log", 6, Details{Client: "10.0.0.7", UserAgent: "curl/8.5.0"}},
		{"nginx regex with groups", cfgNginxDetailsRe, "nginx.log", 3, Details{Client: "10.0.0.4", UserAgent: "okhttp/4.12.0"}},
		{"nginx regex without groups", cfgNginxRe, "nginx.log", 3, Details{}},
		{"nginx without token", cfgAuto, "no-token.log", 4, Details{Client: "10.0.0.1", UserAgent: "kube-probe/1.31"}},
		{"envoy", cfgAuto, "envoy.log", 0, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"envoy browser", cfgAuto, "envoy.log", 1, Details{Client: "10.0.0.2", UserAgent: safari}},
		{"envoy without token", cfgAuto, "no-token.log", 7, Details{Client: "10.0.0.1", UserAgent: "kube-probe/1.31"}},
		{"caddy: client_ip, header list", cfgAuto, "json-other.log", 0, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"json without details", cfgAuto, "json-other.log", 1, Details{}},
		{"nginx escape=json", cfgAuto, "json-other.log", 2, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"docker json-file around nginx", cfgAuto, "json-other.log", 4, Details{Client: "10.0.0.1", UserAgent: "curl/8.5.0"}},
		{"nest text", cfgAuto, "nest-text.log", 0, Details{}},
		{"garbage", cfgAuto, "garbage.log", 0, Details{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := readLines(t, tt.file)
			if got := mustNew(t, tt.cfg).Details(lines[tt.line]); got != tt.want {
				t.Errorf("Details = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDetailsInline(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
	long := strings.Repeat("é", MaxDetailBytes) // two bytes each
	tests := []struct {
		name string
		in   string
		want Details
	}{
		{"x-forwarded-for first entry wins over the peer",
			`{"req":{"headers":{"x-forwarded-for":"203.0.113.9, 10.0.0.2","user-agent":"curl/8"},"remoteAddress":"::ffff:10.0.0.1"}}`,
			Details{Client: "203.0.113.9", UserAgent: "curl/8"}},
		{"x-forwarded-for as a list",
			`{"headers":{"X-Forwarded-For":["198.51.100.1"]},"remote_ip":"10.0.0.1"}`,
			Details{Client: "198.51.100.1"}},
		{"IPv6 peer kept", `{"req":{"remoteAddress":"2001:db8::1"}}`, Details{Client: "2001:db8::1"}},
		{"ECS", `{"client":{"ip":"192.0.2.4"},"user_agent":{"original":"Go-http-client/1.1"}}`, Details{Client: "192.0.2.4", UserAgent: "Go-http-client/1.1"}},
		{"a string client is no address", `{"client":"web-app"}`, Details{}},
		{"envoy x-forwarded-for list", `[2026-11-27T13:33:38.123Z] "GET / HTTP/1.1" 200 - 0 2 0 0 "203.0.113.7, 10.0.0.1" "curl/8" "id" "host" "up" "Bearer x"`,
			Details{Client: "203.0.113.7", UserAgent: "curl/8"}},
		{"envoy without x-forwarded-for", `[2026-11-27T13:33:38.123Z] "GET / HTTP/1.1" 200 - 0 2 0 0 "-" "-" "id" "host" "up" "Bearer x"`, Details{}},
		{"a token in the user agent is redacted",
			`10.0.0.1 - - [27/Nov/2026:13:33:38 +0000] "GET / HTTP/1.1" 200 2 "-" "x ` + jwt + `" "Bearer ` + jwt + `"`,
			Details{Client: "10.0.0.1", UserAgent: Redacted}},
		{"a bearer value in the user agent is redacted", `{"user-agent":"Bearer abcdef","remote_addr":"10.0.0.1"}`, Details{Client: "10.0.0.1", UserAgent: Redacted}},
		{"long values are cut on a character boundary", `{"user-agent":"` + long + `"}`, Details{UserAgent: long[:MaxDetailBytes]}},
		{"odd cut", `{"user-agent":"x` + long + `"}`, Details{UserAgent: "x" + long[:MaxDetailBytes-2]}},
		{"not an access log", `2026-11-27T13:33:38Z something "quoted" "more"`, Details{}},
		{"truncated json falls back to text", `{"user-agent":"curl`, Details{}},
		{"empty", ``, Details{}},
	}
	p := mustNew(t, cfgAuto)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Details([]byte(tt.in))
			if got != tt.want {
				t.Errorf("Details = %+v, want %+v", got, tt.want)
			}
			if strings.Contains(got.Client+got.UserAgent, jwt) {
				t.Errorf("Details returned a token")
			}
		})
	}
}

// TestDetailsNeverToken runs Details over every testdata line and checks
// that no value holds the line's token.
func TestDetailsNeverToken(t *testing.T) {
	for _, file := range []string{"pino-http.log", "nginx.log", "envoy.log", "cri.log", "json-other.log", "nest-text.log", "no-token.log", "garbage.log"} {
		p := mustNew(t, cfgAuto)
		for i, line := range readLines(t, file) {
			d := p.Details(line)
			obs, err := p.Parse(line)
			if err == nil && len(obs.Token) > 3 && strings.Contains(d.Client+d.UserAgent, obs.Token) {
				t.Errorf("%s:%d: Details holds the token", file, i+1)
			}
			if len(d.Client) > MaxDetailBytes || len(d.UserAgent) > MaxDetailBytes {
				t.Errorf("%s:%d: Details longer than MaxDetailBytes", file, i+1)
			}
		}
	}
}

// BenchmarkDetails is the second look the sidecar takes at each valid
// previous-key line, for the stragglers.
func BenchmarkDetails(b *testing.B) {
	p := mustNew(b, cfgAuto)
	lines := readLines(b, "pino-http.log")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = p.Details(lines[i%len(lines)])
		i++
	}
}

// TestPath reads the request path, for --gateway.public-paths, in every
// format: pino's req.url, nginx's $request, Envoy's request line or JSON
// path, Caddy's request.uri, ECS's url.path, the regex group path; without
// query string or fragment.
func TestPath(t *testing.T) {
	cfgPathRe := Config{Format: FormatRegex, Pattern: `"(?P<method>\S+) (?P<path>\S+) HTTP/[^"]*" (?P<status>\d{3}) .*"Bearer (?P<token>[^"]*)"$`}
	tests := []struct {
		name string
		cfg  Config
		file string
		line int
		want string
	}{
		{"pino req.url", cfgAuto, "pino-http.log", 0, "/api/v1/users"},
		{"pino json format", cfgPino, "pino-http.log", 1, "/api/v1/users/me"},
		{"pino behind CRI", cfgAuto, "cri.log", 0, "/api/v1/users"},
		{"pino req.url with a query string", cfgAuto, "other-scheme.log", 0, "/auth/callback"},
		{"caddy request.uri", cfgAuto, "json-other.log", 0, "/api/v1/users"},
		{"request.path", cfgAuto, "json-other.log", 1, "/api/v1/orders"},
		{"nginx escape=json $request", cfgAuto, "json-other.log", 2, "/api/v1/users"},
		{"docker json-file around nginx", cfgAuto, "json-other.log", 4, "/api/v1/users"},
		{"nginx $request", cfgAuto, "nginx.log", 0, "/api/v1/users"},
		{"nginx $request with a query string", cfgAuto, "other-scheme.log", 5, "/auth/callback"},
		{"envoy request line", cfgAuto, "envoy.log", 1, "/api/v1/orders"},
		{"regex group path", cfgPathRe, "nginx.log", 0, "/api/v1/users"},
		{"regex without a path group", cfgNginxRe, "nginx.log", 0, ""},
		{"nest text has none", cfgAuto, "nest-text.log", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := readLines(t, tt.file)
			if got := mustNew(t, tt.cfg).Path(lines[tt.line]); got != tt.want {
				t.Errorf("Path = %q, want %q", got, tt.want)
			}
		})
	}
	inline := []struct{ name, in, want string }{
		{"envoy JSON path", `{"start_time":"2026-11-27T13:33:38.123Z","method":"GET","path":"/health?probe=1","response_code":200}`, "/health"},
		{"ECS url.path", `{"url":{"path":"/api/v1/auth/login","query":"a=1"},"http":{"response":{"status_code":200}}}`, "/api/v1/auth/login"},
		{"ECS url.original", `{"url":{"original":"/docs#top"}}`, "/docs"},
		{"nginx escape=json $request_uri", `{"request_uri":"/api/v1/auth/refresh?x=1","status":"200"}`, "/api/v1/auth/refresh"},
		{"absolute-form request target", `10.0.0.1 - - [27/Nov/2026:13:33:38 +0000] "GET http://api.example.com/public/x?y HTTP/1.1" 200 1 "-" "curl/8"`, "/public/x"},
		{"a token in the path is redacted", `{"req":{"url":"/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}}`, Redacted},
		{"a string req is no path", `{"req":"GET"}`, ""},
		{"none", `{"msg":"hello"}`, ""},
	}
	p := mustNew(t, cfgAuto)
	for _, tt := range inline {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Path([]byte(tt.in)); got != tt.want {
				t.Errorf("Path = %q, want %q", got, tt.want)
			}
		})
	}
}
