package scan

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/prometheus/common/model"

	"github.com/jwtwatch/jwtwatch/internal/distinct"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// WriteText prints the report for a terminal: short summaries and aligned
// tables. Values from the log or from tokens (subjects, user agents, ...)
// are quoted when they hold anything unprintable, so a hostile header cannot
// drive the terminal.
func WriteText(w io.Writer, r Report) error {
	p := &printer{w: w}
	p.summary(r)
	p.keys(r)
	p.lifetimes(r)
	if r.Key != nil {
		p.key(r.Key, r.Rotations, r.Lifetimes)
	} else {
		p.line("")
		p.line("(--key previous reports who used the previous key, per hour, and whether it signed tokens its issuer could not have minted)")
	}
	p.forged(r.Forged)
	return p.err
}

// printer writes lines and tables, keeping the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// table prints aligned rows, each indented by indent.
func (p *printer) table(indent string, rows [][]string) {
	if p.err != nil {
		return
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintf(tw, "%s%s\n", indent, strings.Join(row, "\t"))
	}
	tw.Flush() // writes to memory: cannot fail
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		if l != "" {
			p.line("%s", strings.TrimRight(l, " \n"))
		}
	}
}

func (p *printer) summary(r Report) {
	p.line("jwtwatch scan report")
	p.line("")
	p.line("Inputs")
	rows := [][]string{}
	for _, in := range r.Inputs {
		kind := "plain"
		if in.Gzip {
			kind = "gzip"
		}
		rows = append(rows, []string{safe(in.Name), kind, plural(in.Lines, "line")})
	}
	p.table("  ", rows)
	l := r.Lines
	p.line("Lines: %d read, %d checked, %d without a token, %d invalid, %d too long, %d with a token but no time, %d outside --from/--until",
		l.Read, l.Checked, l.WithoutToken, l.Invalid, l.TooLong, l.WithoutTime, l.OutsideWindow)
	switch {
	case r.FirstSeen.IsZero():
		p.line("Seen: no checked line has a time of its own")
	default:
		p.line("Seen: %s to %s (the lines' own times)", stamp(r.FirstSeen), stamp(r.LastSeen))
	}
	if !r.From.IsZero() || !r.Until.IsZero() {
		p.line("Window: --from %s --until %s", stamp(r.From), stamp(r.Until))
	}
	for _, rs := range r.Rotations {
		if rs.Source == "" {
			p.line("Rotation of %s keys: start unknown, issued_after_rotation not checked (give --rotation-start or --state.file)", rs.Family)
			continue
		}
		src := "--rotation-start"
		if rs.Source == SourceStateFile {
			src = "from --state.file"
		}
		p.line("Rotation of %s keys: started %s (%s)", rs.Family, stamp(rs.Started), src)
	}
	for _, n := range r.Notes {
		p.line("Note: %s", safe(n))
	}
}

func (p *printer) keys(r Report) {
	p.line("")
	p.line("Tokens by family and key")
	var all Counts
	for _, k := range r.Keys {
		all = sum(all, k.Results)
	}
	results := nonZero(all)
	head := []string{"TOKEN", "KEY", "FINGERPRINT", "REQUESTS"}
	for _, res := range results {
		head = append(head, string(res))
	}
	rows := [][]string{append(head, "SUSPICIOUS", "SUBJECTS", "LONGEST LIFETIME", "FIRST SEEN", "LAST SEEN")}
	estimated := 0.0
	for _, k := range r.Keys {
		row := []string{string(k.Family), string(k.Key), dash(k.Fingerprint), num(k.Requests)}
		for _, res := range results {
			row = append(row, num(k.Results.Get(res)))
		}
		lifetime := lifespan(k.LongestLifetime)
		if !k.WithoutExpiry.IsZero() {
			lifetime += ", no exp"
		}
		subjects := strconv.FormatUint(k.Subjects, 10)
		if k.SubjectsError > 0 {
			subjects, estimated = "~"+subjects, k.SubjectsError
		}
		rows = append(rows, append(row, num(k.Suspicious), subjects, lifetime, stamp(k.FirstSeen), stamp(k.LastSeen)))
	}
	p.table("  ", rows)
	if estimated > 0 {
		p.line("  ~: estimated (more than %d distinct subjects; standard error %.2f%%)", distinct.Bound, 100*estimated)
	}
}

