package parse

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fake tokens in testdata: realistic shape, signatures that verify
// against nothing.
const (
	tokA    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1XzE4NDIiLCJpc3MiOiJhdXRoLmV4YW1wbGUuY29tIiwiaWF0IjoxNzY0MjQ5NTE4LCJleHAiOjE3NjQyNTA0MTgsInR5cCI6ImFjY2VzcyJ9.6UCANMGX6gMOtSaQEUIqZaKFuiYzuX2fxi69cldsdt0"
	tokB    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1XzkwNyIsImlzcyI6ImF1dGguZXhhbXBsZS5jb20iLCJpYXQiOjE3NjQxNjMxMTgsImV4cCI6MTc2NDc2NzkxOCwidHlwIjoicmVmcmVzaCJ9.__WCO9uFJbz5ZawNWhz6iR3ii-oM_HrFLPT_QyW1AeM"
	tokC    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtYmlsbGluZyIsImlzcyI6ImF1dGguZXhhbXBsZS5jb20iLCJpYXQiOjE3NjQyNTAwMDAsImV4cCI6MTc2NDI1MDkwMH0.Ihto3WcfFRqtYGVJE8XBYFaQsuOQKAregvKLNZkoz8s"
	tokD    = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1XzMxIiwiaXNzIjoiYXV0aC5leGFtcGxlLmNvbSIsImlhdCI6MTc2NDI0OTkwMCwiZXhwIjoxNzY0MjUwODAwfQ.f-DR-euQrEjzdpRgt5m1OWXgCz4S5fP2wcnwwTSO0WI"
	tokNone = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiIsImlzcyI6ImF1dGguZXhhbXBsZS5jb20ifQ."
)

var allTokens = []string{tokA, tokB, tokC, tokD, tokNone}

// Configurations under test.
var (
	cfgAuto = Config{}
	cfgPino = Config{Format: FormatJSON, TokenField: "req.headers.authorization", StatusField: "res.statusCode", TimeField: "time"}
	cfgECS  = Config{Format: FormatJSON, TokenField: "http.request.headers.authorization", StatusField: "http.response.status_code", TimeField: "event.created"}
	// nginx combined plus "$http_authorization".
	cfgNginxRe = Config{Format: FormatRegex, Pattern: `^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d{3}) \S+ "[^"]*" "[^"]*" "(?P<token>[^"]*)"$`}
	// Token group only: the last quoted field.
	cfgLastQuoted = Config{Format: FormatRegex, Pattern: `"(?P<token>[^"]*)"$`}
	// Matches every line; the token group takes part only when present.
	cfgOptional = Config{Format: FormatRegex, Pattern: `^(?:.*"Bearer (?P<token>[^"]+)")?`}
)

type result struct {
	obs Observation
	err error
}

func ok(tok string, status int, rfc3339 string) result {
	r := result{obs: Observation{Token: tok, Status: status}}
	if rfc3339 != "" {
		t, err := time.Parse(time.RFC3339Nano, rfc3339)
		if err != nil {
			panic(err)
		}
		r.obs.Time = t
	}
	return r
}

var (
	noToken   = result{err: ErrNoToken}
	notBearer = result{err: ErrOtherScheme}
	invalid   = result{err: ErrInvalidLine}
)

// readLines returns the lines of testdata/name, without newlines.
func readLines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func mustNew(tb testing.TB, cfg Config) *Parser {
	tb.Helper()
	p, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v): %v", cfg, err)
	}
	return p
}

// check compares one parse result and asserts that an error carries
// neither the line nor a token.
func check(t *testing.T, line []byte, got Observation, err error, want result) {
	t.Helper()
	if want.err != nil {
		if err != want.err {
			t.Fatalf("err = %v, want %v", err, want.err)
		}
		if got != (Observation{}) {
			t.Errorf("observation not zero on error: status %d time %v token len %d", got.Status, got.Time, len(got.Token))
		}
		assertNoLeak(t, err, line)
		return
	}
	if err != nil {
		t.Fatalf("err = %v, want observation", err)
	}
	if got.Token != want.obs.Token {
		// Tokens are fake, but the habit is to print only their length.
		t.Errorf("token mismatch: got %d bytes, want %d bytes (prefix match %v)",
			len(got.Token), len(want.obs.Token), strings.HasPrefix(want.obs.Token, got.Token))
	}
	if got.Status != want.obs.Status {
		t.Errorf("status = %d, want %d", got.Status, want.obs.Status)
	}
	if !got.Time.Equal(want.obs.Time) || got.Time.IsZero() != want.obs.Time.IsZero() {
		t.Errorf("time = %v, want %v", got.Time, want.obs.Time)
	}
}

