// Package demo simulates a gateway in the middle of a dual-key rotation,
// writes its log to a temporary directory, runs the real sidecar on it and
// prints what jwtwatch sees, so a new user can watch the product work with
// nothing installed.
package demo

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jwtwatch/jwtwatch/internal/buildinfo"
	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/sidecar"
)

// Options configures the demo.
type Options struct {
	ListenAddress string
	Interval      time.Duration
	// Duration stops the demo after this long; 0 runs until ctx is done.
	Duration time.Duration
	Out      io.Writer
	Logger   *slog.Logger
	// Build is shown on the status page.
	Build buildinfo.Info
	// Alg is the algorithm the simulated auth service signs with: HS256
	// (the default) through the environment variables, or RS256, ES256 or
	// EdDSA through a --keys.file naming a JWK Set by kid, with a next key
	// published ahead of its promotion.
	Alg string
	// Scenario is what the simulated gateway goes through (one of
	// Scenarios); ScenarioDualKey when empty.
	Scenario string
}

const issuer = "auth-service"

// accessLifetime is how long the simulated auth service's access tokens
// live: 15 minutes squeezed, as the window is, into seconds.
const accessLifetime = 30 * time.Second

// Run writes the simulated log, runs the sidecar on it and prints a summary
// every Interval until ctx is done or Duration has passed.
func Run(ctx context.Context, o Options) error {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "jwtwatch-demo-")
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "gateway.log")

	g, err := newGateway(time.Now(), cmp.Or(o.Alg, "HS256"))
	if err != nil {
		return err
	}
	env, keysFile, err := g.keyConfig(dir)
	if err != nil {
		return err
	}
	var sim simulation = g
	intro := fmt.Sprintf("jwtwatch demo: a gateway mid-rotation (%s access key rotated just now; the previous key is still accepted).", g.alg)
	if o.Scenario != "" && o.Scenario != ScenarioDualKey {
		if g.alg != "HS256" {
			return fmt.Errorf("the %s scenario signs with HS256 secrets of the environment variables, not %s", o.Scenario, g.alg)
		}
		if sim, env, intro, err = newScenario(o.Scenario, time.Now()); err != nil {
			return err
		}
		keysFile = ""
	}
	// A scenario changes the keys while it runs, as "Update environment
	// variables" does, and reloads them as SIGHUP would.
	var keysMu sync.Mutex
	reload := make(chan os.Signal, 1)
	addrs := make(chan []net.Addr, 1)
	opts := sidecar.Options{
		LogPaths:        []string{logPath},
		FromStart:       true,
		ListenAddresses: []string{o.ListenAddress},
		StateFile:       filepath.Join(dir, "state.json"),
		// A rotation window squeezed from a week into seconds, and the clock
		// skew allowance and the grace with it (the tokens' iat are seconds
		// after the start). Access tokens live accessLifetime, so the wait for
		// the tokens nobody saw outlasts the window and clears last.
		Policy: rotation.Policy{MinWindow: 25 * time.Second, QuietPeriod: 8 * time.Second, Skew: time.Second, Grace: 3 * time.Second, ReloginWindow: reloginWindow},
		Lookup: func(k string) (string, bool) {
			keysMu.Lock()
			defer keysMu.Unlock()
			v, ok := env[k]
			return v, ok
		},
		Reload:   reload,
		KeysFile: keysFile,
		Logger:   o.Logger,
		Build:    o.Build,
		Listening: func(a []net.Addr) {
			addrs <- a
		},
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- sidecar.Run(runCtx, opts) }()

	var base string
	select {
	case a := <-addrs:
		base = "http://" + a[0].String()
	case err := <-done:
		return fmt.Errorf("start sidecar: %w", err)
	}

	f, err := os.Create(logPath)
	if err != nil {
		stop()
		<-done
		return fmt.Errorf("demo log: %w", err)
	}
	defer f.Close()

	fmt.Fprintln(o.Out, intro)
	if keysFile != "" {
		fmt.Fprintf(o.Out, "  key file:    %s (a JWK Set by kid, with a next key)\n", keysFile)
	}
	fmt.Fprintf(o.Out, "  gateway log: %s\n  status page: %s/\n  metrics:     %s/metrics\n  a summary every %s; Ctrl-C to stop.\n\n", logPath, base, base, o.Interval)

	start := time.Now()
	if r, ok := sim.(rekeying); ok {
		r.begin(start)
	}
	write := time.NewTicker(20 * time.Millisecond)
	defer write.Stop()
	report := time.NewTicker(o.Interval)
	defer report.Stop()
	client := &http.Client{Timeout: 5 * time.Second}
	reloads := 0 // successful key reloads so far
	for {
		select {
		case <-ctx.Done():
			summary(o.Out, client, base, time.Since(start))
			stop()
			err := <-done
			fmt.Fprintln(o.Out, "demo stopped.")
			return err
		case now := <-write.C:
			if r, ok := sim.(rekeying); ok {
				if next, what := r.rekey(now); next != nil {
					keysMu.Lock()
					env = next
					keysMu.Unlock()
					reload <- syscall.SIGHUP
					// The simulated gateway switched at once; its log waits for
					// jwtwatch to switch too, as a deploy takes both together.
					waitReload(client, base, reloads)
					reloads++
					fmt.Fprintf(o.Out, "── %s: %s ──\n\n", now.Sub(start).Round(500*time.Millisecond), what)
				}
			}
			for _, line := range sim.tick(now) {
				if _, err := f.WriteString(line + "\n"); err != nil {
					return fmt.Errorf("demo log: %w", err)
				}
			}
		case <-report.C:
			summary(o.Out, client, base, time.Since(start))
		}
	}
}

