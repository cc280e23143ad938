package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jwtwatch/jwtwatch/internal/bench"
)

// benchCmd is `jwtwatch bench [flags]`.
type benchCmd struct {
	clause      *kingpin.CmdClause
	cfg         bench.Config
	size        int
	cpuProfile  string
	scanProfile string
	latency     bool
	naive       bool
	phases      []string
	lcfg        bench.LatencyConfig
	alg         []string
}

func addBench(app *kingpin.Application) *benchCmd {
	c := &benchCmd{}
	c.clause = app.Command("bench", "Write realistic pino-http logs to temporary files and measure, in one run: the sidecar following them (tokens reused, every token unique) against a naive pipeline, jwtwatch scan on one core and on several, scan of the log gzipped against decompressing it, and line-to-metric latency. See docs/benchmarks.md.")
	c.clause.Flag("bench.lines", "Lines in each generated log.").Default("1000000").IntVar(&c.cfg.Lines)
	c.clause.Flag("bench.size", "Size of the generated log instead of --bench.lines (e.g. 512MiB).").PlaceHolder("SIZE").SetValue(bytesValue{"bench.size", &c.size})
	c.clause.Flag("bench.repeat", "Requests per token in the log of the follow, scan and gzip phases (the unique phase's has every token once).").Default("50").IntVar(&c.cfg.Repeat)
	c.clause.Flag("bench.sessions", "Tokens in use at once (interleaved in the log).").Default("1000").IntVar(&c.cfg.Sessions)
	c.clause.Flag("bench.alg", "What the generated tokens are signed with: HS256 (secrets in the environment) or RS256, ES256, EdDSA (key pairs in a JWK Set named by a key file), for the follow, unique and naive phases (scan and gzip measure HS256).").Default("HS256").SetValue(&enumValue{flag: "bench.alg", options: []string{"HS256", "RS256", "ES256", "EdDSA"}, dst: &c.alg})
	c.clause.Flag("bench.cache-size", "Verdict cache size of the sidecar; 0 for the default, negative disables it.").Default("0").IntVar(&c.cfg.CacheSize)
	c.clause.Flag("bench.phases", "Phases to run, comma-separated: follow, unique, naive, scan, gzip, latency (default: all).").PlaceHolder("LIST").StringsVar(&c.phases)
	c.clause.Flag("bench.cores", "GOMAXPROCS of the phases on several cores (scan of two files or a split file, gzip); the others run on one.").Default("2").IntVar(&c.cfg.Cores)
	c.clause.Flag("bench.naive", "Run the naive pipeline (nxadm/tail, encoding/json, golang-jwt MapClaims, CounterVec) and print the ratio; --no-bench.naive drops that phase.").Default("true").BoolVar(&c.naive)
	c.clause.Flag("bench.dir", "Directory for the temporary log (default: the system's temporary directory).").PlaceHolder("DIR").StringVar(&c.cfg.Dir)
	c.clause.Flag("bench.cpuprofile", "Write a CPU profile of the follow phase to this file.").PlaceHolder("FILE").StringVar(&c.cpuProfile)
	c.clause.Flag("bench.scan-cpuprofile", "Write a CPU profile of the scan phase's scan on one core to this file.").PlaceHolder("FILE").StringVar(&c.scanProfile)
	c.clause.Flag("bench.latency", "Only the latency phase: append lines to a followed log at --bench.rate for --bench.duration and time each until /metrics counts it.").BoolVar(&c.latency)
	c.clause.Flag("bench.rate", "Latency phase: lines appended per second.").Default("1000").IntVar(&c.lcfg.Rate)
	c.clause.Flag("bench.duration", "Latency phase: how long lines are appended.").Default("30s").SetValue(durationValue{"bench.duration", &c.lcfg.Duration})
	return c
}

func (c *benchCmd) run(ctx context.Context, stdout, stderr io.Writer) int {
	// Zero would mean "the default" to bench.Latency; given on the command line it is a mistake.
	switch {
	case c.lcfg.Rate <= 0:
		fmt.Fprintf(stderr, "jwtwatch bench: --bench.rate must be positive, got %d\n", c.lcfg.Rate)
		return exitUsage
	case c.lcfg.Duration <= 0:
		fmt.Fprintf(stderr, "jwtwatch bench: --bench.duration must be positive, got %s\n", c.lcfg.Duration)
		return exitUsage
	case c.cfg.Cores < 1:
		fmt.Fprintf(stderr, "jwtwatch bench: --bench.cores must be at least 1, got %d\n", c.cfg.Cores)
		return exitUsage
	}
	if c.latency {
		c.lcfg.CacheSize, c.lcfg.Dir = c.cfg.CacheSize, c.cfg.Dir
		r, err := bench.Latency(ctx, c.lcfg)
		if err != nil {
			fmt.Fprintf(stderr, "jwtwatch bench: %v\n", err)
			return benchExit(err)
		}
		r.Write(stdout)
		return exitOK
	}
	if c.size > 0 {
		c.cfg.Lines, c.cfg.Size = 0, int64(c.size)
	}
	c.cfg.Alg = c.alg[0]
	c.cfg.Latency = c.lcfg
	for _, p := range c.phases {
		for _, name := range strings.Split(p, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.cfg.Phases = append(c.cfg.Phases, name)
			}
		}
	}
	if c.cfg.Phases == nil {
		c.cfg.Phases = bench.Phases
		if c.cfg.Alg != "HS256" { // scan and gzip measure HS256 only
			c.cfg.Phases = []string{bench.PhaseFollow, bench.PhaseUnique, bench.PhaseNaive, bench.PhaseLatency}
		}
	}
	if !c.naive {
		c.cfg.Phases = slices.DeleteFunc(slices.Clone(c.cfg.Phases), func(p string) bool { return p == bench.PhaseNaive })
	}
	for _, p := range []struct {
		flag, path string
		w          *io.Writer
	}{
		{"bench.cpuprofile", c.cpuProfile, &c.cfg.CPUProfile},
		{"bench.scan-cpuprofile", c.scanProfile, &c.cfg.ScanCPUProfile},
	} {
		if p.path == "" {
			continue
		}
		f, err := os.Create(p.path)
		if err != nil {
			fmt.Fprintf(stderr, "jwtwatch bench: --%s: %v\n", p.flag, err)
			return exitUsage
		}
		defer f.Close()
		*p.w = f
	}
	r, err := bench.Run(ctx, c.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "jwtwatch bench: %v\n", err)
		return benchExit(err)
	}
	r.Write(stdout)
	return exitOK
}

// benchExit is the exit status for a failed benchmark: a usage error when
// the flags asked for something impossible.
func benchExit(err error) int {
	if errors.Is(err, bench.ErrConfig) {
		return exitUsage
	}
	return exitFailed
}
