// Package sidecar wires jwtwatch together: it follows the log sources, sends
// every line through parse → verify → rotation → metrics, checkpoints the
// state file and serves the HTTP endpoints. Run is what the binary, the demo
// and the tests start.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/errgroup"

	"github.com/jwtwatch/jwtwatch/internal/buildinfo"
	"github.com/jwtwatch/jwtwatch/internal/cache"
	"github.com/jwtwatch/jwtwatch/internal/jwks"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/lines"
	"github.com/jwtwatch/jwtwatch/internal/metrics"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/state"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
	"github.com/jwtwatch/jwtwatch/internal/tail"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// ErrConfig marks a start-up error caused by the configuration; the binary
// exits with status 2 for it.
var ErrConfig = errors.New("invalid configuration")

// Options is everything Run needs; the binary fills it from flags.
type Options struct {
	LogPaths     []string
	FromStart    bool
	MaxLineBytes int
	// RotateWait is how long a rotated file is still read
	// (tail.DefaultRotateWait when 0); PollInterval how often files that
	// nothing watches are looked at (tail.DefaultPollInterval when 0).
	RotateWait   time.Duration
	PollInterval time.Duration
	// GoneAfter is how long a file a glob matched may be missing before its
	// series are deleted (tail.DefaultGoneAfter when 0).
	GoneAfter time.Duration
	Parse     parse.Config
	Verify    verify.Options
	Policy    rotation.Policy
	// PublicPaths (--gateway.public-paths) is a regular expression, anchored
	// at both ends, over request paths whose gateway verdict is not compared
	// with jwtwatch's: routes that never check tokens. Empty: none.
	PublicPaths string

	ListenAddresses []string
	SystemdSocket   bool
	WebConfigFile   string
	TelemetryPath   string

	StateFile          string
	CheckpointInterval time.Duration

	// StragglersSize is how many clients still on the previous key are kept
	// for /api/v1/stragglers.
	StragglersSize int

	// VerdictCacheSize is how many tokens the verdict cache keeps; 0 means
	// cache.DefaultSize, a negative value disables the cache.
	VerdictCacheSize int

	// Lookup and ReadFile read the key variables and secret files
	// (os.LookupEnv and keys.ReadFile in production).
	Lookup   func(string) (string, bool)
	ReadFile func(string) ([]byte, error)
	// KeysFile is the --keys.file; empty for the environment variables alone.
	KeysFile string
	// JWKS tunes the key file's JWKS URLs.
	JWKS JWKSOptions
	// Reload receives a value for every SIGHUP.
	Reload <-chan os.Signal
	// Stdin is what a log path of "-" reads.
	Stdin  io.Reader
	Now    func() time.Time
	Logger *slog.Logger
	// Build is logged at start-up and shown on the status page.
	Build buildinfo.Info
	// Environment (--environment), when set, labels jwtwatch_build_info and
	// jwtwatch_key_info: one key fingerprint under two environments is a
	// secret shared between them.
	Environment string
	// Listening, if set, is called with the bound addresses once the server listens.
	Listening func([]net.Addr)
}

func (o *Options) defaults() {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = lines.DefaultMaxLineBytes
	}
	if o.TelemetryPath == "" {
		o.TelemetryPath = "/metrics"
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 5 * time.Second
	}
	if o.StragglersSize <= 0 {
		o.StragglersSize = 100
	}
	if o.Policy.MaxAge <= 0 {
		o.Policy.MaxAge = rotation.DefaultMaxAge
	}
	if o.VerdictCacheSize == 0 {
		o.VerdictCacheSize = cache.DefaultSize
	}
	if o.Lookup == nil {
		o.Lookup = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = keys.ReadFile
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.JWKS.defaults()
}