// lifetimes answers, per family, whether a token signed before the rotation
// could still be valid when the scan ran.
func (p *printer) lifetimes(r Report) {
	if len(r.Lifetimes) == 0 {
		return
	}
	p.line("")
	p.line("Could a token signed before the rotation still be valid? At %s (the time of the scan):", stamp(r.ScannedAt))
	rows := [][]string{{"TOKEN", "ANSWER", "LONGEST LIFETIME", "ALL EXPIRED BY", "WHY"}}
	for _, l := range r.Lifetimes {
		var start time.Time
		for _, rs := range r.Rotations {
			if rs.Family == l.Family {
				start = rs.Started
			}
		}
		bound := "the longest lifetime seen"
		if l.PolicyLifetime > 0 {
			bound = "--policy.max-lifetime " + lifespan(l.PolicyLifetime)
		}
		var why string
		switch {
		case l.Never:
			why = "the previous key signed a valid token without exp: it stays valid for ever"
		case start.IsZero():
			why = "the rotation start is unknown (give --rotation-start or --state.file)"
		case l.AllExpired.IsZero():
			why = "no token with iat and exp was seen (give --policy.max-lifetime)"
		default:
			why = fmt.Sprintf("the rotation (%s) + --rotation.grace + --policy.clock-skew + %s", stamp(start), bound)
		}
		expired := stamp(l.AllExpired)
		if l.Never {
			expired = "never"
		}
		rows = append(rows, []string{string(l.Family), l.StillValid, lifespan(l.LongestLifetime), expired, why})
	}
	p.table("  ", rows)
}

// lifespan formats a lifetime in seconds in Prometheus units (15m, 2w); "-" for none.
func lifespan(seconds float64) string {
	if seconds <= 0 {
		return "-"
	}
	return model.Duration(time.Duration(seconds * float64(time.Second))).String()
}

