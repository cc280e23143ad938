// Package metrics is the Prometheus side of jwtwatch: the counters the
// pipeline records into and a collector that reports rotation and source
// state at scrape time. Names and label values follow the product brief's
// contract.
package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

const namespace = "jwtwatch"

// Gateway verdicts, as used in the `gateway` label.
const (
	GatewayAccepted = "accepted"
	GatewayRejected = "rejected"
)

// Reasons a line is dropped, as used in the `reason` label of the dropped-lines counter.
const (
	DropTooLong = "too_long"
	DropInvalid = "invalid"
)

// The gateway label's values, in the order of Metrics.mismatches.
var gateways = []string{GatewayAccepted, GatewayRejected}

// grid returns an a×b×c array of counters, to be filled.
func grid(a, b, c int) [][][]prometheus.Counter {
	g := make([][][]prometheus.Counter, a)
	for i := range g {
		g[i] = make([][]prometheus.Counter, b)
		for j := range g[i] {
			g[i][j] = make([]prometheus.Counter, c)
		}
	}
	return g
}

// index returns the position of v in values, or -1.
func index[T comparable](values []T, v T) int {
	for i, x := range values {
		if x == v {
			return i
		}
	}
	return -1
}

// Metrics holds every counter the pipeline records into. Label combinations
// are resolved once, so recording a line does no label lookup by value.
type Metrics struct {
	// The bounded label combinations, created up front, indexed by the
	// positions of the label values in keys.Families, keys.Roles,
	// verify.Results, rotation.Reasons and gateways: recording a verdict
	// hashes no label value.
	tokens     [][][]prometheus.Counter // family, role, result
	mismatches [][][]prometheus.Counter // gateway, role, result
	suspicious [][][]prometheus.Counter // family, role, reason

	linesRead        *prometheus.CounterVec
	linesNoToken     *prometheus.CounterVec
	linesDropped     *prometheus.CounterVec
	linesTimeSkewed  *prometheus.CounterVec
	reopens          *prometheus.CounterVec
	rotatedWhileDown *prometheus.CounterVec
	lostBytes        *prometheus.CounterVec
	skipped          prometheus.Counter

	reloads           *prometheus.CounterVec
	reloadLastSuccess prometheus.Gauge
	stateWrites       *prometheus.CounterVec

	cacheHits, cacheMisses prometheus.Counter

	jwksFetches                             *prometheus.CounterVec
	jwksLastSuccess, jwksKeys, jwksInterval *prometheus.GaugeVec

	mu      sync.Mutex
	sources map[string]*Source
}

// JWKS holds the series of one JWKS URL, all created together.
type JWKS struct {
	fetches                        map[string]prometheus.Counter
	lastSuccess, keysLoaded, every prometheus.Gauge
}

// JWKS returns the series of a JWKS URL (as its label shows it: no user
// information or query), every result at zero, with its refresh interval.
func (m *Metrics) JWKS(label string, interval time.Duration, results []string) *JWKS {
	j := &JWKS{
		fetches:     map[string]prometheus.Counter{},
		lastSuccess: m.jwksLastSuccess.WithLabelValues(label),
		keysLoaded:  m.jwksKeys.WithLabelValues(label),
		every:       m.jwksInterval.WithLabelValues(label),
	}
	for _, r := range results {
		j.fetches[r] = m.jwksFetches.WithLabelValues(label, r)
	}
	j.every.Set(interval.Seconds())
	return j
}

// Fetch counts one fetch; success and not_modified mark the set as fresh.
func (j *JWKS) Fetch(result string, at time.Time, fresh bool) {
	if c, ok := j.fetches[result]; ok {
		c.Inc()
	}
	if fresh {
		j.lastSuccess.Set(seconds(at))
	}
}

// Keys records how many keys of the set are in use.
func (j *JWKS) Keys(n int) { j.keysLoaded.Set(float64(n)) }

// DeleteJWKS removes the series of a JWKS URL the key file no longer names.
func (m *Metrics) DeleteJWKS(label string) {
	m.jwksLastSuccess.DeleteLabelValues(label)
	m.jwksKeys.DeleteLabelValues(label)
	m.jwksInterval.DeleteLabelValues(label)
	m.jwksFetches.DeletePartialMatch(prometheus.Labels{"url": label})
}

// Source holds the counters of one log source, all created together so each
// appears at zero as soon as the source is known.
type Source struct {
	Read, NoToken, TooLong, Invalid, TimeSkewed, Reopens, RotatedWhileDown, LostBytes prometheus.Counter
}