// sidecar is one running instance; it lives for one call of Run.
type sidecar struct {
	opts     Options
	log      *slog.Logger
	parser   *parse.Parser
	public   *regexp.Regexp // --gateway.public-paths; nil when none
	verifier atomic.Pointer[verify.Verifier]
	verdicts *cache.Cache // guarded by pipe; emptied when the Verifier changes
	tracker  *rotation.Tracker
	metrics  *metrics.Metrics
	tailer   *tail.Tailer
	keyFiles []string

	bg       context.Context        // lives as long as run; the JWKS refresh loops stop with it
	loading  sync.Mutex             // one key load at a time
	jwks     map[string]*jwksSource // guarded by loading
	fetchers atomic.Pointer[[]*jwks.Fetcher]
	jwksWait sync.WaitGroup

	stragglers *stragglers.Sketch
	previous   []string // fingerprints of the loaded previous keys, to reset the stragglers
	inUse      keys.Set // the keys lines are checked against, remembered ones included; guarded by reloading
	reloading  sync.Mutex
	activity   map[keys.Family]*activity

	pipe     sync.Mutex // one line at a time through the pipeline; checkpoints and key changes between lines
	watching bool       // a line has been read; guarded by pipe
	saving   sync.Mutex // taken before pipe
	last     *source    // guarded by pipe: the source of the last line, as lines come in runs
	clock    clock      // guarded by pipe
	mu       sync.Mutex
	sources  map[string]*source
	carried  map[string]tail.Position
	first    time.Time // when the first line was read; guarded by mu
}

// source is the pipeline's view of one log source: the position processed
// so far, guarded by the sidecar's pipe, and when its last line was read,
// which a scrape reads without stopping the pipeline.
type source struct {
	path     string
	counters *metrics.Source
	pos      tail.Position
	lastLine atomic.Int64 // Unix nanoseconds; 0 before the first line
}

// Run starts jwtwatch and blocks until ctx is done, then drains, writes the
// final state and returns. Configuration errors wrap ErrConfig and are
// returned before anything starts.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	s := &sidecar{opts: o, log: o.Logger, sources: map[string]*source{}, stragglers: stragglers.New(o.StragglersSize), verdicts: cache.New(o.VerdictCacheSize), activity: newActivity(), jwks: map[string]*jwksSource{}}
	bg, stopJWKS := context.WithCancel(ctx)
	s.bg = bg
	defer s.jwksWait.Wait()
	defer stopJWKS()

	// Both are allocated as they fill, but a bound keeps a typo (or a hostile
	// flood of distinct clients or tokens) from taking gigabytes.
	if o.StragglersSize > stragglers.MaxSize {
		return fmt.Errorf("%w: --stragglers.size: %d is more than the maximum %d", ErrConfig, o.StragglersSize, stragglers.MaxSize)
	}
	if o.VerdictCacheSize > cache.MaxSize {
		return fmt.Errorf("%w: --jwt.cache-size: %d is more than the maximum %d", ErrConfig, o.VerdictCacheSize, cache.MaxSize)
	}
	var err error
	if s.parser, err = parse.New(o.Parse); err != nil {
		return fmt.Errorf("%w: --log.format: %w", ErrConfig, err)
	}
	if s.public, err = publicPaths(o.PublicPaths); err != nil {
		return fmt.Errorf("%w: --gateway.public-paths: %w", ErrConfig, err)
	}
	if o.WebConfigFile != "" {
		if err := web.Validate(o.WebConfigFile); err != nil {
			return fmt.Errorf("%w: --web.config.file: %w", ErrConfig, err)
		}
	}
	saved := state.File{Positions: map[string]tail.Position{}}
	if o.StateFile != "" {
		unlock, err := state.Lock(o.StateFile)
		if err != nil {
			return fmt.Errorf("%w: --state.file: %w", ErrConfig, err)
		}
		defer unlock()
		if saved, err = state.Load(o.StateFile); err != nil {
			return fmt.Errorf("%w: --state.file: %w", ErrConfig, err)
		}
	}
	if s.tracker, err = rotation.New(o.Policy, o.Now, saved.Rotation); err != nil {
		return fmt.Errorf("%w: --state.file: %w", ErrConfig, err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewStateCollector(s.state, o.Environment),
	)
	// Without --environment no label at all, so that one set by relabelling applies.
	var buildReg prometheus.Registerer = reg
	if o.Environment != "" {
		buildReg = prometheus.WrapRegistererWith(prometheus.Labels{"environment": o.Environment}, reg)
	}
	buildReg.MustRegister(versioncollector.NewCollector("jwtwatch"))
	s.metrics = metrics.New(reg)
	// The keys after the metrics, which count the JWKS fetches.
	set, err := s.loadKeys(ctx, false)
	if err != nil {
		if errors.Is(err, errFetch) {
			return fmt.Errorf("keys: %w", err)
		}
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}

	s.tailer, err = tail.New(tail.Config{
		Paths:        o.LogPaths,
		FromStart:    o.FromStart,
		MaxLineBytes: o.MaxLineBytes,
		Positions:    saved.Positions,
		RotateWait:   o.RotateWait,
		PollInterval: o.PollInterval,
		GoneAfter:    o.GoneAfter,
		Logger:       s.log,
		Events: tail.Events{
			Reopened:         func(src string) { s.source(src).counters.Reopens.Inc() },
			RotatedWhileDown: s.rotatedWhileDown,
			Lost:             func(src string, n int64) { s.source(src).counters.LostBytes.Add(float64(n)) },
			Removed:          s.removeSource,
			Skipped:          func(string) { s.metrics.Skipped() },
		},
		Stdin: o.Stdin,
	})
	if err != nil {
		return fmt.Errorf("%w: --log.path: %w", ErrConfig, err)
	}
	// Positions of files not read yet in this run are carried into every
	// checkpoint, so a second restart still resumes them.
	s.carried = maps.Clone(saved.Positions) // the tailer reads saved.Positions meanwhile
	s.log.Info("starting jwtwatch", "version", o.Build.Version, "revision", o.Build.Revision, "build_date", o.Build.BuildDate, "sources", len(o.LogPaths), "state_file", o.StateFile, "environment", o.Environment)
	s.unknownReplaced(saved.Rotation, set)
	s.useKeys(set)
	s.keyFiles = set.Files
	// The rotation start must survive even a crash before the first periodic
	// checkpoint, and a state file that cannot be written stops jwtwatch here.
	if err := s.checkpoint(); err != nil {
		return fmt.Errorf("%w: --state.file: cannot write it (its directory must be writable by jwtwatch): %w", ErrConfig, err)
	}

	var listeners []net.Listener
	if !o.SystemdSocket {
		if listeners, err = listen(o.ListenAddresses); err != nil {
			return err
		}
	}
	if o.Listening != nil {
		addrs := make([]net.Addr, len(listeners))
		for i, l := range listeners {
			addrs[i] = l.Addr()
		}
		o.Listening(addrs)
	}
	return s.run(ctx, reg, listeners)
}

