package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	nxtail "github.com/nxadm/tail"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/scan"
	"github.com/jwtwatch/jwtwatch/internal/sidecar"
)

// The sidecar's counters are scraped to see whether it has read the whole
// log. A scrape costs the sidecar's process a few milliseconds of CPU, so
// the wait before the next one is half the time the rest of the log should
// take at the rate so far, between minPoll (which bounds the timing error
// of a run) and maxPoll: a run of seconds takes a few dozen scrapes.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = time.Second
)

// nextPoll is the wait before the next scrape when read of total lines are
// done after elapsed.
func nextPoll(read, total float64, elapsed time.Duration) time.Duration {
	if read <= 0 {
		return 10 * minPoll
	}
	left := time.Duration((total - read) / read * float64(elapsed) / 2)
	return min(max(left, minPoll), maxPoll)
}

// Phases of a run, in the order they run. A run does all of them unless
// Config.Phases names some.
const (
	PhaseFollow  = "follow"  // the sidecar follows the log from its start, tokens reused
	PhaseUnique  = "unique"  // the same, every token unique
	PhaseNaive   = "naive"   // the naive pipeline over the first log
	PhaseScan    = "scan"    // jwtwatch scan: one core, two files on two cores, one file split
	PhaseGzip    = "gzip"    // jwtwatch scan of the log gzipped, against decompression alone
	PhaseLatency = "latency" // line-to-metric latency at a set rate
)

// Phases lists every phase, in the order they run.
var Phases = []string{PhaseFollow, PhaseUnique, PhaseNaive, PhaseScan, PhaseGzip, PhaseLatency}

// Config is one benchmark run.
type Config struct {
	// Lines is the log's length; when zero, Size decides it.
	Lines int
	// Size is the log's approximate size in bytes, used when Lines is zero.
	Size int64
	// Repeat is how many requests each token makes in the follow and scan
	// logs (default 50); the unique phase's log has every token once.
	Repeat int
	// Sessions is how many tokens are in use at once (default 1000).
	Sessions int
	// CacheSize is the sidecar's verdict cache size (sidecar.Options.VerdictCacheSize).
	CacheSize int
	// Dir is where the temporary logs are written (default os.TempDir()).
	Dir string
	// Phases are the phases to run; nil means all.
	Phases []string
	// Cores is GOMAXPROCS for the phases on several cores (default 2); the
	// others run on one.
	Cores int
	// Latency configures the latency phase.
	Latency LatencyConfig
	// CPUProfile, if set, receives a CPU profile of the follow phase.
	CPUProfile io.Writer
	// ScanCPUProfile, if set, receives a CPU profile of the scan phase's
	// scan on one core.
	ScanCPUProfile io.Writer
	// Now is the clock (time.Now when nil); the logs start an hour before it.
	Now func() time.Time
	// Alg is what the tokens of the follow, unique and naive phases are
	// signed with: HS256 (the default; the environment variables) or RS256,
	// ES256, EdDSA (a JWK Set in a key file). The scan and gzip phases
	// measure HS256 only.
	Alg string
}

// lineBytes is about the length of a generated line, to turn a size into lines.
const lineBytes = 800

// Report is the outcome of a run: the phases run, each with its figures.
type Report struct {
	Alg    string // what the tokens of the follow, unique and naive phases are signed with
	Gen    Stats  // the log of the follow, naive, scan and gzip phases
	Repeat int

	Follow, Unique *FollowRun
	// UniqueGen is the log of the unique phase.
	UniqueGen Stats

	// NaiveElapsed is the naive pipeline's time over the first log; 0 when not run.
	NaiveElapsed time.Duration
	// NaiveResults counts the naive pipeline's verdicts.
	NaiveResults map[string]float64

	Scan    *ScanRun
	Gzip    *GzipRun
	Latency *LatencyReport
}

// FollowRun is one run of the sidecar over a log from its start.
type FollowRun struct {
	Lines      int
	Bytes      int64
	GOMAXPROCS int
	// Elapsed is the sidecar's time from start to its last line counted.
	Elapsed time.Duration
	// Mallocs is the heap allocations during the sidecar's run.
	Mallocs uint64
	// PeakRSS is the process's peak resident set (VmHWM) during the phase,
	// in bytes; 0 if unknown.
	PeakRSS int64
	// CacheHits and CacheMisses are the sidecar's verdict cache counters.
	CacheHits, CacheMisses float64
	// Results counts the sidecar's verdicts by result label.
	Results map[string]float64
}