// gateway simulates the traffic of a gateway after the access key rotated at start.
type gateway struct {
	start                      time.Time
	alg                        string
	current, previous, refresh signer
	next, attacker             signer
	n                          int
	oldUsers                   []*oldUser
	minted                     string
	mintedExp                  time.Time
	early                      string // a token of the next key, before its promotion
	// A token the auth service minted with the old key before its restart
	// (within the grace).
	grace    string
	graceExp time.Time
}

type oldUser struct {
	sub     string
	token   string
	exp     time.Time
	renewed bool // on current-key tokens since the old one expired
}

// signer is one signing key of the simulated auth service (or attacker).
type signer struct {
	s      gatewaylog.Signer
	secret []byte        // HS256
	key    crypto.Signer // the others
	kid    string
}

func newGateway(start time.Time, alg string) (*gateway, error) {
	g := &gateway{start: start, alg: alg}
	for i, s := range []*signer{&g.current, &g.previous, &g.refresh, &g.next, &g.attacker} {
		var err error
		if *s, err = newSigner(alg, fmt.Sprintf("k%d", i)); err != nil {
			return nil, err
		}
	}
	for i := range 12 {
		sub := fmt.Sprintf("user-%03d", 100+i)
		// Issued before the rotation, so they expire one by one. JWT times
		// are whole seconds; the simulated gateway must agree with the claim.
		exp := start.Truncate(time.Second).Add(time.Duration(5+i) * time.Second)
		g.oldUsers = append(g.oldUsers, &oldUser{sub: sub, exp: exp,
			token: g.previous.sign(sub, exp.Add(-accessLifetime), exp)})
	}
	return g, nil
}

// newSigner makes a key for alg: an HS256 secret, or a key pair.
func newSigner(alg, kid string) (signer, error) {
	if alg == "HS256" {
		b := make([]byte, 32)
		rand.Read(b)
		secret := []byte(base64.RawURLEncoding.EncodeToString(b))
		return signer{s: gatewaylog.HS256(secret), secret: secret}, nil
	}
	key, err := keys.GeneratePair(alg) // refuses "none" and what is not an algorithm
	if err != nil {
		return signer{}, fmt.Errorf("demo: --alg %q: want HS256, RS256, ES256 or EdDSA: %w", alg, err)
	}
	return signer{s: gatewaylog.WithKeyID(gatewaylog.PrivateKey(alg, key), kid), key: key, kid: kid}, nil
}

