// Package inspect explains one token locally — which configured key verifies
// it, the verdict the sidecar would give, its header and claims, and anything
// suspicious — so checking a fresh token after a rotation never means pasting
// a credential into a third-party site.
package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// maxShown bounds how much of a decoded header or payload is printed.
const maxShown = 4 << 10

// Report is everything said about one token. It holds no part of the token
// that could be replayed: no signature, no raw segments.
type Report struct {
	// Where is where the token was found (see Found); empty for a token
	// given alone.
	Where       string
	Verdict     verify.Verdict
	Header      string // indented JSON, or a note why it cannot be shown
	Claims      string // indented JSON, or a note why it cannot be shown
	Suspicious  []rotation.Reason
	Notes       []string // other traits worth a look
	RotationAt  time.Time
	InspectedAt time.Time
}

// Token inspects tok at time now with the classifier the sidecar uses and
// the sidecar's suspicion checks, against the rotation starts rules holds
// (from the state file, or none).
func Token(tok string, v *verify.Verifier, rules rotation.Rules, now time.Time) Report {
	tok = Clean(tok)
	r := Report{Verdict: v.Check(tok, now), InspectedAt: now}
	r.Suspicious = rules.Suspicions(r.Verdict, now)
	r.RotationAt = rules.Starts[r.Verdict.Family]
	parts := strings.Split(tok, ".")
	r.Header, r.Claims = "(missing)", "(missing)"
	if len(parts) > 0 {
		r.Header = decodeJSON(parts[0])
	}
	if len(parts) > 1 {
		r.Claims = decodeJSON(parts[1])
	}
	var h map[string]any
	if json.Unmarshal([]byte(r.Header), &h) == nil {
		for _, k := range []string{"jku", "x5u", "jwk"} {
			if _, ok := h[k]; ok {
				r.Notes = append(r.Notes, fmt.Sprintf("header carries %q: never followed (only configured keys are tried)", k))
			}
		}
		if _, ok := h["crit"]; ok {
			r.Notes = append(r.Notes, `header carries "crit": any extension it names is not understood`)
		}
		if kid, ok := h["kid"].(string); ok && r.Verdict.UnknownKID() {
			r.Notes = append(r.Notes, fmt.Sprintf("header kid %q names no configured key: every key of its algorithm was tried", kid))
		}
	}
	c := r.Verdict.Claims
	if r.Verdict.Key != keys.None && c.ExpiresAt.IsZero() {
		r.Notes = append(r.Notes, "no exp claim: the token never expires")
	}
	return r
}

// FreshlyIssued adds the note a token taken from a login response (Where
// set) deserves when an old key signed it: the auth service has not
// switched to the new key.
func (r *Report) FreshlyIssued() {
	if r.Where == "" || (r.Verdict.Key != keys.Previous && r.Verdict.Key != keys.Retired) {
		return
	}
	r.Notes = append(r.Notes, fmt.Sprintf("taken from a login response: the auth service still signs with the %s key, not the current one "+
		"(it missed \"Update environment variables\" or was not restarted)", r.Verdict.Key))
}

// RemovedKeyHint adds a note to a bad_signature token whose claims are
// shaped like the auth service's own: its issuer is a configured one and it
// was issued before a family's rotation started (starts; when none is
// known, the note says so). That is most likely a session signed with a key
// removed in an immediate rotation, which jwtwatch was not told about, not
// a forgery: configuring the removed secret as JWT_*_SECRET_RETIRED tells
// them apart.
func (r *Report) RemovedKeyHint(issuers map[keys.Family]string, starts map[keys.Family]time.Time) {
	if r.Verdict.Result != verify.BadSignature {
		return
	}
	var c struct {
		Iss string   `json:"iss"`
		Iat *float64 `json:"iat"`
	}
	if json.Unmarshal([]byte(r.Claims), &c) != nil || c.Iat == nil || c.Iss == "" {
		return
	}
	iat := time.Unix(int64(*c.Iat), 0)
	var ours []keys.Family // the families whose issuer it names
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		if issuers[f] == c.Iss {
			ours = append(ours, f)
		}
	}
	known := false
	for _, f := range ours {
		start, ok := starts[f]
		known = known || ok
		if ok && iat.Before(start) {
			r.Notes = append(r.Notes, fmt.Sprintf("no configured key verifies it, but its issuer is your %s issuer and it was issued before the %[1]s rotation started: "+
				"most likely a stale session signed with the key that rotation removed, not a forgery; set JWT_%s_SECRET_RETIRED to the removed secret to tell",
				f, strings.ToUpper(string(f))))
			return
		}
	}
	if len(ours) > 0 && !known {
		r.Notes = append(r.Notes, fmt.Sprintf("no configured key verifies it, but its issuer is your %s issuer: if a key was removed lately "+
			"(an immediate rotation), this is likely a stale session signed with it, not a forgery; set JWT_%s_SECRET_RETIRED to the removed secret to tell",
			ours[0], strings.ToUpper(string(ours[0]))))
	}
}