func listen(addrs []string) ([]net.Listener, error) {
	if len(addrs) == 0 {
		addrs = []string{":9824"}
	}
	var ls []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("--web.listen-address: %w", err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func (s *sidecar) run(ctx context.Context, reg *prometheus.Registry, listeners []net.Listener) error {
	tailCtx, stopTail := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTail()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// Stop following only when asked to: the line in hand is finished.
		<-gctx.Done()
		stopTail()
		return nil
	})
	g.Go(func() error { return s.pipeline(tailCtx) })
	g.Go(func() error { return s.watchKeys(gctx, s.keyFiles) })

	srv := &http.Server{
		Handler:           s.handler(reg),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	g.Go(func() error {
		cfg := &web.FlagConfig{WebListenAddresses: &s.opts.ListenAddresses, WebSystemdSocket: &s.opts.SystemdSocket, WebConfigFile: &s.opts.WebConfigFile}
		serve := func() error { return web.ServeMultiple(listeners, srv, cfg, s.log) }
		if s.opts.SystemdSocket {
			serve = func() error { return web.ListenAndServe(srv, cfg, s.log) }
		}
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve HTTP: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Within the 5 s a SIGTERM allows: drain for 3 s, then cut what is left
		// (a slow or stuck client must not turn a clean stop into a failure).
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(gctx), 3*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			s.log.Warn("closing HTTP connections still open after the shutdown grace period", "err", err)
			return srv.Close()
		}
		return nil
	})
	return g.Wait()
}

// pipeline follows the sources until ctx is done, checkpointing on a timer
// and once more when the tailer has stopped. Lines are handled on the
// followers' goroutines (a channel hand-off per line would cost more than
// the line's parse and verdict), one at a time under pipe.
func (s *sidecar) pipeline(ctx context.Context) error {
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		tick := time.NewTicker(s.opts.CheckpointInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := s.checkpoint(); err != nil {
					s.log.Error("cannot write state file; will retry", "err", err)
				}
			}
		}
	}()
	if err := s.tailer.Follow(ctx, s.handle); err != nil {
		return err
	}
	return s.checkpoint()
}

