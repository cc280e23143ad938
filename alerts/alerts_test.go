package alerts

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

const (
	ruleFile   = "jwtwatch.rules.yml"
	ruleTests  = "jwtwatch.rules_test.yml"
	runbookURL = "https://github.com/jwtwatch/jwtwatch/blob/main/docs/runbook.md"
)

var runbookFile = filepath.Join("..", "docs", "runbook.md")

// The names dashboards, runbook and the end-to-end test depend on.
var (
	contractRecords = []string{
		"token:jwtwatch_previous_key_removable:min",
		"token:jwtwatch_previous_key_removal_blocked:max",
		"token:jwtwatch_previous_key_all_expired_timestamp_seconds:max1d",
		"token:jwtwatch_previous_key_valid:ratio_rate5m",
		"token_key_result:jwtwatch_tokens:rate5m",
		":jwtwatch_forged_tokens:rate5m",
		":jwtwatch_tokens_rejected:ratio_rate5m",
		"instance_token:jwtwatch_rotation_due_timestamp_seconds:sum",
	}
	contractAlerts = []string{
		"JWTWatchForgedTokenSpike",
		"JWTWatchValidationFailureSpike",
		"JWTWatchOldKeyStillNeeded",
		"JWTWatchPreviousKeyRemovable",
		"JWTWatchGatewayRejectsPreviousKey",
		"JWTWatchPreviousKeyMintingTokens",
		"JWTWatchCurrentKeyMismatch",
		"JWTWatchWeakKey",
		"JWTWatchSidecarDown",
		"JWTWatchLogSourceStalled",
		"JWTWatchLinesDropped",
		"JWTWatchKeyReloadFailed",
		"JWTWatchJWKSFetchFailing",
		"JWTWatchTokenSignedWithNextKey",
		"JWTWatchAuthenticationBypass",
		"JWTWatchKeyReusedAcrossEnvironments",
		"JWTWatchNewKeyUnused",
		"JWTWatchRotationDueSoon",
		"JWTWatchRotationOverdue",
	}
)

// recordName is level:metric:operations; a fleet-wide level is empty.
var recordName = regexp.MustCompile(`^[a-z_]*:[a-z0-9_]+:[a-z0-9_]+$`)

type ruleFileDoc struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func (r rule) name() string { return r.Record + r.Alert }

// loadRules decodes a rule file strictly: an unknown key is a typo.
func loadRules(t *testing.T, data []byte) ruleFileDoc {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f ruleFileDoc
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("decoding rule file: %v", err)
	}
	return f
}

func readRules(t *testing.T) ruleFileDoc {
	t.Helper()
	data, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	return loadRules(t, data)
}

// promtool returns the path of promtool. Without it the test is skipped,
// except in CI, where a missing promtool must not pass silently.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is required in CI: %v", err)
		}
		t.Skip("promtool not found; scripts/test installs it (Debian package prometheus)")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", "--lint=all", "--lint-fatal", ruleFile)
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "test", "rules", ruleTests)
}

func TestContractNames(t *testing.T) {
	f := readRules(t)
	got := map[string][]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			got[g.Name] = append(got[g.Name], r.name())
		}
	}
	tests := []struct {
		group string
		want  []string
	}{
		{"jwtwatch.rules", contractRecords},
		{"jwtwatch.alerts", contractAlerts},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			for _, name := range tt.want {
				if !slices.Contains(got[tt.group], name) {
					t.Errorf("group %s lacks %s (has %v)", tt.group, name, got[tt.group])
				}
			}
		})
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if g.Name == "jwtwatch.rules" && r.Alert != "" || g.Name == "jwtwatch.alerts" && r.Record != "" {
				t.Errorf("%s is in the wrong group %s", r.name(), g.Name)
			}
		}
	}
}