// LinesPerSecond is the run's throughput.
func (f *FollowRun) LinesPerSecond() float64 { return float64(f.Lines) / f.Elapsed.Seconds() }

// Run writes the logs and runs the phases cfg asks for.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Repeat <= 0 {
		cfg.Repeat = 50
	}
	if cfg.Sessions <= 0 {
		cfg.Sessions = 1000
	}
	if cfg.Cores <= 0 {
		cfg.Cores = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lines <= 0 {
		cfg.Lines = int(cfg.Size / lineBytes)
	}
	if cfg.Lines <= 0 {
		return Report{}, fmt.Errorf("%w: give a number of lines or a size", ErrConfig)
	}
	if cfg.Phases == nil {
		cfg.Phases = Phases
	}
	for _, p := range cfg.Phases {
		if !slices.Contains(Phases, p) {
			return Report{}, fmt.Errorf("%w: unknown phase %q (want %s)", ErrConfig, p, strings.Join(Phases, ", "))
		}
	}
	wants := func(p string) bool { return slices.Contains(cfg.Phases, p) }
	if cfg.Alg != "" && cfg.Alg != "HS256" && (wants(PhaseScan) || wants(PhaseGzip)) {
		return Report{}, fmt.Errorf("%w: tokens of %s are for the follow, unique and naive phases; scan and gzip measure HS256", ErrConfig, cfg.Alg)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))

	dir, err := os.MkdirTemp(cfg.Dir, "jwtwatch-bench-")
	if err != nil {
		return Report{}, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	sec, err := newSecrets(cfg.Alg)
	if err != nil {
		return Report{}, err
	}
	start := cfg.Now().Add(-time.Hour).Truncate(time.Second)
	r := Report{Alg: cmp.Or(cfg.Alg, "HS256"), Repeat: cfg.Repeat}
	path := filepath.Join(dir, "gateway.log")
	if wants(PhaseFollow) || wants(PhaseNaive) || wants(PhaseScan) || wants(PhaseGzip) {
		if r.Gen, err = generateFile(path, GenConfig{
			Lines: cfg.Lines, Repeat: cfg.Repeat, Sessions: cfg.Sessions, Mix: DefaultMix, Secrets: sec, Start: start, Seed: 1,
		}); err != nil {
			return r, err
		}
	}
	if wants(PhaseFollow) {
		runtime.GOMAXPROCS(1)
		if r.Follow, err = follow(ctx, cfg, path, sec, r.Gen, cfg.CPUProfile); err != nil {
			return r, err
		}
	}
	if wants(PhaseUnique) {
		unique := filepath.Join(dir, "unique.log")
		if r.UniqueGen, err = generateFile(unique, GenConfig{
			Lines: cfg.Lines, Repeat: 1, Sessions: cfg.Sessions, Mix: DefaultMix, Secrets: sec, Start: start, Seed: 2,
		}); err != nil {
			return r, err
		}
		runtime.GOMAXPROCS(1)
		if r.Unique, err = follow(ctx, cfg, unique, sec, r.UniqueGen, nil); err != nil {
			return r, err
		}
		os.Remove(unique)
	}
	if wants(PhaseNaive) {
		runtime.GOMAXPROCS(1)
		began := time.Now()
		if r.NaiveResults, err = naive(path, sec); err != nil {
			return r, err
		}
		r.NaiveElapsed = time.Since(began)
	}
	if wants(PhaseScan) {
		if r.Scan, err = scanPhase(path, dir, sec, r.Gen, cfg.Cores, cfg.ScanCPUProfile); err != nil {
			return r, err
		}
	}
	if wants(PhaseGzip) {
		if r.Gzip, err = gzipPhase(path, dir, sec, r.Gen, cfg.Cores); err != nil {
			return r, err
		}
	}
	if wants(PhaseLatency) {
		runtime.GOMAXPROCS(1)
		lcfg := cfg.Latency
		lcfg.Dir, lcfg.CacheSize = cfg.Dir, cfg.CacheSize
		lr, err := Latency(ctx, lcfg)
		if err != nil {
			return r, err
		}
		r.Latency = &lr
	}
	return r, nil
}