// handle is the tail.Handler: it takes lines from every source, one at a time.
func (s *sidecar) handle(l tail.Line) bool {
	s.pipe.Lock()
	s.line(l)
	s.pipe.Unlock()
	return true
}

// clock is the time the pipeline takes for a line: read once per chunk of
// lines the follower read at one moment (tail.Line.Chunk), not per line.
type clock struct {
	src   *source
	file  tail.FileID
	chunk int64
	now   time.Time
}

// at returns the time of line l of source src.
func (c *clock) at(now func() time.Time, src *source, l tail.Line) time.Time {
	if src != c.src || l.File != c.file || l.Chunk != c.chunk || c.now.IsZero() {
		*c = clock{src: src, file: l.File, chunk: l.Chunk, now: now()}
	}
	return c.now
}

// line sends one line through parse → verify → rotation → metrics.
func (s *sidecar) line(l tail.Line) {
	src := s.last
	if src == nil || src.path != l.Source {
		src = s.source(l.Source)
		s.last = src
	}
	now := s.clock.at(s.opts.Now, src, l)
	src.counters.Read.Inc()
	if !s.watching {
		// From now on "no valid previous-key token seen" begins to mean something.
		s.watching = true
		s.tracker.Watching(now)
		s.mu.Lock()
		s.first = now
		s.mu.Unlock()
	}
	s.record(src, l, now)
	if !l.Rotated { // the position follows the file at the path
		src.pos = tail.Position{File: l.File, Offset: l.Offset}
	}
	src.lastLine.Store(now.UnixNano())
}

// record parses, checks and counts one line read at now.
func (s *sidecar) record(src *source, l tail.Line, now time.Time) {
	if l.TooLong {
		src.counters.TooLong.Inc()
		return
	}
	obs, err := s.parser.ParseLine(l.Text, !l.Unterminated)
	switch {
	case err == parse.ErrNoToken: // Parse returns the bare sentinels
		src.counters.NoToken.Inc()
		return
	case err != nil:
		src.counters.Invalid.Inc()
		return
	}
	// The line's own time, unless it has none or is ahead of the clock by
	// more than the skew: a gateway clock in 2030 must not move last_valid
	// (and with it the removal verdict) years ahead.
	at := obs.Time
	switch {
	case at.IsZero():
		at = now
	case at.After(now.Add(s.opts.Policy.Skew)):
		src.counters.TimeSkewed.Inc()
		at = now
	}
	v, hit := s.verdicts.Check(s.verifier.Load(), obs.Token, at)
	s.metrics.VerdictCache(hit)
	if v.UnknownKID() {
		s.requestRefresh()
	}
	reasons := s.tracker.Record(v, at)
	status, removed := obs.Status, false
	if v.Key == keys.Retired {
		var sure bool
		if removed, sure = s.tracker.Removed(v, at); !sure {
			status = 0 // the gateway switched keys about then: no verdict to compare
		}
	}
	if s.public != nil && status != 0 {
		// A route that never checks tokens answers without a verdict on
		// them. Only a line whose status would be counted as a mismatch (a
		// few) is looked at again for its path.
		if _, ok := metrics.Mismatch(status, v.Result, removed); ok && s.public.MatchString(s.parser.Path(unsafeBytes(l.Text))) {
			status = 0
		}
	}
	s.metrics.Token(v, status, removed, reasons)
	if a := s.activity[v.Family]; a != nil {
		a.record(v, status, removed, len(reasons) > 0, at)
	}
	// Who still depends on the previous key (valid tokens), and who still
	// presents a retired, removed key's tokens at all, valid or not (after an
	// immediate or emergency rotation: the clients that never log in again,
	// and the attacker). Rare once the rotation is under way, so the second
	// look at the line is cheap.
	if v.Key == keys.Previous && v.Result == verify.Valid || removed {
		d := s.parser.DetailsString(l.Text)
		s.stragglers.Observe(string(v.Family), string(v.Key), stragglers.Client{
			Subject: v.Claims.Subject, ClientID: v.Claims.ClientID, UserAgent: d.UserAgent, Address: d.Client,
		}, at)
	}
}

// publicPaths compiles --gateway.public-paths, anchored at both ends like a
// Prometheus relabelling regex: /health matches /health, not /healthz.
func publicPaths(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile("^(?:" + expr + ")$")
}