func (s signer) sign(sub string, iat, exp time.Time) string {
	return gatewaylog.Token(s.s, map[string]any{"sub": sub, "iss": issuer, "iat": iat.Unix(), "exp": exp.Unix()})
}

// keyConfig returns what the sidecar reads the keys from: for HS256 the
// gateway's environment variables; otherwise a key file in dir naming JWK
// Sets (access: current, previous and next by kid; refresh: current) that
// it writes there too.
func (g *gateway) keyConfig(dir string) (env map[string]string, keysFile string, err error) {
	if g.alg == "HS256" {
		return map[string]string{
			"JWT_ACCESS_SECRET":          string(g.current.secret),
			"JWT_ACCESS_SECRET_PREVIOUS": string(g.previous.secret),
			"JWT_REFRESH_SECRET":         string(g.refresh.secret),
			"JWT_ACCESS_ISSUER":          issuer,
		}, "", nil
	}
	set := func(name string, ss ...signer) (string, error) {
		var members []string
		for _, s := range ss {
			jwk, err := keys.PublicJWK(s.key.Public(), s.kid, g.alg)
			if err != nil {
				return "", err
			}
			members = append(members, string(jwk))
		}
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, []byte(`{"keys":[`+strings.Join(members, ",")+`]}`), 0o644)
	}
	access, err := set("access.jwks.json", g.current, g.previous, g.next)
	if err != nil {
		return nil, "", err
	}
	refresh, err := set("refresh.jwks.json", g.refresh)
	if err != nil {
		return nil, "", err
	}
	keysFile = filepath.Join(dir, "keys.yaml")
	yaml := fmt.Sprintf("access:\n  issuer: %s\n  keys:\n    - jwks_file: %s\n      roles: {%s: current, %s: previous, %s: next}\n"+
		"refresh:\n  keys:\n    - jwks_file: %s\n      roles: {%s: current}\n",
		issuer, access, g.current.kid, g.previous.kid, g.next.kid, refresh, g.refresh.kid)
	return nil, keysFile, os.WriteFile(keysFile, []byte(yaml), 0o644)
}

// access returns a current-key access token as the auth service issues it
// at now: a user's token is renewed before it expires.
func (g *gateway) access(sub string, now time.Time) string {
	iat := now.Truncate(time.Second)
	return g.current.sign(sub, iat, iat.Add(accessLifetime))
}

