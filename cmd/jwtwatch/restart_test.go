package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/state"
)

// The restart guarantee, tested on the real binary with --state.file.
//
// Every line written by seqLog carries a valid previous-key token whose exp
// is one second later than the line before's. The state file saves the read
// position and the per-key state in one checkpoint, so its
// max_expiry names the last line processed at that checkpoint: a saved
// position exactly after that line proves that nothing after it was skipped
// (at least once) and that nothing before it will be read again (no
// duplicates beyond the lines processed since).

// seqLog writes numbered gateway lines to one file.
type seqLog struct {
	t      *testing.T
	path   string
	secret string    // the previous access key
	iat    time.Time // before the rotation: the tokens are not suspicious
	base   time.Time // line i's token expires at base + i seconds

	mu   sync.Mutex
	ends []int64  // ends[i-1] is the offset just past line i
	used []string // some tokens, for the leak check
}

func newSeqLog(t *testing.T, s secrets, path string) *seqLog {
	now := time.Now().Truncate(time.Second)
	appendLines(t, path, nil) // creates it, with one empty line
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	return &seqLog{t: t, path: path, secret: s.previous, iat: now.Add(-2 * time.Hour), base: now.Add(2 * time.Hour)}
}

func (l *seqLog) line(seq int) string {
	tok := gatewaylog.Token(gatewaylog.HS256([]byte(l.secret)), map[string]any{
		"sub": fmt.Sprintf("u%07d", seq), "iss": "auth-service", "iat": l.iat.Unix(), "exp": l.base.Unix() + int64(seq),
	})
	if seq%97 == 1 {
		l.used = append(l.used, tok)
	}
	return pinoLine(time.Now(), "Bearer "+tok, 200)
}

// write appends n lines with one write and returns the number written so far.
func (l *seqLog) write(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	end := int64(0)
	if len(l.ends) > 0 {
		end = l.ends[len(l.ends)-1]
	}
	for range n {
		s := l.line(len(l.ends)+1) + "\n"
		b.WriteString(s)
		end += int64(len(s))
		l.ends = append(l.ends, end)
	}
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		l.t.Fatal(err)
	}
	return len(l.ends)
}

func (l *seqLog) written() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ends)
}

// end returns the offset just past line seq (0 for seq 0).
func (l *seqLog) end(seq int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq <= 0 {
		return 0
	}
	return l.ends[seq-1]
}

// tokens returns the tokens to search jwtwatch's output for.
func (l *seqLog) tokens() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.used...)
}

// checkpoint is what a state file says about the log.
type checkpoint struct {
	savedAt   time.Time
	offset    int64
	processed int // the last line processed: its token has the max expiry
	started   time.Time
}

// readCheckpoint reads the state file and checks that its position is just
// past the line its per-key state says was processed last.
func (l *seqLog) readCheckpoint(t *testing.T, statePath string) checkpoint {
	t.Helper()
	f, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	cp := checkpoint{savedAt: f.SavedAt, offset: f.Positions[l.path].Offset, started: f.Rotation.Rotations["access"].Started}
	for _, k := range f.Rotation.Keys {
		if k.Family == "access" && !k.MaxExpiry.IsZero() {
			cp.processed = max(cp.processed, int(k.MaxExpiry.Unix()-l.base.Unix()))
		}
	}
	if want := l.end(cp.processed); cp.offset != want {
		t.Errorf("state file: position %d, but the last line processed (%d) ends at %d", cp.offset, cp.processed, want)
	}
	return cp
}

func linesRead(got map[string]float64, path string) float64 {
	return got[fmt.Sprintf(`jwtwatch_lines_read_total{source=%q}`, path)]
}

// waitCounted waits until p has read exactly want lines of path, with
// nothing left behind, and fails if it read more.
func waitCounted(t *testing.T, p *proc, path string, want int) map[string]float64 {
	t.Helper()
	var got map[string]float64
	waitFor(t, 30*time.Second, fmt.Sprintf("%d lines to be read", want), func() bool {
		got = p.scrape(t, nil)
		if n := linesRead(got, path); n > float64(want) {
			t.Fatalf("read %v lines, want %d: lines read twice", n, want)
		}
		return linesRead(got, path) == float64(want) &&
			got[fmt.Sprintf(`jwtwatch_source_behind_bytes{source=%q}`, path)] == 0
	})
	return got
}

