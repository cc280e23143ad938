package keycheck

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

func TestWeaknesses(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   []string // checks
	}{
		{"keygen output", "q3Zc8Vb1-Lr0WkT7yNwXo2Jd5sHaEfGuPiMbQt4RvYA", nil},
		{"hex, 32 bytes", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", nil},
		{"a long passphrase of real words", "correct-horse-battery-staple-orbit-lantern-quiet", nil},
		{"short", "q3Zc8Vb1-Lr0WkT7", []string{CheckShort}},
		{"one repeated character", strings.Repeat("a", 40), []string{CheckRepeated}},
		{"one repeated character, short", "xxxxxxxx", []string{CheckShort, CheckRepeated}},
		{"a short repeated sequence", strings.Repeat("abc123", 7), []string{CheckRepeated}},
		{"a repeated word", strings.Repeat("password", 4), []string{CheckRepeated, CheckPlaceholder}},
		{"few distinct characters", "aabbaabbababbbaaabab0101aabbabab", []string{CheckFewCharacters}},
		{"placeholder", "changeme", []string{CheckShort, CheckPlaceholder}},
		{"placeholder, long", "CHANGE_ME_jwt_access_secret_2024", []string{CheckPlaceholder}},
		{"jwt.io's example secret", "your-256-bit-secret", []string{CheckShort, CheckPlaceholder}},
		{"placeholder in the NestJS docs", "secretKey", []string{CheckShort, CheckPlaceholder}},
		{"trailing space", "q3Zc8Vb1-Lr0WkT7yNwXo2Jd5sHaEfGuPiMbQt4RvYA ", []string{CheckWhitespace}},
		{"leading tab", "\tq3Zc8Vb1-Lr0WkT7yNwXo2Jd5sHaEfGuPiMbQt4RvYA", []string{CheckWhitespace}},
		{"a second newline in a file", "q3Zc8Vb1-Lr0WkT7yNwXo2Jd5sHaEfGuPiMbQt4RvYA\n", []string{CheckWhitespace}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range weaknesses([]byte(tt.secret)) {
				got = append(got, p.Check)
				if strings.Contains(p.Message, strings.TrimSpace(tt.secret)) {
					t.Errorf("%q shows the secret", p.Message)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("weaknesses = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGeneratedSecretsAreClean: what jwtwatch keygen makes, in either
// format, is never called weak.
func TestGeneratedSecretsAreClean(t *testing.T) {
	for i := range 3000 {
		format := keys.FormatBase64URL
		if i%2 == 1 {
			format = keys.FormatHex
		}
		s, err := keys.Generate(rand.Reader, keys.MinSecretBytes, format)
		if err != nil {
			t.Fatal(err)
		}
		if p := weaknesses([]byte(s)); len(p) > 0 {
			t.Fatalf("a generated %s secret is called weak: %v", format, p)
		}
	}
}

func TestCheck(t *testing.T) {
	const (
		a = "q3Zc8Vb1-Lr0WkT7yNwXo2Jd5sHaEfGuPiMbQt4RvYA"
		b = "Hx7Kp2Qw9Lm4Nz8Rt1Vb6Yc3Ja5Sd0Fg-Uo_Ei2Wq7Z"
		c = "Mn3Bv8Cx1Zl6Kj4Hg9Fd2Sa7Qw5Er0Ty-Ui_Op3As8D"
	)
	env := func(m map[string]string) keys.Checked {
		got, err := keys.ReadEach(keys.Config{Lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }, ReadFile: os.ReadFile})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tests := []struct {
		name      string
		in        map[string]string
		forbidden map[string]string
		want      []string // "family/role: check" per problem, "-: check" for the configuration's
	}{
		{"clean dual-key", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_ACCESS_SECRET_PREVIOUS": b, "JWT_REFRESH_SECRET": c}, nil, nil},
		{"nothing configured", map[string]string{}, nil, []string{"-: " + CheckNoKey}},
		{"previous without current", map[string]string{"JWT_ACCESS_SECRET_PREVIOUS": a}, nil, []string{"-: " + CheckPreviousAlone}},
		{"same secret in two roles", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_ACCESS_SECRET_PREVIOUS": a},
			nil, []string{"access/current: " + CheckSameKey, "access/previous: " + CheckSameKey}},
		{"same secret in two families", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_REFRESH_SECRET": a},
			nil, []string{"access/current: " + CheckSameKey, "refresh/current: " + CheckSameKey}},
		{"another environment's key", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_REFRESH_SECRET": c},
			map[string]string{keys.Fingerprint([]byte(c)): "staging.txt:2 (staging refresh)"}, []string{"refresh/current: " + CheckForbidden}},
		{"a variable that cannot be loaded", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_REFRESH_SECRET": " "}, nil, []string{"refresh/current: " + CheckLoad}},
		{"weak and placeholder", map[string]string{"JWT_ACCESS_SECRET": "changeme", "JWT_REFRESH_SECRET": c}, nil,
			[]string{"access/current: " + CheckShort, "access/current: " + CheckPlaceholder}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(env(tt.in), tt.forbidden)
			var got []string
			for _, p := range r.Problems {
				got = append(got, "-: "+p.Check)
			}
			for _, k := range r.Keys {
				for _, p := range k.Problems {
					got = append(got, string(k.Token)+"/"+string(k.Role)+": "+p.Check)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
			if r.OK != (len(tt.want) == 0) {
				t.Errorf("OK = %t with problems %q", r.OK, got)
			}
			var text, js bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(js.Bytes(), &back); err != nil {
				t.Fatalf("JSON output: %v\n%s", err, js.String())
			}
			for _, v := range tt.in {
				if strings.TrimSpace(v) != "" && (strings.Contains(text.String(), v) || strings.Contains(js.String(), v)) {
					t.Errorf("a secret appears in the output:\n%s\n%s", text.String(), js.String())
				}
			}
		})
	}
}

func TestReadForbidden(t *testing.T) {
	good := "# fingerprints of the other environments\n\n5d41402abc4b staging access/current\n  7e240de74fb1\t# dev\nAAAAAAAAAAAA\n"
	got, err := ReadForbidden(strings.NewReader(good), "other.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"5d41402abc4b": "other.txt:3 (staging access/current)", "7e240de74fb1": "other.txt:4 (# dev)", "aaaaaaaaaaaa": "other.txt:5"}
	if len(got) != len(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if _, err := ReadForbidden(strings.NewReader("5d41402abc4b\nnot-a-fingerprint\n"), "bad.txt"); !errors.Is(err, ErrFingerprint) || !strings.Contains(err.Error(), "bad.txt:2") {
		t.Errorf("a bad line: err = %v", err)
	}
	if _, err := ParseFingerprint("5d41402abc"); !errors.Is(err, ErrFingerprint) {
		t.Errorf("10 characters: err = %v", err)
	}
}

// TestCheckPublicKeys: an RSA key under 2048 bits is short; one public key
// in two roles is the same key; a public key shows its algorithm and size.
func TestCheckPublicKeys(t *testing.T) {
	pub := func(bits int, r keys.Role) keys.Key {
		rk, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		k, err := keys.NewPublic(keys.Access, r, "RS256", &rk.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	strong, weak := pub(2048, keys.Current), pub(1024, keys.Previous)
	again := strong
	again.Role = keys.Retired
	r := Check(keys.Checked{Keys: []keys.Configured{
		{Source: "keys.yaml: access.keys[0]", Family: keys.Access, Role: keys.Current, Key: strong},
		{Source: "keys.yaml: access.keys[1]", Family: keys.Access, Role: keys.Previous, Key: weak},
		{Source: "keys.yaml: access.keys[2]", Family: keys.Access, Role: keys.Retired, Key: again},
	}}, nil)
	var got []string
	for _, k := range r.Keys {
		for _, p := range k.Problems {
			got = append(got, fmt.Sprintf("%s %d: %s", k.Role, k.Bits, p.Check))
		}
	}
	want := []string{"current 2048: same_key", "previous 1024: short", "retired 2048: same_key"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "RS256  1024 bits") {
		t.Errorf("the table lacks the algorithm and size:\n%s", text.String())
	}
}
