package alerts

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestWithFor(t *testing.T) {
	minimal := filepath.Join("testdata", "minimal.rules.yml")
	tests := []struct {
		name string
		file string
		d    time.Duration
		want string   // the `for` every alert must have
		keep []string // text that must survive the rewrite
	}{
		{"seconds", minimal, 30 * time.Second, "30s", []string{
			"# A small rule file for WithFor",
			"# A comment above the alert.",
			"# line comment on the for",
			"up == 0\n",
		}},
		{"compound", minimal, 90 * time.Second, "1m30s", nil},
		{"milliseconds", minimal, 1500 * time.Millisecond, "1s500ms", nil},
		{"zero fires at once", minimal, 0, "0s", nil},
		{"shipped rules", ruleFile, time.Second, "1s", []string{
			"# Critical (pages).",
			"record: token:jwtwatch_previous_key_removable:min",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			out, err := WithFor(in, tt.d)
			if err != nil {
				t.Fatalf("WithFor: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Error("WithFor modified its input")
			}
			// The output is the input with every alert's for replaced (or
			// added) and nothing else changed.
			want := decodeAny(t, in)
			alerts := 0
			for _, g := range want["groups"].([]any) {
				rules, _ := g.(map[string]any)["rules"].([]any)
				for _, r := range rules {
					if r := r.(map[string]any); r["alert"] != nil {
						r["for"] = tt.want
						alerts++
					}
				}
			}
			if alerts == 0 {
				t.Fatal("the input has no alerts; the test proves nothing")
			}
			if got := decodeAny(t, out); !reflect.DeepEqual(got, want) {
				t.Errorf("WithFor changed more than for:\n%s", out)
			}
			for _, s := range tt.keep {
				if !strings.Contains(string(out), s) {
					t.Errorf("output lost %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestWithForErrors(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join("testdata", "minimal.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		d    time.Duration
		want error // nil: any error will do
	}{
		{"negative duration", valid, -time.Second, errDuration},
		{"below millisecond precision", valid, 1500 * time.Microsecond, errDuration},
		{"not YAML", []byte("groups: [\n"), time.Second, nil},
		{"empty", nil, time.Second, errNotRuleFile},
		{"top level is a list", []byte("- a\n"), time.Second, errNotRuleFile},
		{"no groups", []byte("rules: []\n"), time.Second, errNotRuleFile},
		{"groups not a list", []byte("groups: {name: x}\n"), time.Second, errNotRuleFile},
		{"group not a mapping", []byte("groups: [x]\n"), time.Second, errNotRuleFile},
		{"rules not a list", []byte("groups: [{name: x, rules: y}]\n"), time.Second, errNotRuleFile},
		{"rule not a mapping", []byte("groups: [{name: x, rules: [1]}]\n"), time.Second, errNotRuleFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := WithFor(tt.in, tt.d)
			if err == nil {
				t.Fatalf("WithFor succeeded:\n%s", out)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// The rewritten shipped rules still load into Prometheus.
func TestWithForPassesPromtool(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{time.Second, 90 * time.Second, 1500 * time.Millisecond} {
		out, err := WithFor(in, d)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "jwtwatch.rules.yml")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		runPromtool(t, "check", "rules", "--lint=all", "--lint-fatal", path)
	}
}

func decodeAny(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding: %v\n%s", err, data)
	}
	return v
}