func assertNoLeak(t *testing.T, err error, line []byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, tok := range append([]string{"abc"}, allTokens...) {
		if strings.Contains(msg, tok) {
			t.Fatalf("error message contains a token")
		}
	}
	if len(line) > 0 && strings.Contains(msg, string(line)) {
		t.Fatalf("error message contains the line")
	}
}

// TestParseAuto covers every testdata line in the default format; the
// table is in line order and must cover each file completely.
func TestParseAuto(t *testing.T) {
	const d = "2026-11-27T13:33:"
	tests := []struct {
		file string
		want []result
	}{
		{"pino-http.log", []result{
			ok(tokA, 200, d+"38.123Z"),
			ok(tokB, 401, d+"39.004Z"), // "Authorization", "bearer  "
			ok("abc", 401, d+"39.517Z"),
			ok(tokA, 200, d+"40Z"), // escapes in url, user-agent and the token itself
			ok(tokC, 200, d+"38.123Z"),
			ok(tokD, 500, d+"41.25Z"), // request errored
		}},
		{"json-other.log", []result{
			ok(tokA, 200, d+"38.1234567Z"), // Caddy: float seconds, header lists
			ok(tokB, 403, d+"38Z"),         // epoch seconds, response.status
			ok(tokC, 401, d+"38Z"),         // Bearer in a string value, status string, +01:00
			ok(tokB, 0, d+"38.5Z"),         // raw token as a value
			ok(tokD, 0, d+"38.123456789Z"), // Docker json-file around an nginx line
			ok(tokA, 204, d+"38.123456Z"),  // epoch microseconds
			ok(tokC, 0, d+"38.123Z"),       // ECS flat keys: status not a known key
			ok(tokD, 0, ""),                // ECS nested: authorization wins over the raw token
		}},
		{"nginx.log", []result{
			ok(tokA, 200, d+"38Z"),
			ok(tokB, 401, d+"39Z"), // -0500
			ok("abc", 401, d+"40Z"),
			ok(tokC, 304, d+"41Z"), // several spaces
			ok(tokD, 200, d+"42Z"), // \x22 in the request line
			ok(tokA, 204, d+"43Z"), // BEARER
			ok(tokB, 200, d+"44Z"), // remote user, trailing space in the value
		}},
		{"envoy.log", []result{
			ok(tokA, 200, d+"38.123Z"),
			ok(tokB, 401, d+"39Z"),
			ok(tokC, 0, d+"40.5Z"), // response code 0: downstream disconnect
			ok(tokD, 503, d+"41.25Z"),
		}},
		{"nest-text.log", []result{
			ok(tokA, 0, ""),    // token=
			ok(tokB, 0, ""),    // (Authorization: Bearer ...)
			ok(tokC, 0, ""),    // ANSI colours, sentence dot
			ok(tokNone, 0, ""), // alg none: empty signature kept
		}},
		{"cri.log", []result{
			ok(tokA, 200, d+"38.123Z"),     // the line's own time wins
			ok(tokB, 0, d+"39.000000001Z"), // the runtime's time when the line has none
			ok("abc", 401, d+"40Z"),
		}},
		{"no-token.log", []result{
			noToken, // no authorization header
			noToken, // Basic
			noToken, // empty Bearer
			noToken, // [Redacted]
			noToken, // nginx "-"
			noToken, // nginx Basic
			noToken, // nginx empty Bearer
			noToken, // envoy "-"
			noToken, // Nest text
			noToken, // "Bearer" at the end of a line
			noToken, // JWE has five segments
			noToken, // two segments; eyJ inside words
		}},
		// A line whose Authorization uses another scheme carries no bearer
		// credential; a JWT elsewhere in it (an OIDC callback's id_token) is
		// not the request's credential.
		{"other-scheme.log", []result{
			notBearer,                  // pino: Basic, id_token in req.url
			noToken,                    // pino: Basic, no JWT anywhere
			notBearer,                  // pino: DPoP, a JWT under another scheme
			ok(tokA, 302, d+"38.400Z"), // pino: no Authorization: the id_token counts
			ok(tokC, 200, d+"38.500Z"), // pino: the Bearer wins over the id_token
			notBearer,                  // nginx: Basic, id_token in the request line
			ok(tokA, 302, d+"39Z"),     // nginx: "-", id_token in the request line counts
			notBearer,                  // Envoy: Digest, id_token in the path
		}},
		{"garbage.log", []result{
			noToken,          // binary, invalid UTF-8
			noToken,          // invalid UTF-8 in an authorization value
			noToken,          // {
			noToken,          // []
			noToken,          // null
			noToken,          // unterminated string
			noToken,          // nested deeper than maxDepth
			noToken,          // punctuation
			noToken,          // trailing }
			noToken,          // lone surrogates
			ok(tokA, 0, ""),  // truncated JSON: found by the text scan
			noToken,          // 01
			noToken,          // NULs
			ok("abc", 0, ""), // invalid escape: text scan
		}},
	}
	p := mustNew(t, cfgAuto)
	for _, tt := range tests {
		lines := readLines(t, tt.file)
		if len(lines) != len(tt.want) {
			t.Fatalf("%s has %d lines, table has %d", tt.file, len(lines), len(tt.want))
		}
		for i, line := range lines {
			t.Run(fmt.Sprintf("%s:%d", tt.file, i+1), func(t *testing.T) {
				got, err := p.Parse(line)
				check(t, line, got, err, tt.want[i])
			})
		}
	}
}

