package tail

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The guarantees of the README's "Guarantees" section that concern
// following, under a writer at about 1,000 lines/s, with nxadm's real
// polling watcher, real time and, for create and copytruncate, the real
// logrotate. The tests wait for conditions (every line seen), never for a
// poller.

// seqWriter appends numbered lines, 10 every 10 ms, through one descriptor
// that it reopens only when told, as a gateway does.
type seqWriter struct {
	t    *testing.T
	path string

	mu   sync.Mutex
	f    *os.File
	next int

	stop, stopped chan struct{}
}

func startWriter(t *testing.T, path string) *seqWriter {
	w := &seqWriter{t: t, path: path, stop: make(chan struct{}), stopped: make(chan struct{})}
	w.reopen()
	go func() {
		defer close(w.stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.write(10)
			}
		}
	}()
	t.Cleanup(func() { w.finish() })
	return w
}

func (w *seqWriter) write(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for range n {
		w.next++
		fmt.Fprintf(&b, "seq-%07d %s\n", w.next, secretMarker)
	}
	if _, err := w.f.WriteString(b.String()); err != nil {
		w.t.Errorf("writer: %v", err)
	}
}

// reopen makes the writer write to the file now at its path (nginx's USR1).
func (w *seqWriter) reopen() {
	f, err := os.OpenFile(w.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	old := w.f
	w.f = f
	w.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// finish stops the writer and returns how many lines it wrote.
func (w *seqWriter) finish() int {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.stopped
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// collector gathers the sequence numbers of the lines handed over.
type collector struct {
	mu   sync.Mutex
	seen map[int]int
	// delay slows the handler down, per line.
	delay time.Duration
}

func (c *collector) handle(l Line) bool {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(l.Text, "seq-"), " "+secretMarker))
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		n = -1
	}
	c.seen[n]++
	return true
}

// waitAll waits until every line up to n was seen, then checks that each
// was seen exactly once, but for those in missing (lines no file holds).
func (c *collector) check(t *testing.T, n int, missing map[int]bool) {
	t.Helper()
	// A line no file holds may have been read before the truncation:
	// wait for every other one, not for a count.
	waitUntil(t, fmt.Sprintf("all %d lines", n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := 1; i <= n; i++ {
			if c.seen[i] == 0 && !missing[i] {
				return false
			}
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	var dups, lost []int
	for i := 1; i <= n; i++ {
		switch got := c.seen[i]; {
		case missing[i] && got == 0:
		case got == 0:
			lost = append(lost, i)
		case got > 1:
			dups = append(dups, i)
		}
	}
	if len(dups) > 0 || len(lost) > 0 || c.seen[-1] > 0 {
		t.Errorf("%d lines written: read twice %v, never read %v, %d lines not written by the writer", n, short(dups), short(lost), c.seen[-1])
	}
}

func short(s []int) []int {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// following runs a Tailer with the real watcher until the test ends.
func following(t *testing.T, cfg Config, c *collector) *Tailer {
	t.Helper()
	cfg.Logger = nil
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.seen = map[int]int{}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- tl.Follow(ctx, c.handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-tl.Ready()
	return tl
}

func runLogrotate(t *testing.T, path, directive string) {
	t.Helper()
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/logrotate"); serr != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("logrotate not installed (scripts/test installs it)")
			}
			t.Skip("logrotate not installed (scripts/test installs it)")
		}
		bin = "/usr/sbin/logrotate"
	}
	dir := filepath.Dir(path)
	conf := filepath.Join(dir, "logrotate.conf")
	if !strings.Contains(directive, "compress") {
		directive += "\n\tnocompress"
	}
	body := fmt.Sprintf("%s {\n\trotate 3\n\t%s\n\tmissingok\n}\n", path, directive)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-f", "-s", filepath.Join(dir, "logrotate.state"), conf).CombinedOutput(); err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
}

// seqsIn returns the sequence numbers in the files.
func seqsIn(t *testing.T, paths ...string) map[int]bool {
	got := map[int]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(sc.Text(), "seq-"), " "+secretMarker)); err == nil {
				got[n] = true
			}
		}
	}
	return got
}

