package buildinfo

import (
	"runtime/debug"
	"testing"
)

func settings(kv ...string) []debug.BuildSetting {
	var s []debug.BuildSetting
	for i := 0; i < len(kv); i += 2 {
		s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return s
}

func TestResolve(t *testing.T) {
	const rev = "625ec42af3d08341569213cc209ddb551ca85937"
	tests := []struct {
		name   string
		linked Info
		bi     *debug.BuildInfo
		want   Info
	}{
		{
			name: "go build in a git checkout",
			bi: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261203070935-625ec42af3d0"},
				Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-03T07:09:35Z", "vcs.modified", "false"),
			},
			want: Info{Version: "v0.0.0-20261203070935-625ec42af3d0", Revision: rev, BuildDate: "20261203-07:09:35"},
		},
		{
			name: "go build with uncommitted changes",
			bi: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261203070935-625ec42af3d0+dirty"},
				Settings: settings("vcs.revision", rev, "vcs.time", "2026-12-03T08:09:35+01:00", "vcs.modified", "true"),
			},
			want: Info{Version: "v0.0.0-20261203070935-625ec42af3d0+dirty", Revision: rev + "-modified", BuildDate: "20261203-07:09:35"},
		},
		{
			name: "go install at a commit: the pseudo-version only",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203070935-625ec42af3d0"}},
			want: Info{Version: "v0.0.0-20261203070935-625ec42af3d0", Revision: "625ec42af3d0", BuildDate: "20261203-07:09:35"},
		},
		{
			name: "go install after a tag: a pseudo-version built on it",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261203070935-625ec42af3d0"}},
			want: Info{Version: "v1.2.4-0.20261203070935-625ec42af3d0", Revision: "625ec42af3d0", BuildDate: "20261203-07:09:35"},
		},
		{
			name: "go install at a tag: nothing but the version",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			want: Info{Version: "v1.2.3", Revision: Unknown, BuildDate: Unknown},
		},
		{
			name:   "release build: -ldflags win",
			linked: Info{Version: "1.2.3", Revision: "abc", Branch: "main", BuildDate: "20261201-10:00:00"},
			bi: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261203070935-625ec42af3d0"},
				Settings: settings("vcs.revision", rev, "vcs.time", "2026-12-03T07:09:35Z"),
			},
			want: Info{Version: "1.2.3", Revision: "abc", Branch: "main", BuildDate: "20261201-10:00:00"},
		},
		{
			name:   "-ldflags set only the version",
			linked: Info{Version: "1.2.3"},
			bi:     &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", rev, "vcs.time", "2026-12-03T07:09:35Z")},
			want:   Info{Version: "1.2.3", Revision: rev, BuildDate: "20261203-07:09:35"},
		},
		{
			name: "built without VCS stamping (-buildvcs=false)",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: Unknown, Revision: Unknown, BuildDate: Unknown},
		},
		{
			name: "no build information",
			want: Info{Version: Unknown, Revision: Unknown, BuildDate: Unknown},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.linked, tt.bi); got != tt.want {
				t.Errorf("Resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}