// tick returns the log lines of one 20 ms slice of traffic.
func (g *gateway) tick(now time.Time) []string {
	g.n++
	t := now.Sub(g.start)
	var out []string
	// Current-key users: most of the traffic.
	sub := fmt.Sprintf("user-%03d", g.n%40)
	out = append(out, pino(now, "GET", "/api/v1/orders", g.access(sub, now), 200))
	if g.n%10 == 0 {
		out = append(out, pino(now, "POST", "/api/v1/auth/refresh", g.refresh.sign(sub, g.start, g.start.Add(24*time.Hour)), 201))
	}
	if g.n%25 == 0 {
		out = append(out, pino(now, "GET", "/health", "", 200))
	}
	// Old-key users: accepted until their token expires; then one 401 and a fresh login.
	if g.n%3 == 0 {
		u := g.oldUsers[(g.n/3)%len(g.oldUsers)]
		switch {
		case u.renewed:
			out = append(out, pino(now, "GET", "/api/v1/profile", g.access(u.sub, now), 200))
		case now.Before(u.exp):
			out = append(out, pino(now, "GET", "/api/v1/profile", u.token, 200))
		default:
			out = append(out, pino(now, "GET", "/api/v1/profile", u.token, 401))
			u.renewed = true
		}
	}
	// Between 2 s and 3 s the auth service, not yet restarted after the
	// gateways, still signs a login with the old key: issued_during_grace.
	if t > 2*time.Second && g.grace == "" {
		g.graceExp = now.Truncate(time.Second).Add(20 * time.Second)
		g.grace = g.previous.sign("user-late-login", now, g.graceExp)
	}
	if g.grace != "" && now.Before(g.graceExp) && g.n%50 == 0 {
		out = append(out, pino(now, "GET", "/api/v1/profile", g.grace, 200))
	}
	// A burst of forged tokens between 8 s and 11 s; the gateway rejects
	// them, but for one route someone forgot to guard, which answers 200:
	// an authentication bypass.
	if t > 8*time.Second && t < 11*time.Second {
		out = append(out, pino(now, "GET", "/api/v1/admin", g.attacker.sign("admin", now, now.Add(time.Hour)), 401))
		if g.n%5 == 0 {
			out = append(out, pino(now, "GET", "/api/v1/admin", noneToken("admin"), 401))
		}
		if g.n%40 == 0 {
			out = append(out, pino(now, "GET", "/api/v1/reports/export", g.attacker.sign("admin", now, now.Add(time.Hour)), 200))
		}
	}
	// At 6 s someone who holds the old key mints a token with it.
	if t > 6*time.Second && g.minted == "" {
		g.mintedExp = now.Truncate(time.Second).Add(8 * time.Second)
		g.minted = g.previous.sign("svc-batch", now, g.mintedExp)
	}
	if g.minted != "" && now.Before(g.mintedExp) && g.n%20 == 0 {
		out = append(out, pino(now, "POST", "/api/v1/export", g.minted, 200))
	}
	// From 3 s, with a JWK Set, a canary signs with the next key before its
	// promotion: signed_with_next_key.
	if g.alg != "HS256" && t > 3*time.Second && g.n%50 == 0 {
		if g.early == "" {
			g.early = g.next.sign("canary", now, now.Add(time.Hour))
		}
		out = append(out, pino(now, "GET", "/api/v1/canary", g.early, 200))
	}
	return out
}

func noneToken(sub string) string { return gatewaylog.Unsigned(`{"sub":"` + sub + `"}`) }

// pino formats a request the way nestjs-pino's pino-http logger does.
func pino(at time.Time, method, url, token string, status int) string {
	headers := []gatewaylog.Header{{Name: "host", Value: "api.example.com"}, {Name: "user-agent", Value: "demo-client/1.0"}}
	if token != "" {
		headers = append(headers, gatewaylog.Bearer(token))
	}
	return gatewaylog.Request{Time: at, ID: 1, Method: method, URL: url, Headers: headers, RemoteAddress: "::ffff:10.0.0.7",
		Status: status, ResponseTime: 3, Hostname: "gateway-0"}.Pino()
}