func TestGuaranteesUnderLoad(t *testing.T) {
	run := func(d time.Duration) { time.Sleep(d) } // the writer's time between steps, not a synchronisation
	tests := []struct {
		name string
		// scenario drives the writer; it returns the lines no file holds
		// (lost by the rotation itself, not by jwtwatch).
		scenario func(t *testing.T, path string, w *seqWriter) map[int]bool
		slow     time.Duration // the consumer's delay per line
		missing  bool          // the path does not exist at start
	}{
		{name: "logrotate create, writer on the old file for 1 s", scenario: func(t *testing.T, path string, w *seqWriter) map[int]bool {
			run(300 * time.Millisecond)
			runLogrotate(t, path, "create")
			run(time.Second)
			w.reopen()
			run(300 * time.Millisecond)
			return nil
		}},
		{name: "logrotate copytruncate", scenario: func(t *testing.T, path string, w *seqWriter) map[int]bool {
			run(300 * time.Millisecond)
			runLogrotate(t, path, "copytruncate")
			run(500 * time.Millisecond)
			n := w.finish()
			in := seqsIn(t, path, path+".1")
			missing := map[int]bool{}
			for i := 1; i <= n; i++ {
				if !in[i] {
					missing[i] = true
				}
			}
			t.Logf("copytruncate: %d of %d lines were in neither file (written between the copy and the truncation)", len(missing), n)
			return missing
		}},
		{name: "logrotate copytruncate compress", scenario: func(t *testing.T, path string, w *seqWriter) map[int]bool {
			run(300 * time.Millisecond)
			runLogrotate(t, path, "copytruncate\n\tcompress")
			run(500 * time.Millisecond)
			n := w.finish()
			in := seqsIn(t, path, path+".1.gz")
			missing := map[int]bool{}
			for i := 1; i <= n; i++ {
				if !in[i] {
					missing[i] = true
				}
			}
			t.Logf("copytruncate compress: %d of %d lines were in neither file", len(missing), n)
			return missing
		}},
		{name: "delete and recreate", scenario: func(t *testing.T, path string, w *seqWriter) map[int]bool {
			run(300 * time.Millisecond)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			w.reopen()
			run(300 * time.Millisecond)
			return nil
		}},
		{name: "logrotate create, consumer slowed down", slow: 2 * time.Millisecond, scenario: func(t *testing.T, path string, w *seqWriter) map[int]bool {
			run(300 * time.Millisecond)
			runLogrotate(t, path, "create")
			run(200 * time.Millisecond)
			w.reopen()
			run(300 * time.Millisecond)
			return nil
		}},
		{name: "missing at start, appears later", missing: true, scenario: func(t *testing.T, path string, w *seqWriter) map[int]bool {
			run(300 * time.Millisecond)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "gw.log")
			if !tt.missing {
				appendFile(t, path, "")
			}
			c := &collector{delay: tt.slow}
			following(t, Config{Paths: []string{path}}, c)
			w := startWriter(t, path)
			missing := tt.scenario(t, path, w)
			c.check(t, w.finish(), missing)
		})
	}
}

// TestGlobGainsFileUnderLoad: a file that appears under a glob is read from
// its first line.
func TestGlobGainsFileUnderLoad(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "a.log"), "")
	c := &collector{}
	following(t, Config{Paths: []string{filepath.Join(dir, "*.log")}, GlobInterval: 100 * time.Millisecond}, c)
	w := startWriter(t, filepath.Join(dir, "b.log"))
	time.Sleep(time.Second) // the writer's time, not a synchronisation
	c.check(t, w.finish(), nil)
	if !slices.ContainsFunc([]int{1}, func(i int) bool { return c.seen[i] == 1 }) {
		t.Error("the first line of the new file was not read")
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