// WriteSummary prints one line per report: where the token was found, the
// verdict, and the key that signed it.
func WriteSummary(w io.Writer, reports []Report) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nsummary:")
	for _, r := range reports {
		v := r.Verdict
		key := "none of the configured keys"
		if v.Key != keys.None {
			key = fmt.Sprintf("%s %s key %s", v.Key, v.Family, v.Fingerprint)
		}
		where := r.Where
		if where == "" {
			where = "token"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", where, v.Result, key)
	}
	return tw.Flush()
}

// Clean trims whitespace and an optional "Bearer " prefix, so a header value
// can be pasted as it is.
func Clean(tok string) string {
	tok = strings.TrimSpace(tok)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	return tok
}

func decodeJSON(seg string) string {
	if len(seg) > verify.MaxTokenLen {
		return "(too long to show)"
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "(not base64url)"
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return "(not JSON)"
	}
	if out.Len() > maxShown {
		return out.String()[:maxShown] + "\n… (cut)"
	}
	return out.String()
}

// Write prints the report for a terminal.
func (r Report) Write(w io.Writer, set keys.Set) error {
	if r.Where != "" {
		if _, err := fmt.Fprintf(w, "── %s ──\n", r.Where); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	v := r.Verdict
	key := "none of the configured keys"
	if v.Key != keys.None {
		key = fmt.Sprintf("%s key of %s tokens (fingerprint %s)", v.Key, v.Family, v.Fingerprint)
	}
	fmt.Fprintf(tw, "verdict:\t%s\n", v.Result)
	fmt.Fprintf(tw, "signed by:\t%s\n", key)
	if v.Key == keys.None {
		var fps []string
		for _, k := range set.Keys {
			fps = append(fps, fmt.Sprintf("%s/%s %s", k.Family, k.Role, k.Fingerprint))
		}
		fmt.Fprintf(tw, "keys tried:\t%s\n", strings.Join(fps, ", "))
	}
	c := v.Claims
	if c.Subject != "" {
		fmt.Fprintf(tw, "subject:\t%s\n", c.Subject)
	}
	if c.Issuer != "" {
		fmt.Fprintf(tw, "issuer:\t%s\n", c.Issuer)
	}
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"issued", c.IssuedAt}, {"not before", c.NotBefore}, {"expires", c.ExpiresAt}, {"rotation started", r.RotationAt}} {
		if !t.at.IsZero() {
			fmt.Fprintf(tw, "%s:\t%s (%s)\n", t.name, t.at.UTC().Format(time.RFC3339), Relative(t.at, r.InspectedAt))
		}
	}
	for _, s := range r.Suspicious {
		fmt.Fprintf(tw, "SUSPICIOUS:\t%s\n", s.Explain())
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note:\t%s\n", n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nheader:\n%s\n\nclaims:\n%s\n", r.Header, r.Claims)
	return err
}

// Relative says how far t is from now, as "in 14m" or "3d ago".
func Relative(t, now time.Time) string {
	suffix, prefix := "", "in "
	if t.Before(now) {
		t, now, suffix, prefix = now, t, " ago", ""
	}
	// time.Duration saturates at 292 years, and a JWT's times span the
	// years 1 to 9999: whole days come from Unix seconds.
	if days := (t.Unix() - now.Unix()) / 86400; days >= 365*100 {
		return fmt.Sprintf("%s%dd%s", prefix, days, suffix)
	}
	d := t.Sub(now)
	if d >= time.Minute {
		d = d.Round(time.Minute) // 13m59s reads as 14m
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return prefix + s + suffix
}
