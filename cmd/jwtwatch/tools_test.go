package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/state"
)

func TestKeygen(t *testing.T) {
	tests := []struct {
		name     string
		in       []string
		wantCode int
		wantOut  *regexp.Regexp
	}{
		{"default", []string{"keygen"}, exitOK, regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`)},
		{"hex, 48 bytes", []string{"keygen", "--bytes=48", "--format=hex"}, exitOK, regexp.MustCompile(`^[0-9a-f]{96}\n$`)},
		{"too short", []string{"keygen", "--bytes=16"}, exitUsage, regexp.MustCompile(`^$`)},
		{"unknown format", []string{"keygen", "--format=base32"}, exitUsage, regexp.MustCompile(`^$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.in, nil, &out, &errOut); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut.String())
			}
			if !tt.wantOut.MatchString(out.String()) {
				t.Errorf("stdout %q does not match %s", out.String(), tt.wantOut)
			}
			if tt.wantCode == exitOK {
				fp := keys.Fingerprint([]byte(strings.TrimSpace(out.String())))
				if !strings.Contains(errOut.String(), fp) {
					t.Errorf("stderr %q lacks the fingerprint %s", errOut.String(), fp)
				}
			}
		})
	}
}

func TestInspect(t *testing.T) {
	s := newSecrets(t)
	for _, kv := range s.env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	now := time.Now()
	sign := func(secret string, claims map[string]any) string {
		return gatewaylog.Token(gatewaylog.HS256([]byte(secret)), claims)
	}
	valid := sign(s.previous, map[string]any{"sub": "carol", "iss": "auth-service", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(14 * time.Minute).Unix()})
	expired := sign(s.current, map[string]any{"sub": "erin", "iss": "auth-service", "iat": now.Add(-72 * time.Hour).Unix(), "exp": now.Add(-71 * time.Hour).Unix()})
	forged := sign(s.attacker, map[string]any{"sub": "admin", "iss": "auth-service"})
	// As the NestJS documentation signs it: { username, sub: userId }, a number.
	nest := sign(s.previous, map[string]any{"username": "john", "sub": 1, "iss": "auth-service", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(14 * time.Minute).Unix()})
	dir := t.TempDir()
	saveState := func(name, fingerprint string, started time.Time) string {
		path := filepath.Join(dir, name)
		f := state.File{Version: state.Version, Rotation: rotation.Snapshot{Rotations: map[keys.Family]rotation.Rotation{
			keys.Access: {CurrentFingerprint: fingerprint, Started: started},
		}}}
		if err := state.Save(path, f); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := saveState("good.json", keys.Fingerprint([]byte(s.current)), now.Add(-2*time.Hour))
	stale := saveState("stale.json", "0123456789ab", now.Add(-2*time.Hour))
	minted := sign(s.previous, map[string]any{"sub": "mallory", "iss": "auth-service", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()})
	removed := sign(s.attacker, map[string]any{"sub": "dave", "iss": "auth-service", "iat": now.Add(-3 * time.Hour).Unix(), "exp": now.Add(time.Hour).Unix()})
	fresh := sign(s.current, map[string]any{"sub": "test@example.com", "iss": "auth-service", "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix()})
	freshRefresh := sign(s.refresh, map[string]any{"sub": "test@example.com", "iss": "auth-service", "iat": now.Unix(), "exp": now.Add(7 * 24 * time.Hour).Unix()})
	stillOld := sign(s.previous, map[string]any{"sub": "test@example.com", "iss": "auth-service", "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix()})
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		want     []string
	}{
		{"valid previous-key token from stdin with Bearer", []string{"inspect"}, "Bearer " + valid + "\n", exitOK,
			[]string{"verdict:", "valid", "previous key of access tokens", keys.Fingerprint([]byte(s.previous)), "subject:", "carol", "(in 14m)", `"sub": "carol"`}},
		{"expired token as argument", []string{"inspect", expired}, "", exitFailed, []string{"expired", "(3d ago)", "current key of access tokens"}},
		{"forgery", []string{"inspect", "-"}, forged, exitFailed, []string{"bad_signature", "none of the configured keys", "keys tried:"}},
		{"garbage", []string{"inspect", "not-a-token"}, "", exitFailed, []string{"malformed"}},
		{"NestJS token with a numeric sub", []string{"inspect"}, nest, exitOK,
			[]string{"verdict:", "valid", "previous key of access tokens", "subject:    1\n", `"sub": 1,`}},
		{"state file: minted after the rotation", []string{"inspect", "--state.file", good}, minted, exitOK,
			[]string{"rotation started:", "(2h00m ago)", "SUSPICIOUS:", "issued after the rotation started"}},
		{"state file of another current key", []string{"inspect", "--state.file", stale}, minted, exitOK,
			[]string{"note:", "--state.file records the access rotation to key 0123456789ab, not to the loaded current key " + keys.Fingerprint([]byte(s.current)) + "; its start is not used"}},
		{"nothing given", []string{"inspect"}, "  \n", exitUsage, nil},
		// Right after an immediate rotation jwtwatch was not told about: a stale session, not a forgery.
		{"a removed key's token", []string{"inspect", "--state.file", good}, removed, exitFailed,
			[]string{"bad_signature", "most likely a stale session signed with the key that rotation removed", "JWT_ACCESS_SECRET_RETIRED"}},
		// Post-Rotation Verification: curl ... /auth/login | jwtwatch inspect -
		{"login response: each token, which key signed it", []string{"inspect", "-"},
			`{"access_token":"` + fresh + `","refresh_token":"` + freshRefresh + `"}`, exitOK,
			[]string{"── access_token ──", "── refresh_token ──", "current key of access tokens", "current key of refresh tokens",
				"  access_token   valid  current access key " + keys.Fingerprint([]byte(s.current)),
				"  refresh_token  valid  current refresh key " + keys.Fingerprint([]byte(s.refresh))}},
		{"login response, the new key expected", []string{"inspect", "--expect-key=current", "-"},
			`{"accessToken":"` + fresh + `"}`, exitOK, []string{"  accessToken  valid  current access key"}},
		{"login response signed with the old key", []string{"inspect", "--expect-key=current", "-"},
			`{"accessToken":"` + stillOld + `"}`, exitFailed,
			[]string{"previous key of access tokens", "the auth service still signs with the previous key", "not signed by the current key"}},
		{"curl -i output with a refresh cookie", []string{"inspect"},
			"HTTP/1.1 201 Created\r\nSet-Cookie: refresh_token=" + freshRefresh + "; Path=/; HttpOnly\r\n\r\n" + `{"access_token":"` + expired + `"}`, exitFailed,
			[]string{"── Set-Cookie refresh_token ──", "── access_token ──", "  access_token              expired  current access key"}},
		{"login response without a token", []string{"inspect", "-"}, `{"statusCode":401,"message":"Unauthorized"}`, exitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.wantCode, out.String(), errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if slices.Contains(tt.args, stale) && strings.Contains(out.String(), "rotation started:") {
				t.Errorf("a rotation start from the state file of another key is shown:\n%s", out.String())
			}
			assertNoLeak(t, out.String()+errOut.String(), s, []string{valid, expired, forged, nest, minted, fresh, freshRefresh, stillOld, removed})
		})
	}
}