func TestParseJSON(t *testing.T) {
	const d = "2026-11-27T13:33:"
	bare := Config{Format: FormatJSON, TokenField: "jwt"}
	headers := Config{Format: FormatJSON, TokenField: "request.headers.AUTHORIZATION", StatusField: "status", TimeField: "ts"}
	tests := []struct {
		name string
		cfg  Config
		file string
		line int
		want result
	}{
		{"pino", cfgPino, "pino-http.log", 1, ok(tokA, 200, d+"38.123Z")},
		{"pino header key in other case", cfgPino, "pino-http.log", 2, ok(tokB, 401, d+"39.004Z")},
		{"pino malformed bearer", cfgPino, "pino-http.log", 3, ok("abc", 401, d+"39.517Z")},
		{"pino escapes", cfgPino, "pino-http.log", 4, ok(tokA, 200, d+"40Z")},
		{"pino iso time", cfgPino, "pino-http.log", 5, ok(tokC, 200, d+"38.123Z")},
		{"pino errored", cfgPino, "pino-http.log", 6, ok(tokD, 500, d+"41.25Z")},
		{"pino no header", cfgPino, "no-token.log", 1, noToken},
		{"pino basic", cfgPino, "no-token.log", 2, noToken},
		{"pino empty bearer", cfgPino, "no-token.log", 3, noToken},
		{"pino redacted", cfgPino, "no-token.log", 4, noToken},
		{"raw token elsewhere is not the field", cfgPino, "json-other.log", 4, noToken},
		{"header list, leaf in any case", headers, "json-other.log", 1, ok(tokA, 200, d+"38.1234567Z")},
		{"ecs flat dotted keys", cfgECS, "json-other.log", 7, ok(tokC, 200, "")},
		{"ecs nested keys", cfgECS, "json-other.log", 8, ok(tokD, 401, d+"38.25Z")},
		{"bare token field", bare, "json-other.log", 8, ok(tokB, 0, "")},
		{"text line", cfgPino, "nginx.log", 1, invalid},
		{"cri prefix stripped", cfgPino, "cri.log", 1, ok(tokA, 200, d+"38.123Z")},
	}
	// Garbage: everything but the two valid objects is not JSON.
	for i := range readLines(t, "garbage.log") {
		want := invalid
		if n := i + 1; n == 2 || n == 10 {
			want = noToken
		}
		tests = append(tests, struct {
			name string
			cfg  Config
			file string
			line int
			want result
		}{fmt.Sprintf("garbage.log:%d", i+1), cfgPino, "garbage.log", i + 1, want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg)
			line := readLines(t, tt.file)[tt.line-1]
			got, err := p.Parse(line)
			check(t, line, got, err, tt.want)
		})
	}
}