// New registers every metric on reg and creates every bounded label
// combination at zero.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		sources:    map[string]*Source{},
		tokens:     grid(len(keys.Families), len(keys.Roles), len(verify.Results)),
		mismatches: grid(len(gateways), len(keys.Roles), len(verify.Results)),
		suspicious: grid(len(keys.Families), len(keys.Roles), len(rotation.Reasons)),
	}
	tokens := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "tokens_total",
		Help: "Tokens checked, by token family, signing key role and verdict.",
	}, []string{"token", "key", "result"})
	mismatches := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "gateway_mismatches_total",
		Help: "Requests where the gateway's verdict (its HTTP status) contradicts jwtwatch's.",
	}, []string{"gateway", "key", "result"})
	suspicious := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "suspicious_tokens_total",
		Help: "Tokens whose signature verifies but that the rightful issuer would not have minted.",
	}, []string{"token", "key", "reason"})
	for ki, k := range keys.Roles {
		for ri, r := range verify.Results {
			for ti, t := range keys.Families {
				m.tokens[ti][ki][ri] = tokens.WithLabelValues(string(t), string(k), string(r))
			}
			for gi, g := range gateways {
				m.mismatches[gi][ki][ri] = mismatches.WithLabelValues(g, string(k), string(r))
			}
		}
		for ti, t := range keys.Families {
			for ri, r := range rotation.Reasons {
				m.suspicious[ti][ki][ri] = suspicious.WithLabelValues(string(t), string(k), string(r))
			}
		}
	}

	m.linesRead = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "lines_read_total",
		Help: "Log lines read, per source.",
	}, []string{"source"})
	m.linesNoToken = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "lines_without_token_total",
		Help: "Log lines read that carry no bearer token (no Authorization header, Basic credentials), per source.",
	}, []string{"source"})
	m.linesDropped = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "lines_dropped_total",
		Help: "Log lines skipped unchecked, per source and reason (too_long, invalid).",
	}, []string{"source", "reason"})
	m.linesTimeSkewed = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "lines_time_skewed_total",
		Help: "Log lines whose own time is ahead of jwtwatch's clock by more than --policy.clock-skew, per source; they are judged and recorded at the time they were read.",
	}, []string{"source"})
	m.reopens = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "source_reopens_total",
		Help: "Times a followed log file was reopened after rotation or truncation.",
	}, []string{"source"})
	m.rotatedWhileDown = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "source_rotated_while_down_total",
		Help: "Saved positions that no longer fit the file at their path (rotated, replaced or truncated while jwtwatch was down): the file is read from its start.",
	}, []string{"source"})
	m.lostBytes = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "source_lost_bytes_total",
		Help: "Bytes known to have been written to a log file that will not be read (truncated with no copy beside it, a last line without newline in a rotated file).",
	}, []string{"source"})
	m.skipped = f.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "log_paths_skipped_total",
		Help: "Glob matches not followed because they are not regular files (directories, FIFOs, devices) or cannot be resolved.",
	})
	m.reloads = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "key_reloads_total",
		Help: "Key reloads (SIGHUP or a changed secret file), by result.",
	}, []string{"result"})
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	m.reloadLastSuccess = f.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "keys_loaded_timestamp_seconds",
		Help: "When keys were last loaded successfully, at start-up or by a reload.",
	})
	m.stateWrites = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "state_writes_total",
		Help: "Writes of the state file, by result.",
	}, []string{"result"})
	for _, r := range []string{"success", "failure"} {
		m.stateWrites.WithLabelValues(r)
	}
	cache := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "verdict_cache_requests_total",
		Help: "Tokens looked up in the verdict cache, by result (hit, miss); a miss verifies the signature.",
	}, []string{"result"})
	m.cacheHits, m.cacheMisses = cache.WithLabelValues("hit"), cache.WithLabelValues("miss")
	m.jwksFetches = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "jwks_fetches_total",
		Help: "Fetches of a JWKS URL of the key file, by result (success, not_modified, failed, invalid); the last good set stays on failed and invalid.",
	}, []string{"url", "result"})
	m.jwksLastSuccess = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "jwks_last_success_timestamp_seconds",
		Help: "When a fetch of the JWKS URL last succeeded (a new set, or not modified).",
	}, []string{"url"})
	m.jwksKeys = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "jwks_keys",
		Help: "Keys of the JWKS URL's set in use.",
	}, []string{"url"})
	m.jwksInterval = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "jwks_refresh_interval_seconds",
		Help: "The configured --keys.jwks.refresh-interval, per JWKS URL: a set not refreshed for a few intervals is stale.",
	}, []string{"url"})
	return m
}

