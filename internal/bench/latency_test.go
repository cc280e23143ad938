package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLatency runs the follow-mode probe briefly: every line appended must
// be counted and the percentiles must be ordered. It asserts no bound on
// them, which would make it a timed test.
func TestLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A generous Settle: on a loaded machine under -race the sidecar may lag.
	r, err := Latency(ctx, LatencyConfig{Rate: 200, Duration: 1500 * time.Millisecond, Settle: time.Minute, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Lines != 300 {
		t.Errorf("%d lines counted, want 300", r.Lines)
	}
	if r.Interval != 5*time.Millisecond || r.Rate != 200 {
		t.Errorf("interval %s, rate %d, want the defaults 5ms and 200", r.Interval, r.Rate)
	}
	ps := []time.Duration{r.P50, r.P90, r.P99, r.P999, r.Max}
	if ps[0] <= 0 {
		t.Errorf("p50 %s, want positive", ps[0])
	}
	for i := 1; i < len(ps); i++ {
		if ps[i] < ps[i-1] {
			t.Errorf("percentiles out of order: %v", ps)
		}
	}
	if r.Writing <= 0 {
		t.Errorf("writing took %s", r.Writing)
	}

	var out bytes.Buffer
	r.Write(&out)
	if strings.Contains(out.String(), "eyJ") {
		t.Errorf("report shows a token:\n%s", out.String())
	}
	for _, want := range []string{"300 lines", "p99 ", "p99.9 ", "scraped every 5ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLatencyConfig(t *testing.T) {
	_, err := Latency(context.Background(), LatencyConfig{Rate: 1, Duration: 500 * time.Millisecond, Dir: t.TempDir()})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("got %v for less than one line, want ErrConfig", err)
	}
}

func TestLatencies(t *testing.T) {
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name    string
		writes  []write
		samples []sample
		want    []time.Duration
	}{
		{
			name:    "one scrape counts all",
			writes:  []write{{at(0), 2}, {at(1), 3}},
			samples: []sample{{at(10), 3}},
			want:    []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 9 * time.Millisecond},
		},
		{
			name:    "a burst counted over two scrapes",
			writes:  []write{{at(0), 3}},
			samples: []sample{{at(5), 1}, {at(10), 3}},
			want:    []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		},
		{
			name:    "scrapes overtake writes",
			writes:  []write{{at(0), 1}, {at(20), 2}},
			samples: []sample{{at(5), 1}, {at(22), 2}},
			want:    []time.Duration{5 * time.Millisecond, 2 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := latencies(tt.writes, tt.samples)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %v, want %v", got, tt.want)
					break
				}
			}
		})
	}
}

func TestLinePool(t *testing.T) {
	sec := Secrets{Current: []byte("c"), Previous: []byte("p"), Attacker: []byte("a")}
	p, err := newLinePool(5, sec, start)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    int
		want int
	}{
		{"first three", 3, 3},
		{"stops at the end", 4, 2},
		{"wraps", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, n := p.take(tt.n)
			if n != tt.want || bytes.Count(b, []byte("\n")) != n || b[len(b)-1] != '\n' || b[0] != '{' {
				t.Errorf("take(%d) gave %d lines (%d newlines), want %d whole lines", tt.n, n, bytes.Count(b, []byte("\n")), tt.want)
			}
		})
	}
}
