package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/needs"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// syncBuffer is the demo's output, read while the demo writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs the demo for a few seconds and checks what a new user sees:
// the table of checks by key and result, the removal verdict, and no token.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 13 seconds")
	}
	out := &syncBuffer{}
	// The status page the demo names is served while it runs.
	page := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`status page: (http://127\.0\.0\.1:\d+/)\n`)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				resp, err := http.Get(m[1])
				if err != nil {
					page <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				page <- string(b)
				return
			}
		}
		page <- "no status page address printed"
	}()
	err := Run(context.Background(), Options{ListenAddress: "127.0.0.1:0", Interval: 4 * time.Second, Duration: 13 * time.Second, Out: out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if p := <-page; !strings.Contains(p, "<title>jwtwatch status</title>") || !strings.Contains(p, "access tokens") {
		t.Errorf("the demo's status page:\n%s", p)
	}
	text := out.String()
	for _, want := range []string{
		"metrics:     http://127.0.0.1:",
		"current   access   valid",
		"previous  access   valid",
		"none      unknown  bad_signature",
		"none      unknown  alg_rejected",
		"issued_after_rotation — " + rotation.IssuedAfterRotation.Explain(),
		"issued_during_grace — " + rotation.IssuedDuringGrace.Explain() + ". Shown, not paged.",
		"! BYPASS: the gateway accepted ",
		"token(s) jwtwatch judged bad_signature (none key): JWTWatchAuthenticationBypass pages",
		"previous access key removable: not yet (min_window",
		"unseen_tokens_may_be_valid)",
		"an old access token nobody saw may still be valid for ",
		"demo stopped.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`eyJ[\w-]+\.`).MatchString(text) {
		t.Errorf("demo output shows a token:\n%s", text)
	}
	// The unguarded route is the one disagreement: the gateway never rejects
	// its own valid tokens, nor accepts any other forgery.
	if strings.Contains(text, "gateway rejected") || regexp.MustCompile(`BYPASS: .*judged (valid|expired|alg_rejected)`).MatchString(text) {
		t.Errorf("the simulated gateway disagrees with jwtwatch on its own tokens:\n%s", text)
	}
}

// TestDemoUnseenTokensClear runs the demo until the verdict turns: after the
// window, the quiet period and the last seen token, only the tokens nobody
// saw keep the old key (access tokens live 30 s), then it may go.
func TestDemoUnseenTokensClear(t *testing.T) {
	needs.Slow(t) // 37 seconds
	out := &syncBuffer{}
	if err := Run(context.Background(), Options{ListenAddress: "127.0.0.1:0", Interval: 5 * time.Second, Duration: 37 * time.Second, Out: out}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	text := out.String()
	waiting := strings.Index(text, "previous access key removable: not yet (unseen_tokens_may_be_valid)\n")
	removable := strings.Index(text, "previous access key removable: YES")
	if waiting < 0 || removable < waiting || !strings.Contains(text[removable:], "no old access token can still be valid, seen or not, since ") {
		t.Errorf("the demo does not show unseen_tokens_may_be_valid as the last reason to clear:\n%s", text)
	}
}

// TestDemoJWKS runs the demo with ES256 keys from a JWK Set named in a key
// file: the same split by key as with HS256, and the next key's early token.
func TestDemoJWKS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 7 seconds")
	}
	out := &syncBuffer{}
	err := Run(context.Background(), Options{ListenAddress: "127.0.0.1:0", Interval: 6500 * time.Millisecond, Duration: 7 * time.Second, Out: out, Alg: "ES256"})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"ES256 access key rotated",
		"key file:",
		"current   access   valid",
		"previous  access   valid",
		"current   refresh  valid",
		"next      access   valid",
		"signed by the next key: signed_with_next_key",
		"issued_after_rotation",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`eyJ[\w-]+\.`).MatchString(text) {
		t.Errorf("demo output shows a token:\n%s", text)
	}
	if strings.Contains(text, "gateway accepted") {
		t.Errorf("the simulated gateway disagrees with jwtwatch on its own tokens:\n%s", text)
	}
	if err := Run(context.Background(), Options{ListenAddress: "127.0.0.1:0", Duration: time.Second, Out: io.Discard, Alg: "none"}); err == nil {
		t.Error("--alg none was accepted")
	}
}

// TestDemoScenarios plays the immediate rotation and the rollback: what a
// new user must see in each, and no token.
func TestDemoScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 13 seconds")
	}
	tests := []struct {
		scenario string
		want     []string // in this order
		not      []string
	}{
		{ScenarioImmediate, []string{
			"immediate rotation: the access key is replaced at 2s with no previous key",
			"── 2s: JWT_ACCESS_SECRET replaced, no previous key",
			"retired  access  valid",
			"access key: 1 rotation(s), 0 rollback(s) seen",
			"the gateway answers 401, as it must: they log in again",
			"no previous access key is loaded: nothing to remove",
			"sessions still on the removed access key: 0",
			"the wave is over",
		}, []string{"bad_signature", "BYPASS", "gateway accepted", "gateway rejected", "suspicious"}},
		{ScenarioRollback, []string{
			"── 1.5s: the rotation",
			"── 4s: \"Rollback Procedure\"",
			"access key: 1 rotation(s), 1 rollback(s) seen",
			"previous  access  valid",
			"access token(s) signed by the previous key: issued_after_rotation",
			"the rolled-back access key signed tokens after the rollback: an auth-service instance that missed",
		}, []string{"bad_signature", "gateway accepted", "gateway rejected"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			out := &syncBuffer{}
			err := Run(context.Background(), Options{ListenAddress: "127.0.0.1:0", Interval: 3 * time.Second, Duration: 13 * time.Second, Out: out, Scenario: tt.scenario})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			text := out.String()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(text[at:], w)
				if i < 0 {
					t.Errorf("demo output lacks %q after position %d:\n%s", w, at, text)
					continue
				}
				at += i
			}
			for _, n := range tt.not {
				if strings.Contains(text, n) {
					t.Errorf("demo output shows %q:\n%s", n, text)
				}
			}
			if regexp.MustCompile(`eyJ[\w-]+\.`).MatchString(text) {
				t.Errorf("demo output shows a token:\n%s", text)
			}
		})
	}
}