func (p *printer) key(k *KeyReport, rotations []RotationStart, lifetimes []FamilyLifetime) {
	p.line("")
	var names []string
	for _, ref := range k.Keys {
		names = append(names, fmt.Sprintf("%s/%s %s", ref.Family, ref.Key, ref.Fingerprint))
	}
	p.line("Key %s: %s", safe(k.Selector), strings.Join(names, ", "))
	if k.Requests == 0 {
		p.line("  no token signed by it was seen")
		return
	}
	p.line("  %s (%s), %s, %s to %s, %d suspicious", plural(k.Requests, "request"), breakdown(k.Results),
		plural(int64(len(k.Subjects)), "subject"), stamp(k.FirstSeen), stamp(k.LastSeen), k.Suspicious)

	p.line("")
	if c := k.Compromise; c != nil {
		p.line("  COMPROMISE: this key signed tokens its rightful issuer could not have minted.")
		basis := "seen; the token carries no earlier iat"
		if c.Basis == "iat" {
			basis = "iat of token " + c.Evidence.TokenFingerprint
		}
		p.table("    ", [][]string{
			{"Compromise began", stamp(c.Began), basis},
			{"First such token", stamp(c.First.Seen), "token " + c.First.TokenFingerprint + " at " + safe(c.First.Input) + ":" + num(c.First.Line)},
		})
		for _, l := range lifetimes {
			// The question after a leak: could a token the rightful issuer
			// signed still be valid, or is every valid one the holder's?
			if l.Family == c.Evidence.Family && !l.AllExpired.IsZero() {
				p.line("    Every token it signed before the rotation had expired by %s: a valid one later is the holder's.", stamp(l.AllExpired))
			}
		}
		p.sighting(c.Evidence, rotations)
		if c.First.TokenFingerprint != c.Evidence.TokenFingerprint {
			p.sighting(c.First, rotations)
		}
	} else {
		p.line("  No token it signed looks minted by someone else (checked: issued after the rotation start where known, no iat, lifetime, iat in the future, unusual claims).")
	}

	if len(k.Suspicions) > 0 {
		p.line("")
		p.line("  Suspicious requests by reason (the first of each)")
		rows := [][]string{{"REASON", "REQUESTS", "FIRST SEEN", "TOKEN", "SUBJECT", "JTI", "CLIENT", "DETAIL"}}
		for _, s := range k.Suspicions {
			f := s.First
			rows = append(rows, []string{string(s.Reason), num(s.Requests), stamp(f.Seen), f.TokenFingerprint, safe(f.Subject), safe(f.JTI), safe(f.Client), dash(s.Detail)})
		}
		p.table("    ", rows)
	}
	if len(k.SuspiciousTokens) > 0 {
		p.line("")
		p.line("  Suspicious tokens")
		rows := [][]string{{"TOKEN", "SUBJECT", "JTI", "CLIENT ID", "ISSUED", "EXPIRES", "REQUESTS", "FIRST SEEN", "LAST SEEN", "REASONS"}}
		for _, t := range k.SuspiciousTokens {
			rows = append(rows, []string{t.TokenFingerprint, safe(t.Subject), safe(t.JTI), safe(t.ClientID), stamp(t.IssuedAt), stamp(t.ExpiresAt),
				num(t.Requests), stamp(t.FirstSeen), stamp(t.LastSeen), joinReasons(t.Reasons, ",")})
		}
		p.table("    ", rows)
		if k.SuspiciousTokensOmitted > 0 {
			p.line("    ... and %s with tokens beyond the first %d", plural(k.SuspiciousTokensOmitted, "request"), MaxSuspiciousTokens)
		}
	}
	p.tops("  Suspicious requests by client", "CLIENT", k.SuspiciousClients)
	p.tops("  Suspicious requests by user agent", "USER AGENT", k.SuspiciousUserAgents)

	p.line("")
	p.line("  Per hour")
	results := nonZero(k.Results)
	head := []string{"HOUR", "REQUESTS"}
	for _, res := range results {
		head = append(head, string(res))
	}
	rows := [][]string{append(head, "SUSPICIOUS")}
	for i, h := range k.Timeline {
		if i > 0 {
			rows = gap(rows, k.Timeline[i-1].Hour, h.Hour)
		}
		row := []string{stamp(h.Hour), num(h.Requests)}
		for _, res := range results {
			row = append(row, num(h.Results.Get(res)))
		}
		rows = append(rows, append(row, num(h.Suspicious)))
	}
	p.table("    ", rows)

	p.line("")
	p.line("  Subjects (%d)", len(k.Subjects))
	rows = [][]string{{"TOKEN", "SUBJECT", "CLIENT ID", "REQUESTS", "VALID", "SUSPICIOUS", "FIRST SEEN", "LAST SEEN"}}
	for _, s := range k.Subjects {
		sub := safe(s.Subject)
		if s.Subject == "" {
			sub = "(no sub)"
		}
		rows = append(rows, []string{string(s.Family), sub, safe(s.ClientID), num(s.Requests), num(s.Valid), num(s.Suspicious), stamp(s.FirstSeen), stamp(s.LastSeen)})
	}
	p.table("    ", rows)
}

func (p *printer) forged(f Forged) {
	p.line("")
	if f.Requests == 0 {
		p.line("Forged tokens (bad_signature, alg_rejected): none")
		return
	}
	p.line("Forged tokens (bad_signature, alg_rejected)")
	p.line("  %s (bad_signature %d, alg_rejected %d), %s to %s", plural(f.Requests, "request"), f.BadSignature, f.AlgRejected, stamp(f.FirstSeen), stamp(f.LastSeen))
	p.line("")
	p.line("  Per hour")
	rows := [][]string{{"HOUR", "REQUESTS", "bad_signature", "alg_rejected"}}
	for i, h := range f.Timeline {
		if i > 0 {
			rows = gap(rows, f.Timeline[i-1].Hour, h.Hour)
		}
		rows = append(rows, []string{stamp(h.Hour), num(h.Requests), num(h.BadSignature), num(h.AlgRejected)})
	}
	p.table("    ", rows)
	p.tops(fmt.Sprintf("  Top clients (%d requests without a client address)", f.WithoutClient), "CLIENT", f.Clients)
	p.tops(fmt.Sprintf("  Top user agents (%d requests without one)", f.WithoutUserAgent), "USER AGENT", f.UserAgents)
}