func TestParseRegex(t *testing.T) {
	const d = "2026-11-27T13:33:"
	tests := []struct {
		name string
		cfg  Config
		file string
		line int
		want result
	}{
		{"all groups", cfgNginxRe, "nginx.log", 1, ok(tokA, 200, d+"38Z")},
		{"all groups, offset", cfgNginxRe, "nginx.log", 2, ok(tokB, 401, d+"39Z")},
		{"malformed bearer", cfgNginxRe, "nginx.log", 3, ok("abc", 401, d+"40Z")},
		{"several spaces", cfgNginxRe, "nginx.log", 4, ok(tokC, 304, d+"41Z")},
		{"absent header", cfgNginxRe, "no-token.log", 5, noToken},
		{"basic", cfgNginxRe, "no-token.log", 6, noToken},
		{"empty bearer", cfgNginxRe, "no-token.log", 7, noToken},
		{"no match", cfgNginxRe, "envoy.log", 1, invalid},
		{"no match garbage", cfgNginxRe, "garbage.log", 1, invalid},
		{"token group only", cfgLastQuoted, "nginx.log", 1, ok(tokA, 0, "")},
		{"token group only, envoy", cfgLastQuoted, "envoy.log", 4, ok(tokD, 0, "")},
		{"token group only, absent", cfgLastQuoted, "no-token.log", 8, noToken},
		{"optional group matched", cfgOptional, "nginx.log", 2, ok(tokB, 0, "")},
		{"optional group not taking part", cfgOptional, "nest-text.log", 1, noToken},
		{"optional group, garbage", cfgOptional, "garbage.log", 1, noToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg)
			line := readLines(t, tt.file)[tt.line-1]
			got, err := p.Parse(line)
			check(t, line, got, err, tt.want)
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
		mention string // the message names the problem
	}{
		{"default", Config{}, nil, ""},
		{"auto", Config{Format: "auto"}, nil, ""},
		{"unknown format", Config{Format: "xml"}, ErrUnknownFormat, `"xml"`},
		{"format case matters", Config{Format: "JSON"}, ErrUnknownFormat, `"JSON"`},
		{"json without token field", Config{Format: "json", StatusField: "status"}, ErrMissingField, "token field"},
		{"json empty path element", Config{Format: "json", TokenField: "req..authorization"}, ErrBadField, `"req..authorization"`},
		{"json trailing dot in status", Config{Format: "json", TokenField: "a", StatusField: "res."}, ErrBadField, "status field"},
		{"json leading dot in time", Config{Format: "json", TokenField: "a", TimeField: ".time"}, ErrBadField, "time field"},
		{"json ok", cfgPino, nil, ""},
		{"regex bad pattern", Config{Format: "regex", Pattern: `(?P<token>[`}, ErrBadPattern, "missing closing ]"},
		{"regex without token group", Config{Format: "regex", Pattern: `"(?P<tok>[^"]*)"$`}, ErrNoTokenGroup, "token"},
		{"regex empty pattern", Config{Format: "regex"}, ErrNoTokenGroup, "token"},
		{"regex ok", cfgNginxRe, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg)
			if tt.wantErr == nil {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if p != nil {
				t.Error("parser returned with an error")
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // RFC 3339; "" for the zero Time
	}{
		{"rfc3339 Z", "2026-11-27T13:33:38Z", "2026-11-27T13:33:38Z"},
		{"rfc3339 millis", "2026-11-27T13:33:38.123Z", "2026-11-27T13:33:38.123Z"},
		{"rfc3339 nanos", "2026-11-27T13:33:38.123456789Z", "2026-11-27T13:33:38.123456789Z"},
		{"rfc3339 beyond nanos", "2026-11-27T13:33:38.1234567891Z", "2026-11-27T13:33:38.123456789Z"},
		{"rfc3339 offset", "2026-11-27T15:03:38+01:30", "2026-11-27T13:33:38Z"},
		{"rfc3339 negative offset", "2026-11-27T08:33:38.5-05:00", "2026-11-27T13:33:38.5Z"},
		{"rfc3339 offset without colon", "2026-11-27T14:33:38+0100", "2026-11-27T13:33:38Z"},
		{"rfc3339 space and lower case", "2026-11-27 13:33:38z", "2026-11-27T13:33:38Z"},
		{"rfc3339 day rolls over", "2026-11-27T23:30:00-01:00", "2026-11-28T00:30:00Z"},
		{"rfc3339 leap day", "2028-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"rfc3339 no leap day", "2026-02-29T00:00:00Z", ""},
		{"rfc3339 month 13", "2026-13-01T00:00:00Z", ""},
		{"rfc3339 hour 24", "2026-11-27T24:00:00Z", ""},
		{"rfc3339 no zone", "2026-11-27T13:33:38", ""},
		{"rfc3339 empty fraction", "2026-11-27T13:33:38.Z", ""},
		{"rfc3339 junk after zone", "2026-11-27T13:33:38Zx", ""},
		{"rfc3339 bad offset", "2026-11-27T13:33:38+1:00", ""},
		{"rfc3339 letters", "2026-1x-27T13:33:38Z", ""},
		{"time_local", "27/Nov/2026:13:33:38 +0000", "2026-11-27T13:33:38Z"},
		{"time_local offset", "27/Nov/2026:08:33:38 -0500", "2026-11-27T13:33:38Z"},
		{"time_local month case", "27/NOV/2026:13:33:38 +0000", "2026-11-27T13:33:38Z"},
		{"time_local bad month", "27/Nox/2026:13:33:38 +0000", ""},
		{"time_local day 31 in november", "31/Nov/2026:13:33:38 +0000", ""},
		{"epoch seconds", "1795786418", "2026-11-27T13:33:38Z"},
		{"epoch seconds fraction", "1795786418.25", "2026-11-27T13:33:38.25Z"},
		{"epoch seconds exponent", "1.795786418e9", "2026-11-27T13:33:38Z"},
		{"epoch millis", "1795786418123", "2026-11-27T13:33:38.123Z"},
		{"epoch micros", "1795786418123456", "2026-11-27T13:33:38.123456Z"},
		{"epoch nanos", "1795786418123456789", "2026-11-27T13:33:38.123456789Z"},
		{"largest seconds", "99999999999", "5138-11-16T09:46:39Z"},
		{"smallest millis", "100000000000", "1973-03-03T09:46:40Z"},
		{"epoch zero", "0", ""},
		{"epoch negative", "-1795786418", ""},
		{"epoch overflow", "99999999999999999999", ""},
		{"epoch junk", "1795786418x", ""},
		{"ip address", "10.0.0.1", ""},
		{"empty", "", ""},
		{"nest locale time", "11/27/2026, 1:33:38 PM", ""},
		{"word", "Nest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseTimestamp([]byte(tt.in))
			if tt.want == "" {
				if !got.IsZero() {
					t.Fatalf("got %v, want zero", got)
				}
				return
			}
			want, err := time.Parse(time.RFC3339Nano, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if got.Location() != time.UTC {
				t.Errorf("location %v, want UTC", got.Location())
			}
		})
	}
}

// TestParseTimestampAgainstTime checks the hand-written RFC 3339 and
// time_local parsers against package time over many instants.
func TestParseTimestampAgainstTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", -5*3600), time.FixedZone("", 5*3600+45*60)}
	start := time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	for i := range 5000 {
		in := start.Add(time.Duration(i) * 7_919_999_999_777).In(zones[i%len(zones)])
		for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "02/Jan/2006:15:04:05 -0700"} {
			s := in.Format(layout)
			want, err := time.Parse(layout, s)
			if err != nil {
				t.Fatal(err)
			}
			if got := parseTimestamp([]byte(s)); !got.Equal(want) {
				t.Fatalf("%q: got %v, want %v", s, got, want)
			}
		}
	}
}

func TestFindBearer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" for none
	}{
		{"quoted", `x "Bearer abc" y`, "abc"},
		{"quoted keeps spaces", `"Bearer abc def"`, "abc def"},
		{"quoted to end of line", `"Bearer abc`, "abc"},
		{"single quoted", `auth='Bearer abc' x`, "abc"},
		{"escaped quote", `{\"authorization\":\"Bearer abc\"}`, "abc"},
		{"unquoted stops at space", `Authorization: Bearer abc rest`, "abc"},
		{"unquoted stops at comma", `headers={authorization=Bearer abc, host=x}`, "abc"},
		{"mixed case", `bEaReR abc`, "abc"},
		{"tab is not the separator", "Bearer\tabc", ""},
		{"inside a word", `xBearer abc`, ""},
		{"empty then real", `"Bearer " and Bearer abc`, "abc"},
		{"no value", `Bearer`, ""},
		{"only spaces", `Bearer    `, ""},
		{"many b before", `bbbbbbbbbb BBBBB bearer abc`, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := findBearer([]byte(tt.in))
			if string(got) != tt.want || ok != (tt.want != "") {
				t.Fatalf("got %q %v, want %q", got, ok, tt.want)
			}
		})
	}
}