// unsafeBytes is the bytes of s without a copy, for the parser, which only
// reads them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// rotatedWhileDown counts a saved position that no longer fits its file and
// saves instead where that path is read from now (its new file's start), so
// that a checkpoint before its first line does not save the old position
// again.
func (s *sidecar) rotatedWhileDown(path string, now tail.Position) {
	src := s.source(path)
	src.counters.RotatedWhileDown.Inc()
	s.pipe.Lock() // positions change between lines only
	s.mu.Lock()
	src.pos = now
	if now == (tail.Position{}) {
		delete(s.carried, path)
	} else {
		s.carried[path] = now
	}
	s.mu.Unlock()
	s.pipe.Unlock()
}

// removeSource forgets a source the tailer dropped (a glob match gone for a
// while): its series, and its position in the state file.
func (s *sidecar) removeSource(path string) {
	s.pipe.Lock() // not between a line's count and its position
	s.last, s.clock = nil, clock{}
	s.mu.Lock()
	delete(s.sources, path)
	delete(s.carried, path)
	s.mu.Unlock()
	s.metrics.DeleteSource(path)
	s.pipe.Unlock()
}

func (s *sidecar) source(path string) *source {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, ok := s.sources[path]
	if !ok {
		// Until its first line, a source stands where the last run left it.
		src = &source{path: path, counters: s.metrics.Source(path), pos: s.carried[path]}
		s.sources[path] = src
	}
	return src
}

// checkpoint writes the processed positions and the rotation state. The
// pipeline calls it on a timer, a key reload when a rotation starts.
func (s *sidecar) checkpoint() error {
	if s.opts.StateFile == "" {
		return nil
	}
	s.saving.Lock() // one writer at a time, so an older snapshot never replaces a newer one
	defer s.saving.Unlock()
	// Positions and rotation state are taken between two lines, so that
	// they describe the same lines; the file is written after.
	s.pipe.Lock()
	f := state.File{SavedAt: s.opts.Now(), Positions: maps.Clone(s.carried)}
	s.mu.Lock()
	for path, src := range s.sources {
		if path != "-" && src.pos != (tail.Position{}) {
			f.Positions[path] = src.pos
		}
	}
	s.mu.Unlock()
	var err error
	f.Rotation, err = s.tracker.Snapshot()
	s.pipe.Unlock()
	if err == nil {
		err = state.Save(s.opts.StateFile, f)
	}
	s.metrics.StateWrite(err)
	return err
}

// state is read at scrape time by the metrics collector. The tailer knows
// the sources (globs expand to files) and their sizes; the pipeline knows how
// far it has processed each.
func (s *sidecar) state() metrics.State {
	st := metrics.State{Rotation: s.tracker.Report(), QuietPeriod: s.opts.Policy.QuietPeriod, WaitForUnseen: !s.opts.Policy.SkipUnseen, MaxAge: s.opts.Policy.MaxAge}
	s.mu.Lock()
	st.FirstLine = s.first
	s.mu.Unlock()
	for _, ts := range s.tailer.Sources() {
		src := s.source(ts.Path) // a file a glob just matched appears at zero
		var last time.Time
		if ns := src.lastLine.Load(); ns != 0 {
			last = time.Unix(0, ns)
		}
		st.Sources = append(st.Sources, metrics.SourceState{Path: ts.Path, BehindBytes: ts.Behind, LastLine: last})
	}
	return st
}

// unknownReplaced warns, at start-up, about a current key that changed
// while jwtwatch was not running to a key that does not configure the one
// it replaced: that key's tokens, which the gateways may still see, now
// count as bad_signature.
func (s *sidecar) unknownReplaced(saved rotation.Snapshot, set keys.Set) {
	for f, r := range saved.Rotations {
		cur, ok := set.Find(f, keys.Current)
		if !ok || cur.Fingerprint == r.CurrentFingerprint ||
			slices.ContainsFunc(set.Keys, func(k keys.Key) bool { return k.Family == f && k.Fingerprint == r.CurrentFingerprint }) {
			continue
		}
		s.log.Warn(fmt.Sprintf("the current %s key changed while jwtwatch was not running and the key it replaced is not configured: "+
			"tokens that key signed count as bad_signature; set JWT_%s_SECRET_PREVIOUS (dual-key) or JWT_%[2]s_SECRET_RETIRED (immediate rotation) to it",
			f, strings.ToUpper(string(f))), "replaced_fingerprint", r.CurrentFingerprint, "current_fingerprint", cur.Fingerprint)
	}
}

