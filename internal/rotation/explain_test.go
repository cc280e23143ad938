package rotation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunbookExplainsEveryReason: the runbook's table of suspicion reasons
// has every reason in the words of Explain, which inspect, scan and the
// demo print, so that the four never drift apart.
func TestRunbookExplainsEveryReason(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range append(Reasons, UnusualClaims) {
		if r.Explain() == string(r) || seen[r.Explain()] {
			t.Errorf("%s: no wording of its own (%q)", r, r.Explain())
		}
		seen[r.Explain()] = true
		if row := "| `" + string(r) + "` | " + r.Explain() + " |"; !strings.Contains(string(b), row) {
			t.Errorf("docs/runbook.md lacks the row\n%s", row)
		}
	}
}
