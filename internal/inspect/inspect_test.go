package inspect

import (
	"testing"
	"time"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"seconds ahead", 42 * time.Second, "in 42s"},
		{"minutes ahead, rounded", 13*time.Minute + 59*time.Second, "in 14m"},
		{"hours ago", -(5*time.Hour + 7*time.Minute), "5h07m ago"},
		{"days ago", -3 * 24 * time.Hour, "3d ago"},
		{"now", 0, "in 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Relative(now.Add(tt.in), now); got != tt.want {
				t.Errorf("Relative(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// Beyond time.Duration's 292 years: exp 9999-12-31 and iat 0001-01-01.
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "in 2912112d"},
		{time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), "739946d ago"},
	} {
		if got := Relative(tt.at, now); got != tt.want {
			t.Errorf("Relative(%s) = %q, want %q", tt.at, got, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bare", "a.b.c", "a.b.c"},
		{"header value", "Bearer a.b.c", "a.b.c"},
		{"lower case and newline", "  bearer a.b.c\n", "a.b.c"},
		{"not bearer", "Basic xyz", "Basic xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clean(tt.in); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
