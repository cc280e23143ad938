package scan

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteCSV writes the report as a sequence of tables separated by an empty
// line. Each table starts with its header row, and every row's first column
// names the table: summary, inputs, keys, lifetimes, then with --key key_compromise,
// key_suspicions, key_suspicious_tokens, key_suspicious_sources,
// key_timeline and key_subjects, then forged, forged_timeline and
// forged_sources. Times are RFC 3339 in UTC, empty when unknown; lists are
// joined with spaces. A cell that a spreadsheet would take for a formula
// (starting with =, +, -, @) gets a leading apostrophe, and one with a
// control character is Go-quoted.
func WriteCSV(w io.Writer, r Report) error {
	c := &csvWriter{w: csv.NewWriter(w)}
	c.table("summary", []string{"name", "value"}, func(row func(...string)) {
		l := r.Lines
		for _, kv := range []struct {
			k string
			v int64
		}{{"lines_read", l.Read}, {"lines_checked", l.Checked}, {"lines_without_token", l.WithoutToken}, {"lines_invalid", l.Invalid},
			{"lines_too_long", l.TooLong}, {"lines_without_time", l.WithoutTime}, {"lines_outside_window", l.OutsideWindow}} {
			row(kv.k, num(kv.v))
		}
		row("from", iso(r.From))
		row("until", iso(r.Until))
		row("first_seen", iso(r.FirstSeen))
		row("last_seen", iso(r.LastSeen))
		row("scanned_at", iso(r.ScannedAt))
		for _, rs := range r.Rotations {
			row("rotation_started_"+string(rs.Family), iso(rs.Started))
			row("rotation_source_"+string(rs.Family), rs.Source)
		}
		for _, n := range r.Notes {
			row("note", n)
		}
	})
	c.table("inputs", []string{"name", "gzip", "lines"}, func(row func(...string)) {
		for _, in := range r.Inputs {
			row(in.Name, strconv.FormatBool(in.Gzip), num(in.Lines))
		}
	})
	c.table("keys", append(append([]string{"token", "key", "fingerprint", "requests"}, resultNames()...),
		"suspicious", "subjects", "subjects_error", "first_seen", "last_seen", "longest_lifetime_seconds", "without_expiry_last_seen"), func(row func(...string)) {
		for _, k := range r.Keys {
			cells := append([]string{string(k.Family), string(k.Key), k.Fingerprint, num(k.Requests)}, counts(k.Results)...)
			row(append(cells, num(k.Suspicious), strconv.FormatUint(k.Subjects, 10), strconv.FormatFloat(k.SubjectsError, 'g', -1, 64),
				iso(k.FirstSeen), iso(k.LastSeen), seconds(k.LongestLifetime), iso(k.WithoutExpiry))...)
		}
	})
	c.table("lifetimes", []string{"token", "still_valid", "longest_lifetime_seconds", "policy_max_lifetime_seconds", "all_expired", "never"}, func(row func(...string)) {
		for _, l := range r.Lifetimes {
			row(string(l.Family), l.StillValid, seconds(l.LongestLifetime), seconds(l.PolicyLifetime), iso(l.AllExpired), strconv.FormatBool(l.Never))
		}
	})
	if k := r.Key; k != nil {
		c.table("key_compromise", append([]string{"selector", "began", "basis", "which"}, sightingHeader()...), func(row func(...string)) {
			if cp := k.Compromise; cp != nil {
				row(append([]string{k.Selector, iso(cp.Began), cp.Basis, "evidence"}, sightingCells(cp.Evidence)...)...)
				row(append([]string{k.Selector, iso(cp.Began), cp.Basis, "first"}, sightingCells(cp.First)...)...)
			}
		})
		c.table("key_suspicions", append([]string{"reason", "detail", "requests", "which"}, sightingHeader()...), func(row func(...string)) {
			for _, s := range k.Suspicions {
				row(append([]string{string(s.Reason), s.Detail, num(s.Requests), "first"}, sightingCells(s.First)...)...)
				row(append([]string{string(s.Reason), s.Detail, num(s.Requests), "earliest"}, sightingCells(s.Earliest)...)...)
			}
		})
		c.table("key_suspicious_tokens", []string{"token_fingerprint", "token", "key_fingerprint", "subject", "jti", "client_id", "issued_at", "expires_at", "reasons", "requests", "first_seen", "last_seen"}, func(row func(...string)) {
			for _, t := range k.SuspiciousTokens {
				row(t.TokenFingerprint, string(t.Family), t.KeyFingerprint, t.Subject, t.JTI, t.ClientID, iso(t.IssuedAt), iso(t.ExpiresAt),
					joinReasons(t.Reasons, " "), num(t.Requests), iso(t.FirstSeen), iso(t.LastSeen))
			}
			if k.SuspiciousTokensOmitted > 0 {
				row("", "", "", "", "", "", "", "", "omitted", num(k.SuspiciousTokensOmitted), "", "")
			}
		})
		c.table("key_suspicious_sources", topHeader(), func(row func(...string)) {
			topRows(row, "client", k.SuspiciousClients)
			topRows(row, "user_agent", k.SuspiciousUserAgents)
		})
		c.table("key_timeline", append(append([]string{"hour", "requests"}, resultNames()...), "suspicious"), func(row func(...string)) {
			for _, h := range k.Timeline {
				row(append(append([]string{iso(h.Hour), num(h.Requests)}, counts(h.Results)...), num(h.Suspicious))...)
			}
		})
		c.table("key_subjects", []string{"token", "subject", "client_id", "requests", "valid", "suspicious", "first_seen", "last_seen"}, func(row func(...string)) {
			for _, s := range k.Subjects {
				row(string(s.Family), s.Subject, s.ClientID, num(s.Requests), num(s.Valid), num(s.Suspicious), iso(s.FirstSeen), iso(s.LastSeen))
			}
		})
	}
	f := r.Forged
	c.table("forged", []string{"requests", "bad_signature", "alg_rejected", "first_seen", "last_seen", "without_client", "without_user_agent"}, func(row func(...string)) {
		row(num(f.Requests), num(f.BadSignature), num(f.AlgRejected), iso(f.FirstSeen), iso(f.LastSeen), num(f.WithoutClient), num(f.WithoutUserAgent))
	})
	c.table("forged_timeline", []string{"hour", "requests", "bad_signature", "alg_rejected"}, func(row func(...string)) {
		for _, h := range f.Timeline {
			row(iso(h.Hour), num(h.Requests), num(h.BadSignature), num(h.AlgRejected))
		}
	})
	c.table("forged_sources", topHeader(), func(row func(...string)) {
		topRows(row, "client", f.Clients)
		topRows(row, "user_agent", f.UserAgents)
	})
	c.w.Flush()
	if c.err != nil {
		return c.err
	}
	return c.w.Error()
}

