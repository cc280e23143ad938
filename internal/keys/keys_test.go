package keys

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	strong := strings.Repeat("s", 32)
	lf := write("lf", strong+"\n")
	crlf := write("crlf", strong+"\r\n")
	two := write("two", strong+"\n\n")
	empty := write("empty", "")
	onlyNL := write("nl", "\n")
	onlyCRLF := write("crlf-only", "\r\n")
	blank := write("blank", " \t \n")

	tests := []struct {
		name    string
		in      map[string]string
		want    []string // "family/role/weak"
		wantErr error
	}{
		{name: "access only", in: map[string]string{"JWT_ACCESS_SECRET": strong}, want: []string{"access/current/false"}},
		{name: "weak secret accepted", in: map[string]string{"JWT_ACCESS_SECRET": "short"}, want: []string{"access/current/true"}},
		{name: "all roles in checking order", in: map[string]string{
			"JWT_ACCESS_SECRET": strong + "1", "JWT_ACCESS_SECRET_PREVIOUS": strong + "2",
			"JWT_REFRESH_SECRET": strong + "3", "JWT_REFRESH_SECRET_PREVIOUS": strong + "4",
			"JWT_ACCESS_SECRET_RETIRED": strong + "5",
		}, want: []string{"access/current/false", "refresh/current/false", "access/previous/false", "refresh/previous/false", "access/retired/false"}},
		{name: "file with LF", in: map[string]string{"JWT_ACCESS_SECRET_FILE": lf}, want: []string{"access/current/false"}},
		{name: "file with CRLF", in: map[string]string{"JWT_ACCESS_SECRET_FILE": crlf}, want: []string{"access/current/false"}},
		{name: "file keeps all but one newline", in: map[string]string{"JWT_ACCESS_SECRET_FILE": two}, want: []string{"access/current/false"}},
		{name: "nothing configured", in: map[string]string{}, wantErr: ErrNoKey},
		{name: "both forms", in: map[string]string{"JWT_ACCESS_SECRET": strong, "JWT_ACCESS_SECRET_FILE": lf}, wantErr: ErrBothSet},
		{name: "empty file", in: map[string]string{"JWT_ACCESS_SECRET_FILE": empty}, wantErr: ErrEmpty},
		{name: "newline-only file", in: map[string]string{"JWT_ACCESS_SECRET_FILE": onlyNL}, wantErr: ErrEmpty},
		{name: "missing file", in: map[string]string{"JWT_ACCESS_SECRET_FILE": filepath.Join(dir, "absent")}, wantErr: ErrUnreadable},
		{name: "empty variable", in: map[string]string{"JWT_ACCESS_SECRET": ""}, wantErr: ErrEmpty},
		{name: "whitespace variable", in: map[string]string{"JWT_ACCESS_SECRET": "  \t "}, wantErr: ErrEmpty},
		{name: "CRLF-only file", in: map[string]string{"JWT_ACCESS_SECRET_FILE": onlyCRLF}, wantErr: ErrEmpty},
		{name: "whitespace file", in: map[string]string{"JWT_ACCESS_SECRET_FILE": blank}, wantErr: ErrEmpty},
		{name: "newline variable", in: map[string]string{"JWT_ACCESS_SECRET": "\r\n"}, wantErr: ErrEmpty},
		{name: "empty previous key", in: map[string]string{"JWT_ACCESS_SECRET": strong, "JWT_ACCESS_SECRET_PREVIOUS": " "}, wantErr: ErrEmpty},
		{name: "empty refresh previous file", in: map[string]string{"JWT_ACCESS_SECRET": strong, "JWT_REFRESH_SECRET": strong, "JWT_REFRESH_SECRET_PREVIOUS_FILE": blank}, wantErr: ErrEmpty},
		{name: "both forms of a previous key", in: map[string]string{"JWT_ACCESS_SECRET": strong, "JWT_ACCESS_SECRET_PREVIOUS": strong, "JWT_ACCESS_SECRET_PREVIOUS_FILE": lf}, wantErr: ErrBothSet},
		{name: "both forms of the issuer", in: map[string]string{"JWT_ACCESS_SECRET": strong, "JWT_ACCESS_ISSUER": "auth", "JWT_ACCESS_ISSUER_FILE": lf}, wantErr: ErrBothSet},
		{name: "previous without current", in: map[string]string{"JWT_REFRESH_SECRET": strong, "JWT_ACCESS_SECRET_PREVIOUS": strong}, wantErr: ErrPreviousAlone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(env(tt.in), ReadFile)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				for k, v := range tt.in {
					if strings.HasSuffix(k, "SECRET") && strings.TrimSpace(v) != "" && strings.Contains(err.Error(), v) {
						t.Errorf("error %q shows the secret", err)
					}
				}
				return
			}
			var got []string
			for _, k := range set.Keys {
				got = append(got, fmt.Sprintf("%s/%s/%t", k.Family, k.Role, k.Weak))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("keys = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadFileSecretBytes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(p, []byte("abc \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := Load(env(map[string]string{"JWT_ACCESS_SECRET_FILE": p}), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(set.Keys[0].Secret()); got != "abc " {
		t.Errorf("secret = %q, want only the trailing CRLF stripped", got)
	}
	if len(set.Files) != 1 || set.Files[0] != p {
		t.Errorf("Files = %v, want [%s]", set.Files, p)
	}
}

func TestIssuers(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[Family]string
	}{
		{"none", map[string]string{}, map[Family]string{}},
		{"refresh defaults to access", map[string]string{"JWT_ACCESS_ISSUER": "auth"}, map[Family]string{Access: "auth", Refresh: "auth"}},
		{"own refresh issuer", map[string]string{"JWT_ACCESS_ISSUER": "auth", "JWT_REFRESH_ISSUER": "refresh"}, map[Family]string{Access: "auth", Refresh: "refresh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in["JWT_ACCESS_SECRET"] = "x"
			set, err := Load(env(tt.in), func(string) ([]byte, error) { return nil, fs.ErrNotExist })
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(set.Issuers) != fmt.Sprint(tt.want) {
				t.Errorf("issuers = %v, want %v", set.Issuers, tt.want)
			}
		})
	}
}

func TestKeyNeverShowsSecret(t *testing.T) {
	secret := "very-secret-value-0123456789abcdef"
	k := New(Access, Current, []byte(secret))
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("key", "key", k)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("key", "key", k)
	for _, s := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%v %s %+v %#v", k, k, k, k), fmt.Sprint([]Key{k}), b.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("%q shows the secret", s)
		}
	}
	if !strings.Contains(b.String(), k.Fingerprint) {
		t.Errorf("log %q lacks the fingerprint", b.String())
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint([]byte("one")), Fingerprint([]byte("two"))
	if a == b || len(a) != 12 || a != Fingerprint([]byte("one")) {
		t.Errorf("fingerprints %q %q: want stable, distinct, 12 hex characters", a, b)
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		format  string
		wantLen int
		wantErr error
	}{
		{"default base64url", 32, FormatBase64URL, 43, nil},
		{"hex", 32, FormatHex, 64, nil},
		{"longer", 64, FormatBase64URL, 86, nil},
		{"too short", 16, FormatBase64URL, 0, ErrTooShort},
		{"unknown format", 32, "base32", 0, ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Generate(crand.Reader, tt.n, tt.format)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(s) != tt.wantLen {
				t.Errorf("len = %d, want %d", len(s), tt.wantLen)
			}
			if err == nil {
				if s2, _ := Generate(crand.Reader, tt.n, tt.format); s2 == s {
					t.Error("two secrets are equal")
				}
			}
		})
	}
	if _, err := Generate(strings.NewReader("short"), 32, FormatHex); err == nil {
		t.Error("a failing random source went unnoticed")
	}
}

