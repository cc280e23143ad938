// Command gen writes jwtwatch's Grafana dashboards as JSON files; it runs
// with `go generate ./dashboards`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/jwtwatch/jwtwatch/dashboards"
)

func main() {
	out := flag.String("out", defaultOut(), "directory to write the dashboard JSON files to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	all, err := dashboards.All()
	if err != nil {
		return err
	}
	for _, b := range all {
		data, err := dashboards.Encode(b.Dashboard)
		if err != nil {
			return err
		}
		path := filepath.Join(out, b.File)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// defaultOut is the dashboards/ directory this program's source lives in,
// so that `go run ./dashboards/gen` from the repository root writes to the
// same place as `go generate`; "." when the source path is not available
// (a -trimpath build).
func defaultOut() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	dir := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(dir, "dashboards.go")); err != nil {
		return "."
	}
	return dir
}
