package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/scan"
	"github.com/jwtwatch/jwtwatch/internal/state"
)

// scanCmd is `jwtwatch scan [flags] FILE...`.
type scanCmd struct {
	clause        *kingpin.CmdClause
	files         []string
	opts          scan.Options
	log           logFlags
	output        []string
	rotationStart []string
	stateFile     string
	at            time.Time
	keys          keyFlags
	merge         bool
	workers       int
}

func addScan(app *kingpin.Application) *scanCmd {
	c := &scanCmd{}
	c.clause = app.Command("scan", "Report on finished gateway logs (plain, gzip or - for stdin) with the sidecar's checks: per key, one key's users and compromise, forged tokens. Exit 0 done, 1 read error, 2 usage error.")
	c.clause.Arg("file", "Log file to read, plain or gzip; - reads stdin. With --merge, JSON reports.").Required().StringsVar(&c.files)
	c.clause.Flag("merge", "Merge JSON reports of scans of parts of the logs (--output=json, the same keys and options) into the report one scan over all of them gives.").BoolVar(&c.merge)
	c.clause.Flag("workers", "Scanners run at once: files are read side by side, and a plain file is split in byte ranges when there are fewer files; 0 means one per CPU (GOMAXPROCS).").Default("0").IntVar(&c.workers)
	c.clause.Flag("key", "Report everything about the tokens one key signed: next, current, previous, retired, FAMILY/ROLE (access/previous) or a fingerprint.").PlaceHolder("KEY").StringVar(&c.opts.Select)
	c.clause.Flag("rotation-start", "When the current key became current (RFC 3339 or a date), for issued_after_rotation; FAMILY=TIME for one family; repeatable. Overrides --state.file.").PlaceHolder("TIME").StringsVar(&c.rotationStart)
	c.clause.Flag("state.file", "The sidecar's state file, for the rotation start.").PlaceHolder("PATH").StringVar(&c.stateFile)
	c.clause.Flag("from", "Only lines whose own time is at or after this (RFC 3339 or a date, UTC).").PlaceHolder("TIME").SetValue(timeValue{"from", &c.opts.From})
	c.clause.Flag("until", "Only lines whose own time is before this (RFC 3339 or a date, UTC).").PlaceHolder("TIME").SetValue(timeValue{"until", &c.opts.Until})
	c.clause.Flag("at", "The time the report answers \"could a token signed before the rotation still be valid?\" for, and checks lines without a time of their own at (RFC 3339 or a date, UTC); default now.").PlaceHolder("TIME").SetValue(timeValue{"at", &c.at})
	c.clause.Flag("top", "How many client addresses and user agents to list.").Default("10").IntVar(&c.opts.Top)
	c.clause.Flag("output", "Report format: text, json or csv.").Default("text").SetValue(&enumValue{flag: "output", options: []string{"text", "json", "csv"}, dst: &c.output})
	addLogFlags(c.clause, &c.log)
	addKeyFlags(c.clause, &c.keys, false)
	addJWTFlags(c.clause, &c.opts.Verify)
	addPolicyFlags(c.clause, &c.opts.Policy)
	addRotationFlags(c.clause, &c.opts.Policy, false, nil)
	return c
}

func (c *scanCmd) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, now time.Time) int {
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "jwtwatch scan: "+format+"\n", args...)
		return exitUsage
	}
	if c.merge {
		r, err := mergeReports(c.files, stdin, c.at)
		if err != nil {
			return usage("--merge: %v", err)
		}
		return c.write(stdout, stderr, r)
	}
	if c.workers < 0 {
		return usage("--workers must not be negative")
	}
	if c.workers == 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	set, err := c.keys.load(ctx, time.Now)
	if err != nil {
		return usage("%v", err)
	}
	c.opts.Keys = set
	c.opts.Verify.Algorithms = c.keys.algos
	c.opts.Parse, c.opts.MaxLineBytes = c.log.config(), c.log.maxLineBytes
	if !c.at.IsZero() {
		now = c.at
	}
	c.opts.Now = func() time.Time { return now }
	if !c.opts.From.IsZero() && !c.opts.Until.IsZero() && !c.opts.From.Before(c.opts.Until) {
		return usage("--from must be before --until")
	}
	if c.opts.Top < 1 {
		return usage("--top must be at least 1")
	}
	if err := c.rotations(set); err != nil {
		return usage("%v", err)
	}
	for _, sh := range set.Shared() {
		c.opts.Notes = append(c.opts.Notes, sh.String()+": its tokens are told apart by issuer, then by iat against the rotation start, else counted for the older key")
	}

	// Open every input first: a typo in the last name should not cost a
	// scan of the others.
	var jobs []scan.Job
	var total int64
	sawStdin := false
	defer func() {
		for _, j := range jobs {
			if f, ok := j.R.(*os.File); ok && f != os.Stdin {
				f.Close()
			}
		}
	}()
	for _, name := range c.files {
		if name == "-" || name == "" { // kingpin passes a lone "-" on as ""
			if sawStdin {
				return usage("stdin (-) given twice")
			}
			sawStdin = true
			jobs = append(jobs, scan.Job{Name: "-", R: stdin})
			continue
		}
		f, size, err := scan.OpenInput(name)
		if err != nil {
			return usage("%v", err)
		}
		jobs = append(jobs, scan.Job{Name: name, R: f, Size: size})
		total += size
	}
	if sawStdin {
		total = 0 // unknown
	}

	if _, err := scan.New(c.opts); err != nil {
		return usage("%v", err)
	}
	p := scan.NewParallel(c.opts, c.workers)
	if isTerminal(stderr) {
		stop := scan.Meter(stderr, 250*time.Millisecond, total, p.Progress, time.Now)
		defer stop()
	}
	sc, err := p.Scan(jobs)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch scan: %v\n", err)
		return exitFailed
	}
	return c.write(stdout, stderr, sc.Report())
}