// TestShared finds the secrets configured in several variables and names
// them by variable, never by value.
func TestShared(t *testing.T) {
	const a, b, c = "secret-a-secret-a-secret-a-secret", "secret-b-secret-b-secret-b-secret", "secret-c-secret-c-secret-c-secret"
	tests := []struct {
		name string
		in   map[string]string
		want []string
	}{
		{"all distinct", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_ACCESS_SECRET_PREVIOUS": b, "JWT_REFRESH_SECRET": c}, nil},
		{"access previous = refresh current", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_ACCESS_SECRET_PREVIOUS": b, "JWT_REFRESH_SECRET": b},
			[]string{"JWT_REFRESH_SECRET and JWT_ACCESS_SECRET_PREVIOUS hold the same secret (fingerprint " + Fingerprint([]byte(b)) + ")"}},
		{"access = refresh", map[string]string{"JWT_ACCESS_SECRET": a, "JWT_REFRESH_SECRET": a, "JWT_ACCESS_SECRET_PREVIOUS": b, "JWT_REFRESH_SECRET_PREVIOUS": b},
			[]string{
				"JWT_ACCESS_SECRET and JWT_REFRESH_SECRET hold the same secret (fingerprint " + Fingerprint([]byte(a)) + ")",
				"JWT_ACCESS_SECRET_PREVIOUS and JWT_REFRESH_SECRET_PREVIOUS hold the same secret (fingerprint " + Fingerprint([]byte(b)) + ")",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(func(k string) (string, bool) { v, ok := tt.in[k]; return v, ok }, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range set.Shared() {
				got = append(got, s.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Shared() = %q, want %q", got, tt.want)
			}
			for _, g := range got {
				for _, secret := range []string{a, b, c} {
					if strings.Contains(g, secret) {
						t.Errorf("%q shows a secret", g)
					}
				}
			}
		})
	}
}

// Two roles of one family holding the same secret would share their state
// (a previous key "in use" because the current one is): a start-up error,
// naming both variables and never the secret. Across families a shared
// secret stays legal (told apart by issuer).
func TestSameSecretInTwoRoles(t *testing.T) {
	s, other := strings.Repeat("s", 32), strings.Repeat("o", 32)
	p := filepath.Join(t.TempDir(), "prev")
	if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      map[string]string
		wantErr error
		names   []string
	}{
		{"previous equals current", map[string]string{"JWT_ACCESS_SECRET": s, "JWT_ACCESS_SECRET_PREVIOUS": s}, ErrSameSecret, []string{"JWT_ACCESS_SECRET", "JWT_ACCESS_SECRET_PREVIOUS"}},
		{"previous file equals current", map[string]string{"JWT_REFRESH_SECRET": s, "JWT_REFRESH_SECRET_PREVIOUS_FILE": p, "JWT_ACCESS_SECRET": other}, ErrSameSecret, []string{"JWT_REFRESH_SECRET", "JWT_REFRESH_SECRET_PREVIOUS_FILE"}},
		// The variables may repeat a retired secret (a rotation rolled back).
		{"retired equals previous is legal", map[string]string{"JWT_ACCESS_SECRET": other, "JWT_ACCESS_SECRET_PREVIOUS": s, "JWT_ACCESS_SECRET_RETIRED": s}, nil, nil},
		{"across families is legal", map[string]string{"JWT_ACCESS_SECRET": other, "JWT_ACCESS_SECRET_PREVIOUS": s, "JWT_REFRESH_SECRET": s}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.in), ReadFile)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			for _, n := range tt.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// A secret file is read up to MaxSecretFileBytes: /dev/zero (or a log
// mounted by mistake) is refused at once instead of read without bound.
func TestSecretFileBounded(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", MaxSecretFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(t.TempDir(), "huge")
	if err := os.WriteFile(huge, []byte(strings.Repeat("x", MaxFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(t.TempDir(), "exact")
	if err := os.WriteFile(exact, []byte(strings.Repeat("x", MaxSecretFileBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		path    string
		read    func(string) ([]byte, error)
		wantErr error
	}{
		{"/dev/zero", "/dev/zero", ReadFile, ErrTooLarge},
		{"one byte too many", big, ReadFile, ErrTooLarge},
		{"beyond any key file", huge, ReadFile, ErrTooLarge},
		{"at the limit", exact, ReadFile, nil},
		{"an injected reader's result is checked too", big, os.ReadFile, ErrTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{"JWT_ACCESS_SECRET_FILE": tt.path}), tt.read)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "JWT_ACCESS_SECRET_FILE") {
				t.Errorf("error %q does not name the variable", err)
			}
		})
	}
}

// Whitespace at either end of a secret (after the one trailing newline a
// file may have) is kept, as the gateway keeps it, but marked: a file with
// two newlines or a trailing space silently makes every token bad_signature
// when the gateway's copy lacks it.
func TestSecretWhitespace(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := strings.Repeat("s", 32)
	tests := []struct {
		name string
		in   map[string]string
		want bool
	}{
		{"clean file with newline", map[string]string{"JWT_ACCESS_SECRET_FILE": write("lf", s+"\n")}, false},
		{"two newlines", map[string]string{"JWT_ACCESS_SECRET_FILE": write("two", s+"\n\n")}, true},
		{"trailing space", map[string]string{"JWT_ACCESS_SECRET_FILE": write("sp", s+" \n")}, true},
		{"leading tab", map[string]string{"JWT_ACCESS_SECRET_FILE": write("tab", "\t"+s)}, true},
		{"variable with a trailing space", map[string]string{"JWT_ACCESS_SECRET": s + " "}, true},
		{"clean variable", map[string]string{"JWT_ACCESS_SECRET": s}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(env(tt.in), ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Keys[0].Whitespace; got != tt.want {
				t.Errorf("Whitespace = %t, want %t", got, tt.want)
			}
		})
	}
}