// summary scrapes the sidecar over HTTP, as Prometheus would, and prints what it sees.
func summary(w io.Writer, c *http.Client, base string, elapsed time.Duration) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		fmt.Fprintf(w, "cannot read metrics: %v\n", err)
		return
	}
	fmt.Fprintf(w, "── after %s ─────────────────────────────────────────\n", elapsed.Round(time.Second))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  key\ttoken\tresult\tcount")
	for _, role := range keys.Roles {
		for _, m := range metrics(fams, "jwtwatch_tokens_total") {
			if l := labels(m); l["key"] == string(role) && m.GetCounter().GetValue() > 0 {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%.0f\n", l["key"], l["token"], l["result"], m.GetCounter().GetValue())
			}
		}
	}
	tw.Flush()
	for _, m := range metrics(fams, "jwtwatch_suspicious_tokens_total") {
		if v := m.GetCounter().GetValue(); v > 0 {
			l := labels(m)
			reason := rotation.Reason(l["reason"])
			note := ""
			if reason == rotation.IssuedDuringGrace {
				note = " Shown, not paged."
			}
			fmt.Fprintf(w, "  ! suspicious: %.0f %s token(s) signed by the %s key: %s — %s.%s\n", v, l["token"], l["key"], reason, reason.Explain(), note)
		}
	}
	for _, m := range metrics(fams, "jwtwatch_gateway_mismatches_total") {
		if v := m.GetCounter().GetValue(); v > 0 {
			l := labels(m)
			if l["gateway"] == "accepted" {
				fmt.Fprintf(w, "  ! BYPASS: the gateway accepted %.0f token(s) jwtwatch judged %s (%s key): JWTWatchAuthenticationBypass pages\n", v, l["result"], l["key"])
				continue
			}
			fmt.Fprintf(w, "  ! gateway %s %.0f token(s) jwtwatch judged %s (%s key)\n", l["gateway"], v, l["result"], l["key"])
		}
	}
	removalSummary(w, fams)
	rotationSummary(w, fams)
	for _, m := range metrics(fams, "jwtwatch_suspicious_tokens_total") {
		if l := labels(m); l["reason"] == "issued_after_rotation" && l["key"] == "previous" && m.GetCounter().GetValue() > 0 {
			if rolledBack(fams, l["token"]) {
				fmt.Fprintf(w, "  the rolled-back %s key signed tokens after the rollback: an auth-service instance that missed \"Revert to previous secret\" still signs with it, or it leaked\n", l["token"])
				continue
			}
			fmt.Fprintf(w, "  but the previous %s key signed tokens after the rotation: it has leaked — remove it now (Emergency Rotation)\n", l["token"])
		}
	}
	fmt.Fprintln(w)
}

// removalSummary prints the removal verdict on the previous access key,
// and when no token it signed can still be valid.
func removalSummary(w io.Writer, fams map[string]*dto.MetricFamily) {
	if !loaded(fams, "access", "previous") {
		fmt.Fprintln(w, "  no previous access key is loaded: nothing to remove")
		return
	}
	var blocked []string
	for _, m := range metrics(fams, "jwtwatch_previous_key_removal_blocked") {
		if l := labels(m); l["token"] == "access" && m.GetGauge().GetValue() == 1 {
			blocked = append(blocked, l["reason"])
		}
	}
	// In the order of the rule, not of the labels.
	slices.SortFunc(blocked, func(a, b string) int {
		return slices.Index(rotation.BlockingReasons, a) - slices.Index(rotation.BlockingReasons, b)
	})
	verdict := "YES — no valid previous-key token for the quiet period, every token it could have signed has expired, seen or not"
	if len(blocked) > 0 {
		verdict = "not yet (" + strings.Join(blocked, ", ") + ")"
	}
	fmt.Fprintf(w, "  previous access key removable: %s\n", verdict)
	for _, m := range metrics(fams, "jwtwatch_previous_key_all_expired_timestamp_seconds") {
		if labels(m)["token"] != "access" {
			continue
		}
		lifetime := 0.0
		for _, l := range metrics(fams, "jwtwatch_token_max_lifetime_seconds") {
			if labels(l)["token"] == "access" {
				lifetime = l.GetGauge().GetValue()
			}
		}
		why := fmt.Sprintf("the rotation + the longest token lifetime, %s", time.Duration(lifetime)*time.Second)
		if left := time.Until(time.UnixMilli(int64(m.GetGauge().GetValue() * 1000))).Round(time.Second); left > 0 {
			fmt.Fprintf(w, "  an old access token nobody saw may still be valid for %s (%s)\n", left, why)
		} else {
			fmt.Fprintf(w, "  no old access token can still be valid, seen or not, since %s ago (%s)\n", -left, why)
		}
	}
}

func metrics(fams map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if f, ok := fams[name]; ok {
		return f.GetMetric()
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
