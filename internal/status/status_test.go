package status

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSparkline(t *testing.T) {
	tests := []struct {
		name      string
		perMinute []uint64
		line      string
		peak      uint64
		total     uint64
	}{
		{name: "no data", perMinute: nil},
		{name: "flat zero lies on the floor", perMinute: make([]uint64, 10), line: "M0.0 39.0 L288.0 39.0"},
		// Two points of five minutes each: 2 then 4; the busier touches the top (y=1).
		{name: "scaled to the busiest point", perMinute: []uint64{1, 1, 0, 0, 0, 1, 1, 1, 0, 1}, line: "M0.0 20.0 L288.0 1.0", peak: 1, total: 6},
		{name: "a partial last bin", perMinute: []uint64{0, 0, 0, 0, 0, 3}, line: "M0.0 39.0 L288.0 1.0", peak: 3, total: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSparkline(tt.perMinute)
			if s.Line != tt.line || s.PeakPerMinute != tt.peak || s.Total != tt.total {
				t.Errorf("got line %q peak %d total %d, want %q %d %d", s.Line, s.PeakPerMinute, s.Total, tt.line, tt.peak, tt.total)
			}
			if tt.line != "" && s.Area != tt.line+" L288 40 L0 40 Z" {
				t.Errorf("area %q does not close the line", s.Area)
			}
		})
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, ""},
		{now, "now"},
		{now.Add(-90 * time.Second), "1m 30s ago"},
		{now.Add(26*time.Hour + 5*time.Minute + 7*time.Second), "1d 2h from now"},
		{now.Add(-7 * 24 * time.Hour), "7d ago"},
		// Beyond time.Duration's 292 years: a token's exp of 9999-12-31.
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "2912112d 11h from now"},
	}
	for _, tt := range tests {
		if got := ago(now, tt.in); got != tt.want {
			t.Errorf("ago(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	h := Handler(func() Page { return Page{Now: time.Now(), MetricsPath: "/metrics"} })
	tests := []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nothing-here", http.StatusNotFound},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, rec.Code, tt.code)
		}
		if tt.code == http.StatusOK && rec.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("%s %s: no Content-Security-Policy", tt.method, tt.path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), "No token family has a current key.") {
		t.Errorf("empty page:\n%s", rec.Body.String())
	}
}

// TestBlockers renders what the page says of the reasons whose end is not a
// time: one that never clears by itself, one whose end is not known yet.
func TestBlockers(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	page := func(p Previous) string {
		var b strings.Builder
		if err := Render(&b, Page{Now: now, Families: []Family{{Name: "access", Started: now.Add(-8 * 24 * time.Hour), Previous: &p}}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	tests := []struct {
		name string
		in   Previous
		want []string
	}{
		{name: "a token without exp", in: Previous{
			Blockers:    []Blocker{{Reason: "tokens_without_expiry", Never: true}},
			Lifetime:    time.Hour,
			NeverExpire: true,
		}, want: []string{
			"<code>tokens_without_expiry</code>: the previous key signed a valid token without exp, which stays valid for ever: " +
				"removing the key logs its holders out whenever that is done; it never clears by itself.",
			"<span>no old-key token valid after</span><b>never</b><span>a token without exp</span>",
		}},
		{name: "no lifetime known", in: Previous{
			Blockers: []Blocker{{Reason: "unseen_tokens_may_be_valid"}},
		}, want: []string{
			"<code>unseen_tokens_may_be_valid</code>: a token the previous key signed before the rotation may still be valid although none is seen " +
				"(a user who comes back after the quiet period); how long tokens live is not known yet (no token with iat and exp seen, no --policy.max-lifetime).",
			"<span>longest token lifetime</span><b>none seen</b>",
			"<span>no old-key token valid after</span><b>unknown</b>",
		}},
		{name: "the policy bounds it", in: Previous{
			Blockers:       []Blocker{{Reason: "unseen_tokens_may_be_valid", Clears: now.Add(48 * time.Hour)}},
			Lifetime:       time.Hour,
			PolicyLifetime: 10 * 24 * time.Hour,
			AllExpired:     now.Add(48 * time.Hour),
		}, want: []string{
			"<span>longest token lifetime</span><b>1h</b><span>seen; --policy.max-lifetime 10d bounds the wait</span>",
			"<span>no old-key token valid after</span><b>2026-11-29 12:00:00 UTC</b><span>2d from now</span>",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := page(tt.in)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("the page lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestRotationsOnThePage: a retired key kept in memory says a restart
// forgets it; the sessions still on the removed key and the last changes
// of the current key, rollbacks named, are shown.
func TestRotationsOnThePage(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	err := Render(&b, Page{Now: now, Families: []Family{{
		Name: "access", Started: now.Add(-time.Hour),
		Keys: []Key{
			{Role: "current", Fingerprint: "111111111111", Alg: "HS256"},
			{Role: "retired", Fingerprint: "222222222222", Alg: "HS256", Remembered: true},
		},
		RetiredSubjects: 42,
		Changes: []Change{
			{Kind: "rollback", From: "222222222222", To: "111111111111", At: now.Add(-time.Hour)},
			{Kind: "rotation", From: "111111111111", To: "222222222222", At: now.Add(-3 * time.Hour)},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"<td>retired <span class=\"muted\">(kept in memory: a restart forgets it; set JWT_*_SECRET_RETIRED to keep it)</span></td>",
		"<span>sessions still on the removed key</span><b>42</b>",
		"<li>rollback 1h ago: <span class=\"fp\">222222222222</span> → <span class=\"fp\">111111111111</span></li>\n" +
			"    <li>rotation 3h ago: <span class=\"fp\">111111111111</span> → <span class=\"fp\">222222222222</span></li>",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("the page lacks %q:\n%s", w, b.String())
		}
	}
}