// newSecrets returns the keys of a run: HS256 secrets as the environment
// would hold them (printable strings), or key pairs of alg.
func newSecrets(alg string) (Secrets, error) {
	if alg == "" || alg == "HS256" {
		return Secrets{Current: randomSecret(), Previous: randomSecret(), Attacker: randomSecret()}, nil
	}
	return NewKeyPairs(alg)
}

// generateFile writes a generated log to path, synced to the disk so that
// writing it back does not compete with the phase that reads it.
func generateFile(path string, g GenConfig) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, fmt.Errorf("create log: %w", err)
	}
	st, err := Generate(f, g)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write log: %w", cerr)
	}
	return st, err
}

// follow runs the sidecar over path from its start, measuring the phase's
// peak RSS from a fresh start of the counter.
func follow(ctx context.Context, cfg Config, path string, sec Secrets, gen Stats, profile io.Writer) (*FollowRun, error) {
	resetPeakRSS()
	fr := &FollowRun{Lines: gen.Lines, Bytes: gen.Bytes, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if err := runSidecar(ctx, cfg.CacheSize, path, sec, gen.Lines, profile, fr); err != nil {
		return nil, err
	}
	fr.PeakRSS = peakRSS()
	return fr, nil
}

// randomSecret returns 32 random bytes, hex-encoded.
func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return []byte(hex.EncodeToString(b))
}

// runSidecar runs sidecar.Run on path from its beginning until its
// lines_read counter reaches the log's lines, then stops it.
func runSidecar(ctx context.Context, cacheSize int, path string, sec Secrets, lines int, profile io.Writer, r *FollowRun) error {
	addrs := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	start := time.Now()
	go func() {
		opts, err := sidecarOptions(path, sec, cacheSize, true, func(a []net.Addr) { addrs <- a[0] })
		if err != nil {
			done <- err
			return
		}
		done <- sidecar.Run(ctx, opts)
	}()

	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String() + "/metrics"
	case err := <-done:
		return fmt.Errorf("sidecar: %w", err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	wait := time.NewTimer(nextPoll(0, 0, 0))
	defer wait.Stop()
	var m map[string]float64
	for {
		select {
		case err := <-done:
			return fmt.Errorf("sidecar stopped early: %w", err)
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		case <-wait.C:
		}
		var err error
		if m, err = scrape(client, base); err != nil {
			cancel()
			<-done
			return err
		}
		// Done when every line has its verdict counted: a scrape gathers the
		// counters one after the other, so lines_read can already count a
		// line whose verdict (an RSA verification away) it does not show yet.
		read, total := m[`jwtwatch_lines_read_total{source="`+path+`"}`], float64(lines)
		if read >= total && checked(m) >= total {
			break
		}
		wait.Reset(nextPoll(read, total, time.Since(start)))
	}
	r.Elapsed = time.Since(start)
	if profile != nil {
		pprof.StopCPUProfile()
	}
	runtime.ReadMemStats(&after)
	r.Mallocs = after.Mallocs - before.Mallocs
	cancel()
	if err := <-done; err != nil {
		return fmt.Errorf("sidecar: %w", err)
	}
	r.CacheHits = m[`jwtwatch_verdict_cache_requests_total{result="hit"}`]
	r.CacheMisses = m[`jwtwatch_verdict_cache_requests_total{result="miss"}`]
	r.Results = map[string]float64{}
	for k, v := range m {
		if !strings.HasPrefix(k, "jwtwatch_tokens_total{") {
			continue
		}
		if _, res, ok := strings.Cut(k, `result="`); ok {
			res, _, _ = strings.Cut(res, `"`)
			r.Results[res] += v
		}
	}
	return nil
}

// checked sums the token verdicts of a scrape.
func checked(m map[string]float64) float64 {
	n := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "jwtwatch_tokens_total{") {
			n += v
		}
	}
	return n
}

// scrape reads the jwtwatch_* samples of a text exposition, keyed by
// series name with labels as exposed.
func scrape(c *http.Client, url string) (map[string]float64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: status %d", resp.StatusCode)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "jwtwatch_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return m, nil
}

