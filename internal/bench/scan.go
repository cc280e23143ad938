package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/scan"
)

// ScanRun is the scan phase: jwtwatch scan --key previous over the log on
// one core, over the log cut in two files on Cores cores, and over the log
// split in byte ranges on Cores cores.
type ScanRun struct {
	Lines int
	Bytes int64
	Cores int
	// OneCore, TwoFiles and Split are the scans' times.
	OneCore, TwoFiles, Split time.Duration
}

// GzipRun is the gzip phase: the log gzipped (level 6, as gzip and
// logrotate), decompressed alone with jwtwatch's decompressor and scanned,
// on one core and on Cores, and decompressed by gzip -dc.
type GzipRun struct {
	Lines      int
	Bytes      int64 // uncompressed
	Compressed int64
	Runs       []GzipTiming
	// GzipDC is gzip -dc's time to /dev/null; 0 when there is no gzip.
	GzipDC time.Duration
}

// GzipTiming is one GOMAXPROCS setting of the gzip phase.
type GzipTiming struct {
	GOMAXPROCS       int
	Decompress, Scan time.Duration
}

// scanOptions are the options of the scan phases: the sidecar's keys,
// --key previous.
func scanOptions(sec Secrets) scan.Options {
	return scan.Options{
		Keys: keys.Set{
			Keys:    []keys.Key{keys.New(keys.Access, keys.Current, sec.Current), keys.New(keys.Access, keys.Previous, sec.Previous)},
			Issuers: map[keys.Family]string{keys.Access: Issuer},
		},
		Select: "previous",
	}
}

// timeScan scans paths with workers scanners at GOMAXPROCS procs and
// checks that every line was read.
func timeScan(o scan.Options, procs, workers, lines int, paths ...string) (time.Duration, string, error) {
	runtime.GOMAXPROCS(procs)
	var jobs []scan.Job
	for _, p := range paths {
		f, size, err := scan.OpenInput(p)
		if err != nil {
			return 0, "", err
		}
		defer f.Close()
		jobs = append(jobs, scan.Job{Name: filepath.Base(p), R: f, Size: size})
	}
	runtime.GC()
	start := time.Now()
	s, err := scan.NewParallel(o, workers).Scan(jobs)
	elapsed := time.Since(start)
	if err != nil {
		return 0, "", fmt.Errorf("scan: %w", err)
	}
	r := s.Report()
	if r.Lines.Read != int64(lines) {
		return 0, "", fmt.Errorf("scan read %d lines of %d", r.Lines.Read, lines)
	}
	var keyCounts bytes.Buffer
	for _, k := range r.Keys {
		fmt.Fprintf(&keyCounts, "%+v\n", k.Results)
	}
	return elapsed, keyCounts.String(), nil
}

// scanPhase runs the scan phase over the log at path.
func scanPhase(path, dir string, sec Secrets, gen Stats, cores int, profile io.Writer) (*ScanRun, error) {
	o := scanOptions(sec)
	sr := &ScanRun{Lines: gen.Lines, Bytes: gen.Bytes, Cores: cores}
	var one, two, split string
	var err error
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	sr.OneCore, one, err = timeScan(o, 1, 1, gen.Lines, path)
	if profile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	halves, err := cutInTwo(path, dir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(halves[0])
	defer os.Remove(halves[1])
	if sr.TwoFiles, two, err = timeScan(o, cores, cores, gen.Lines, halves...); err != nil {
		return nil, err
	}
	if sr.Split, split, err = timeScan(o, cores, cores, gen.Lines, path); err != nil {
		return nil, err
	}
	if one != two || one != split {
		return nil, errors.New("the scans on several cores counted other verdicts than the scan on one")
	}
	return sr, nil
}

// cutInTwo copies the first and the second half of the lines of path to
// two files.
func cutInTwo(path, dir string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	mid := len(data) / 2
	if i := bytes.IndexByte(data[mid:], '\n'); i >= 0 {
		mid += i + 1
	}
	paths := []string{filepath.Join(dir, "first-half.log"), filepath.Join(dir, "second-half.log")}
	for i, part := range [][]byte{data[:mid], data[mid:]} {
		if err := writeSynced(paths[i], part); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// writeSynced writes a file and waits for it to reach the disk, so that
// writing it back does not compete with the scan that reads it next.
func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// gzipPhase runs the gzip phase over the log at path.
func gzipPhase(path, dir string, sec Secrets, gen Stats, cores int) (*GzipRun, error) {
	gz := filepath.Join(dir, "gateway.log.gz")
	compressed, err := compress(path, gz)
	if err != nil {
		return nil, err
	}
	defer os.Remove(gz)
	gr := &GzipRun{Lines: gen.Lines, Bytes: gen.Bytes, Compressed: compressed}
	o := scanOptions(sec)
	for _, procs := range []int{1, cores} {
		t := GzipTiming{GOMAXPROCS: procs}
		runtime.GOMAXPROCS(procs)
		if t.Decompress, err = decompress(gz, gen.Bytes); err != nil {
			return nil, err
		}
		if t.Scan, _, err = timeScan(o, procs, 1, gen.Lines, gz); err != nil {
			return nil, err
		}
		gr.Runs = append(gr.Runs, t)
	}
	if bin, err := exec.LookPath("gzip"); err == nil {
		start := time.Now()
		if err := exec.Command(bin, "-dc", gz).Run(); err != nil { // stdout: /dev/null
			return nil, fmt.Errorf("gzip -dc: %w", err)
		}
		gr.GzipDC = time.Since(start)
	}
	return gr, nil
}

// compress gzips src into dst at the default level and returns its size.
func compress(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	zw := kgzip.NewWriter(bw)
	_, err = io.Copy(zw, in)
	for _, step := range []func() error{zw.Close, bw.Flush, out.Sync} {
		if err == nil {
			err = step()
		}
	}
	fi, serr := out.Stat()
	if cerr := out.Close(); err == nil {
		err = cmpErr(serr, cerr)
	}
	if err != nil {
		return 0, fmt.Errorf("gzip the log: %w", err)
	}
	return fi.Size(), nil
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// decompress reads gz through jwtwatch's decompressor to nowhere and checks
// its size.
func decompress(gz string, want int64) (time.Duration, error) {
	f, err := os.Open(gz)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	zr, err := scan.Gunzip(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, zr)
	if err == nil {
		err = zr.Close()
	}
	elapsed := time.Since(start)
	if err != nil || n != want {
		return 0, fmt.Errorf("decompress: %d of %d bytes: %v", n, want, err)
	}
	return elapsed, nil
}
