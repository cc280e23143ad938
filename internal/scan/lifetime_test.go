package scan

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// TestLifetimes checks the answer to "could a token signed before the
// rotation still be valid?" against constructed logs: the longest lifetime
// per key and family, and the moment, at the time of the scan.
func TestLifetimes(t *testing.T) {
	k := randomKeys(t)
	const day = 24 * time.Hour
	tok := func(secret, sub string, iat time.Time, life time.Duration) string {
		return sign(secret, map[string]any{"sub": sub, "iss": issuer, "iat": iat.Unix(), "exp": iat.Add(life).Unix()})
	}
	// Refresh tokens of 30 days, used on the rotation day; access tokens of an hour.
	refresh := []string{
		textLine(rotationStart.Add(time.Hour), "10.0.0.3", tok(k.refresh, "u1", rotationStart.Add(-29*day), 30*day)),
		textLine(rotationStart.Add(2*time.Hour), "10.0.0.3", tok(k.refresh, "u2", rotationStart.Add(-2*day), 30*day)),
	}
	forever := textLine(rotationStart.Add(-time.Hour), "10.0.0.4", sign(k.previous, map[string]any{"sub": "kiosk", "iss": issuer, "iat": hm(1, 0, 0).Unix()}))
	outlier := textLine(rotationStart.Add(3*time.Hour), "10.0.0.5", tok(k.current, "svc", rotationStart, 3650*day))
	tests := []struct {
		name    string
		lines   []string
		policy  rotation.Policy
		noStart bool
		// refreshStart gives the refresh family a rotation start too.
		refreshStart bool
		at           time.Time // the scan's time
		want         map[keys.Family]FamilyLifetime
		// wantKeys is the longest lifetime per key fingerprint's role.
		wantKeys map[string]time.Duration
	}{
		{
			name: "hour-long access tokens, an hour after the rotation",
			at:   rotationStart.Add(30 * time.Minute),
			want: map[keys.Family]FamilyLifetime{
				keys.Access: {LongestLifetime: 3600, AllExpired: rotationStart.Add(time.Hour + time.Minute), StillValid: StillValidYes},
			},
			wantKeys: map[string]time.Duration{"access/previous": time.Hour, "access/current": time.Hour},
		},
		{
			name: "hour-long access tokens, a day after",
			at:   rotationStart.Add(day),
			want: map[keys.Family]FamilyLifetime{
				keys.Access: {LongestLifetime: 3600, AllExpired: rotationStart.Add(time.Hour + time.Minute), StillValid: StillValidNo},
			},
		},
		{
			name:         "30-day refresh tokens, three weeks after",
			lines:        refresh,
			refreshStart: true,
			at:           rotationStart.Add(21 * day),
			want: map[keys.Family]FamilyLifetime{
				keys.Refresh: {LongestLifetime: 30 * 86400, AllExpired: rotationStart.Add(30*day + time.Minute), StillValid: StillValidYes},
			},
			wantKeys: map[string]time.Duration{"refresh/current": 30 * day},
		},
		{
			name:    "rotation start unknown",
			noStart: true,
			at:      rotationStart.Add(day),
			want: map[keys.Family]FamilyLifetime{
				keys.Access: {LongestLifetime: 3600, StillValid: StillValidUnknown},
			},
		},
		{
			name:  "a previous-key token without exp",
			lines: []string{forever},
			at:    rotationStart.Add(365 * day),
			want: map[keys.Family]FamilyLifetime{
				keys.Access: {LongestLifetime: 3600, Never: true, StillValid: StillValidYes},
			},
		},
		{
			name:  "one far-exp token is an outlier",
			lines: []string{outlier},
			at:    rotationStart.Add(day),
			want: map[keys.Family]FamilyLifetime{
				keys.Access: {LongestLifetime: 3600, AllExpired: rotationStart.Add(time.Hour + time.Minute), StillValid: StillValidNo},
			},
			wantKeys: map[string]time.Duration{"access/current": 3650 * day},
		},
		{
			name:   "--policy.max-lifetime bounds it",
			lines:  []string{outlier},
			policy: rotation.Policy{MaxLifetime: 2 * day},
			at:     rotationStart.Add(day),
			want: map[keys.Family]FamilyLifetime{
				keys.Access: {LongestLifetime: 3600, PolicyLifetime: 2 * 86400, AllExpired: rotationStart.Add(2*day + time.Minute), StillValid: StillValidYes},
			},
			// The outlier exceeds the policy: suspicious, it teaches nothing.
			wantKeys: map[string]time.Duration{"access/current": time.Hour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := incidentOptions(k)
			o.Select = ""
			o.Policy = tt.policy
			o.Policy.Skew = time.Minute
			o.Now = func() time.Time { return tt.at }
			if tt.noStart {
				o.Rotations = nil
			}
			if tt.refreshStart {
				o.Rotations = append(o.Rotations, RotationStart{Family: keys.Refresh, Started: rotationStart, Source: SourceFlag})
			}
			s, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			lines := append(background(t, k), tt.lines...)
			if err := s.Read("log", strings.NewReader(strings.Join(lines, "\n")+"\n")); err != nil {
				t.Fatal(err)
			}
			r := s.Report()
			if !r.ScannedAt.Equal(tt.at) {
				t.Errorf("scanned at %s, want %s", r.ScannedAt, tt.at)
			}
			for _, got := range r.Lifetimes {
				want, ok := tt.want[got.Family]
				if !ok {
					continue
				}
				want.Family = got.Family
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s:\n got %+v\nwant %+v", got.Family, got, want)
				}
				delete(tt.want, got.Family)
			}
			if len(tt.want) > 0 {
				t.Errorf("no lifetime row for %v in %+v", tt.want, r.Lifetimes)
			}
			for _, ks := range r.Keys {
				if want, ok := tt.wantKeys[string(ks.Family)+"/"+string(ks.Key)]; ok && ks.LongestLifetime != want.Seconds() {
					t.Errorf("%s/%s: longest lifetime %vs, want %s", ks.Family, ks.Key, ks.LongestLifetime, want)
				}
			}
			// Every output says it.
			var text, csv bytes.Buffer
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteCSV(&csv, r); err != nil {
				t.Fatal(err)
			}
			for _, l := range r.Lifetimes {
				if !regexp.MustCompile(`(?m)^  ` + string(l.Family) + `\s+` + l.StillValid + `\s`).MatchString(text.String()) {
					t.Errorf("the text report does not answer for %s:\n%s", l.Family, text.String())
				}
				if !strings.Contains(csv.String(), "\nlifetimes,"+string(l.Family)+",") {
					t.Errorf("the CSV report has no lifetimes row for %s:\n%s", l.Family, csv.String())
				}
			}
		})
	}
}