// keyState is the per-key state that must survive restarts, as scraped.
func keyState(got map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range got {
		for _, name := range []string{
			"jwtwatch_rotation_started_timestamp_seconds{",
			"jwtwatch_key_last_valid_timestamp_seconds{",
			"jwtwatch_key_max_token_expiry_timestamp_seconds{",
			"jwtwatch_key_distinct_subjects{",
		} {
			if strings.HasPrefix(k, name) {
				out[k] = v
			}
		}
	}
	return out
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-p.done
	p.done <- err // for the cleanup
}

// TestRestartAfterSIGTERM stops jwtwatch with SIGTERM, both when it has
// nothing to read and in the middle of a burst of lines, and restarts it on
// the same state file: no line is read twice or skipped, and the rotation
// start and per-key state are the same after the restart.
func TestRestartAfterSIGTERM(t *testing.T) {
	s := newSecrets(t)
	dir := t.TempDir()
	logPath, statePath := filepath.Join(dir, "gateway.log"), filepath.Join(dir, "state.json")
	log := newSeqLog(t, s, logPath)
	// Only the checkpoint written on SIGTERM saves anything.
	args := []string{"--log.path=" + logPath, "--state.file=" + statePath, "--state.checkpoint-interval=1h", "--log.start-at=beginning"}
	var output strings.Builder

	log.write(200)
	p := start(t, s.env(), args...)
	got := waitCounted(t, p, logPath, log.written())
	before := keyState(got)
	started := got[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`]
	p.stop(t)
	output.WriteString(p.output())
	if cp := log.readCheckpoint(t, statePath); cp.processed != log.written() {
		t.Fatalf("state file says line %d was processed last, want %d", cp.processed, log.written())
	}

	// Nothing new: the restarted process reads nothing and shows the same
	// per-key state.
	p = start(t, s.env(), args...)
	got = waitCounted(t, p, logPath, 0)
	if after := keyState(got); !equalMaps(before, after) {
		t.Errorf("per-key state changed across SIGTERM:\nbefore %v\nafter  %v", before, after)
	}
	if got := got[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`]; got != started {
		t.Errorf("rotation start %v, want %v", got, started)
	}

	// SIGTERM in the middle of a burst; more lines are written while
	// jwtwatch is down. The restart reads exactly the lines after the last
	// one processed.
	log.write(6000)
	waitFor(t, 30*time.Second, "the burst to be being read", func() bool { return linesRead(p.scrape(t, nil), logPath) > 0 })
	p.stop(t)
	output.WriteString(p.output())
	cp := log.readCheckpoint(t, statePath)
	t.Logf("SIGTERM after line %d of %d", cp.processed, log.written())
	log.write(100)
	p = start(t, s.env(), args...)
	got = waitCounted(t, p, logPath, log.written()-cp.processed)
	if got := got[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`]; got != started {
		t.Errorf("rotation start %v after the second restart, want %v", got, started)
	}
	p.stop(t)
	output.WriteString(p.output())
	assertNoLeak(t, output.String(), s, log.tokens())
}

func equalMaps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRestartAfterKill kills jwtwatch with SIGKILL at random points, 25
// times, restarting it on the same state file each time. Every other kill
// comes while a writer appends lines; the others once the writer paused and
// jwtwatch read everything, where the lines it will read again are known
// exactly. Every checkpoint's position is just past the last line it says
// was processed, so no line is skipped; each run reads exactly the lines
// after the last checkpoint; the lines read again are reported, and
// checkpoints are never more than an interval (and a margin for a loaded
// machine) old.
func TestRestartAfterKill(t *testing.T) {
	if os.Getenv("JWTWATCH_SLOW") == "" {
		t.Skip("slow: set JWTWATCH_SLOW=1")
	}
	const (
		kills    = 25
		interval = 250 * time.Millisecond
		rate     = 500 // lines per second while writing
		margin   = 2 * time.Second
	)
	s := newSecrets(t)
	dir := t.TempDir()
	logPath, statePath := filepath.Join(dir, "gateway.log"), filepath.Join(dir, "state.json")
	log := newSeqLog(t, s, logPath)
	args := []string{"--log.path=" + logPath, "--state.file=" + statePath, "--state.checkpoint-interval=" + interval.String(), "--log.start-at=beginning"}

	var paused atomic.Bool
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		const every = 10 * time.Millisecond
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if !paused.Load() {
					log.write(int(rate * every.Seconds()))
				}
			}
		}
	}()
	stopWriter := sync.OnceFunc(func() {
		close(stop)
		<-stopped
	})
	defer stopWriter()

	var (
		output             strings.Builder
		started            float64
		resumed            int // the line each run starts after
		exactDups          []int
		maxExpiryPersisted float64
	)
	for i := range kills {
		idle := i%2 == 1
		paused.Store(false)
		p := start(t, s.env(), args...)
		runStart := time.Now()
		var got map[string]float64
		waitFor(t, 30*time.Second, "lines to be read", func() bool {
			got = p.scrape(t, nil)
			return linesRead(got, logPath) > 0
		})
		if st := got[`jwtwatch_rotation_started_timestamp_seconds{token="access"}`]; started == 0 {
			started = st
		} else if st != started {
			t.Errorf("kill %d: rotation start %v after restart, want %v", i, st, started)
		}
		if v := got[`jwtwatch_key_max_token_expiry_timestamp_seconds{role="previous",token="access"}`]; v < maxExpiryPersisted {
			t.Errorf("kill %d: max token expiry %v after restart, below the saved %v", i, v, maxExpiryPersisted)
		}
		delay := rand.N(1500 * time.Millisecond)
		var caughtUp time.Time
		if idle {
			paused.Store(true)
			waitCounted(t, p, logPath, log.written()-resumed)
			caughtUp = time.Now()
			delay = rand.N(2 * interval)
		}
		time.Sleep(delay) // the random point to kill at, not a synchronisation
		read := int(linesRead(p.scrape(t, nil), logPath))
		killedAt := time.Now()
		p.kill(t)
		written := log.written()
		output.WriteString(p.output())

		cp := log.readCheckpoint(t, statePath)
		age := killedAt.Sub(cp.savedAt)
		if idle {
			// Everything written was processed: what the checkpoint lacks is
			// read again.
			dup := written - cp.processed
			exactDups = append(exactDups, dup)
			if cp.savedAt.After(caughtUp) && dup != 0 {
				t.Errorf("kill %d: a checkpoint written after every line was read lacks %d lines", i, dup)
			}
			t.Logf("kill %2d (idle, %3dms after reading all): checkpoint at line %5d of %5d, %3dms old: %d lines to read again",
				i, delay.Milliseconds(), cp.processed, written, age.Milliseconds(), dup)
		} else {
			t.Logf("kill %2d (busy): checkpoint at line %5d, %3dms old; the last scrape counted up to line %5d of %5d written: %d to %d lines to read again",
				i, cp.processed, age.Milliseconds(), resumed+read, written, max(resumed+read-cp.processed, 0), written-cp.processed)
		}
		if killedAt.Sub(runStart) > interval+margin && age > interval+margin {
			t.Errorf("kill %d: last checkpoint %s old, want at most %s", i, age, interval+margin)
		}
		if cp.processed < resumed {
			t.Errorf("kill %d: checkpoint went back from line %d to %d", i, resumed, cp.processed)
		}
		resumed = cp.processed
		maxExpiryPersisted = float64(log.base.Unix() + int64(cp.processed))
	}
	stopWriter()
	p := start(t, s.env(), args...)
	waitCounted(t, p, logPath, log.written()-resumed)
	p.stop(t)
	output.WriteString(p.output())
	t.Logf("%d lines, %d kills; lines read again after the idle kills: %v", log.written(), kills, exactDups)
	assertNoLeak(t, output.String(), s, log.tokens())
}
