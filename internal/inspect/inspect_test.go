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
