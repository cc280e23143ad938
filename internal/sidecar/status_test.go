package sidecar

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// hostileAgent is a straggler's user agent that would run script if the page
// did not escape it.
const hostileAgent = `<script>alert(1)</script><img src="https://evil.example/x.png">`

// statusFixture is a sidecar mid-rotation with a fixed clock: current and
// previous access keys in use, one straggler with a hostile user agent, a
// suspicious token, a gateway mismatch and a weak refresh key.
type statusFixture struct {
	running
	cur, prev, ref string
	tokens         []string
}

func startStatusFixture(t *testing.T, webConfig string) statusFixture {
	t.Helper()
	f := statusFixture{cur: secret(t), prev: secret(t), ref: "short-refresh-secret"}
	env := map[string]string{"JWT_ACCESS_SECRET": f.cur, "JWT_ACCESS_SECRET_PREVIOUS": f.prev, "JWT_REFRESH_SECRET": f.ref, "JWT_ACCESS_ISSUER": "auth"}
	logPath := filepath.Join(t.TempDir(), "gw.log")
	line := func(at time.Time, key, sub string, status int) string {
		tok := sign(key, sub, fixed.Add(-2*time.Hour), fixed.Add(30*time.Minute))
		if sub == "mallory" { // minted with the old key after the rotation
			tok = sign(key, sub, fixed.Add(time.Minute), fixed.Add(time.Hour))
		}
		f.tokens = append(f.tokens, tok)
		return gatewaylog.Request{Time: at, Headers: []gatewaylog.Header{gatewaylog.Bearer(tok), {Name: "user-agent", Value: hostileAgent}},
			RemoteAddress: "10.1.2.3", Status: status}.Pino()
	}
	var lines []string
	for i := range 30 {
		lines = append(lines, line(fixed.Add(-time.Duration(i)*time.Minute), f.cur, "alice", 200))
	}
	for i := range 5 {
		lines = append(lines, line(fixed.Add(-time.Duration(10*i)*time.Minute), f.prev, "bob", 200))
	}
	lines = append(lines,
		line(fixed.Add(-3*time.Hour), f.prev, "bob", 200),                    // in the sparkline, not in the last hour
		line(fixed.Add(-9*time.Minute-30*time.Second), f.prev, "carol", 401), // the gateway rejects a valid token: a mismatch; bob's minute
		line(fixed.Add(-2*time.Minute), f.prev, "mallory", 200),              // suspicious
		line(fixed.Add(-30*time.Hour), f.prev, "ancient", 200),               // older than the sparkline's 24 hours
		line(fixed.Add(-time.Minute), f.ref, "alice", 200),                   // refresh, weak key
	)
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.running = startSidecar(t, Options{
		LogPaths:      []string{logPath},
		FromStart:     true,
		WebConfigFile: webConfig,
		Policy:        rotation.Policy{MinWindow: 168 * time.Hour, QuietPeriod: 24 * time.Hour, Skew: time.Minute},
		Lookup:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:           func() time.Time { return fixed },
	})
	return f
}

// TestStatusPage loads the page of a running sidecar over real HTTP and
// checks what it shows and that it can load nothing from anywhere.
func TestStatusPage(t *testing.T) {
	f := startStatusFixture(t, "")
	waitFor(t, "all lines", func() bool {
		_, body := get(t, f.base+"/metrics")
		return strings.Contains(body, `jwtwatch_tokens_total{key="previous",result="valid",token="access"} 9`)
	})
	resp, err := http.Get(f.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	for h, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, doc)
}

