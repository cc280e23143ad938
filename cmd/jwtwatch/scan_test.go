package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/state"
)

// scanSecret derives the test-only keys that signed internal/scan's
// committed logs (see testdataSecret there): fixed strings, because the
// committed tokens must verify; they protect nothing.
func scanSecret(name string) string {
	s := sha256.Sum256([]byte("jwtwatch scan test " + name))
	return hex.EncodeToString(s[:])
}

// scanEnv puts the scenario's keys into the environment and moves into
// internal/scan, so that inputs are named as in its golden files.
func scanEnv(t *testing.T) {
	t.Setenv("JWT_ACCESS_SECRET", scanSecret("current"))
	t.Setenv("JWT_ACCESS_SECRET_PREVIOUS", scanSecret("previous"))
	t.Setenv("JWT_REFRESH_SECRET", scanSecret("refresh"))
	t.Setenv("JWT_ACCESS_ISSUER", "https://auth.example.com")
	t.Chdir(filepath.Join("..", "..", "internal", "scan"))
}

var scanInputs = []string{"testdata/gateway.log", "testdata/gateway.log.1.gz", "testdata/edge.log"}

// TestScanGolden runs the worked example of docs/tools.md through the command line and
// compares it with internal/scan's golden reports.
func TestScanGolden(t *testing.T) {
	scanEnv(t)
	// --at: the scan ran at 15:00 that day, as internal/scan's tests have it.
	incident := append([]string{"scan", "--key", "previous", "--rotation-start", "access=2026-11-27T09:00:00Z", "--at", "2026-11-27T15:00:00Z"}, scanInputs...)
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"text", incident, "report-incident.txt"},
		{"json", append([]string{"scan", "--output=json", "--key=previous", "--rotation-start=access=2026-11-27T09:00:00Z", "--at=2026-11-27T15:00:00Z"}, scanInputs...), "report-incident.json"},
		{"csv", append([]string{"scan", "--output", "csv", "--key", "previous", "--rotation-start", "access=2026-11-27" + "T09:00:00Z", "--at", "2026-11-27T15:00:00Z"}, scanInputs...), "report-incident.csv"},
		{"window", append([]string{"scan", "--key", "previous", "--rotation-start", "access=2026-11-27T09:00:00Z", "--from", "2026-11-27T12:00:00Z", "--until", "2026-11-27T13:00:00Z", "--top", "2", "--at", "2026-11-27T15:00:00Z"}, scanInputs...), "report-window.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, nil, &out, &errOut); code != exitOK {
				t.Fatalf("exit %d; stderr %q", code, errOut.String())
			}
			want, err := os.ReadFile(filepath.Join("testdata", tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("stdout differs from internal/scan/testdata/%s:\n%s", tt.golden, out.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr %q, want nothing (no progress meter off a terminal)", errOut.String())
			}
			assertScanNoLeak(t, out.String()+errOut.String())
		})
	}
}

// TestScanMerge scans the committed inputs one by one with --output=json,
// as shards on three machines would, merges the three reports with
// --merge and finds the golden report of one scan over all of them, in
// every format; it also scans them with one, two and four workers.
func TestScanMerge(t *testing.T) {
	scanEnv(t)
	opts := []string{"--key=previous", "--rotation-start=access=2026-11-27T09:00:00Z", "--at=2026-11-27T15:00:00Z"}
	dir := t.TempDir()
	var reports []string
	for i, in := range scanInputs {
		var out, errOut bytes.Buffer
		if code := run(append(append([]string{"scan", "--output=json"}, opts...), in), nil, &out, &errOut); code != exitOK {
			t.Fatalf("scan %s: exit %d; stderr %q", in, code, errOut.String())
		}
		path := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, path)
	}
	for format, golden := range map[string]string{"text": "report-incident.txt", "json": "report-incident.json", "csv": "report-incident.csv"} {
		t.Run("merge/"+format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(append([]string{"scan", "--merge", "--output=" + format}, reports...), nil, &out, &errOut); code != exitOK {
				t.Fatalf("exit %d; stderr %q", code, errOut.String())
			}
			want, err := os.ReadFile(filepath.Join("testdata", golden))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("the merged report differs from internal/scan/testdata/%s:\n%s", golden, out.String())
			}
			assertScanNoLeak(t, out.String()+errOut.String())
		})
	}
	for _, workers := range []string{"1", "2", "4"} {
		var out, errOut bytes.Buffer
		if code := run(append(append([]string{"scan", "--workers=" + workers}, opts...), scanInputs...), nil, &out, &errOut); code != exitOK {
			t.Fatalf("--workers=%s: exit %d; stderr %q", workers, code, errOut.String())
		}
		if want, _ := os.ReadFile(filepath.Join("testdata", "report-incident.txt")); out.String() != string(want) {
			t.Errorf("--workers=%s: the report differs from the golden one:\n%s", workers, out.String())
		}
	}

	// Reports of other scans do not merge; a file that is no report is named.
	var other bytes.Buffer
	if code := run([]string{"scan", "--output=json", "--top=3", scanInputs[2]}, nil, &other, io.Discard); code != exitOK {
		t.Fatal("scan --top=3 failed")
	}
	otherPath := filepath.Join(dir, "other.json")
	if err := os.WriteFile(otherPath, other.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		files []string
		want  string
	}{
		{"other options", []string{reports[0], otherPath}, "do not merge"},
		{"not a report", []string{reports[0], scanInputs[2]}, scanInputs[2]},
		{"missing", []string{filepath.Join(dir, "nope.json")}, "nope.json"},
	} {
		var errOut bytes.Buffer
		if code := run(append([]string{"scan", "--merge"}, tt.files...), nil, io.Discard, &errOut); code != exitUsage || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d naming %q", tt.name, code, errOut.String(), exitUsage, tt.want)
		}
	}
}

