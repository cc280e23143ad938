package demo

import (
	"fmt"
	"io"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scenarios the demo can play (--scenario).
const (
	// ScenarioDualKey is "Option 1: Graceful Rotation with Dual Key Support",
	// just after the rotation: the default.
	ScenarioDualKey = "dual-key"
	// ScenarioImmediate is "Option 2: Immediate Rotation": the access key is
	// replaced with no previous key; every old session gets a 401 and its
	// user logs in again.
	ScenarioImmediate = "immediate"
	// ScenarioRollback is a dual-key rotation undone by the "Rollback
	// Procedure", with an auth-service instance that missed the revert.
	ScenarioRollback = "rollback"
)

// Scenarios lists the values of --scenario.
var Scenarios = []string{ScenarioDualKey, ScenarioImmediate, ScenarioRollback}

// reloginWindow is --rotation.relogin-window squeezed with the rest.
const reloginWindow = 3 * time.Second

// simulation is the traffic of a simulated gateway.
type simulation interface {
	// tick returns the log lines of one 20 ms slice of traffic at now.
	tick(now time.Time) []string
}

// rekeying is a simulation whose keys change while it runs: begin sets its
// timeline to start at now (when the demo starts writing), rekey returns
// the new environment (nil when nothing changes now) and what happened, in
// the procedure's words.
type rekeying interface {
	begin(now time.Time)
	rekey(now time.Time) (env map[string]string, what string)
}

// session is one simulated user with the access token the client holds.
type session struct {
	sub   string
	token string
	key   *signer // the key that signed token
}

// hs256 returns a new HS256 key of the simulated auth service.
func hs256() *signer {
	s, _ := newSigner("HS256", "") // HS256 needs nothing that can fail
	return &s
}

// secretOf is the environment variable's value of an HS256 key.
func secretOf(s *signer) string { return string(s.secret) }

// sessions returns n users, user-first to user-(first+n-1), each with a
// token of key issued at iat and expiring at exp.
func sessions(key *signer, first, n int, iat, exp time.Time) []*session {
	out := make([]*session, n)
	for i := range out {
		sub := fmt.Sprintf("user-%03d", first+i)
		out[i] = &session{sub: sub, token: key.sign(sub, iat, exp), key: key}
	}
	return out
}

// immediate plays "Option 2: Immediate Rotation" of the access key at
// rotateAt: no previous key is configured, so every old session presents a
// token of the removed key, gets a 401 and its user logs in again. One
// client (a report job with a long-lived token) keeps presenting its old
// token until its owner restarts it at cronFixed.
type immediate struct {
	start, rotateAt, cronFixed time.Time
	old, new, refresh          *signer
	rotated                    bool
	users                      []*session
	cron                       session
	n                          int
}

func newImmediate(start time.Time) *immediate {
	s := &immediate{old: hs256(), new: hs256(), refresh: hs256()}
	s.begin(start)
	iat := start.Truncate(time.Second).Add(-10 * time.Second)
	s.users = sessions(s.old, 200, 20, iat, iat.Add(accessLifetime+time.Minute))
	s.cron = session{sub: "svc-report-cron", token: s.old.sign("svc-report-cron", iat, iat.Add(24*time.Hour)), key: s.old}
	return s
}

func (s *immediate) begin(now time.Time) {
	s.start, s.rotateAt, s.cronFixed = now, now.Add(2*time.Second), now.Add(7*time.Second)
}

func (s *immediate) env() map[string]string {
	return map[string]string{"JWT_ACCESS_SECRET": secretOf(s.old), "JWT_REFRESH_SECRET": secretOf(s.refresh), "JWT_ACCESS_ISSUER": issuer}
}

func (s *immediate) intro() string {
	return fmt.Sprintf("jwtwatch demo, immediate rotation: the access key is replaced at %s with no previous key (\"Option 2: Immediate Rotation\"); old sessions get a 401 and log in again.", s.rotateAt.Sub(s.start))
}

func (s *immediate) rekey(now time.Time) (map[string]string, string) {
	if s.rotated || now.Before(s.rotateAt) {
		return nil, ""
	}
	s.rotated = true
	env := s.env()
	env["JWT_ACCESS_SECRET"] = secretOf(s.new)
	return env, "JWT_ACCESS_SECRET replaced, no previous key (\"Update environment variables\"): jwtwatch keeps the old key in memory as retired"
}

// accepts is the gateway's verdict on a session's token: it knows one access key.
func (s *immediate) accepts(u *session) int {
	current := s.old
	if s.rotated {
		current = s.new
	}
	if u.key == current {
		return 200
	}
	return 401
}

func (s *immediate) tick(now time.Time) []string {
	s.n++
	var out []string
	if s.n%3 == 0 {
		u := s.users[(s.n/3)%len(s.users)]
		status := s.accepts(u)
		out = append(out, pino(now, "GET", "/api/v1/orders", u.token, status))
		if status == 401 {
			// "Users must re-login": the login itself carries no token.
			out = append(out, pino(now, "POST", "/api/v1/auth/login", "", 201))
			iat := now.Truncate(time.Second)
			u.token, u.key = s.new.sign(u.sub, iat, iat.Add(accessLifetime)), s.new
		}
	}
	if s.n%25 == 0 && now.Before(s.cronFixed) {
		out = append(out, pino(now, "GET", "/api/v1/reports", s.cron.token, s.accepts(&s.cron)))
	}
	return out
}

// rollback plays a dual-key rotation of the access key at rotateAt, then
// its "Rollback Procedure" at rollbackAt: the old secret is current again,
// the new one previous. Users who logged in meanwhile keep their tokens;
// one auth-service instance that missed the revert signs a token with the
// rolled-back key at strayAt, beyond the demo's --rotation.grace (3s) and
// clock skew after the rollback: within them it would be issued_during_grace.
type rollback struct {
	start, rotateAt, rollbackAt, strayAt time.Time
	old, new, refresh                    *signer
	phase                                int // 0 before the rotation, 1 rotated, 2 rolled back
	users                                []*session
	stray                                string
	n                                    int
}

func newRollback(start time.Time) *rollback {
	s := &rollback{old: hs256(), new: hs256(), refresh: hs256()}
	s.begin(start)
	iat := start.Truncate(time.Second).Add(-10 * time.Second)
	s.users = sessions(s.old, 300, 12, iat, iat.Add(time.Hour))
	return s
}

func (s *rollback) begin(now time.Time) {
	s.start, s.rotateAt, s.rollbackAt, s.strayAt = now, now.Add(1500*time.Millisecond), now.Add(4*time.Second), now.Add(9*time.Second)
}

func (s *rollback) env() map[string]string {
	return map[string]string{"JWT_ACCESS_SECRET": secretOf(s.old), "JWT_REFRESH_SECRET": secretOf(s.refresh), "JWT_ACCESS_ISSUER": issuer}
}

func (s *rollback) intro() string {
	return fmt.Sprintf("jwtwatch demo, rollback: a dual-key rotation of the access key at %s, undone by the \"Rollback Procedure\" at %s.",
		s.rotateAt.Sub(s.start), s.rollbackAt.Sub(s.start))
}

func (s *rollback) rekey(now time.Time) (map[string]string, string) {
	env := s.env()
	switch {
	case s.phase == 0 && !now.Before(s.rotateAt):
		s.phase = 1
		env["JWT_ACCESS_SECRET"], env["JWT_ACCESS_SECRET_PREVIOUS"] = secretOf(s.new), secretOf(s.old)
		return env, "the rotation: a new JWT_ACCESS_SECRET, the old one as JWT_ACCESS_SECRET_PREVIOUS"
	case s.phase == 1 && !now.Before(s.rollbackAt):
		s.phase = 2
		env["JWT_ACCESS_SECRET_PREVIOUS"] = secretOf(s.new)
		return env, "\"Rollback Procedure\": \"Revert to previous secret in environment variables\" (the new secret stays as previous)"
	}
	return nil, ""
}

func (s *rollback) tick(now time.Time) []string {
	s.n++
	var out []string
	signing := s.old // the auth service's key
	if s.phase == 1 {
		signing = s.new
	}
	if s.n%3 == 0 {
		u := s.users[(s.n/3)%len(s.users)]
		out = append(out, pino(now, "GET", "/api/v1/orders", u.token, 200))
		// Now and then a user logs in again and gets a token of the key the
		// auth service signs with.
		if s.n%9 == 0 {
			iat := now.Truncate(time.Second)
			u.token, u.key = signing.sign(u.sub, iat, iat.Add(time.Hour)), signing
		}
	}
	if s.phase == 2 && !now.Before(s.strayAt) {
		if s.stray == "" {
			iat := now.Truncate(time.Second)
			s.stray = s.new.sign("user-late-login", iat, iat.Add(time.Hour))
		}
		if s.n%20 == 0 {
			out = append(out, pino(now, "GET", "/api/v1/profile", s.stray, 200))
		}
	}
	return out
}

// newScenario returns the simulation of a scenario other than the default,
// with the environment it starts with and its first line.
func newScenario(name string, start time.Time) (simulation, map[string]string, string, error) {
	switch name {
	case ScenarioImmediate:
		s := newImmediate(start)
		return s, s.env(), s.intro(), nil
	case ScenarioRollback:
		s := newRollback(start)
		return s, s.env(), s.intro(), nil
	}
	return nil, nil, "", fmt.Errorf("unknown scenario %q (one of %v)", name, Scenarios)
}

// rotationSummary prints what the scenarios show beyond the dual-key
// window: the rotations and rollbacks of each family's current key, and the
// sessions still on a removed key.
func rotationSummary(w io.Writer, fams map[string]*dto.MetricFamily) {
	changes := map[string]map[string]float64{}
	for _, m := range metrics(fams, "jwtwatch_rotations_total") {
		l := labels(m)
		if changes[l["token"]] == nil {
			changes[l["token"]] = map[string]float64{}
		}
		changes[l["token"]][l["kind"]] = m.GetCounter().GetValue()
	}
	for _, family := range []string{"access", "refresh"} {
		c := changes[family]
		if c["rotation"]+c["rollback"] > 0 {
			fmt.Fprintf(w, "  %s key: %.0f rotation(s), %.0f rollback(s) seen\n", family, c["rotation"], c["rollback"])
		}
	}
	accepted := 0.0
	for _, m := range metrics(fams, "jwtwatch_gateway_mismatches_total") {
		if l := labels(m); l["key"] == "retired" && l["gateway"] == "accepted" {
			accepted += m.GetCounter().GetValue()
		}
	}
	for _, m := range metrics(fams, "jwtwatch_retired_key_recent_subjects") {
		family := labels(m)["token"]
		if !loaded(fams, family, "retired") {
			continue
		}
		n := m.GetGauge().GetValue()
		fmt.Fprintf(w, "  sessions still on the removed %s key: %.0f (users who presented its tokens in the last %s)", family, n, reloginWindow)
		switch {
		case accepted > 0:
			fmt.Fprintf(w, "; a gateway ACCEPTED one: the removed key still works there\n")
		case n > 0:
			fmt.Fprintf(w, "; the gateway answers 401, as it must: they log in again\n")
		default:
			fmt.Fprintf(w, "; the wave is over\n")
		}
	}
}

// loaded reports whether a key of that family and role is loaded.
func loaded(fams map[string]*dto.MetricFamily, family, role string) bool {
	for _, m := range metrics(fams, "jwtwatch_key_info") {
		if l := labels(m); l["token"] == family && l["role"] == role {
			return true
		}
	}
	return false
}

// rolledBack reports whether a rollback of the family's current key was seen.
func rolledBack(fams map[string]*dto.MetricFamily, family string) bool {
	for _, m := range metrics(fams, "jwtwatch_rotations_total") {
		if l := labels(m); l["token"] == family && l["kind"] == "rollback" && m.GetCounter().GetValue() > 0 {
			return true
		}
	}
	return false
}

// waitReload waits, for at most two seconds, until the sidecar at base
// counts more than done successful key reloads.
func waitReload(c *http.Client, base string, done int) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := c.Get(base + "/metrics")
		if err != nil {
			continue
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, m := range metrics(fams, "jwtwatch_key_reloads_total") {
			if labels(m)["result"] == "success" && m.GetCounter().GetValue() > float64(done) {
				return
			}
		}
	}
}