// VerdictCache counts one verdict cache lookup.
func (m *Metrics) VerdictCache(hit bool) {
	if hit {
		m.cacheHits.Inc()
		return
	}
	m.cacheMisses.Inc()
}

// Token records one checked token and, when the line had a status, whether
// the gateway's verdict contradicts the mirror's; removed says the token's
// key had been removed from the gateway by the line's time (see Mismatch).
func (m *Metrics) Token(v verify.Verdict, status int, removed bool, reasons []rotation.Reason) {
	t, k, r := index(keys.Families, v.Family), index(keys.Roles, v.Key), index(verify.Results, v.Result)
	if t < 0 || k < 0 || r < 0 {
		return // not a verdict of this Verifier; every one has bounded labels
	}
	m.tokens[t][k][r].Inc()
	if gateway, ok := Mismatch(status, v.Result, removed); ok {
		m.mismatches[index(gateways, gateway)][k][r].Inc()
	}
	for _, reason := range reasons {
		if i := index(rotation.Reasons, reason); i >= 0 {
			m.suspicious[t][k][i].Inc()
		}
	}
}

// Mismatch reports whether the gateway's verdict, its HTTP status,
// contradicts the mirror's, and which verdict the gateway gave
// (GatewayAccepted or GatewayRejected). Only a 2xx or 3xx is accepted and
// only a 401 or 403 rejected: any other status (404, 429, 5xx: the route,
// the rate limit or the backend answered, maybe before the token was looked
// at) is no verdict, as is 0, a line without status. The mirror's verdict is
// "accept" for a valid token, "reject" for every other result and for any
// token whose key had been removed from the gateway when the line was
// logged (removed: a retired key, on a line after it was replaced; see
// rotation.Tracker.Removed): an immediate rotation's stale sessions must
// get a 401, so a gateway accepting them lets the removed key in, while a
// line logged before the rotation and read after it is no contradiction.
func Mismatch(status int, result verify.Result, removed bool) (gateway string, ok bool) {
	accepted := status >= 200 && status < 400
	rejected := status == 401 || status == 403
	mirrorAccepts := result == verify.Valid && !removed
	switch {
	case rejected && mirrorAccepts:
		return GatewayRejected, true
	case accepted && !mirrorAccepts:
		return GatewayAccepted, true
	}
	return "", false
}

// Source returns the counters of a source, creating them at zero on first use.
func (m *Metrics) Source(path string) *Source {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sources[path]; ok {
		return s
	}
	l := LabelValue(path)
	s := &Source{
		Read:             m.linesRead.WithLabelValues(l),
		NoToken:          m.linesNoToken.WithLabelValues(l),
		TooLong:          m.linesDropped.WithLabelValues(l, DropTooLong),
		Invalid:          m.linesDropped.WithLabelValues(l, DropInvalid),
		TimeSkewed:       m.linesTimeSkewed.WithLabelValues(l),
		Reopens:          m.reopens.WithLabelValues(l),
		RotatedWhileDown: m.rotatedWhileDown.WithLabelValues(l),
		LostBytes:        m.lostBytes.WithLabelValues(l),
	}
	m.sources[path] = s
	return s
}

// DeleteSource removes the series of a source no longer followed (a file a
// glob matched, gone), so that dated files do not grow the label set.
func (m *Metrics) DeleteSource(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sources, path)
	l := LabelValue(path)
	for _, v := range []*prometheus.CounterVec{m.linesRead, m.linesNoToken, m.linesTimeSkewed, m.reopens, m.rotatedWhileDown, m.lostBytes} {
		v.DeleteLabelValues(l)
	}
	m.linesDropped.DeleteLabelValues(l, DropTooLong)
	m.linesDropped.DeleteLabelValues(l, DropInvalid)
}

// Skipped counts a glob match that is not followed.
func (m *Metrics) Skipped() { m.skipped.Inc() }

