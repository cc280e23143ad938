package scan

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
)

func parseConfig(format, pattern string) parse.Config {
	return parse.Config{Format: format, Pattern: pattern}
}

func TestTop(t *testing.T) {
	at := func(m int) time.Time { return hm(10, m, 0) }
	fill := func(values ...string) *stragglers.Sketch {
		sk := stragglers.New(10)
		for i, v := range values {
			sk.Observe("", "", stragglers.Client{Address: v}, at(i))
		}
		return sk
	}
	tests := []struct {
		name     string
		n        int
		sketches []*stragglers.Sketch
		want     []Top
	}{
		{"most first", 3, []*stragglers.Sketch{fill("a", "b", "a", "c", "a", "b")},
			[]Top{{Value: "a", Requests: 3, LastSeen: at(4)}, {Value: "b", Requests: 2, LastSeen: at(5)}, {Value: "c", Requests: 1, LastSeen: at(3)}}},
		{"ties by value, cut to n", 2, []*stragglers.Sketch{fill("z", "y", "x")},
			[]Top{{Value: "x", Requests: 1, LastSeen: at(2)}, {Value: "y", Requests: 1, LastSeen: at(1)}}},
		{"merged across sketches", 3, []*stragglers.Sketch{fill("a", "b"), fill("b", "b", "c")},
			[]Top{{Value: "b", Requests: 3, LastSeen: at(1)}, {Value: "a", Requests: 1, LastSeen: at(0)}, {Value: "c", Requests: 1, LastSeen: at(2)}}},
		{"nothing", 3, []*stragglers.Sketch{fill()}, []Top{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := top(tt.n, clientAddress, tt.sketches...)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("top = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClaimNorm(t *testing.T) {
	full := claimSet(claimSub | claimIss | claimIat | claimExp)
	norm := func(shapes map[claimSet]int) claimNorm {
		var n claimNorm
		for s, c := range shapes {
			for range c {
				n.add(s)
			}
		}
		return n
	}
	tests := []struct {
		name     string
		norm     claimNorm
		shape    claimSet
		want     claimSet
		wantText string
	}{
		{"usual", norm(map[claimSet]int{full: 100}), full, 0, ""},
		{"missing exp and iat", norm(map[claimSet]int{full: 99, claimSub | claimIss: 1}), claimSub | claimIss, claimIat | claimExp,
			"no iat (99% of access tokens have one), no exp (99% of access tokens have one)"},
		{"no sub", norm(map[claimSet]int{full: 99, full &^ claimSub: 1}), full &^ claimSub, claimSub, "no sub (99% of access tokens have one)"},
		{"an extra nbf is not judged", norm(map[claimSet]int{full: 99, full | claimNbf: 1}), full | claimNbf, 0, ""},
		{"a missing client id is not judged", norm(map[claimSet]int{full | claimClient: 99, full: 1}), full, 0, ""},
		{"at the threshold", norm(map[claimSet]int{full: 95, claimSub | claimIss: 5}), claimSub | claimIss, claimIat | claimExp,
			"no iat (95% of access tokens have one), no exp (95% of access tokens have one)"},
		{"below the threshold", norm(map[claimSet]int{full: 94, claimSub | claimIss: 6}), claimSub | claimIss, 0, ""},
		{"too few tokens to tell", norm(map[claimSet]int{full: 18, claimSub: 1}), claimSub, 0, ""},
		{"a common variation is usual", norm(map[claimSet]int{full: 80, full | claimNbf: 20}), full | claimNbf, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.norm.deviation(tt.shape); got != tt.want {
				t.Errorf("deviation = %06b, want %06b", got, tt.want)
			}
			if got := tt.norm.describe(keys.Access, tt.shape); got != tt.wantText {
				t.Errorf("describe = %q, want %q", got, tt.wantText)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name    string
		p       Progress
		total   int64
		elapsed time.Duration
		want    string
	}{
		{"half way", Progress{Lines: 1_500_000, Bytes: 512 << 20}, 1 << 30, 2 * time.Second,
			"[###############...............]  50% 512.0 MiB/1.0 GiB  1500000 lines  750000 lines/s"},
		{"stdin", Progress{Lines: 10, Bytes: 1000}, 0, time.Second, "1000 B  10 lines  10 lines/s"},
		{"no time yet", Progress{}, 100, 0, "[..............................]   0% 0 B/100 B  0 lines  0 lines/s"},
		{"gzip size grows past the total", Progress{Bytes: 200}, 100, time.Second, "[##############################] 100% 200 B/100 B  0 lines  0 lines/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProgressLine(tt.p, tt.total, tt.elapsed); got != tt.want {
				t.Errorf("ProgressLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMeter draws on a writer until stopped, then erases its line.
func TestMeter(t *testing.T) {
	var mu lockedBuffer
	clock := time.Unix(0, 0)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	stop := Meter(&mu, time.Millisecond, 100, func() Progress { return Progress{Lines: 7, Bytes: 50} }, now)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(mu.String(), "7 lines") {
		if time.Now().After(deadline) {
			t.Fatal("the meter never drew")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	stop() // idempotent
	if out := mu.String(); !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the meter did not erase its line: %q", out)
	}
}

// TestHostileValues feeds subjects, jtis and user agents that would drive
// a terminal or a spreadsheet, and checks every format defuses them.
func TestHostileValues(t *testing.T) {
	k := randomKeys(t)
	const (
		evilSub = "=HYPERLINK(\"http://evil\")\x1b[31m"
		evilUA  = "@SUM(1)\x1b]0;pwned\x07"
	)
	var lines []string
	for i := range 30 { // enough tokens for usual claims
		tok := sign(k.previous, map[string]any{"sub": fmt.Sprintf("u%d", i), "iss": issuer, "iat": hm(8, 0, 0).Unix(), "exp": hm(9, 0, 0).Unix()})
		lines = append(lines, fmt.Sprintf(`{"time":%d,"req":{"headers":{"authorization":"Bearer %s","user-agent":"curl"}},"res":{"statusCode":200}}`, hm(8, 1, i).UnixMilli(), tok))
	}
	evil := sign(k.previous, map[string]any{"sub": evilSub, "iss": issuer, "iat": hm(12, 0, 0).Unix(), "exp": hm(13, 0, 0).Unix(), "jti": "-1+1"})
	ua, _ := jsonMarshal(evilUA)
	lines = append(lines, fmt.Sprintf(`{"time":%d,"req":{"headers":{"authorization":"Bearer %s","user-agent":%s},"remoteAddress":"+1"},"res":{"statusCode":200}}`, hm(12, 5, 0).UnixMilli(), evil, ua))
	s, err := New(Options{Keys: k.set(), Select: "previous", Rotations: []RotationStart{{Family: keys.Access, Started: rotationStart, Source: SourceFlag}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Read("log", strings.NewReader(strings.Join(lines, "\n"))); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	if r.Key.Compromise == nil || r.Key.Compromise.Evidence.Subject != evilSub || r.Key.Compromise.Evidence.UserAgent != evilUA {
		t.Fatalf("compromise not found as expected: %+v", r.Key.Compromise)
	}
	out := render(t, r)
	for ext, b := range out {
		if bytes.ContainsAny(b, "\x1b\x07") {
			t.Errorf("%s output holds a raw control character", ext)
		}
	}
	recs, err := readCSV(out["csv"])
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("CSV cell %q would be evaluated by a spreadsheet", cell)
			}
		}
	}
	if !strings.Contains(string(out["txt"]), `"=HYPERLINK(\"http://evil\")\x1b[31m"`) {
		t.Errorf("text output does not quote the subject:\n%s", out["txt"])
	}
	assertNoLeak(t, "all", bytes.Join([][]byte{out["txt"], out["json"], out["csv"]}, nil), []string{evil}, k.secrets())
}

// lockedBuffer is a bytes.Buffer safe for the meter's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func jsonMarshal(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

func readCSV(b []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

// A lifetime beyond time.Duration's 292 years (exp 9999-12-31) is told in
// days, not as the saturated 2562047h47m16s.
func TestLifetime(t *testing.T) {
	iat := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		exp  time.Time
		want string
	}{
		{"hours", iat.Add(90 * time.Minute), "1h30m0s"},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "2912112d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lifetime(iat, tt.exp); got != tt.want {
				t.Errorf("lifetime = %q, want %q", got, tt.want)
			}
		})
	}
}
