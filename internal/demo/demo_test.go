package demo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo for a few seconds and checks what a new user sees:
// the table of checks by key and result, the removal verdict, and no token.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 13 seconds")
	}
	var out bytes.Buffer
	err := Run(context.Background(), Options{ListenAddress: "127.0.0.1:0", Interval: 4 * time.Second, Duration: 13 * time.Second, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"metrics:     http://127.0.0.1:",
		"current   access   valid",
		"previous  access   valid",
		"none      unknown  bad_signature",
		"none      unknown  alg_rejected",
		"issued_after_rotation",
		"previous access key removable: not yet (min_window",
		"demo stopped.",
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
}