// LabelValue makes a path a valid label value: Prometheus label values are
// UTF-8, file names are bytes. Each byte that is not part of valid UTF-8 is
// written as \xNN, so distinct names stay distinct.
func LabelValue(path string) string {
	if utf8.ValidString(path) {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); {
		r, n := utf8.DecodeRuneInString(path[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, path[i])
		} else {
			b.WriteString(path[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Reload counts the outcome of a key reload.
func (m *Metrics) Reload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.reloads.WithLabelValues("success").Inc()
}

// KeysLoaded records when keys were last loaded, at start-up or by a reload.
func (m *Metrics) KeysLoaded(at time.Time) { m.reloadLastSuccess.Set(seconds(at)) }

// StateWrite records the outcome of a state file write.
func (m *Metrics) StateWrite(err error) {
	if err != nil {
		m.stateWrites.WithLabelValues("failure").Inc()
		return
	}
	m.stateWrites.WithLabelValues("success").Inc()
}

// SourceState is a source's position as reported at scrape time.
type SourceState struct {
	Path string
	// BehindBytes is the file size minus the position processed so far.
	BehindBytes int64
	// LastLine is when a line was last read from the source; zero if never.
	LastLine time.Time
}

// State is everything reported at scrape time rather than counted.
type State struct {
	Rotation rotation.Report
	Sources  []SourceState
	// FirstLine is when this process read its first log line; zero until then.
	FirstLine time.Time
	// QuietPeriod is the configured --rotation.quiet-period.
	QuietPeriod time.Duration
	// WaitForUnseen is the configured --rotation.wait-for-unseen.
	WaitForUnseen bool
	// MaxAge is the configured --rotation.max-age.
	MaxAge time.Duration
}

// StateCollector reports rotation and source state, read at scrape time so the
// hot path never touches a gauge.
type StateCollector struct {
	state func() State

	keyInfo, rotationStarted, lastValid, maxExpiry, subjects, removable, blocked, behind, lastLine, firstLine, quietPeriod *prometheus.Desc
	maxLifetime, allExpired, waitForUnseen, firstValid, currentSince, maxAge                                               *prometheus.Desc
	rotations, retiredSubjects                                                                                             *prometheus.Desc
}

// Values of the `since` label of jwtwatch_current_key_since_timestamp_seconds.
const (
	// SinceRotation: this replica saw the key become current.
	SinceRotation = "rotation"
	// SinceFirstSeen: the key was current already when jwtwatch first saw
	// it; it has been current at least since then.
	SinceFirstSeen = "first_seen"
)

// NewStateCollector returns a collector reporting what state returns.
// environment, when not empty, labels jwtwatch_key_info (--environment);
// when empty the label is absent, so that one set by relabelling applies.
func NewStateCollector(state func() State, environment string) *StateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	var env prometheus.Labels
	if environment != "" {
		env = prometheus.Labels{"environment": environment}
	}
	return &StateCollector{
		state: state,
		keyInfo: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "key_info"),
			"One series per loaded key, value 1; the fingerprint is one-way and safe to show; kid is the key ID tokens name it by (empty when none).",
			[]string{"token", "role", "fingerprint", "alg", "weak", "kid"}, env),
		firstValid:      d("key_first_valid_timestamp_seconds", "First time (line time) a valid token signed by the key (any key of the role) was seen since its family's rotation started; 0 if not yet.", "token", "role"),
		currentSince:    d("current_key_since_timestamp_seconds", "Since when the family's current key is current: since=\"rotation\" when this replica saw it become current, since=\"first_seen\" when it was current already when jwtwatch first saw it (the key is at least that old).", "token", "since"),
		maxAge:          d("rotation_max_age_seconds", "The configured --rotation.max-age: how long a key may stay current before the rotation schedule calls for the next rotation."),
		rotationStarted: d("rotation_started_timestamp_seconds", "When the current key of the token family became current.", "token"),
		lastValid:       d("key_last_valid_timestamp_seconds", "Last time (line time) a valid token signed by the key (any key of the role) was seen; 0 if never.", "token", "role"),
		maxExpiry:       d("key_max_token_expiry_timestamp_seconds", "Latest exp among valid tokens seen signed by the key (any key of the role); 0 if none.", "token", "role"),
		subjects:        d("key_distinct_subjects", "Estimated distinct sub values with valid tokens signed by the key (any key of the role) since the rotation started.", "token", "role"),
		removable:       d("previous_key_removable", "1 when this replica sees no reason to keep the previous key of the token family.", "token"),
		blocked:         d("previous_key_removal_blocked", "1 for each reason that keeps the previous key ("+strings.Join(rotation.BlockingReasons, ", ")+").", "token", "reason"),
		behind:          d("source_behind_bytes", "Bytes of the source file not yet processed.", "source"),
		lastLine:        d("source_last_line_timestamp_seconds", "When a line was last read from the source; 0 if never.", "source"),
		firstLine:       d("first_line_timestamp_seconds", "When this process read its first log line, from any source; 0 until it has. A replica votes removable only after reading its log for the quiet period."),
		quietPeriod:     d("rotation_quiet_period_seconds", "The configured --rotation.quiet-period: how long without a valid previous-key token, and with the log read, before the previous key is removable."),
		maxLifetime: d("token_max_lifetime_seconds", "The longest exp - iat among valid tokens of the family's keys that raised no suspicion, bounded against outliers "+
			"(a lifetime counts once two different tokens reach it, or while only one was seen); 0 until one was seen.", "token"),
		allExpired: d("previous_key_all_expired_timestamp_seconds", "When every token the previous key could legitimately have signed has expired, seen or not: "+
			"the rotation start + --rotation.grace + --policy.clock-skew + the longest token lifetime (--policy.max-lifetime when set). "+
			"+Inf once the previous key signed a valid token without exp; absent while no lifetime is known.", "token"),
		rotations: d("rotations_total", "Changes of the family's current key this process saw, by kind: rotation (a new key), "+
			"rollback (back to the key the last rotation replaced).", "token", "kind"),
		retiredSubjects: d("retired_key_recent_subjects", "Estimated distinct sub values that presented a token a retired key of the family verifies "+
			"(any verdict) within --rotation.relogin-window, since the rotation: the sessions still on the removed key, falling to 0 as their users log in again.", "token"),
		waitForUnseen: d("rotation_wait_for_unseen", "1 when --rotation.wait-for-unseen is on (the default): the previous key stays until every token "+
			"it could have signed before the rotation has expired, seen or not."),
	}
}

// Describe implements prometheus.Collector.
func (c *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.keyInfo, c.rotationStarted, c.lastValid, c.maxExpiry, c.subjects, c.removable, c.blocked, c.behind, c.lastLine, c.firstLine, c.quietPeriod,
		c.maxLifetime, c.allExpired, c.waitForUnseen, c.firstValid, c.currentSince, c.maxAge, c.rotations, c.retiredSubjects} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, k := range s.Rotation.Keys {
		g(c.keyInfo, 1, string(k.Key.Family), string(k.Key.Role), k.Key.Fingerprint, k.Key.Alg, strconv.FormatBool(k.Key.Weak), LabelValue(k.Key.KID))
	}
	// One series per family and role: a JWK Set may hold several keys of a role.
	for _, k := range s.Rotation.Roles {
		t, r := string(k.Key.Family), string(k.Key.Role)
		g(c.lastValid, seconds(k.LastValid), t, r)
		g(c.maxExpiry, seconds(k.MaxExpiry), t, r)
		g(c.subjects, float64(k.Subjects), t, r)
		g(c.firstValid, seconds(k.FirstValid), t, r)
	}
	for _, f := range s.Rotation.Families {
		t := string(f.Family)
		g(c.rotationStarted, seconds(f.Started), t)
		since := SinceFirstSeen
		if f.Exact {
			since = SinceRotation
		}
		g(c.currentSince, seconds(f.Started), t, since)
		g(c.removable, boolf(f.Removable), t)
		g(c.maxLifetime, f.Lifetime.Seconds(), t)
		g(c.retiredSubjects, float64(f.RetiredSubjects), t)
		switch {
		case f.AllExpired.Equal(rotation.Never):
			g(c.allExpired, math.Inf(1), t)
		case !f.AllExpired.IsZero(): // unknown: no series, since 0 would read as long past
			g(c.allExpired, seconds(f.AllExpired), t)
		}
		for _, reason := range rotation.BlockingReasons {
			v := 0.0
			for _, b := range f.Blocking {
				if b == reason {
					v = 1
				}
			}
			g(c.blocked, v, t, reason)
		}
	}
	for _, src := range s.Sources {
		l := LabelValue(src.Path)
		g(c.behind, float64(src.BehindBytes), l)
		g(c.lastLine, seconds(src.LastLine), l)
	}
	for _, n := range s.Rotation.Changes {
		ch <- prometheus.MustNewConstMetric(c.rotations, prometheus.CounterValue, float64(n.Count), string(n.Family), n.Kind)
	}
	g(c.firstLine, seconds(s.FirstLine))
	g(c.quietPeriod, s.QuietPeriod.Seconds())
	g(c.waitForUnseen, boolf(s.WaitForUnseen))
	g(c.maxAge, s.MaxAge.Seconds())
}

// seconds is t as a Unix timestamp, 0 for the zero time. Whole seconds and
// the fraction are converted apart: UnixNano overflows outside 1678-2262,
// and a JWT's exp can be any time up to 9999-12-31.
func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