func TestFindRawJWT(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"alone", tokA, tokA},
		{"after equals", "token=" + tokA + "&x=1", tokA},
		{"sentence dot", "rejected " + tokA + ". Next", tokA},
		{"unsigned", "t " + tokNone, tokNone},
		{"unsigned then dot", "t " + tokNone + ".", tokNone},
		{"two segments", "eyJa.eyJb", ""},
		{"empty payload", "eyJa..sig", ""},
		{"inside a word", "heyJa.b.c", ""},
		{"second candidate", "eyJa.b and eyJc.d.e", "eyJc.d.e"},
		{"five segments", "eyJa.b.c.d.e", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := findRawJWT([]byte(tt.in))
			if string(got) != tt.want || ok != (tt.want != "") {
				t.Fatalf("got %q %v, want %q", got, ok, tt.want)
			}
		})
	}
}

func TestExplicitToken(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"bearer", "Bearer abc", "abc"},
		{"bearer anything", "Bearer a b\x01", "a b\x01"},
		{"bare token", tokA, tokA},
		{"empty bearer", "Bearer", ""},
		{"basic", "Basic YWRtaW46aHVudGVyMg==", ""},
		{"dash", "-", ""},
		{"redacted", "[Redacted]", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := explicitToken([]byte(tt.in))
			if string(got) != tt.want || ok != (tt.want != "") {
				t.Fatalf("got %q %v, want %q", got, ok, tt.want)
			}
		})
	}
}

