// Package status renders the page jwtwatch serves at "/": per token family
// the loaded keys, the removal verdict and what blocks it, the previous key's
// last use, the last hour's suspicious tokens and gateway mismatches, the
// heaviest stragglers and a 24-hour sparkline of valid previous-key traffic.
// Plain HTML and CSS, one response, nothing loaded from anywhere; every
// value is escaped by html/template; keys appear only as fingerprints.
package status

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/buildinfo"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
)

// ContentSecurityPolicy is sent with the page: nothing may be fetched, only
// the page's own style sheet applies.
const ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// Page is everything the page shows, gathered at request time.
type Page struct {
	Now         time.Time
	Build       buildinfo.Info
	MetricsPath string
	Families    []Family
	// Sources are the followed log files with when each last gave a line.
	Sources []Source
}

// Source is one followed log file.
type Source struct {
	Path     string
	LastLine time.Time
}

// Family is one token family (access, refresh) with a current key.
type Family struct {
	Name string
	Keys []Key
	// Started is when the current key became current.
	Started time.Time
	// Previous is the previous key's state; nil when none is loaded.
	Previous *Previous
	// Suspicious and Mismatches count the last hour.
	Suspicious, Mismatches uint64
	// Stragglers are the heaviest clients still on the previous key.
	Stragglers []stragglers.Entry
	// PreviousPerMinute counts valid previous-key tokens per minute over the
	// last 24 hours, oldest first.
	PreviousPerMinute []uint64
	// RetiredSubjects estimates the sessions still on a removed key (with a
	// retired key loaded).
	RetiredSubjects uint64
	// Changes are the last changes of the family's current key, newest first.
	Changes []Change
}

// Change is one change of a family's current key.
type Change struct {
	Kind     string // rotation or rollback
	From, To string // fingerprints
	At       time.Time
}

// Key is one loaded key, as safe to show as its metric: no secret.
type Key struct {
	Role, Fingerprint, Alg string
	Weak                   bool
	LastValid              time.Time
	// Remembered: a retired key kept in memory after an immediate rotation.
	Remembered bool
}

// Previous is the removal decision for a family's previous key.
type Previous struct {
	Removable bool
	// Since is when the last reason cleared (when Removable).
	Since     time.Time
	Blockers  []Blocker
	LastValid time.Time
	MaxExpiry time.Time
	Subjects  uint64
	// Lifetime is the family's longest token lifetime seen; PolicyLifetime
	// is --policy.max-lifetime, which bounds the wait instead when set.
	Lifetime, PolicyLifetime time.Duration
	// AllExpired is when no token the previous key could have signed before
	// the rotation is valid any more; zero while unknown. NeverExpire: it
	// signed a token without exp, so no such time comes.
	AllExpired  time.Time
	NeverExpire bool
}

// Blocker is one reason the previous key must stay, and when it clears if
// nothing else happens: zero when that cannot be told yet, Never when it
// does not clear by itself.
type Blocker struct {
	Reason string
	Clears time.Time
	Never  bool
}

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"when":     when,
	"ago":      ago,
	"short":    short,
	"explain":  explain,
	"duration": humanDuration,
	"spark":    newSparkline,
	"sum":      sum,
	"nonzero":  func(t time.Time) bool { return !t.IsZero() },
}).Parse(pageHTML))

// Handler serves the page that get gathers, for GET and HEAD.
func Handler(get func() Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		if err := Render(&buf, get()); err != nil {
			http.Error(w, "cannot render the status page", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
}

// Render writes the page.
func Render(w io.Writer, p Page) error {
	return page.Execute(w, p)
}

// when formats a time for the page: UTC to the second; "never" when zero.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago says how far t is from now, in the two largest units.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	suffix := "ago"
	if t.After(now) {
		t, now, suffix = now, t, "from now"
	}
	// time.Duration saturates at 292 years, and a JWT's exp can be 9999-12-31.
	if secs := now.Unix() - t.Unix(); secs >= 100*365*86400 {
		return fmt.Sprintf("%dd %dh %s", secs/86400, secs%86400/3600, suffix)
	}
	d := now.Sub(t)
	if d < time.Second {
		return "now"
	}
	return humanDuration(d) + " " + suffix
}

func humanDuration(d time.Duration) string {
	units := []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	var parts []string
	for _, u := range units {
		if d >= u.d {
			parts = append(parts, fmt.Sprintf("%d%s", d/u.d, u.name))
			d %= u.d
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

// short cuts a revision to the length git shows.
func short(rev string) string {
	if len(rev) > 12 && !strings.Contains(rev[:12], "-") {
		return rev[:12]
	}
	return rev
}

// explain says in words what a blocking reason waits for.
func explain(reason string) string {
	switch reason {
	case "min_window":
		return "the minimum window after the rotation has not passed"
	case "recent_use":
		return "a valid token signed by the previous key was seen within the quiet period"
	case "unexpired_tokens":
		return "a valid token it signed has not expired yet"
	case "insufficient_evidence":
		return "this replica has not read its log for the quiet period since it started, so not seeing the key is no evidence yet"
	case "unseen_tokens_may_be_valid":
		return "a token the previous key signed before the rotation may still be valid although none is seen (a user who comes back after the quiet period)"
	case "tokens_without_expiry":
		return "the previous key signed a valid token without exp, which stays valid for ever: removing the key logs its holders out whenever that is done"
	}
	return reason
}

func sum(v []uint64) uint64 {
	var s uint64
	for _, x := range v {
		s += x
	}
	return s
}