type csvWriter struct {
	w      *csv.Writer
	tables int
	err    error
}

// table writes one table: a blank line before all but the first, the
// header, then the rows, each led by the table's name.
func (c *csvWriter) table(name string, header []string, rows func(row func(...string))) {
	if c.tables > 0 {
		c.write(nil)
	}
	c.tables++
	c.write(append([]string{"section"}, header...))
	rows(func(cells ...string) {
		out := make([]string, 0, len(cells)+1)
		out = append(out, name)
		for _, v := range cells {
			out = append(out, defuse(v))
		}
		c.write(out)
	})
}

func (c *csvWriter) write(rec []string) {
	if c.err == nil {
		c.err = c.w.Write(rec)
	}
}

// defuse keeps a spreadsheet from evaluating a cell (CSV injection) and a
// terminal showing the file from obeying control characters: a cell with
// one is written Go-quoted, as in the text report.
func defuse(v string) string {
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			v = strconv.Quote(v)
			break
		}
	}
	if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
		return "'" + v
	}
	return v
}

func resultNames() []string {
	out := make([]string, len(verify.Results))
	for i, r := range verify.Results {
		out[i] = string(r)
	}
	return out
}

func counts(c Counts) []string {
	out := make([]string, len(verify.Results))
	for i, r := range verify.Results {
		out[i] = num(c.Get(r))
	}
	return out
}

func sightingHeader() []string {
	return []string{"seen", "input", "line", "token_fingerprint", "token", "key", "key_fingerprint", "result", "subject", "jti", "client_id",
		"issued_at", "expires_at", "claims", "reasons", "client", "user_agent"}
}

func sightingCells(s Sighting) []string {
	return []string{iso(s.Seen), s.Input, num(s.Line), s.TokenFingerprint, string(s.Family), string(s.Key), s.KeyFingerprint, string(s.Result),
		s.Subject, s.JTI, s.ClientID, iso(s.IssuedAt), iso(s.ExpiresAt), strings.Join(s.Claims, " "), joinReasons(s.Reasons, " "), s.Client, s.UserAgent}
}

func topHeader() []string { return []string{"kind", "value", "requests", "max_overcount", "last_seen"} }

func topRows(row func(...string), kind string, ts []Top) {
	for _, t := range ts {
		row(kind, t.Value, num(t.Requests), num(t.MaxOvercount), iso(t.LastSeen))
	}
}

// seconds formats a number of seconds, empty for none.
func seconds(v float64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// iso formats a time as RFC 3339 in UTC with its fraction of a second (as
// in the JSON document), empty when unknown.
func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
