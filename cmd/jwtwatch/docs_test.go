package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	// A flag line of kingpin's help: "  -h, --[no-]help   Show ..." or "      --log.path=PATH ...".
	// (Wrapped help text is indented further.)
	helpFlag = regexp.MustCompile(`(?m)^ {2,6}(?:-\w, )?--(?:\[no-\])?([a-z][\w.-]*[a-z0-9])`)
	// A flag as the docs write it; `--log.*` and `--log.json.*-field` name groups of flags.
	docFlag = regexp.MustCompile(`--([a-z][\w.*-]*[a-z0-9*])`)
	// A metric name in prose or PromQL; not a part of a recording rule's name.
	docMetric  = regexp.MustCompile(`(?:^|[^\w:])(jwtwatch_[a-z0-9_]*[a-z0-9])`)
	goldenType = regexp.MustCompile(`(?m)^# TYPE (\S+) `)
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
)

// docs returns README.md and docs/*.md by path.
func docs(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	files = append(files, filepath.Join("..", "..", "README.md"))
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(f, "../../")] = string(data)
	}
	if len(out) < 3 {
		t.Fatalf("found %d documents", len(out))
	}
	return out
}

// help returns the flags jwtwatch's help lists for the arguments.
func help(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command(binary, args...).Output()
	if err != nil {
		t.Fatalf("jwtwatch %s: %v", strings.Join(args, " "), err)
	}
	var flags []string
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) < 5 {
		t.Fatalf("jwtwatch %s lists %d flags:\n%s", strings.Join(args, " "), len(flags), out)
	}
	return flags
}

// documentedFlags returns the jwtwatch flags the document names: code spans
// that start with a flag, and the flags of command lines in code blocks
// that run jwtwatch (a `jwtwatch`, `./jwtwatch` or `./cmd/jwtwatch` word).
// Other programs' flags (podman's, go test's) are in neither.
func documentedFlags(doc string) []string {
	var flags []string
	inBlock := false
	for line := range strings.Lines(doc) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			args := jwtwatchArgs(strings.Fields(trimmed))
			for _, arg := range args {
				if strings.HasPrefix(arg, "#") {
					break // a comment
				}
				if m := docFlag.FindStringSubmatch(arg); m != nil && strings.HasPrefix(arg, "--") {
					flags = append(flags, m[1])
				}
			}
			continue
		}
		for _, span := range codeSpan.FindAllStringSubmatch(line, -1) {
			if m := docFlag.FindStringSubmatch(span[1]); m != nil && strings.HasPrefix(span[1], "--") {
				flags = append(flags, m[1])
			}
		}
	}
	return flags
}

// jwtwatchArgs returns the arguments of a command line that runs jwtwatch:
// after environment assignments, `go run`, and `time` with its options, the
// command is jwtwatch, ./jwtwatch, /usr/local/bin/jwtwatch or ./cmd/jwtwatch.
func jwtwatchArgs(words []string) []string {
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		words = words[1:]
	}
	if len(words) > 1 && (words[0] == "time" || strings.HasSuffix(words[0], "/time")) {
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0], "-") {
			words = words[1:]
		}
	}
	if len(words) > 2 && words[0] == "go" && words[1] == "run" {
		words = words[2:]
	}
	if len(words) == 0 || (words[0] != "jwtwatch" && !strings.HasSuffix(words[0], "/jwtwatch")) {
		return nil
	}
	return words[1:]
}

// known reports whether a documented flag names flags jwtwatch has: one
// flag, its negation (--no-bench.naive), or a group (--log.*).
func known(flags []string, f string) bool {
	for _, k := range flags {
		if ok, _ := path.Match(f, k); ok || k == strings.TrimPrefix(f, "no-") {
			return true
		}
	}
	return false
}

// TestFlagsAndMetricsAreDocumented keeps the reference true both ways: every
// flag of `jwtwatch run --help` and every metric of the golden scrape is named
// in README.md or docs/*.md, and every jwtwatch flag and metric they name
// exists. A new flag or metric fails here until it is documented.
func TestFlagsAndMetricsAreDocumented(t *testing.T) {
	docs := docs(t)
	var all strings.Builder
	for _, d := range docs {
		all.WriteString(d)
	}
	text := all.String()

	for _, f := range help(t, "run", "--help") {
		if f == "help" {
			continue
		}
		if !regexp.MustCompile(`(^|[^\w.-])--` + regexp.QuoteMeta(f) + `($|[^\w.-])`).MatchString(text) {
			t.Errorf("flag --%s of `jwtwatch run` is documented nowhere in README.md or docs/", f)
		}
	}
	every := help(t, "--help-long") // every command's flags
	for name, d := range docs {
		for _, f := range documentedFlags(d) {
			if !known(every, f) {
				t.Errorf("%s names the flag --%s, which jwtwatch does not have", name, f)
			}
		}
	}

	golden, err := os.ReadFile(filepath.Join("..", "..", "internal", "sidecar", "testdata", "metrics.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var metrics []string
	for _, m := range goldenType.FindAllStringSubmatch(string(golden), -1) {
		metrics = append(metrics, m[1])
	}
	if len(metrics) < 10 {
		t.Fatalf("the golden scrape has %d metrics", len(metrics))
	}
	for _, m := range metrics {
		if !regexp.MustCompile(`(^|[^\w:])` + m + `($|[^\w:])`).MatchString(text) {
			t.Errorf("metric %s is documented nowhere in README.md or docs/", m)
		}
	}
	for name, d := range docs {
		for _, m := range docMetric.FindAllStringSubmatch(d, -1) {
			if !slices.Contains(metrics, m[1]) {
				t.Errorf("%s names the metric %s, which the golden scrape does not have", name, m[1])
			}
		}
	}
}

// The extraction finds what it must and leaves other programs' flags alone.
func TestDocumentedFlags(t *testing.T) {
	doc := "Use `--log.path=/x` and `--no-bench.naive`, not `go test -update`.\n" +
		"```sh\n" +
		"GOMAXPROCS=1 ./jwtwatch bench --bench.lines=5 # the rest is a comment: --not-a-flag\n" +
		"podman run --read-only image --log.path=/y\n" +
		"go run ./cmd/jwtwatch demo --interval=1s\n" +
		"podman run --name jwtwatch --cap-drop=ALL\n" +
		"/usr/bin/time -v ./jwtwatch bench --bench.size=1GiB\n" +
		"```\n" +
		"`jwtwatch --version` is a command, not a flag span; `--log.json.*-field` a group.\n"
	got := documentedFlags(doc)
	want := []string{"log.path", "no-bench.naive", "bench.lines", "interval", "bench.size", "log.json.*-field"}
	if !slices.Equal(got, want) {
		t.Errorf("documentedFlags = %q, want %q", got, want)
	}
}
