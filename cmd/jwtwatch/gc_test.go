package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that the collector settings apply only where the
// environment leaves them unset.
func TestTuneGC(t *testing.T) {
	const percent, limit = 123, 99 << 20
	tests := []struct {
		name                 string
		env                  map[string]string
		wantPercent, wantLim int64
	}{
		{"nothing set", nil, gcPercent, memoryLimit},
		{"GOGC set", map[string]string{"GOGC": "100"}, percent, memoryLimit},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, gcPercent, limit},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, percent, limit},
	}
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// What the runtime would have taken from the environment.
			debug.SetGCPercent(percent)
			debug.SetMemoryLimit(limit)
			tuneGC(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got := debug.SetGCPercent(percent); int64(got) != tt.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tt.wantPercent)
			}
			if got := debug.SetMemoryLimit(limit); got != tt.wantLim {
				t.Errorf("memory limit %d, want %d", got, tt.wantLim)
			}
		})
	}
}
