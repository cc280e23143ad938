package scan

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScan measures the whole per-line path (read, parse, verify,
// suspicion, report bookkeeping) over the committed gateway log, with
// --key previous; compare ns/line with BenchmarkParse plus BenchmarkCheck,
// the sidecar's per-line cost.
func BenchmarkScan(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "gateway.log"))
	if err != nil {
		b.Fatal(err)
	}
	lines := int64(bytes.Count(data, []byte("\n")))
	o := incidentOptions(newTestKeys())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Read("gateway.log", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if s.Report().Lines.Read != lines {
			b.Fatal("lines lost")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*lines), "ns/line")
}