// gap adds a row for the hours without requests between two timeline rows.
func gap(rows [][]string, prev, next time.Time) [][]string {
	if n := int64(next.Sub(prev) / time.Hour); n > 1 {
		// As many cells as the header, so that the columns stay aligned.
		row := make([]string, len(rows[0]))
		row[0] = fmt.Sprintf("(%s: none)", plural(n-1, "hour"))
		rows = append(rows, row)
	}
	return rows
}

// tops prints a top-N table; an approximate count is marked with ~.
func (p *printer) tops(title, what string, ts []Top) {
	if len(ts) == 0 {
		return
	}
	p.line("")
	p.line("%s", title)
	rows := [][]string{{what, "REQUESTS", "LAST SEEN"}}
	for _, t := range ts {
		n := num(t.Requests)
		if t.MaxOvercount > 0 {
			n = "~" + n
		}
		rows = append(rows, []string{safe(t.Value), n, stamp(t.LastSeen)})
	}
	p.table("    ", rows)
}

// sighting prints what is known of one token, indented under the compromise.
func (p *printer) sighting(s Sighting, rotations []RotationStart) {
	p.line("    Token %s (%s/%s key %s):", s.TokenFingerprint, s.Family, s.Key, s.KeyFingerprint)
	var who []string
	for _, kv := range [][2]string{{"subject", s.Subject}, {"jti", s.JTI}, {"client id", s.ClientID}} {
		if kv[1] != "" {
			who = append(who, kv[0]+" "+safe(kv[1]))
		}
	}
	if len(who) > 0 {
		p.line("      %s", strings.Join(who, ", "))
	}
	p.line("      issued %s, expires %s, claims %s", stamp(s.IssuedAt), stamp(s.ExpiresAt), strings.Join(s.Claims, " "))
	if s.Client != "" || s.UserAgent != "" {
		p.line("      from %s, user agent %s", safe(s.Client), safe(s.UserAgent))
	}
	for _, r := range s.Reasons {
		p.line("      %s: %s", r, explain(r, s, rotations))
	}
}

// explain says in words why a reason applies to a sighting: the reason's
// one wording (rotation.Reason.Explain), and what the sighting adds to it.
func explain(reason rotation.Reason, s Sighting, rotations []RotationStart) string {
	switch reason {
	case rotation.IssuedAfterRotation, rotation.IssuedDuringGrace, rotation.NoIssuedAt:
		for _, rs := range rotations {
			if rs.Family == s.Family && !rs.Started.IsZero() {
				return fmt.Sprintf("%s; here the %s key, the rotation started %s", reason.Explain(), s.Key, stamp(rs.Started))
			}
		}
	case rotation.LifetimeExceedsPolicy:
		if !s.IssuedAt.IsZero() && !s.ExpiresAt.IsZero() {
			return fmt.Sprintf("%s; here it lives %s", reason.Explain(), lifetime(s.IssuedAt, s.ExpiresAt))
		}
	}
	return reason.Explain()
}

// joinReasons joins reasons with sep.
func joinReasons(rs []rotation.Reason, sep string) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, sep)
}

func breakdown(c Counts) string {
	var parts []string
	for _, r := range nonZero(c) {
		parts = append(parts, fmt.Sprintf("%s %d", r, c.Get(r)))
	}
	return strings.Join(parts, ", ")
}

func nonZero(c Counts) []verify.Result {
	var out []verify.Result
	for _, r := range verify.Results {
		if c.Get(r) != 0 {
			out = append(out, r)
		}
	}
	return out
}

func sum(a, b Counts) Counts {
	for _, r := range verify.Results {
		*a.ptr(r) += b.Get(r)
	}
	return a
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return num(n) + " " + word + "s"
}

// stamp formats a time as RFC 3339 in UTC, "-" when unknown.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// safe makes a value from a log or token fit for a terminal table: quoted
// when it has a control character, a tab or anything unprintable (or looks
// quoted), "-" when empty.
func safe(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' && strings.HasPrefix(s, `"`) {
			return strconv.Quote(s)
		}
	}
	return s
}

// lifetime is exp - iat in words; beyond the 292 years a time.Duration
// holds (exp 9999-12-31 is a valid JWT) in whole days.
func lifetime(iat, exp time.Time) string {
	if days := (exp.Unix() - iat.Unix()) / 86400; days > 100*365 {
		return fmt.Sprintf("%dd", days)
	}
	return exp.Sub(iat).String()
}