// resetPeakRSS gives memory back to the system and restarts the peak RSS
// counter (Linux: writing 5 to /proc/self/clear_refs), so that peakRSS
// measures the phase that follows; where it cannot, peakRSS is the peak so
// far.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns VmHWM from /proc/self/status in bytes, 0 where there is none.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// naive is the obvious pipeline the issue compares against: nxadm/tail,
// encoding/json into a map, golang-jwt with MapClaims against the current
// then the previous key, and a CounterVec looked up by label values per line.
func naive(path string, sec Secrets) (map[string]float64, error) {
	t, err := nxtail.TailFile(path, nxtail.Config{MustExist: true, Logger: nxtail.DiscardingLogger})
	if err != nil {
		return nil, fmt.Errorf("naive: %w", err)
	}
	defer t.Cleanup()
	reg := prometheus.NewRegistry()
	tokens := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "naive_tokens_total", Help: "Tokens by key and result."}, []string{"key", "result"})
	reg.MustRegister(tokens)
	secrets := []struct {
		role string
		key  any
	}{{"current", sec.Current}, {"previous", sec.Previous}}
	alg := "HS256"
	if sec.Alg != "" && sec.Alg != "HS256" {
		alg = sec.Alg
		secrets[0].key, secrets[1].key = sec.CurrentKey.Public(), sec.PreviousKey.Public()
	}
	for line := range t.Lines {
		if line.Err != nil {
			return nil, fmt.Errorf("naive: %w", line.Err)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line.Text), &doc); err != nil {
			tokens.WithLabelValues("none", "invalid_line").Inc()
			continue
		}
		req, _ := doc["req"].(map[string]any)
		headers, _ := req["headers"].(map[string]any)
		auth, _ := headers["authorization"].(string)
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			tokens.WithLabelValues("none", "no_token").Inc()
			continue
		}
		ms, _ := doc["time"].(float64)
		at := time.UnixMilli(int64(ms))
		role, result := "none", "bad_signature"
		for _, s := range secrets {
			_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return s.key, nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(Issuer), jwt.WithTimeFunc(func() time.Time { return at }))
			switch {
			case err == nil:
				role, result = s.role, "valid"
			case errors.Is(err, jwt.ErrTokenSignatureInvalid):
				continue
			case errors.Is(err, jwt.ErrTokenExpired):
				role, result = s.role, "expired"
			case errors.Is(err, jwt.ErrTokenMalformed):
				result = "malformed"
			default:
				role, result = s.role, "invalid"
			}
			break
		}
		tokens.WithLabelValues(role, result).Inc()
	}
	fams, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("naive: %w", err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out, nil
}

// Write prints the report: every figure of the phases run.
func (r Report) Write(w io.Writer) {
	if r.Gen.Lines > 0 {
		fmt.Fprintf(w, "log:       %d lines, %.1f MB, %d %s tokens (each used ~%d times)\n",
			r.Gen.Lines, float64(r.Gen.Bytes)/1e6, r.Gen.Tokens, cmp.Or(r.Alg, "HS256"), r.Repeat)
	}
	if r.Follow != nil {
		r.Follow.write(w, "follow:   ", "tokens reused")
	}
	if r.Unique != nil {
		r.Unique.write(w, "unique:   ", "every token unique")
	}
	if r.NaiveElapsed > 0 {
		lines, nsec := float64(r.Gen.Lines), r.NaiveElapsed.Seconds()
		fmt.Fprintf(w, "naive:     GOMAXPROCS=1 %.0f lines/s, %.1f MB/s, %.0f ns/line (nxadm/tail, encoding/json, golang-jwt, CounterVec)\n",
			lines/nsec, float64(r.Gen.Bytes)/1e6/nsec, float64(r.NaiveElapsed.Nanoseconds())/lines)
		if r.Follow != nil {
			fmt.Fprintf(w, "ratio:     jwtwatch follows at %.1fx the naive pipeline's rate", r.Follow.LinesPerSecond()/(lines/nsec))
			if r.Unique != nil {
				fmt.Fprintf(w, " with tokens reused, %.1fx with every token unique", r.Unique.LinesPerSecond()/(lines/nsec))
			}
			fmt.Fprintln(w)
		}
	}
	if s := r.Scan; s != nil {
		rate := func(d time.Duration) float64 { return float64(s.Lines) / d.Seconds() }
		fmt.Fprintf(w, "scan:      one core %.0f lines/s (%.1f MB/s); two files on %d cores %.0f lines/s (%.2fx one core); one file split on %d cores %.0f lines/s (%.2fx)\n",
			rate(s.OneCore), float64(s.Bytes)/1e6/s.OneCore.Seconds(), s.Cores, rate(s.TwoFiles), s.OneCore.Seconds()/s.TwoFiles.Seconds(),
			s.Cores, rate(s.Split), s.OneCore.Seconds()/s.Split.Seconds())
	}
	if g := r.Gzip; g != nil {
		fmt.Fprintf(w, "gzip:      %.1f MB compressed to %.1f MB; decompressor %s\n", float64(g.Bytes)/1e6, float64(g.Compressed)/1e6, scan.Decompressor)
		for _, t := range g.Runs {
			fmt.Fprintf(w, "           GOMAXPROCS=%d: decompress only %s (%.0f MB/s), scan %s (%.0f lines/s): %.2fx decompressing alone\n",
				t.GOMAXPROCS, t.Decompress.Round(time.Millisecond), float64(g.Bytes)/1e6/t.Decompress.Seconds(),
				t.Scan.Round(time.Millisecond), float64(g.Lines)/t.Scan.Seconds(), t.Scan.Seconds()/t.Decompress.Seconds())
		}
		if g.GzipDC > 0 {
			fmt.Fprintf(w, "           gzip -dc: %s (%.0f MB/s); the scans take %s of it\n", g.GzipDC.Round(time.Millisecond),
				float64(g.Bytes)/1e6/g.GzipDC.Seconds(), ratios(g))
		}
	}
	if r.Latency != nil {
		r.Latency.Write(w)
	}
}

