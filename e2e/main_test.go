package e2e

import (
	"os"
	"testing"

	"github.com/jwtwatch/jwtwatch/internal/tail"
)

// TestMain sets nxadm/tail's poll interval as the binary does.
func TestMain(m *testing.M) {
	tail.SetPollInterval(tail.DefaultPollInterval)
	os.Exit(m.Run())
}
