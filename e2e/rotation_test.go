package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/dashboards"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/sidecar"
)

// TestImmediateRotationAndRollback runs one jwtwatch replica through the
// procedure's "Option 2: Immediate Rotation" and its "Rollback Procedure",
// scraped by a real Prometheus with the shipped rules and a real
// Alertmanager. The access secret file is swapped to a new key with no
// previous key: the stale sessions the gateway now rejects must be
// recognised as the retired key's (no bad_signature, no mismatch), no
// critical alert may fire, and the dashboard's "Sessions still on the
// removed key" must rise and fall to zero as users log in again. Then the
// old secret comes back: a rollback, counted as such; the restored key's
// tokens and the rolled-back key's tokens issued before the rollback are not
// suspicious, one it signed after the rollback pages.
func TestImmediateRotationAndRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and Alertmanager; about 40 seconds")
	}
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	k0, k1 := secret(t), secret(t)
	keyFile := filepath.Join(dir, "access")
	replaceFile(t, keyFile, k0)
	env := map[string]string{"JWT_ACCESS_SECRET_FILE": keyFile, "JWT_ACCESS_ISSUER": "auth-service"}
	r := startReplicaWith(t, ctx, dir, "gw-r", sidecar.Options{
		Policy: rotation.Policy{MinWindow: 20 * time.Second, QuietPeriod: 5 * time.Second, Skew: 2 * time.Second, ReloginWindow: 4 * time.Second},
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	api, hook := startStack(t, ctx, dir, r.addr)
	sessions := reloginQuery(t)

	// Before: every user on the old key.
	before := time.Now()
	users := make([]string, 8)
	stale := map[string]string{}
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
		stale[users[i]] = sign(t, k0, users[i], before.Add(-time.Minute), before.Add(5*time.Minute))
	}
	stop := traffic(t, 100*time.Millisecond, func(now time.Time) {
		for _, u := range users {
			r.write(t, line(now, stale[u], 200))
		}
	})
	eventually(t, 30*time.Second, "the old key's traffic in Prometheus", func() error {
		return atLeast(api, `sum(jwtwatch_tokens_total{key="current", result="valid"})`, 1)
	})
	stop()

	// "Update environment variables": the new key, no previous key. Each
	// user's next two requests carry the stale token and get a 401; then the
	// user logs in again.
	replaceFile(t, keyFile, k1)
	eventually(t, 30*time.Second, "the replaced key kept as retired", func() error {
		return atLeast(api, fmt.Sprintf(`jwtwatch_key_info{role="retired", fingerprint=%q}`, keys.Fingerprint([]byte(k0))), 1)
	})
	rotated := time.Now()
	rejected := map[string]int{}
	fresh := map[string]string{}
	stop = traffic(t, 100*time.Millisecond, func(now time.Time) {
		for i, u := range users {
			switch {
			case fresh[u] != "":
				r.write(t, line(now, fresh[u], 200))
			case now.Sub(rotated) > time.Duration(i)*300*time.Millisecond && rejected[u] < 2:
				r.write(t, line(now, stale[u], 401))
				rejected[u]++
			case rejected[u] == 2:
				fresh[u] = sign(t, k1, u, now, now.Add(5*time.Minute))
			}
		}
	})
	eventually(t, 30*time.Second, `"Sessions still on the removed key" to show the wave`, func() error {
		return atLeast(api, sessions, 3)
	})
	eventually(t, 60*time.Second, `"Sessions still on the removed key" to fall to 0`, func() error {
		v, err := api.scalar(sessions)
		if err == nil && v != 0 {
			err = fmt.Errorf("value %v", v)
		}
		return err
	})
	for expr, want := range map[string]float64{
		`sum(jwtwatch_tokens_total{key="retired"})`:          float64(2 * len(users)),
		`sum(jwtwatch_tokens_total{result="bad_signature"})`: 0,
		`sum(jwtwatch_gateway_mismatches_total)`:             0,
		`sum(jwtwatch_suspicious_tokens_total)`:              0,
		`sum(jwtwatch_rotations_total{kind="rotation"})`:     1,
	} {
		if v, err := api.scalar(expr); err != nil || v != want {
			t.Errorf("%s = %v (%v), want %v", expr, v, err, want)
		}
	}
	// The wave is over and the rules have evaluated it many times: nothing critical.
	if n, err := api.count(`max_over_time(ALERTS{severity="critical"}[10m])`); err != nil || n != 0 {
		t.Errorf("critical alerts during the immediate rotation: %d (%v)", n, err)
	}
	if a, ok := hook.find("", func(l map[string]string) bool { return l["severity"] == "critical" }); ok {
		t.Errorf("a critical alert was delivered during the immediate rotation: %v", a.Labels)
	}
	stop()

	// "Rollback Procedure": the old secret is current again.
	replaceFile(t, keyFile, k0)
	eventually(t, 30*time.Second, "the rollback counted", func() error {
		return atLeast(api, `sum(jwtwatch_rotations_total{kind="rollback"})`, 1)
	})
	rolledBack := time.Now()
	stop = traffic(t, 100*time.Millisecond, func(now time.Time) {
		r.write(t, line(now, sign(t, k0, "user-0", now, now.Add(time.Minute)), 200)) // the restored key, fresh
		r.write(t, line(now, stale["user-1"], 200))                                  // the restored key, from before
		r.write(t, line(now, fresh["user-2"], 401))                                  // the rolled-back key, issued while current
	})
	eventually(t, 30*time.Second, "traffic after the rollback", func() error {
		return atLeast(api, `sum(jwtwatch_tokens_total{key="retired", result="valid"})`, float64(2*len(users)+5))
	})
	if v, err := api.scalar(`sum(jwtwatch_suspicious_tokens_total)`); err != nil || v != 0 {
		t.Errorf("suspicious tokens after the rollback, before any was minted: %v (%v)", v, err)
	}
	// An auth-service instance that missed the revert signs with the rolled-back key.
	r.write(t, line(time.Now(), sign(t, k1, "user-late", rolledBack.Add(3*time.Second), rolledBack.Add(time.Hour)), 401))
	hook.wait(t, 60*time.Second, "JWTWatchPreviousKeyMintingTokens", func(l map[string]string) bool {
		return l["token"] == "access" && l["key"] == "retired"
	})
	stop()
	if v, err := api.scalar(`sum(jwtwatch_suspicious_tokens_total{key="current"})`); err != nil || v != 0 {
		t.Errorf("suspicious tokens of the restored key: %v (%v)", v, err)
	}
}

// reloginQuery is the query of the Key rotation dashboard's "Sessions still
// on the removed key" panel, with its variables expanded.
func reloginQuery(t *testing.T) string {
	t.Helper()
	built, err := dashboards.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range built {
		for _, q := range dashboards.Queries(b.Dashboard) {
			if strings.Contains(q, "jwtwatch_retired_key_recent_subjects") {
				return dashboards.Expand(q)
			}
		}
	}
	t.Fatal("no dashboard query reads jwtwatch_retired_key_recent_subjects")
	return ""
}

// atLeast fails unless expr yields one series of at least min.
func atLeast(api promAPI, expr string, min float64) error {
	v, err := api.scalar(expr)
	if err == nil && v < min {
		err = fmt.Errorf("%s = %v, want at least %v", expr, v, min)
	}
	return err
}

// replaceFile swaps a secret file's content at once, as a secret manager does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	writeFile(t, path+".new", content+"\n")
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}