// TestParseAllocs pins the hot path: one allocation, the Token string.
func TestParseAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		file string
		want float64
	}{
		{"pino auto", cfgAuto, "pino-http.log", 1},
		{"pino json", cfgPino, "pino-http.log", 1},
		{"nginx auto", cfgAuto, "nginx.log", 1},
		{"envoy auto", cfgAuto, "envoy.log", 1},
		{"nest auto", cfgAuto, "nest-text.log", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg)
			line := readLines(t, tt.file)[0]
			if got := testing.AllocsPerRun(100, func() { _, _ = p.Parse(line) }); got != tt.want {
				t.Fatalf("%v allocations per line, want %v", got, tt.want)
			}
		})
	}
}

var benchSources = []struct {
	name string
	cfg  Config
	file string
}{
	{"pino-http", cfgAuto, "pino-http.log"},
	{"pino-http-json", cfgPino, "pino-http.log"},
	{"json-other", cfgAuto, "json-other.log"},
	{"nginx", cfgAuto, "nginx.log"},
	{"nginx-regex", cfgNginxRe, "nginx.log"},
	{"envoy", cfgAuto, "envoy.log"},
	{"nest-text", cfgAuto, "nest-text.log"},
	{"no-token", cfgAuto, "no-token.log"},
}

// eachBenchSource runs body as a sub-benchmark for each of benchSources,
// with its parser and its lines, bytes per op being the mean line length.
func eachBenchSource(b *testing.B, body func(b *testing.B, p *Parser, lines [][]byte)) {
	for _, src := range benchSources {
		b.Run(src.name, func(b *testing.B) {
			p := mustNew(b, src.cfg)
			lines := readLines(b, src.file)
			n := 0
			for _, l := range lines {
				n += len(l)
			}
			b.SetBytes(int64(n / len(lines)))
			b.ReportAllocs()
			body(b, p, lines)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	eachBenchSource(b, func(b *testing.B, p *Parser, lines [][]byte) {
		i := 0
		for b.Loop() {
			_, _ = p.Parse(lines[i%len(lines)])
			i++
		}
	})
}

// BenchmarkParseString is BenchmarkParse the way the sidecar parses: from
// the string the follower hands over, the token not copied.
func BenchmarkParseString(b *testing.B) {
	eachBenchSource(b, func(b *testing.B, p *Parser, lines [][]byte) {
		strs := make([]string, len(lines))
		for k, l := range lines {
			strs[k] = string(l)
		}
		i := 0
		for b.Loop() {
			_, _ = p.ParseString(strs[i%len(strs)])
			i++
		}
	})
}

// TestParseConcurrent shares one Parser between goroutines; run with -race.
func TestParseConcurrent(t *testing.T) {
	p := mustNew(t, cfgAuto)
	lines := readLines(t, "pino-http.log")
	want, err := p.Parse(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				for _, line := range lines {
					if _, err := p.Parse(line); err != nil {
						errs <- err
						return
					}
				}
				if got, _ := p.Parse(lines[0]); got != want {
					errs <- errors.New("result changed under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestParseLineEnding accepts lines as a reader hands them over.
func TestParseLineEnding(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		file string
		want result
	}{
		{"auto", cfgAuto, "nginx.log", ok(tokA, 200, "2026-11-27T13:33:38Z")},
		{"json", cfgPino, "pino-http.log", ok(tokA, 200, "2026-11-27T13:33:38.123Z")},
		{"regex", cfgNginxRe, "nginx.log", ok(tokA, 200, "2026-11-27T13:33:38Z")},
	}
	for _, tt := range tests {
		for _, ending := range []string{"\n", "\r\n"} {
			t.Run(fmt.Sprintf("%s %q", tt.name, ending), func(t *testing.T) {
				line := append(readLines(t, tt.file)[0], ending...)
				got, err := mustNew(t, tt.cfg).Parse(line)
				check(t, line, got, err, tt.want)
			})
		}
	}
}

// TestParseString checks that ParseString says exactly what Parse says, on
// every sample line in every configuration.
func TestParseString(t *testing.T) {
	sources := append(slices.Clone(benchSources), []struct {
		name string
		cfg  Config
		file string
	}{
		{"cri", cfgAuto, "cri.log"},
		{"garbage", cfgAuto, "garbage.log"},
	}...)
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			p := mustNew(t, src.cfg)
			for i, line := range readLines(t, src.file) {
				want, wantErr := p.Parse(line)
				got, err := p.ParseString(string(line))
				if got != want || err != wantErr {
					t.Errorf("line %d: ParseString = %+v, %v; Parse = %+v, %v", i+1, got, err, want, wantErr)
				}
			}
		})
	}
}

// TestParseStringShares checks that the token of a plain line is not
// copied, and that one the line escaped is decoded.
func TestParseStringShares(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln"
	tests := []struct {
		name, in   string
		wantAllocs float64
	}{
		{"plain", `{"time":1795786418123,"req":{"headers":{"authorization":"Bearer ` + tok + `"}},"res":{"statusCode":200}}`, 0},
		// The decoded copy, then the string made of it.
		{"escaped", `{"time":1795786418123,"req":{"headers":{"authorization":"Bearer ` + strings.Replace(tok, ".", `\u002e`, 1) + `"}}}`, 2},
	}
	p := mustNew(t, cfgAuto)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs, err := p.ParseString(tt.in)
			if err != nil || obs.Token != tok {
				t.Fatalf("ParseString = %q, %v; want the token", obs.Token, err)
			}
			if got := testing.AllocsPerRun(100, func() { _, _ = p.ParseString(tt.in) }); got != tt.wantAllocs {
				t.Errorf("%v allocations per line, want %v", got, tt.wantAllocs)
			}
		})
	}
}