func ratios(g *GzipRun) string {
	var parts []string
	for _, t := range g.Runs {
		parts = append(parts, fmt.Sprintf("%.2fx (GOMAXPROCS=%d)", t.Scan.Seconds()/g.GzipDC.Seconds(), t.GOMAXPROCS))
	}
	return strings.Join(parts, ", ")
}

func (f *FollowRun) write(w io.Writer, label, what string) {
	lines, sec := float64(f.Lines), f.Elapsed.Seconds()
	hitRatio := 0.0
	if n := f.CacheHits + f.CacheMisses; n > 0 {
		hitRatio = f.CacheHits / n
	}
	fmt.Fprintf(w, "%s GOMAXPROCS=%d %.0f lines/s, %.1f MB/s, %.0f ns/line, %.2f allocs/line, peak RSS %.1f MiB, cache hits %.1f%% (%s)\n",
		label, f.GOMAXPROCS, lines/sec, float64(f.Bytes)/1e6/sec, float64(f.Elapsed.Nanoseconds())/lines,
		float64(f.Mallocs)/lines, float64(f.PeakRSS)/(1<<20), 100*hitRatio, what)
}

// sidecarOptions runs the sidecar on path with sec's keys: HS256 secrets in
// its environment, or key pairs as a JWK Set named by a key file beside the
// log; metrics on a free loopback port and no logs.
func sidecarOptions(path string, sec Secrets, cacheSize int, fromStart bool, listening func([]net.Addr)) (sidecar.Options, error) {
	env := map[string]string{
		"JWT_ACCESS_SECRET":          string(sec.Current),
		"JWT_ACCESS_SECRET_PREVIOUS": string(sec.Previous),
		"JWT_ACCESS_ISSUER":          Issuer,
	}
	o := sidecar.Options{
		LogPaths:         []string{path},
		FromStart:        fromStart,
		ListenAddresses:  []string{"127.0.0.1:0"},
		VerdictCacheSize: cacheSize,
		Lookup:           func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile:         func(string) ([]byte, error) { return nil, os.ErrNotExist },
		Logger:           slog.New(slog.DiscardHandler),
		Listening:        listening,
	}
	if sec.Alg == "" || sec.Alg == "HS256" {
		return o, nil
	}
	env = map[string]string{"JWT_ACCESS_ISSUER": Issuer}
	var members []string
	for _, k := range []struct {
		kid string
		key crypto.Signer
	}{{KidCurrent, sec.CurrentKey}, {KidPrevious, sec.PreviousKey}} {
		j, err := keys.PublicJWK(k.key.Public(), k.kid, sec.Alg)
		if err != nil {
			return o, err
		}
		members = append(members, string(j))
	}
	dir := filepath.Dir(path)
	set, file := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(set, []byte(`{"keys":[`+strings.Join(members, ",")+`]}`), 0o600); err != nil {
		return o, err
	}
	yaml := "access:\n  keys:\n    - jwks_file: " + set + "\n      roles: {" + KidCurrent + ": current, " + KidPrevious + ": previous}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		return o, err
	}
	o.KeysFile, o.ReadFile = file, os.ReadFile
	return o, nil
}
