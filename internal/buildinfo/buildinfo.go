// Package buildinfo says which build of jwtwatch is running. A release build
// sets prometheus/common/version's variables with -ldflags -X; a plain
// `go build` or a `go install …@version` sets none, so what they leave empty
// is taken from the build information the Go toolchain embeds in every
// binary (runtime/debug.ReadBuildInfo): the module version, and the VCS
// revision and commit time, or the pseudo-version's.
package buildinfo

import (
	"runtime/debug"
	"time"

	"github.com/prometheus/common/version"
	"golang.org/x/mod/module"
)

// DateLayout is the layout of a build date, as the Prometheus projects'
// release builds write it (`date -u +%Y%m%d-%H:%M:%S`).
const DateLayout = "20060102-15:04:05"

// Unknown stands for what neither -ldflags nor the build information says.
const Unknown = "unknown"

// Info is what jwtwatch reports about its build: `--version`, the start-up
// log and the jwtwatch_build_info metric.
type Info struct {
	Version  string
	Revision string
	Branch   string
	// BuildDate is when the binary was built when -ldflags said so, else the
	// commit's time: a reproducible build has no other date.
	BuildDate string
}

// Resolve fills what linked (the -ldflags values) leaves empty from bi, the
// toolchain's build information; bi may be nil.
//
//   - `go build` in a git checkout: the module version is a pseudo-version
//     (Go ≥ 1.24), vcs.revision and vcs.time are recorded, vcs.modified
//     marks uncommitted changes;
//   - `go install …@v1.2.3` or `@<commit>`: no VCS settings, but the module
//     version; a pseudo-version (v0.0.0-20261203070935-625ec42af3d0) carries
//     the commit time and a 12-digit revision prefix, a tag carries neither.
func Resolve(linked Info, bi *debug.BuildInfo) Info {
	out := linked
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	modVersion := bi.Main.Version
	if modVersion == "(devel)" {
		modVersion = ""
	}
	if out.Version == "" {
		out.Version = modVersion
	}
	if out.Revision == "" {
		out.Revision = settings["vcs.revision"]
		if out.Revision != "" && settings["vcs.modified"] == "true" {
			out.Revision += "-modified"
		}
	}
	if out.BuildDate == "" {
		if t, err := time.Parse(time.RFC3339, settings["vcs.time"]); err == nil {
			out.BuildDate = t.UTC().Format(DateLayout)
		}
	}
	if module.IsPseudoVersion(modVersion) {
		if out.Revision == "" {
			if rev, err := module.PseudoVersionRev(modVersion); err == nil {
				out.Revision = rev
			}
		}
		if out.BuildDate == "" {
			if t, err := module.PseudoVersionTime(modVersion); err == nil {
				out.BuildDate = t.UTC().Format(DateLayout)
			}
		}
	}
	for _, s := range []*string{&out.Version, &out.Revision, &out.BuildDate} {
		if *s == "" {
			*s = Unknown
		}
	}
	return out
}

// Apply resolves the running binary's build and writes the result into
// prometheus/common/version's variables, which kingpin's --version, the
// version collector (jwtwatch_build_info) and the status page read. The
// binary calls it once, first thing in main.
func Apply() Info {
	bi, _ := debug.ReadBuildInfo()
	info := Resolve(Info{Version: version.Version, Revision: version.Revision, Branch: version.Branch, BuildDate: version.BuildDate}, bi)
	version.Version, version.Revision, version.BuildDate = info.Version, info.Revision, info.BuildDate
	return info
}