// write prints the report in the --output format.
func (c *scanCmd) write(stdout, stderr io.Writer, r scan.Report) int {
	write := map[string]func(io.Writer, scan.Report) error{"text": scan.WriteText, "json": scan.WriteJSON, "csv": scan.WriteCSV}[c.output[0]]
	if err := write(stdout, r); err != nil {
		fmt.Fprintf(stderr, "jwtwatch scan: write report: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// mergeReports reads JSON reports (- is stdin) and merges them in order;
// at, when not zero, is --at.
func mergeReports(files []string, stdin io.Reader, at time.Time) (scan.Report, error) {
	var reports []scan.Report
	for _, name := range files {
		var data []byte
		var err error
		if name == "-" || name == "" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return scan.Report{}, err
		}
		var r scan.Report
		if err := json.Unmarshal(data, &r); err != nil {
			return scan.Report{}, fmt.Errorf("%s: not a JSON report of jwtwatch scan: %w", name, err)
		}
		if r.State == nil {
			return scan.Report{}, fmt.Errorf("%s: %w: no state (a JSON report of jwtwatch scan has one)", name, scan.ErrState)
		}
		reports = append(reports, r)
	}
	return scan.MergeReports(reports, at)
}

// rotations fills the known rotation starts from --state.file, then
// --rotation-start, which wins.
func (c *scanCmd) rotations(set keys.Set) error {
	starts := map[keys.Family]scan.RotationStart{}
	if c.stateFile != "" {
		saved, notes, err := savedRotations(c.stateFile, set)
		if err != nil {
			return err
		}
		c.opts.Notes = append(c.opts.Notes, notes...)
		for fam, at := range saved {
			starts[fam] = scan.RotationStart{Family: fam, Started: at, Source: scan.SourceStateFile}
		}
	}
	for _, v := range c.rotationStart {
		fams := []keys.Family{keys.Access, keys.Refresh}
		if name, at, ok := strings.Cut(v, "="); ok {
			if name != string(keys.Access) && name != string(keys.Refresh) {
				return fmt.Errorf("--rotation-start: unknown token family %q (want access or refresh)", name)
			}
			fams, v = []keys.Family{keys.Family(name)}, at
		}
		t, err := parseTime(v)
		if err != nil {
			return fmt.Errorf("--rotation-start: %w", err)
		}
		for _, f := range fams {
			starts[f] = scan.RotationStart{Family: f, Started: t, Source: scan.SourceFlag}
		}
	}
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		if rs, ok := starts[f]; ok {
			c.opts.Rotations = append(c.opts.Rotations, rs)
		}
	}
	return nil
}

// savedRotations reads the rotation starts of the loaded current keys from
// the sidecar's state file. A start saved for another current key is not
// used, and a note says so; so is a missing file, which state.Load would take
// for a fresh start but here is a typo.
func savedRotations(path string, set keys.Set) (map[keys.Family]time.Time, []string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("--state.file: %w", err)
	}
	f, err := state.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--state.file: %w", err)
	}
	starts := map[keys.Family]time.Time{}
	var notes []string
	for _, fam := range []keys.Family{keys.Access, keys.Refresh} {
		r, saved := f.Rotation.Rotations[fam]
		k, loaded := set.Find(fam, keys.Current)
		switch {
		case !saved || !loaded:
		case k.Fingerprint != r.CurrentFingerprint:
			notes = append(notes, fmt.Sprintf("--state.file records the %s rotation to key %s, not to the loaded current key %s; its start is not used", fam, r.CurrentFingerprint, k.Fingerprint))
		default:
			starts[fam] = r.Started
		}
	}
	return starts, notes, nil
}

// timeValue accepts an RFC 3339 time or a date (midnight UTC).
type timeValue struct {
	flag string
	t    *time.Time
}

func (v timeValue) Set(s string) error {
	t, err := parseTime(s)
	if err != nil {
		return fmt.Errorf("--%s: %w", v.flag, err)
	}
	*v.t = t
	return nil
}

func (v timeValue) String() string {
	if v.t == nil || v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q (use RFC 3339, e.g. 2026-11-27T09:00:00Z, or a date, 2026-11-27)", s)
}

// isTerminal reports whether w is a terminal (a character device), where a
// progress meter belongs; golang.org/x/term is not a direct dependency.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
