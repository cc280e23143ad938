package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/jwtwatch/jwtwatch/internal/lines"
)

// Job is one input of a parallel scan.
type Job struct {
	// Name labels the input in the report.
	Name string
	// R is the input. When it is an io.ReaderAt of Size bytes that is not
	// gzip (a regular file), it may be read in byte ranges by several
	// scanners at once.
	R    io.Reader
	Size int64
}

// MinRange is the smallest byte range a file is split into: below it the
// set-up of a scanner (a cold verdict cache) costs more than the split gains.
const MinRange = 16 << 20

// Parallel scans jobs with several scanners at once and merges them, in the
// order of the jobs, into the report one Scanner reading them in turn gives
// (Scanner.Merge). Jobs are read whole, each by one scanner, unless there
// are fewer jobs than workers: then plain files are split into byte ranges
// at line boundaries.
type Parallel struct {
	o        Options
	workers  int
	minRange int64
	meter    meter
}

// NewParallel returns a parallel scan with up to workers scanners.
func NewParallel(o Options, workers int) *Parallel {
	return &Parallel{o: o, workers: max(workers, 1), minRange: MinRange}
}

// Progress may be called from another goroutine while Scan runs.
func (p *Parallel) Progress() Progress { return p.meter.progress() }

// unit is a part of a job: a whole job, or a byte range of a plain file.
type unit struct {
	job        int
	start, end int64 // a byte range; end 0 for the whole job
	continued  bool  // not the job's first range
}

// Scan reads every job and returns the merged scanner. The first error, in
// job order, is returned.
func (p *Parallel) Scan(jobs []Job) (*Scanner, error) {
	units, err := p.plan(jobs)
	if err != nil {
		return nil, err
	}
	results := make([]*Scanner, len(units))
	errs := make([]error, len(units))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(p.workers, len(units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = p.scan(jobs[units[i].job], units[i])
			}
		}()
	}
	for i := range units {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
	}
	if len(results) == 0 {
		s, err := New(p.o)
		if err != nil {
			return nil, err
		}
		s.meter = &p.meter
		return s, nil
	}
	merged := results[0]
	for i, r := range results[1:] {
		merged.merge(r, units[i+1].continued)
	}
	return merged, nil
}

// scan reads one unit with a scanner of its own.
func (p *Parallel) scan(j Job, u unit) (*Scanner, error) {
	s, err := New(p.o)
	if err != nil {
		return nil, err
	}
	s.meter = &p.meter
	if u.end == 0 {
		return s, s.Read(j.Name, j.R)
	}
	s.inputs = append(s.inputs, Input{Name: j.Name})
	r := io.NewSectionReader(j.R.(io.ReaderAt), u.start, u.end-u.start)
	return s, s.read(&s.inputs[0], lines.New(countingReader{r, &p.meter.bytes}, s.o.MaxLineBytes))
}

// plan splits the jobs into units.
func (p *Parallel) plan(jobs []Job) ([]unit, error) {
	var units []unit
	if len(jobs) >= p.workers {
		for i := range jobs {
			units = append(units, unit{job: i})
		}
		return units, nil
	}
	var total int64
	for _, j := range jobs {
		total += max(j.Size, 0)
	}
	for i, j := range jobs {
		at, ok := j.R.(io.ReaderAt)
		n := int64(0)
		if ok && j.Size > 0 && total > 0 {
			n = min(int64(p.workers)*j.Size/total, j.Size/max(p.minRange, 1))
		}
		if n < 2 {
			units = append(units, unit{job: i})
			continue
		}
		if plain, err := isPlain(at); err != nil {
			return nil, fmt.Errorf("%s: %w", j.Name, err)
		} else if !plain {
			units = append(units, unit{job: i})
			continue
		}
		bounds, err := lineBounds(at, j.Size, int(n))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.Name, err)
		}
		for k := 0; k+1 < len(bounds); k++ {
			units = append(units, unit{job: i, start: bounds[k], end: bounds[k+1], continued: k > 0})
		}
	}
	return units, nil
}

// isPlain reports whether a file does not start with the gzip magic.
func isPlain(r io.ReaderAt) (bool, error) {
	var magic [len(gzipMagic)]byte
	n, err := r.ReadAt(magic[:], 0)
	if n < len(magic) && err != nil && err != io.EOF {
		return false, err
	}
	return string(magic[:n]) != gzipMagic, nil
}

// lineBounds splits size bytes into about n ranges that start at line
// starts: each cut is moved to just after the next newline. It returns the
// n+1 (or fewer, when cuts meet) boundaries, from 0 to size.
func lineBounds(r io.ReaderAt, size int64, n int) ([]int64, error) {
	bounds := []int64{0}
	buf := make([]byte, 64<<10)
	for k := 1; k < n; k++ {
		at := max(size*int64(k)/int64(n), bounds[len(bounds)-1])
		for {
			if at >= size {
				break
			}
			m, err := r.ReadAt(buf[:min(int64(len(buf)), size-at)], at)
			if i := bytes.IndexByte(buf[:m], '\n'); i >= 0 {
				at += int64(i) + 1
				break
			}
			at += int64(m)
			if err != nil && err != io.EOF {
				return nil, err
			}
			if m == 0 {
				at = size
			}
		}
		if at > bounds[len(bounds)-1] && at < size {
			bounds = append(bounds, at)
		}
	}
	return append(bounds, size), nil
}