// check asserts what the page shows of the fixture, in a document parsed
// from the server's response or from a browser's DOM.
func (f statusFixture) check(t *testing.T, doc *html.Node) {
	t.Helper()
	var raw strings.Builder
	html.Render(&raw, doc)
	page := raw.String()

	noExternalReferences(t, doc)
	for _, secretOrToken := range append([]string{f.cur, f.prev, f.ref}, f.tokens...) {
		if strings.Contains(page, secretOrToken) {
			t.Fatal("the page shows a secret or a token")
		}
	}
	if strings.Contains(page, "<script>") || !strings.Contains(text(doc), hostileAgent) {
		t.Error("the straggler's user agent is not shown as escaped text")
	}

	access := byID(doc, "family-access")
	if access == nil {
		t.Fatalf("no section for access tokens:\n%s", page)
	}
	rows := tableRows(access, "keys")
	for _, want := range [][]string{
		{"current", keys.Fingerprint([]byte(f.cur)), "HS256", "ok"},
		{"previous", keys.Fingerprint([]byte(f.prev)), "HS256", "ok"},
	} {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r[:4], want) }) {
			t.Errorf("no key row %q among %q", want, rows)
		}
	}
	refreshRows := tableRows(byID(doc, "family-refresh"), "keys")
	if len(refreshRows) != 1 || refreshRows[0][1] != keys.Fingerprint([]byte(f.ref)) || !strings.HasPrefix(refreshRows[0][3], "weak") {
		t.Errorf("refresh keys %q, want the one weak current key", refreshRows)
	}

	at := text(access)
	for _, want := range []string{
		// Rotation started at the fixed now; the window is a week.
		"Keep the previous key: removal is blocked by min_window, recent_use, unexpired_tokens, insufficient_evidence, unseen_tokens_may_be_valid.",
		// Every token lives 2h 30m (issued 2h ago, expiring in 30m); the skew is a minute.
		"unseen_tokens_may_be_valid: a token the previous key signed before the rotation may still be valid although none is seen " +
			"(a user who comes back after the quiet period); clears 2026-11-27 14:31:00 UTC (2h 31m from now)",
		"longest token lifetime2h 30mseen",
		"no old-key token valid after2026-11-27 14:31:00 UTC2h 31m from now",
		// The first line was read at the fixed now; the quiet period is a day.
		"insufficient_evidence: this replica has not read its log for the quiet period since it started, so not seeing the key is no evidence yet; clears 2026-11-28 12:00:00 UTC (1d from now)",
		"min_window: the minimum window after the rotation has not passed; clears 2026-12-04 12:00:00 UTC (7d from now)",
		"recent_use: a valid token signed by the previous key was seen within the quiet period; clears 2026-11-28 12:00:00 UTC (1d from now)",
		"unexpired_tokens: a valid token it signed has not expired yet; clears 2026-11-27 13:00:00 UTC (1h from now)",
		"previous key: last valid use2026-11-27 12:00:00 UTCnow",
		"previous key: latest token expiry2026-11-27 13:00:00 UTC1h from now",
		"suspicious tokens, last hour1",
		"gateway mismatches, last hour1",
		// All but the line of 30 hours ago; bob's and carol's share a minute.
		"8 valid previous-key tokens in 24 hours, at most 2 in a minute",
	} {
		if !strings.Contains(at, want) {
			t.Errorf("access section lacks %q:\n%s", want, at)
		}
	}
	stragglers := tableRows(access, "stragglers")
	if len(stragglers) == 0 || stragglers[0][0] != "previous" || stragglers[0][1] != "bob" || stragglers[0][5] != "6" || stragglers[0][4] != "10.1.2.3" {
		t.Errorf("stragglers %q, want bob on the previous key with 6 requests first", stragglers)
	}
	if rt := text(byID(doc, "family-refresh")); !strings.Contains(rt, "No previous key is loaded: nothing to remove.") {
		t.Errorf("refresh section:\n%s", rt)
	}
}

// TestStatusPageBehindWebConfig: the page asks for the same basic auth as /metrics.
func TestStatusPageBehindWebConfig(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "basic_auth_users:\n  sre: %q\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startStatusFixture(t, cfg)
	for _, path := range []string{"/", "/metrics"} {
		if code, _ := get(t, f.base+path); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
		req, _ := http.NewRequest(http.MethodGet, f.base+path, nil)
		req.SetBasicAuth("sre", "s3cret-pass")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with credentials: %s", path, resp.Status)
		}
	}
}

// noExternalReferences fails the test for anything in the document that
// could make a browser fetch: elements that load (script, img, link, ...),
// URLs in attributes other than this server's own paths, url() or @import
// in style.
func noExternalReferences(t *testing.T, doc *html.Node) {
	t.Helper()
	loaders := []string{"script", "img", "link", "iframe", "object", "embed", "video", "audio", "source", "image", "use", "form", "base"}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if slices.Contains(loaders, n.Data) {
				t.Errorf("the page has a <%s> element", n.Data)
			}
			for _, a := range n.Attr {
				v := strings.TrimSpace(a.Val)
				switch {
				case a.Key == "href" || a.Key == "src" || a.Key == "action" || a.Key == "srcset" || a.Key == "poster" || a.Key == "xlink:href":
					if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") {
						t.Errorf("<%s %s=%q>: not a path on this server", n.Data, a.Key, v)
					}
				case strings.Contains(strings.ToLower(v), "url(") || strings.Contains(v, "://"):
					t.Errorf("<%s %s=%q> names a URL", n.Data, a.Key, v)
				}
			}
		}
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data == "style" {
			if s := strings.ToLower(n.Data); strings.Contains(s, "url(") || strings.Contains(s, "@import") {
				t.Error("the style sheet loads something")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

func byID(n *html.Node, id string) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if found := byID(c, id); found != nil {
			return found
		}
	}
	return nil
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && slices.Contains(strings.Fields(a.Val), class) {
			return true
		}
	}
	return false
}

// tableRows returns the cells' text of the body rows of the table with the class.
func tableRows(n *html.Node, class string) [][]string {
	var rows [][]string
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n == nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "table" {
			in = hasClass(n, class)
		}
		if in && n.Type == html.ElementNode && n.Data == "tr" && n.Parent != nil && n.Parent.Data == "tbody" {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.Data == "td" {
					cells = append(cells, strings.TrimSpace(text(c)))
				}
			}
			rows = append(rows, cells)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(n, false)
	return rows
}

// text is the node's text content, whitespace runs collapsed.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}
