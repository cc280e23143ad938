package scan

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// randomKeys returns fresh keys for logs built inside a test.
func randomKeys(t *testing.T) testKeys {
	gen := func() string {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	return testKeys{gen(), gen(), gen(), gen()}
}

// textLine is an access-log line with a leading RFC 3339 time.
func textLine(at time.Time, client, tok string) string {
	return fmt.Sprintf(`%s %s "GET /api HTTP/1.1" 200 "Bearer %s"`, at.Format(time.RFC3339), client, tok)
}

// background is the ordinary traffic around a constructed compromise: 30
// current-key tokens after the rotation and 10 previous-key tokens issued
// before it, all with sub, iss, iat and exp.
func background(t *testing.T, k testKeys) []string {
	var lines []string
	for i := range 10 {
		iat := rotationStart.Add(-time.Duration(30+i) * time.Minute)
		lines = append(lines, textLine(rotationStart.Add(time.Duration(i)*time.Minute), "10.0.0.1",
			sign(k.previous, map[string]any{"sub": fmt.Sprintf("old%d", i), "iss": issuer, "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix()})))
	}
	for i := range 30 {
		iat := rotationStart.Add(time.Duration(i) * 5 * time.Minute)
		lines = append(lines, textLine(iat.Add(time.Minute), "10.0.0.2",
			sign(k.current, map[string]any{"sub": fmt.Sprintf("new%d", i), "iss": issuer, "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix()})))
	}
	return lines
}

// TestCompromise checks the report's times against constructed
// compromises: tokens signed with the previous key at a known time.
func TestCompromise(t *testing.T) {
	k := randomKeys(t)
	minted := hm(11, 42, 17) // after rotationStart
	leaked := func(claims map[string]any) string { return sign(k.previous, claims) }
	afterRotation := leaked(map[string]any{"sub": "mallory", "iss": issuer, "iat": minted.Unix(), "exp": minted.Add(time.Hour).Unix(), "jti": "evil-1"})
	later := leaked(map[string]any{"sub": "trudy", "iss": issuer, "iat": minted.Add(time.Hour).Unix(), "exp": minted.Add(2 * time.Hour).Unix()})
	longLived := leaked(map[string]any{"sub": "eve", "iss": issuer, "iat": hm(8, 0, 0).Unix(), "exp": hm(8, 0, 0).Add(30 * 24 * time.Hour).Unix()})
	future := leaked(map[string]any{"sub": "oscar", "iss": issuer, "iat": hm(23, 0, 0).Unix(), "exp": hm(23, 30, 0).Unix()})
	bare := leaked(map[string]any{"sub": "peggy", "iss": issuer})

	tests := []struct {
		name      string
		lines     [][]string // one input per element, read in order
		policy    rotation.Policy
		noStart   bool
		want      time.Time // Compromise.Began; zero: no compromise
		wantBasis string
		wantSub   string
		wantFirst time.Time // Compromise.First.Seen
	}{
		{
			name:  "minted after the rotation",
			lines: [][]string{{textLine(minted.Add(25*time.Second), "203.0.113.5", afterRotation), textLine(minted.Add(time.Hour), "203.0.113.5", afterRotation)}},
			want:  minted, wantBasis: "iat", wantSub: "mallory", wantFirst: minted.Add(25 * time.Second),
		},
		{
			name: "inputs out of order: the earliest wins",
			lines: [][]string{
				{textLine(minted.Add(time.Hour+time.Minute), "203.0.113.5", later)},
				{textLine(minted.Add(10*time.Minute), "203.0.113.5", afterRotation)},
			},
			want: minted, wantBasis: "iat", wantSub: "mallory", wantFirst: minted.Add(10 * time.Minute),
		},
		{
			name:    "rotation start unknown: not judged",
			lines:   [][]string{{textLine(minted.Add(time.Minute), "203.0.113.5", afterRotation)}},
			noStart: true,
		},
		{
			name:   "lifetime beyond the policy, issued before the rotation",
			lines:  [][]string{{textLine(hm(10, 0, 0), "203.0.113.6", longLived)}},
			policy: rotation.Policy{MaxLifetime: 24 * time.Hour},
			want:   hm(8, 0, 0), wantBasis: "iat", wantSub: "eve", wantFirst: hm(10, 0, 0),
		},
		{
			name:  "iat in the future: the sighting is the evidence",
			lines: [][]string{{textLine(hm(12, 0, 0), "203.0.113.7", future)}},
			want:  hm(12, 0, 0), wantBasis: "seen", wantSub: "oscar", wantFirst: hm(12, 0, 0),
		},
		{
			name:  "no iat or exp where all others have them",
			lines: [][]string{{textLine(hm(13, 0, 5), "203.0.113.8", bare)}},
			want:  hm(13, 0, 5), wantBasis: "seen", wantSub: "peggy", wantFirst: hm(13, 0, 5),
		},
		{
			name:  "ordinary traffic only",
			lines: [][]string{nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Keys: k.set(), Policy: tt.policy, Select: "previous", Now: func() time.Time { return scanTime }}
			o.Policy.Skew = time.Minute
			if !tt.noStart {
				o.Rotations = []RotationStart{{Family: keys.Access, Started: rotationStart, Source: SourceFlag}}
			}
			s, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			var tokens []string
			if err := s.Read("background", strings.NewReader(strings.Join(background(t, k), "\n"))); err != nil {
				t.Fatal(err)
			}
			for i, in := range tt.lines {
				if err := s.Read(fmt.Sprintf("in%d", i), strings.NewReader(strings.Join(in, "\n"))); err != nil {
					t.Fatal(err)
				}
			}
			r := s.Report()
			c := r.Key.Compromise
			if tt.want.IsZero() {
				if c != nil {
					t.Fatalf("Compromise = %+v, want none", c)
				}
				return
			}
			if c == nil {
				t.Fatalf("no compromise reported; suspicions %+v", r.Key.Suspicions)
			}
			if !c.Began.Equal(tt.want) || c.Basis != tt.wantBasis {
				t.Errorf("compromise began %s (%s), want %s (%s)", c.Began, c.Basis, tt.want, tt.wantBasis)
			}
			if c.Evidence.Subject != tt.wantSub {
				t.Errorf("evidence subject %q, want %q", c.Evidence.Subject, tt.wantSub)
			}
			if !c.First.Seen.Equal(tt.wantFirst) {
				t.Errorf("first seen %s, want %s", c.First.Seen, tt.wantFirst)
			}
			var text bytes.Buffer
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			if want := "Compromise began  " + tt.want.Format(time.RFC3339); !strings.Contains(text.String(), want) {
				t.Errorf("text report lacks %q:\n%s", want, text.String())
			}
			for _, line := range tt.lines {
				for _, l := range line {
					tokens = append(tokens, l[strings.LastIndex(l, " ")+1:len(l)-1])
				}
			}
			for ext, b := range render(t, r) {
				assertNoLeak(t, ext, b, tokens, k.secrets())
			}
		})
	}
}

// TestIncidentTimes pins the committed example's answers, which docs/tools.md
// quotes.
func TestIncidentTimes(t *testing.T) {
	r := scanFiles(t, incidentOptions(newTestKeys()), inputs...)
	c := r.Key.Compromise
	if c == nil {
		t.Fatal("no compromise")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"began", c.Began, compromiseAt},
		{"basis", c.Basis, "iat"},
		{"subject", c.Evidence.Subject, "svc-admin"},
		{"jti", c.Evidence.JTI, "c0ffee-01"},
		{"first seen", c.First.Seen, hm(12, 17, 42)},
		{"first client", c.First.Client, "203.0.113.66"},
		{"reasons", joinReasons(c.Evidence.Reasons, ","), "issued_after_rotation"},
		{"suspicious", r.Key.Suspicious, int64(7)},
		{"last previous-key use by a user", lastUser(r.Key.Subjects), hm(9, 52, 9)},
		{"forged", r.Forged.Requests, int64(43)},
		{"top forger", r.Forged.Clients[0].Value, "198.51.100.7"},
		{"alg none from behind a proxy", r.Forged.Clients[1].Value, "198.51.100.9"},
	}
	for _, tt := range checks {
		if t1, ok := tt.got.(time.Time); ok {
			if !t1.Equal(tt.want.(time.Time)) {
				t.Errorf("%s = %s, want %s", tt.name, t1, tt.want)
			}
			continue
		}
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// lastUser is the last time a subject without suspicious requests used the key.
func lastUser(subs []Subject) time.Time {
	var last time.Time
	for _, s := range subs {
		if s.Suspicious == 0 {
			last = latest(last, s.LastSeen)
		}
	}
	return last
}