// TestScanSources covers stdin and the rotation start from a state file.
func TestScanSources(t *testing.T) {
	scanEnv(t)
	set, err := keys.Load(os.LookupEnv, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := set.Find(keys.Access, keys.Current)
	dir := t.TempDir()
	saveState := func(name, fingerprint string) string {
		path := filepath.Join(dir, name)
		f := state.File{Version: state.Version, Rotation: rotation.Snapshot{Rotations: map[keys.Family]rotation.Rotation{
			keys.Access: {CurrentFingerprint: fingerprint, Started: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		}}}
		if err := state.Save(path, f); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good, stale := saveState("good.json", cur.Fingerprint), saveState("stale.json", "0123456789ab")
	edge, err := os.ReadFile("testdata/edge.log")
	if err != nil {
		t.Fatal(err)
	}
	// Tokens as the NestJS documentation signs them: sub is the numeric user id.
	lineAt := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var nest []string
	for _, id := range []int{1, 2, 1} {
		tok := gatewaylog.Token(gatewaylog.HS256([]byte(scanSecret("previous"))), map[string]any{
			"username": fmt.Sprint("user", id), "sub": id, "iss": "https://auth.example.com",
			"iat": lineAt.Add(-time.Hour).Unix(), "exp": lineAt.Add(time.Hour).Unix(),
		})
		nest = append(nest, pinoLine(lineAt, "Bearer "+tok, 200))
	}
	nestLog := []byte(strings.Join(nest, "\n") + "\n")
	tests := []struct {
		name  string
		args  []string
		stdin []byte
		want  []string
	}{
		{"state file", append([]string{"scan", "--key", "previous", "--state.file", good}, scanInputs...), nil,
			[]string{"Rotation of access keys: started 2026-11-27T09:00:00Z (from --state.file)", "Compromise began  2026-11-27T12:17:00Z", "svc-admin"}},
		{"--rotation-start wins over the state file", append([]string{"scan", "--key", "previous", "--state.file", good, "--rotation-start", "2026-11-27T13:00:00Z"}, scanInputs...), nil,
			[]string{"Rotation of access keys: started 2026-11-27T13:00:00Z (--rotation-start)", "Rotation of refresh keys: started 2026-11-27T13:00:00Z"}},
		{"state file of another rotation", append([]string{"scan", "--key", "previous", "--state.file", stale}, scanInputs...), nil,
			[]string{"Note: --state.file records the access rotation to key 0123456789ab, not to the loaded current key " + cur.Fingerprint, "Rotation of access keys: start unknown"}},
		{"stdin", []string{"scan", "-"}, edge, []string{"-  plain  61 lines", "198.51.100.7  30"}},
		{"stdin gzip among files", []string{"scan", "testdata/gateway.log", "-"}, gzipped(t, edge), []string{"-                     gzip   61 lines", "testdata/gateway.log  plain  314 lines"}},
		{"a date", []string{"scan", "--from", "2026-11-28", "testdata/edge.log"}, nil, []string{"0 checked", "37 outside --from/--until"}},
		// Hour-long access tokens: half an hour after the rotation a token
		// signed before it may still be valid; the state file's start counts.
		{"--at", []string{"scan", "--state.file", good, "--at", "2026-11-27T09:30:00Z", "testdata/gateway.log.1.gz"}, nil,
			[]string{"At 2026-11-27T09:30:00Z (the time of the scan)", "access   yes      1h                2026-11-27T10:11:00Z"}},
		{"NestJS tokens with a numeric sub", []string{"scan", "--key", "previous", "--state.file", good, "-"}, nestLog,
			[]string{"3 requests (valid 3), 2 subjects", "Subjects (2)", "access  1        -          2         2      0", "access  2        -          1         1      0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, bytes.NewReader(tt.stdin), &out, &errOut); code != exitOK {
				t.Fatalf("exit %d; stderr %q", code, errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			assertScanNoLeak(t, out.String()+errOut.String())
		})
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestScanExitCodes: 0 when done, 1 when an input cannot be read to its
// end, 2 for bad arguments, always with one line naming the problem.
func TestScanExitCodes(t *testing.T) {
	scanEnv(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gz, err := os.ReadFile("testdata/gateway.log.1.gz")
	if err != nil {
		t.Fatal(err)
	}
	truncated := write("truncated.log.gz", gz[:len(gz)/2])
	notGzip := write("plain.log.gz", []byte("hello\n"))
	badState := write("state.json", []byte("{"))
	tests := []struct {
		name     string
		args     []string
		noKeys   bool
		wantCode int
		wantErr  string
	}{
		{"done", []string{"scan", "testdata/edge.log"}, false, exitOK, ""},
		{"no file", []string{"scan"}, false, exitUsage, "required argument 'file'"},
		{"missing file", []string{"scan", "testdata/edge.log", "testdata/nope.log"}, false, exitUsage, "nope.log"},
		{"a directory", []string{"scan", "testdata"}, false, exitUsage, "is a directory"},
		{"named .gz but not gzip", []string{"scan", notGzip}, false, exitUsage, "not gzip"},
		{"truncated gzip", []string{"scan", "testdata/edge.log", truncated}, false, exitFailed, "truncated.log.gz"},
		{"bad --from", []string{"scan", "--from", "yesterday", "testdata/edge.log"}, false, exitUsage, "--from: invalid time"},
		{"bad --until", []string{"scan", "--until", "2026-13-01", "testdata/edge.log"}, false, exitUsage, "--until: invalid time"},
		{"bad --at", []string{"scan", "--at", "tomorrow", "testdata/edge.log"}, false, exitUsage, "--at: invalid time"},
		{"--from after --until", []string{"scan", "--from", "2026-11-28", "--until", "2026-11-27", "testdata/edge.log"}, false, exitUsage, "--from must be before --until"},
		{"bad --rotation-start", []string{"scan", "--rotation-start", "soon", "testdata/edge.log"}, false, exitUsage, "--rotation-start: invalid time"},
		{"bad family", []string{"scan", "--rotation-start", "id=2026-11-27", "testdata/edge.log"}, false, exitUsage, "unknown token family"},
		{"unknown key", []string{"scan", "--key", "retired", "testdata/edge.log"}, false, exitUsage, "--key \"retired\": no loaded key matches"},
		{"bad --output", []string{"scan", "--output", "xml", "testdata/edge.log"}, false, exitUsage, "--output"},
		{"bad --top", []string{"scan", "--top", "0", "testdata/edge.log"}, false, exitUsage, "--top"},
		{"bad regex", []string{"scan", "--log.format", "regex", "--log.regex", "(", "testdata/edge.log"}, false, exitUsage, "regex"},
		{"missing state file", []string{"scan", "--state.file", filepath.Join(dir, "none.json"), "testdata/edge.log"}, false, exitUsage, "--state.file"},
		{"corrupt state file", []string{"scan", "--state.file", badState, "testdata/edge.log"}, false, exitUsage, "--state.file"},
		{"stdin twice", []string{"scan", "-", "-"}, false, exitUsage, "stdin (-) given twice"},
		{"no keys", []string{"scan", "testdata/edge.log"}, true, exitUsage, "no signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.noKeys {
				for _, v := range []string{"JWT_ACCESS_SECRET", "JWT_ACCESS_SECRET_PREVIOUS", "JWT_REFRESH_SECRET"} {
					t.Setenv(v, "")
					os.Unsetenv(v)
				}
			}
			var out, errOut bytes.Buffer
			code := run(tt.args, strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errOut.String())
			}
			if tt.wantCode != exitOK {
				if !strings.Contains(errOut.String(), tt.wantErr) {
					t.Errorf("stderr %q lacks %q", errOut.String(), tt.wantErr)
				}
				if n := strings.Count(strings.TrimSpace(errOut.String()), "\n"); n > 0 {
					t.Errorf("stderr has %d lines, want one: %q", n+1, errOut.String())
				}
				if out.Len() != 0 {
					t.Errorf("a failed scan printed a report")
				}
			}
			assertScanNoLeak(t, out.String()+errOut.String())
		})
	}
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// assertScanNoLeak fails when any token of the committed logs, its payload
// or signature, or any of the scenario's secrets appears in text.
func assertScanNoLeak(t *testing.T, text string) {
	t.Helper()
	for _, name := range []string{"current", "previous", "refresh", "attacker"} {
		if strings.Contains(text, scanSecret(name)) {
			t.Errorf("the %s secret appears in the output", name)
		}
	}
	var logs []byte
	for _, in := range scanInputs {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(in, ".gz") {
			b = gunzipped(t, b)
		}
		logs = append(logs, b...)
	}
	tokens := jwtRE.FindAllString(string(logs), -1)
	if len(tokens) < 100 {
		t.Fatalf("found only %d tokens in the logs", len(tokens))
	}
	leaks := 0
	for _, tok := range tokens {
		parts := strings.Split(tok, ".")
		if strings.Contains(text, tok) || strings.Contains(text, parts[1]) || (len(parts[2]) >= 16 && strings.Contains(text, parts[2])) {
			leaks++
		}
	}
	if leaks > 0 {
		t.Errorf("%d tokens (or their payloads or signatures) appear in the output", leaks)
	}
}

func gunzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestScanImmediateRotationStragglers runs the runbook's "find them" after an immediate
// rotation: the removed secret given to jwtwatch as
// JWT_ACCESS_SECRET_RETIRED, `scan --key retired` lists the users whose
// stale sessions got a 401, with first and last use, and no token or
// secret.
func TestScanImmediateRotationStragglers(t *testing.T) {
	dir := t.TempDir()
	s := newSecrets(t)
	old, cur := s.previous, s.current
	t.Setenv("JWT_ACCESS_SECRET", cur)
	t.Setenv("JWT_ACCESS_SECRET_RETIRED", old)
	rotated := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	sign := func(key, sub string, iat time.Time) string {
		return gatewaylog.Token(gatewaylog.HS256([]byte(key)), map[string]any{"sub": sub, "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix()})
	}
	line := func(at time.Time, tok string, status int) string {
		return gatewaylog.Request{Time: at, URL: "/api/v1/orders", Headers: []gatewaylog.Header{gatewaylog.Bearer(tok)}, Status: status}.Pino()
	}
	var lines []string
	for i, sub := range []string{"carol", "carol", "dave", "svc-report", "svc-report", "svc-report"} {
		at := rotated.Add(time.Duration(i+1) * time.Minute)
		lines = append(lines, line(at, sign(old, sub, rotated.Add(-10*time.Minute)), 401), line(at, sign(cur, "alice", at), 200))
	}
	log := filepath.Join(dir, "access.log")
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"scan", "--key", "retired", "--from", rotated.Format(time.RFC3339), log}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d; stderr %q", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"Key retired: access/retired " + keys.Fingerprint([]byte(old)),
		"6 requests (valid 6), 3 subjects",
		"Subjects (3)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	subjects := regexp.MustCompile(`(?m)^\s+access\s+(\S+)\s+-\s+(\d+)\s`).FindAllStringSubmatch(text, -1)
	var got []string
	for _, m := range subjects {
		got = append(got, m[1]+" "+m[2])
	}
	if want := []string{"svc-report 3", "carol 2", "dave 1"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("subjects %q, want %q, heaviest first:\n%s", got, want, text)
	}
	if strings.Contains(text, old) || strings.Contains(text, cur) || strings.Contains(text, "eyJ") {
		t.Errorf("a secret or a token in the report:\n%s", text)
	}
}

// After an emergency rotation the leaked key is configured as
// JWT_*_SECRET_RETIRED: `scan --key retired` lists who still presents its
// tokens, with the suspicious ones (likely the attacker) apart.
func TestScanRetiredKey(t *testing.T) {
	t.Setenv("JWT_ACCESS_SECRET", scanSecret("current"))
	t.Setenv("JWT_ACCESS_SECRET_RETIRED", scanSecret("previous"))
	t.Setenv("JWT_ACCESS_ISSUER", "https://auth.example.com")
	t.Chdir(filepath.Join("..", "..", "internal", "scan"))
	var out, errOut bytes.Buffer
	if code := run([]string{"scan", "--key", "retired", "testdata/gateway.log"}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d; stderr %q", code, errOut.String())
	}
	report := out.String()
	for _, want := range []string{
		"Key retired: access/retired " + keys.Fingerprint([]byte(scanSecret("previous"))),
		"Subjects (2)",
		"access  svc-admin  admin-cli  5",
		"access  u05        -          2",
		"203.0.113.66",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	assertScanNoLeak(t, report+errOut.String())
}
