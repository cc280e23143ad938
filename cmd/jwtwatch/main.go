// Command jwtwatch is a sidecar that tails an API gateway's logs, re-verifies
// every logged JWT against the current and previous signing keys, and exposes
// what it finds as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/jwtwatch/jwtwatch/internal/buildinfo"
	"github.com/jwtwatch/jwtwatch/internal/cache"
	"github.com/jwtwatch/jwtwatch/internal/demo"
	"github.com/jwtwatch/jwtwatch/internal/sidecar"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	tuneGC(os.LookupEnv)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Garbage collector settings unless GOGC or GOMEMLIMIT say otherwise. The
// live heap stays a few MiB while what a line leaves behind (a cached
// token, verdicts' claims) is garbage soon, so collecting at 5× the live
// heap instead of 2× saves CPU per line (docs/benchmarks.md); the soft limit
// keeps the peak well under a 64 MiB container limit.
const (
	gcPercent   = 400
	memoryLimit = 48 << 20
)

// tuneGC applies gcPercent and memoryLimit where the environment (read
// through lookup) does not set them.
func tuneGC(lookup func(string) (string, bool)) {
	if _, ok := lookup("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	if _, ok := lookup("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// run parses the command line and starts the chosen command; it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Before anything reads prometheus/common/version: what -ldflags left
	// empty comes from the toolchain's build information.
	build := buildinfo.Apply()
	app := kingpin.New("jwtwatch", "Mirror every JWT check of an API gateway against the current and previous signing keys, from its logs.")
	app.Version(version.Print("jwtwatch"))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)

	var o sidecar.Options
	runCmd := app.Command("run", "Follow gateway logs and serve metrics (the default command).").Default()
	runCmd.Flag("log.path", "Gateway log file to follow; repeatable; globs allowed; - for stdin.").PlaceHolder("PATH").StringsVar(&o.LogPaths)
	var startAt []string
	var cacheSize int
	var lf logFlags
	addLogFlags(runCmd, &lf)
	runCmd.Flag("log.start-at", "Where a file with no saved position starts: end or beginning.").Default("end").SetValue(&enumValue{flag: "log.start-at", options: []string{"end", "beginning"}, dst: &startAt})
	runCmd.Flag("log.rotate-wait", "How long a renamed or deleted log file is still read, for writers that have not reopened yet.").Default("5s").SetValue(durationValue{"log.rotate-wait", &o.RotateWait})
	var pollInterval time.Duration
	runCmd.Flag("log.poll-interval", "How often each log file is looked at for new lines, rotation and truncation (the longest a new line waits).").Default("25ms").SetValue(durationValue{"log.poll-interval", &pollInterval})
	var kf keyFlags
	addKeyFlags(runCmd, &kf, true)
	addJWTFlags(runCmd, &o.Verify)
	addPolicyFlags(runCmd, &o.Policy)
	var waitForUnseen bool
	addRotationFlags(runCmd, &o.Policy, true, &waitForUnseen)
	runCmd.Flag("jwt.cache-size", "Tokens whose verdict is cached (repeated tokens skip base64, JSON and HMAC; exp and nbf are judged per line); 0 disables, at most 65536.").Default(strconv.Itoa(cache.DefaultSize)).IntVar(&cacheSize)
	runCmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.TelemetryPath)
	web := kingpinflag.AddFlags(runCmd, ":9824")
	runCmd.Flag("state.file", "File that keeps read positions and rotation state across restarts (recommended).").PlaceHolder("PATH").StringVar(&o.StateFile)
	runCmd.Flag("state.checkpoint-interval", "How often the state file is written.").Default("5s").SetValue(durationValue{"state.checkpoint-interval", &o.CheckpointInterval})
	runCmd.Flag("gateway.public-paths", "Regular expression (anchored) over request paths whose gateway status is not compared with jwtwatch's verdict: routes that never check tokens, such as NestJS @Public() ones (login, refresh, health).").PlaceHolder("REGEX").StringVar(&o.PublicPaths)
	runCmd.Flag("environment", "The environment this replica watches (production, staging, ...), a label on jwtwatch_build_info and jwtwatch_key_info: a key fingerprint under two environments is a shared secret.").Envar("JWTWATCH_ENVIRONMENT").PlaceHolder("NAME").StringVar(&o.Environment)
	runCmd.Flag("stragglers.size", "How many clients still on the previous key /api/v1/stragglers keeps (a bounded heavy-hitters sketch); at most 10000.").Default("100").IntVar(&o.StragglersSize)

	var d demo.Options
	demoCmd := app.Command("demo", "Simulate a gateway in the middle of a key rotation and run jwtwatch on its log.")
	demoCmd.Flag("web.listen-address", "Address for the demo's metrics endpoint.").Default("127.0.0.1:0").StringVar(&d.ListenAddress)
	demoCmd.Flag("interval", "How often to print the summary.").Default("5s").SetValue(durationValue{"interval", &d.Interval})
	demoCmd.Flag("duration", "Stop after this long; 0 runs until interrupted.").Default("0s").SetValue(durationValue{"duration", &d.Duration})
	var demoAlg []string
	demoCmd.Flag("alg", "What the simulated auth service signs with: HS256 (environment variables) or RS256, ES256, EdDSA (a key file naming a JWK Set by kid, with a next key).").Default("HS256").SetValue(&enumValue{flag: "alg", options: []string{"HS256", "RS256", "ES256", "EdDSA"}, dst: &demoAlg})
	var scenario []string
	demoCmd.Flag("scenario", "What the simulated gateway goes through: dual-key (Option 1, just after the rotation), immediate (Option 2: the old key removed at once, users log in again), rollback (a rotation undone by the Rollback Procedure).").Default(demo.ScenarioDualKey).SetValue(&enumValue{flag: "scenario", options: demo.Scenarios, dst: &scenario})

	inspectC := addInspect(app)
	scanC := addScan(app)
	keygenC := addKeygen(app)
	checkKeysC := addCheckKeys(app)
	benchC := addBench(app)

	// --log.format names the gateway log format (the product's contract), so the
	// logger's own format flag of promslog/flag takes another name.
	logCfg := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat()}
	app.Flag(promslogflag.LevelFlagName, promslogflag.LevelFlagHelp).Default("info").HintOptions(promslog.LevelFlagOptions...).SetValue(logCfg.Level)
	app.Flag("log.output-format", promslogflag.FormatFlagHelp).Default("logfmt").HintOptions(promslog.FormatFlagOptions...).SetValue(logCfg.Format)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch: error: %v\n", err)
		return exitUsage
	}
	logCfg.Writer = stderr
	logger := promslog.New(logCfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case inspectC.clause.FullCommand():
		return inspectC.run(ctx, stdin, stdout, stderr, time.Now())
	case scanC.clause.FullCommand():
		return scanC.run(ctx, stdin, stdout, stderr, time.Now())
	case keygenC.clause.FullCommand():
		return keygenC.run(stdout, stderr)
	case checkKeysC.clause.FullCommand():
		return checkKeysC.run(ctx, stdout, stderr)
	case benchC.clause.FullCommand():
		return benchC.run(ctx, stdout, stderr)
	case demoCmd.FullCommand():
		// The demo's own summary is the output; the sidecar speaks only of problems.
		quiet := promslog.NewLevel()
		_ = quiet.Set("warn")
		d.Build, d.Alg, d.Scenario = build, demoAlg[0], scenario[0]
		d.Out, d.Logger = stdout, promslog.New(&promslog.Config{Level: quiet, Format: logCfg.Format, Writer: stderr})
		if err := demo.Run(ctx, d); err != nil {
			logger.Error("demo failed", "err", err)
			return exitFailed
		}
		return exitOK
	}

	if pollInterval <= 0 || o.RotateWait < 0 {
		fmt.Fprintln(stderr, "jwtwatch: error: --log.poll-interval must be positive and --log.rotate-wait not negative")
		return exitUsage
	}
	if o.RotateWait == 0 {
		o.RotateWait = -1 // tail.Config: negative reads a rotated file once
	}
	o.PollInterval = pollInterval
	o.Parse, o.MaxLineBytes = lf.config(), lf.maxLineBytes
	o.VerdictCacheSize = cacheSize
	if cacheSize <= 0 {
		o.VerdictCacheSize = -1 // Options: negative disables
	}
	o.FromStart = startAt[0] == "beginning"
	o.Policy.SkipUnseen = !waitForUnseen
	o.ListenAddresses, o.WebConfigFile, o.SystemdSocket = *web.WebListenAddresses, *web.WebConfigFile, *web.WebSystemdSocket
	o.Logger = logger
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	o.Reload = hup

	o.Verify.Algorithms, o.KeysFile, o.JWKS = kf.algos, kf.file, kf.jwks
	o.Build = build
	if err := sidecar.Run(ctx, o); err != nil {
		if errors.Is(err, sidecar.ErrConfig) {
			logger.Error("cannot start", "err", err)
			return exitUsage
		}
		logger.Error("jwtwatch failed", "err", err)
		return exitFailed
	}
	logger.Info("jwtwatch stopped")
	return exitOK
}