func TestAlerts(t *testing.T) {
	anchors := runbookAnchors(t)
	n := 0
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			t.Run(r.Alert, func(t *testing.T) {
				if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
					t.Errorf("severity %q, want critical, warning or info", sev)
				}
				for _, a := range []string{"summary", "description", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("annotation %s missing", a)
					}
				}
				// The end-to-end test rewrites every `for`: it must be a plain key.
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("for %q: %v", r.For, err)
				}
				want := runbookURL + "#" + strings.ToLower(r.Alert)
				if got := r.Annotations["runbook_url"]; got != want {
					t.Errorf("runbook_url %q, want %q", got, want)
				}
				if _, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#"); !anchors[anchor] {
					t.Errorf("runbook_url anchor %q is no heading of %s", anchor, runbookFile)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no alerts found")
	}
}

// Every alert-named section of the runbook belongs to an alert that exists.
func TestRunbookHasNoOrphanSections(t *testing.T) {
	alerts := map[string]bool{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
		}
	}
	for _, h := range runbookHeadings(t) {
		if strings.HasPrefix(h, "JWTWatch") && !alerts[h] {
			t.Errorf("runbook section %q names no alert", h)
		}
	}
}

func TestRecordingRuleNames(t *testing.T) {
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" && !recordName.MatchString(r.Record) {
				t.Errorf("recording rule %q is not level:metric:operations", r.Record)
			}
		}
	}
}

func TestExpressionsParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			t.Run(r.name(), func(t *testing.T) {
				if _, err := p.ParseExpr(r.Expr); err != nil {
					t.Errorf("expr does not parse: %v\n%s", err, r.Expr)
				}
			})
		}
	}
}

func TestAnchor(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"alert name", "JWTWatchForgedTokenSpike", "jwtwatchforgedtokenspike"},
		{"words", "How to load the rules", "how-to-load-the-rules"},
		{"punctuation dropped", "Overview: the rotation, step by step", "overview-the-rotation-step-by-step"},
		{"code and underscores kept", "The `token:jwtwatch_x:min` rule", "the-tokenjwtwatch_xmin-rule"},
		{"hyphens kept", "Dual-key deploy", "dual-key-deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := anchor(tt.in); got != tt.want {
				t.Errorf("anchor(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// anchor is the id GitHub gives a Markdown heading: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// runbookHeadings returns the text of the runbook's Markdown headings,
// skipping fenced code blocks (whose shell comments start with # too).
func runbookHeadings(t *testing.T) []string {
	t.Helper()
	return headings(t, runbookFile)
}

// headings returns the text of a Markdown file's headings, outside fenced
// code blocks.
func headings(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var headings []string
	fenced := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		if text, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok {
			headings = append(headings, strings.TrimSpace(text))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return headings
}

func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	return anchors(t, runbookFile)
}

func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	a := map[string]bool{}
	for _, h := range headings(t, path) {
		a[anchor(h)] = true
	}
	return a
}

// docLink is a Markdown link to a section of the same file or of another
// file beside it: [text](#anchor), [text](file.md#anchor).
var docLink = regexp.MustCompile(`\]\(([a-z0-9_-]*\.md)?#([^)\s]+)\)`)

// Every link of the runbook to one of its sections, or to a section of
// another page of docs/, names a heading there: alerts link to the runbook,
// and the runbook's sections send the reader on to each other.
func TestRunbookLinks(t *testing.T) {
	text, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, m := range docLink.FindAllStringSubmatch(string(text), -1) {
		found++
		file := runbookFile
		if m[1] != "" {
			file = filepath.Join(filepath.Dir(runbookFile), m[1])
		}
		if !anchors(t, file)[m[2]] {
			t.Errorf("%s links to %s#%s, which is no heading there", runbookFile, filepath.Base(file), m[2])
		}
	}
	if found == 0 {
		t.Fatal("no section links found in the runbook")
	}
}

// The README's table of alerts names every alert, with its severity, and
// no other.
func TestReadmeListsEveryAlert(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (JWTWatch\w+) \| (\w+) \|`)
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		listed[m[1]] = m[2]
	}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			sev, ok := listed[r.Alert]
			switch {
			case !ok:
				t.Errorf("%s is not in the README's table of alerts", r.Alert)
			case sev != r.Labels["severity"]:
				t.Errorf("%s: the README says %s, the rule %s", r.Alert, sev, r.Labels["severity"])
			}
			delete(listed, r.Alert)
		}
	}
	for a := range listed {
		t.Errorf("the README lists %s, which no rule defines", a)
	}
}
