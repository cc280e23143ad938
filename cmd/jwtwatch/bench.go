package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jwtwatch/jwtwatch/internal/bench"
)

// benchCmd is `jwtwatch bench [flags]`.
type benchCmd struct {
	clause     *kingpin.CmdClause
	cfg        bench.Config
	size       int
	cpuProfile string
	latency    bool
	lcfg       bench.LatencyConfig
	alg        []string
}

func addBench(app *kingpin.Application) *benchCmd {
	c := &benchCmd{}
	c.clause = app.Command("bench", "Write a realistic pino-http log to a temporary file, run the sidecar over it and a naive pipeline for comparison, and print the throughput. See docs/benchmarks.md.")
	c.clause.Flag("bench.lines", "Lines in the generated log.").Default("1000000").IntVar(&c.cfg.Lines)
	c.clause.Flag("bench.size", "Size of the generated log instead of --bench.lines (e.g. 512MiB).").PlaceHolder("SIZE").SetValue(bytesValue{"bench.size", &c.size})
	c.clause.Flag("bench.repeat", "Requests per token; 1 makes every token unique.").Default("50").IntVar(&c.cfg.Repeat)
	c.clause.Flag("bench.sessions", "Tokens in use at once (interleaved in the log).").Default("1000").IntVar(&c.cfg.Sessions)
	c.clause.Flag("bench.alg", "What the generated tokens are signed with: HS256 (secrets in the environment) or RS256, ES256, EdDSA (key pairs in a JWK Set named by a key file), for the throughput run.").Default("HS256").SetValue(&enumValue{flag: "bench.alg", options: []string{"HS256", "RS256", "ES256", "EdDSA"}, dst: &c.alg})
	c.clause.Flag("bench.cache-size", "Verdict cache size of the sidecar; 0 for the default, negative disables it.").Default("0").IntVar(&c.cfg.CacheSize)
	c.clause.Flag("bench.naive", "Also run the naive pipeline (nxadm/tail, encoding/json, golang-jwt MapClaims, CounterVec) and print the ratio.").Default("true").BoolVar(&c.cfg.Naive)
	c.clause.Flag("bench.dir", "Directory for the temporary log (default: the system's temporary directory).").PlaceHolder("DIR").StringVar(&c.cfg.Dir)
	c.clause.Flag("bench.cpuprofile", "Write a CPU profile of the sidecar's run to this file.").PlaceHolder("FILE").StringVar(&c.cpuProfile)
	c.clause.Flag("bench.latency", "Instead, measure follow-mode latency: append lines to a followed log at --bench.rate for --bench.duration and time each until /metrics counts it.").BoolVar(&c.latency)
	c.clause.Flag("bench.rate", "With --bench.latency: lines appended per second.").Default("1000").IntVar(&c.lcfg.Rate)
	c.clause.Flag("bench.duration", "With --bench.latency: how long lines are appended.").Default("30s").SetValue(durationValue{"bench.duration", &c.lcfg.Duration})
	return c
}

func (c *benchCmd) run(ctx context.Context, stdout, stderr io.Writer) int {
	if c.latency {
		// Zero would mean "the default" to bench.Latency; given on the command line it is a mistake.
		switch {
		case c.lcfg.Rate <= 0:
			fmt.Fprintf(stderr, "jwtwatch bench: --bench.rate must be positive, got %d\n", c.lcfg.Rate)
			return exitUsage
		case c.lcfg.Duration <= 0:
			fmt.Fprintf(stderr, "jwtwatch bench: --bench.duration must be positive, got %s\n", c.lcfg.Duration)
			return exitUsage
		}
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
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "jwtwatch bench: --bench.cpuprofile: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		c.cfg.CPUProfile = f
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