// useKeys makes a loaded key set the one every later line is checked
// against. It reports whether a rotation started (or a rollback), which
// the caller persists at once; each change of a current key is logged.
func (s *sidecar) useKeys(set keys.Set) (changed bool) {
	for _, k := range set.Keys {
		switch {
		case k.Weak && k.Secret() != nil:
			s.log.Warn("secret is shorter than 32 bytes; HS256 wants at least 256 bits", "key", k, "source", k.Source)
		case k.Weak:
			s.log.Warn("RSA key is shorter than 2048 bits (RFC 7518 §3.3)", "key", k, "source", k.Source)
		}
		if k.Whitespace {
			s.log.Warn("secret begins or ends with whitespace (after the one trailing newline a file may have); jwtwatch uses it as it is, and a gateway whose copy lacks it has every token counted bad_signature",
				"key", k, "source", k.Source)
		}
	}
	for _, n := range set.Notes {
		s.log.Info("keys: " + n)
	}
	for _, sh := range set.Shared() {
		s.log.Warn("one secret is configured for several keys; its tokens are told apart by issuer, then by iat against the rotation start, else counted for the older key",
			"variables", strings.Join(sh.Variables(), ","), "fingerprint", sh.Fingerprint)
	}
	var previous []string // and retired: the keys whose users the stragglers are
	for _, k := range set.Keys {
		if k.Role == keys.Previous || k.Role == keys.Retired {
			previous = append(previous, k.Fingerprint)
		}
	}
	s.inUse = set
	// The verifier and the rotation state change together, between two
	// lines: a line judged by the new keys against the old rotation start
	// would make the old current key's tokens issued_after_rotation.
	s.pipe.Lock()
	before := s.tracker.History()
	changed = s.tracker.SetKeys(set.Keys)
	opts := s.opts.Verify
	opts.Rotations = s.tracker.Starts()
	s.verifier.Store(verify.New(set, opts))
	if !slices.Equal(previous, s.previous) {
		s.stragglers.Reset() // they were on another key
		s.previous = previous
	}
	s.pipe.Unlock()
	for _, c := range s.tracker.History() {
		if !slices.Contains(before, c) {
			s.log.Info(fmt.Sprintf("the current %s key changed: a %s", c.Family, c.Kind), "token", c.Family, "kind", c.Kind, "from", c.From, "to", c.To)
		}
	}
	s.metrics.KeysLoaded(s.opts.Now())
	s.log.Info("keys loaded", "keys", len(set.Keys), "ring", set.Summary())
	return changed
}

// reload re-reads the keys; a failure keeps the keys in use. refetch also
// fetches every JWKS URL first (SIGHUP); a secret file changing does not. A
// current key it replaces with no previous key configured for its family
// is kept in memory as retired (keys.KeepReplaced): the immediate
// rotation's stale sessions are recognised, not counted as forgeries.
func (s *sidecar) reload(refetch bool) keys.Set {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	set, err := s.loadKeys(s.bg, refetch)
	if err != nil {
		s.metrics.Reload(err)
		s.log.Error("key reload failed; keeping the loaded keys", "err", err)
		return keys.Set{}
	}
	set = keys.KeepReplaced(s.inUse, set)
	for _, k := range set.Keys {
		if k.Remembered && !slices.ContainsFunc(s.inUse.Keys, func(o keys.Key) bool { return o.Remembered && o.Fingerprint == k.Fingerprint }) {
			s.log.Warn(fmt.Sprintf("the replaced %s key is kept in memory as retired, so that its stale sessions are recognised: no previous key is configured "+
				"(an immediate rotation); a restart forgets it: set JWT_%s_SECRET_RETIRED to keep recognising them", k.Family, strings.ToUpper(string(k.Family))), "key", k)
		}
	}
	if s.useKeys(set) {
		// The periodic checkpoint tries again, so a failure here is not the end.
		if err := s.checkpoint(); err != nil {
			s.log.Error("cannot write state file after a rotation started; will retry", "err", err)
		}
	}
	s.metrics.Reload(nil)
	return set
}
