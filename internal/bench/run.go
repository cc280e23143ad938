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
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	nxtail "github.com/nxadm/tail"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtwatch/jwtwatch/internal/keys"
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

// Config is one benchmark run.
type Config struct {
	// Lines is the log's length; when zero, Size decides it.
	Lines int
	// Size is the log's approximate size in bytes, used when Lines is zero.
	Size int64
	// Repeat is how many requests each token makes (default 50).
	Repeat int
	// Sessions is how many tokens are in use at once (default 1000).
	Sessions int
	// CacheSize is the sidecar's verdict cache size (sidecar.Options.VerdictCacheSize).
	CacheSize int
	// Dir is where the temporary log is written (default os.TempDir()).
	Dir string
	// Naive also runs the naive pipeline over the same file.
	Naive bool
	// CPUProfile, if set, receives a CPU profile of the sidecar's run.
	CPUProfile io.Writer
	// Now is the clock (time.Now when nil); the log starts an hour before it.
	Now func() time.Time
	// Alg is what the tokens are signed with: HS256 (the default; the
	// environment variables) or RS256, ES256, EdDSA (a JWK Set in a key file).
	Alg string
}

// lineBytes is about the length of a generated line, to turn a size into lines.
const lineBytes = 800

// Report is the outcome of a run.
type Report struct {
	Alg        string
	Gen        Stats
	GOMAXPROCS int
	Repeat     int
	// Elapsed is the sidecar's time from start to its last line counted.
	Elapsed time.Duration
	// Mallocs is the heap allocations during the sidecar's run.
	Mallocs uint64
	// PeakRSS is the process's peak resident set (VmHWM) after the sidecar's run, in bytes; 0 if unknown.
	PeakRSS int64
	// CacheHits and CacheMisses are the sidecar's verdict cache counters.
	CacheHits, CacheMisses float64
	// Results counts the sidecar's verdicts by result label.
	Results map[string]float64
	// NaiveElapsed is the naive pipeline's time over the same file; 0 when not run.
	NaiveElapsed time.Duration
	// NaiveResults counts the naive pipeline's verdicts.
	NaiveResults map[string]float64
}

// Run writes the log, runs the sidecar over it and, if asked, the naive pipeline.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Repeat <= 0 {
		cfg.Repeat = 50
	}
	if cfg.Sessions <= 0 {
		cfg.Sessions = 1000
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
	dir, err := os.MkdirTemp(cfg.Dir, "jwtwatch-bench-")
	if err != nil {
		return Report{}, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	sec, err := newSecrets(cfg.Alg)
	if err != nil {
		return Report{}, err
	}
	path := filepath.Join(dir, "gateway.log")
	f, err := os.Create(path)
	if err != nil {
		return Report{}, fmt.Errorf("create log: %w", err)
	}
	gen, err := Generate(f, GenConfig{
		Lines: cfg.Lines, Repeat: cfg.Repeat, Sessions: cfg.Sessions, Mix: DefaultMix,
		Secrets: sec, Start: cfg.Now().Add(-time.Hour).Truncate(time.Second), Seed: 1,
	})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write log: %w", cerr)
	}
	if err != nil {
		return Report{}, err
	}

	r := Report{Alg: cmp.Or(cfg.Alg, "HS256"), Gen: gen, GOMAXPROCS: runtime.GOMAXPROCS(0), Repeat: cfg.Repeat}
	if err := runSidecar(ctx, cfg, path, sec, &r); err != nil {
		return r, err
	}
	r.PeakRSS = peakRSS()
	if cfg.Naive {
		start := time.Now()
		if r.NaiveResults, err = naive(path, sec); err != nil {
			return r, err
		}
		r.NaiveElapsed = time.Since(start)
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

// randomSecret returns 32 random bytes, hex-encoded.
func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return []byte(hex.EncodeToString(b))
}

// runSidecar runs sidecar.Run on path from its beginning until its
// lines_read counter reaches the log's length, then stops it.
func runSidecar(ctx context.Context, cfg Config, path string, sec Secrets, r *Report) error {
	addrs := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	start := time.Now()
	go func() {
		opts, err := sidecarOptions(path, sec, cfg.CacheSize, true, func(a []net.Addr) { addrs <- a[0] })
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
		read, total := m[`jwtwatch_lines_read_total{source="`+path+`"}`], float64(r.Gen.Lines)
		if read >= total && checked(m) >= total {
			break
		}
		wait.Reset(nextPoll(read, total, time.Since(start)))
	}
	r.Elapsed = time.Since(start)
	if cfg.CPUProfile != nil {
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

// Write prints the report.
func (r Report) Write(w io.Writer) {
	lines := float64(r.Gen.Lines)
	fmt.Fprintf(w, "log:       %d lines, %.1f MB, %d %s tokens (each used ~%d times), GOMAXPROCS=%d\n",
		r.Gen.Lines, float64(r.Gen.Bytes)/1e6, r.Gen.Tokens, cmp.Or(r.Alg, "HS256"), r.Repeat, r.GOMAXPROCS)
	sec := r.Elapsed.Seconds()
	hitRatio := 0.0
	if n := r.CacheHits + r.CacheMisses; n > 0 {
		hitRatio = r.CacheHits / n
	}
	fmt.Fprintf(w, "jwtwatch:  %.0f lines/s, %.1f MB/s, %.0f ns/line, %.2f allocs/line, peak RSS %.1f MiB, cache hits %.1f%%\n",
		lines/sec, float64(r.Gen.Bytes)/1e6/sec, float64(r.Elapsed.Nanoseconds())/lines,
		float64(r.Mallocs)/lines, float64(r.PeakRSS)/(1<<20), 100*hitRatio)
	if r.NaiveElapsed > 0 {
		nsec := r.NaiveElapsed.Seconds()
		fmt.Fprintf(w, "naive:     %.0f lines/s, %.1f MB/s, %.0f ns/line\n",
			lines/nsec, float64(r.Gen.Bytes)/1e6/nsec, float64(r.NaiveElapsed.Nanoseconds())/lines)
		fmt.Fprintf(w, "ratio:     %.1fx the naive pipeline\n", nsec/sec)
	}
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
