// Command gen writes the generated files of deploy/kubernetes; it runs with
// `go generate ./deploy/kubernetes`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jwtwatch/jwtwatch/deploy/kubernetes"
)

func main() {
	root := flag.String("root", "../..", "the repository's root (go generate runs in deploy/kubernetes)")
	flag.Parse()
	files, err := kubernetes.Generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for path, data := range files {
		if err := os.WriteFile(filepath.Join(*root, path), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
