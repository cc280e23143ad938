package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// TestSharedFlagsAreOneDeclaration: a flag that run, scan and inspect share
// has the same help and default in each, as one declaration gives them.
func TestSharedFlagsAreOneDeclaration(t *testing.T) {
	shared := map[string][]string{
		"run":     {"log.format", "log.json.token-field", "log.json.status-field", "log.json.time-field", "log.regex", "log.max-line-bytes", "jwt.algorithm", "jwt.leeway", "policy.max-lifetime", "policy.clock-skew", "rotation.grace"},
		"scan":    {"log.format", "log.json.token-field", "log.json.status-field", "log.json.time-field", "log.regex", "log.max-line-bytes", "jwt.algorithm", "jwt.leeway", "policy.max-lifetime", "policy.clock-skew", "rotation.grace"},
		"inspect": {"jwt.algorithm", "jwt.leeway", "policy.max-lifetime", "policy.clock-skew", "rotation.grace"},
	}
	first := map[string]string{} // flag → its help entry in the first command that has it
	for _, cmd := range []string{"run", "scan", "inspect"} {
		entries := helpEntries(t, cmd)
		for _, name := range shared[cmd] {
			e, ok := entries[name]
			if !ok {
				t.Errorf("jwtwatch %s has no --%s", cmd, name)
				continue
			}
			if f, ok := first[name]; ok && f != e {
				t.Errorf("--%s differs between commands:\n%s\n%s: %s", name, f, cmd, e)
			}
			first[name] = e
		}
	}
	for _, want := range []string{"--rotation.grace=10m ", "--policy.clock-skew=1m ", "--log.max-line-bytes=1MiB ", `--log.json.token-field="req.headers.authorization"`} {
		if !strings.Contains(strings.Join(mapValues(first), "\n"), want) {
			t.Errorf("no shared flag shows the default %q", want)
		}
	}
}

// helpEntries returns each flag's entry of `jwtwatch CMD --help`: its
// line and the indented lines after it, joined into one, spaces squeezed.
func helpEntries(t *testing.T, cmd string) map[string]string {
	t.Helper()
	out, err := exec.Command(binary, cmd, "--help").Output()
	if err != nil {
		t.Fatalf("jwtwatch %s --help: %v", cmd, err)
	}
	entries := map[string]string{}
	start := regexp.MustCompile(`^\s+--(?:\[no-\])?([a-z][a-z0-9.-]*)`)
	name := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := start.FindStringSubmatch(line); m != nil {
			name = m[1]
		} else if strings.TrimSpace(line) == "" || !strings.HasPrefix(line, "      ") {
			name = ""
			continue
		}
		if name != "" {
			entries[name] = strings.Join(strings.Fields(entries[name]+" "+line), " ")
		}
	}
	return entries
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestDurationDefaults: a default written by duration reads back as the
// package constant it came from.
func TestDurationDefaults(t *testing.T) {
	for _, d := range []time.Duration{0, rotation.DefaultSkew, rotation.DefaultGrace, rotation.DefaultQuietPeriod, rotation.DefaultMinWindow, rotation.DefaultMaxAge, 36 * time.Hour, 90 * time.Second} {
		var got time.Duration
		if err := (durationValue{"x", &got}).Set(duration(d)); err != nil || got != d {
			t.Errorf("duration(%v) = %q, reads back as %v (%v)", d, duration(d), got, err)
		}
	}
	if got := duration(rotation.DefaultMaxAge); got != "90d" {
		t.Errorf("duration(90 days) = %q, want 90d", got)
	}
}
