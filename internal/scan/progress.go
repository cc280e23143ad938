package scan

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// barWidth is the number of cells of the progress bar.
const barWidth = 30

// ProgressLine renders one line of progress: a bar and percentage when the
// total input size is known (0 when not, e.g. stdin), then lines and lines
// per second over elapsed.
func ProgressLine(p Progress, total int64, elapsed time.Duration) string {
	var b strings.Builder
	if total > 0 {
		frac := min(float64(p.Bytes)/float64(total), 1)
		full := int(frac * barWidth)
		fmt.Fprintf(&b, "[%s%s] %3d%% %s/%s  ", strings.Repeat("#", full), strings.Repeat(".", barWidth-full),
			int(frac*100), size(p.Bytes), size(total))
	} else {
		fmt.Fprintf(&b, "%s  ", size(p.Bytes))
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Lines) / s
	}
	fmt.Fprintf(&b, "%d lines  %.0f lines/s", p.Lines, rate)
	return b.String()
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Meter redraws ProgressLine on w (a terminal) every interval until the
// returned stop is called, which erases the line. It stays silent for the
// first second, so small inputs print nothing. now is the clock for lines
// per second.
func Meter(w io.Writer, every time.Duration, total int64, read func() Progress, now func() time.Time) (stop func()) {
	start := now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		drawn := false
		for {
			select {
			case <-done:
				if drawn {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				if elapsed := now().Sub(start); elapsed >= time.Second {
					fmt.Fprintf(w, "\r\033[K%s", ProgressLine(read(), total, elapsed))
					drawn = true
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}
