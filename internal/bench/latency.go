package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/sidecar"
)

const (
	// writeEvery is the writer's burst period: it appends the lines due so
	// far every writeEvery, so a line waits at most this long to be written.
	writeEvery = time.Millisecond
	// readyTimeout bounds the wait for the sidecar's /-/ready.
	readyTimeout = 30 * time.Second
	// poolLines caps the distinct generated lines; longer runs write them again.
	poolLines = 1 << 15
)

// LatencyConfig is one follow-mode latency run.
type LatencyConfig struct {
	// Rate is the lines appended per second (default 1000).
	Rate int
	// Duration is how long the writer appends (default 30s).
	Duration time.Duration
	// Interval is how often /metrics is scraped (default 5ms); a latency
	// is measured up to one Interval late.
	Interval time.Duration
	// Settle is how long, after the writer stops, every line has to be
	// counted (default 10s).
	Settle time.Duration
	// CacheSize is the sidecar's verdict cache size (sidecar.Options.VerdictCacheSize).
	CacheSize int
	// Dir is where the temporary log is written (default os.TempDir()).
	Dir string
	// Now is the clock the writes and scrapes are timed with (time.Now when nil).
	Now func() time.Time
}

// LatencyReport is the outcome of a latency run: the time from a line being
// appended to the log to a scrape of /metrics showing it in
// jwtwatch_lines_read_total.
type LatencyReport struct {
	// Lines is how many lines were written and counted.
	Lines int
	// Rate and Interval are the run's settings.
	Rate     int
	Interval time.Duration
	// Writing is how long the writer took to append every line.
	Writing    time.Duration
	GOMAXPROCS int
	// Percentiles of the per-line latency, nearest rank.
	P50, P90, P99, P999, Max time.Duration
}

// write is one append: when it started and how many lines the log holds after it.
type write struct {
	at    time.Time
	total int
}

// sample is a scrape that saw the counter grow: when its answer arrived and the count.
type sample struct {
	at time.Time
	n  int
}

// Latency starts the sidecar following an empty log from its end, appends
// generated lines to it at cfg.Rate for cfg.Duration while scraping
// /metrics every cfg.Interval, and reports how long each line took to be
// counted. It fails if not every line is counted within cfg.Settle of the
// writer stopping.
func Latency(ctx context.Context, cfg LatencyConfig) (LatencyReport, error) {
	if cfg.Rate <= 0 {
		cfg.Rate = 1000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Millisecond
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	total := int(int64(cfg.Rate) * int64(cfg.Duration) / int64(time.Second))
	if total <= 0 {
		return LatencyReport{}, fmt.Errorf("%w: rate × duration is less than one line", ErrConfig)
	}
	r := LatencyReport{Rate: cfg.Rate, Interval: cfg.Interval, GOMAXPROCS: runtime.GOMAXPROCS(0)}

	sec := Secrets{Current: randomSecret(), Previous: randomSecret(), Attacker: randomSecret()}
	pool, err := newLinePool(min(total, poolLines), sec, cfg.Now())
	if err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp(cfg.Dir, "jwtwatch-bench-")
	if err != nil {
		return r, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gateway.log")
	f, err := os.Create(path)
	if err != nil {
		return r, fmt.Errorf("create log: %w", err)
	}
	defer f.Close()

	ctx, cancel := context.WithCancel(ctx)
	addrs := make(chan net.Addr, 1)
	var runErr error
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		opts, err := sidecarOptions(path, sec, cfg.CacheSize, false, func(a []net.Addr) { addrs <- a[0] })
		if err != nil {
			runErr = err
			cancel()
			return
		}
		runErr = sidecar.Run(ctx, opts)
	}()
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		<-stopped
	}()

	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case <-stopped:
		return r, fmt.Errorf("sidecar: %w", runErr)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if err := waitReady(ctx, client, base+"/-/ready", cfg.Interval, stopped); err != nil {
		return r, err
	}

	// The writer reports its total on wrote once done; on failure it
	// cancels ctx, which stops the scraper too.
	var writes []write
	var writeErr error
	wrote := make(chan int, 1)
	wg.Go(func() {
		writes, r.Writing, writeErr = appendLines(ctx, f, pool, cfg.Rate, total, cfg.Now)
		if writeErr != nil {
			cancel()
			return
		}
		wrote <- total
	})
	samples, err := watchCount(ctx, client, base+"/metrics", cfg, wrote, stopped)
	cancel()
	wg.Wait()
	<-stopped
	switch {
	case writeErr != nil && !errors.Is(writeErr, context.Canceled):
		return r, writeErr
	case runErr != nil:
		return r, fmt.Errorf("sidecar: %w", runErr)
	case err != nil:
		return r, err
	}
	lat := latencies(writes, samples)
	slices.Sort(lat)
	n := len(lat)
	rank := func(permille int) time.Duration { return lat[(n*permille+999)/1000-1] } // nearest rank
	r.Lines = n
	r.P50, r.P90, r.P99, r.P999, r.Max = rank(500), rank(900), rank(990), rank(999), lat[n-1]
	return r, nil
}

// waitReady polls url until it answers 200, which the sidecar does once its
// tailer follows the log: a line appended after that is read.
func waitReady(ctx context.Context, c *http.Client, url string, every time.Duration, stopped <-chan struct{}) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		resp, err := c.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stopped:
			return fmt.Errorf("sidecar stopped before it was ready")
		case <-deadline.C:
			return fmt.Errorf("sidecar not ready after %s", readyTimeout)
		case <-tick.C:
		}
	}
}

// linePool is generated lines held in memory, handed out in order and
// from the start again once used up.
type linePool struct {
	data []byte
	ends []int // ends[i] is the offset just past line i's newline
	next int
}

func newLinePool(lines int, sec Secrets, now time.Time) (*linePool, error) {
	var buf bytes.Buffer
	buf.Grow(lines * lineBytes)
	if _, err := Generate(&buf, GenConfig{
		Lines: lines, Repeat: 50, Sessions: 1000, Mix: DefaultMix,
		Secrets: sec, Start: now.Add(-time.Hour).Truncate(time.Second), Seed: 1,
	}); err != nil {
		return nil, err
	}
	p := &linePool{data: buf.Bytes(), ends: make([]int, 0, lines)}
	for off := 0; off < len(p.data); {
		i := bytes.IndexByte(p.data[off:], '\n')
		off += i + 1
		p.ends = append(p.ends, off)
	}
	return p, nil
}

// take returns up to n whole lines, fewer where the pool wraps, and how many.
func (p *linePool) take(n int) ([]byte, int) {
	if p.next == len(p.ends) {
		p.next = 0
	}
	k := min(n, len(p.ends)-p.next)
	from := 0
	if p.next > 0 {
		from = p.ends[p.next-1]
	}
	p.next += k
	return p.data[from:p.ends[p.next-1]], k
}

// appendLines appends total lines to w at rate lines/s, in bursts every
// writeEvery of the lines due by then, each write whole lines. It records
// the time each write starts, so a latency is never understated by it, and
// returns how long writing took.
func appendLines(ctx context.Context, w io.Writer, pool *linePool, rate, total int, now func() time.Time) ([]write, time.Duration, error) {
	var writes []write
	tick := time.NewTicker(writeEvery)
	defer tick.Stop()
	start, written := now(), 0
	for written < total {
		select {
		case <-ctx.Done():
			return writes, now().Sub(start), ctx.Err()
		case <-tick.C:
		}
		due := min(total, int(int64(rate)*int64(now().Sub(start))/int64(time.Second)))
		for written < due {
			b, n := pool.take(due - written)
			at := now()
			if _, err := w.Write(b); err != nil {
				return writes, now().Sub(start), fmt.Errorf("append to log: %w", err)
			}
			written += n
			writes = append(writes, write{at: at, total: written})
		}
	}
	return writes, now().Sub(start), nil
}

// watchCount scrapes url every cfg.Interval and records each scrape that
// sees jwtwatch_lines_read_total grow, timed when its answer arrives. Once
// the writer reports its total on wrote, it stops when the count reaches it,
// or fails after cfg.Settle.
func watchCount(ctx context.Context, c *http.Client, url string, cfg LatencyConfig, wrote <-chan int, stopped <-chan struct{}) ([]sample, error) {
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	var samples []sample
	var settle <-chan time.Time
	total, last := -1, 0
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-stopped:
			return nil, fmt.Errorf("sidecar stopped early")
		case total = <-wrote:
			t := time.NewTimer(cfg.Settle)
			defer t.Stop()
			settle = t.C
		case <-settle:
			return nil, fmt.Errorf("%d of %d lines counted %s after the writer stopped", last, total, cfg.Settle)
		case <-tick.C:
			m, err := scrape(c, url)
			if err != nil {
				return nil, err
			}
			at := cfg.Now()
			n := 0.0
			for k, v := range m {
				if strings.HasPrefix(k, "jwtwatch_lines_read_total{") {
					n += v
				}
			}
			if int(n) > last {
				last = int(n)
				samples = append(samples, sample{at: at, n: last})
			}
		}
		if total >= 0 && last >= total {
			return samples, nil
		}
	}
}

// latencies pairs each line with the first scrape that counted it. Both
// lists grow monotonically, so one pass over each does.
func latencies(writes []write, samples []sample) []time.Duration {
	out := make([]time.Duration, 0, writes[len(writes)-1].total)
	s, line := 0, 0
	for _, w := range writes {
		for line < w.total {
			line++
			for samples[s].n < line {
				s++
			}
			out = append(out, samples[s].at.Sub(w.at))
		}
	}
	return out
}

// Write prints the report.
func (r LatencyReport) Write(w io.Writer) {
	fmt.Fprintf(w, "latency:   GOMAXPROCS=%d %d lines appended at %d lines/s (in %s bursts) over %s\n",
		r.GOMAXPROCS, r.Lines, r.Rate, writeEvery, r.Writing.Round(time.Millisecond))
	fmt.Fprintf(w, "           p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
		ms(r.P50), ms(r.P90), ms(r.P99), ms(r.P999), ms(r.Max))
	fmt.Fprintf(w, "           from a line's write to a /metrics scrape showing it in jwtwatch_lines_read_total;\n"+
		"           scraped every %s, so each figure may be up to %s late (never early)\n", r.Interval, r.Interval)
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
