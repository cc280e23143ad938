package metrics

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

func TestEveryTokenCombinationStartsAtZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	New(reg)
	n, err := testutil.GatherAndCount(reg, "jwtwatch_tokens_total")
	if err != nil {
		t.Fatal(err)
	}
	if want := len(keys.Families) * len(keys.Roles) * len(verify.Results); n != want {
		t.Errorf("jwtwatch_tokens_total has %d series, want %d", n, want)
	}
	if n, _ := testutil.GatherAndCount(reg, "jwtwatch_gateway_mismatches_total"); n != 2*len(keys.Roles)*len(verify.Results) {
		t.Errorf("jwtwatch_gateway_mismatches_total has %d series", n)
	}
	if n, _ := testutil.GatherAndCount(reg, "jwtwatch_suspicious_tokens_total"); n != len(keys.Families)*len(keys.Roles)*len(rotation.Reasons) {
		t.Errorf("jwtwatch_suspicious_tokens_total has %d series", n)
	}
}

func TestToken(t *testing.T) {
	prevValid := verify.Verdict{Family: keys.Access, Key: keys.Previous, Result: verify.Valid}
	forged := verify.Verdict{Family: keys.Unknown, Key: keys.None, Result: verify.BadSignature}
	retiredValid := verify.Verdict{Family: keys.Access, Key: keys.Retired, Result: verify.Valid}
	tests := []struct {
		name    string
		in      verify.Verdict
		status  int
		removed bool
		want    string // the non-zero mismatch series, or "" for none
	}{
		{"valid and accepted agree", prevValid, 200, false, ""},
		{"valid but rejected: a replica missed the deploy", prevValid, 401, false, `gateway="rejected",key="previous",result="valid"`},
		{"forgery rejected agrees", forged, 403, false, ""},
		{"forgery accepted", forged, 200, false, `gateway="accepted",key="none",result="bad_signature"`},
		{"no status in the line", forged, 0, false, ""},
		// Only 2xx and 3xx are accepted, 401 and 403 rejected; a 404, 429 or
		// 500 says nothing about the token (the route, the rate limit or the
		// backend answered), so it is no verdict at all.
		{"forgery redirected (3xx) is accepted", forged, 302, false, `gateway="accepted",key="none",result="bad_signature"`},
		{"forgery not found is no verdict", forged, 404, false, ""},
		{"forgery rate-limited is no verdict", forged, 429, false, ""},
		{"forgery with a server error is no verdict", forged, 500, false, ""},
		{"valid with a server error is no verdict", prevValid, 503, false, ""},
		// A retired key was removed (an immediate or emergency rotation): a
		// gateway that still accepts its tokens, valid or not, lets it in.
		{"removed key rejected agrees", retiredValid, 401, true, ""},
		{"removed key accepted: it still works there", retiredValid, 200, true, `gateway="accepted",key="retired",result="valid"`},
		// A line logged before the key's removal, read after it.
		{"retired key accepted before its removal agrees", retiredValid, 200, false, ""},
		{"retired key rejected before its removal", retiredValid, 401, false, `gateway="rejected",key="retired",result="valid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			m := New(reg)
			m.Token(tt.in, tt.status, tt.removed, []rotation.Reason{rotation.IssuedAfterRotation})
			tf, k, r := index(keys.Families, tt.in.Family), index(keys.Roles, tt.in.Key), index(verify.Results, tt.in.Result)
			if got := testutil.ToFloat64(m.tokens[tf][k][r]); got != 1 {
				t.Errorf("tokens_total = %v, want 1", got)
			}
			if got := testutil.ToFloat64(m.suspicious[tf][k][index(rotation.Reasons, rotation.IssuedAfterRotation)]); got != 1 {
				t.Errorf("suspicious_tokens_total = %v, want 1", got)
			}
			var hits []string
			for gi, g := range gateways {
				for ki, key := range keys.Roles {
					for ri, res := range verify.Results {
						if testutil.ToFloat64(m.mismatches[gi][ki][ri]) != 0 {
							hits = append(hits, `gateway="`+g+`",key="`+string(key)+`",result="`+string(res)+`"`)
						}
					}
				}
			}
			if strings.Join(hits, " ") != tt.want {
				t.Errorf("mismatches = %v, want %q", hits, tt.want)
			}
		})
	}
}

func TestStateCollector(t *testing.T) {
	cur := keys.New(keys.Access, keys.Current, []byte("current-secret-current-secret-00"))
	prev := keys.New(keys.Access, keys.Previous, []byte("weak"))
	// A second previous key, of a JWK Set: its own key_info series, one
	// series of the role with it.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prev2, err := keys.NewPublic(keys.Access, keys.Previous, "ES256", ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	prev2.KID = "2026-08"
	started := time.Unix(1764000000, 0)
	st := State{
		Rotation: rotation.Report{
			Keys: []rotation.KeyReport{
				{Key: cur, LastValid: time.Unix(1764250000, 0), MaxExpiry: time.Unix(1764253600, 0), Subjects: 42},
				{Key: prev},
				{Key: prev2, LastValid: time.Unix(1764100000, 0), MaxExpiry: time.Unix(1764103600, 0), Subjects: 3},
			},
			Roles: []rotation.KeyReport{
				{Key: cur, LastValid: time.Unix(1764250000, 0), MaxExpiry: time.Unix(1764253600, 0), Subjects: 42},
				{Key: prev, LastValid: time.Unix(1764100000, 0), MaxExpiry: time.Unix(1764103600, 0), Subjects: 3},
			},
			Families: []rotation.FamilyReport{
				{Family: keys.Access, Started: started, Blocking: []string{rotation.BlockMinWindow, rotation.BlockUnseenTokens},
					Lifetime: 15 * time.Minute, AllExpired: started.Add(16 * time.Minute)},
				// A previous key signed a token without exp: the moment is never.
				{Family: keys.Refresh, Started: started, Blocking: []string{rotation.BlockTokensWithoutExpiry},
					Lifetime: 30 * 24 * time.Hour, AllExpired: rotation.Never},
			},
		},
		Sources:       []SourceState{{Path: "/var/log/gw.log", BehindBytes: 512, LastLine: time.Unix(1764250001, 0)}},
		FirstLine:     time.Unix(1764000005, 0),
		QuietPeriod:   24 * time.Hour,
		WaitForUnseen: true,
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewStateCollector(func() State { return st }, ""))
	want := `
# HELP jwtwatch_key_info One series per loaded key, value 1; the fingerprint is one-way and safe to show; kid is the key ID tokens name it by (empty when none).
# TYPE jwtwatch_key_info gauge
jwtwatch_key_info{alg="HS256",fingerprint="` + cur.Fingerprint + `",kid="",role="current",token="access",weak="false"} 1
jwtwatch_key_info{alg="HS256",fingerprint="` + prev.Fingerprint + `",kid="",role="previous",token="access",weak="true"} 1
jwtwatch_key_info{alg="ES256",fingerprint="` + prev2.Fingerprint + `",kid="2026-08",role="previous",token="access",weak="false"} 1
# HELP jwtwatch_key_distinct_subjects Estimated distinct sub values with valid tokens signed by the key (any key of the role) since the rotation started.
# TYPE jwtwatch_key_distinct_subjects gauge
jwtwatch_key_distinct_subjects{role="current",token="access"} 42
jwtwatch_key_distinct_subjects{role="previous",token="access"} 3
# HELP jwtwatch_key_last_valid_timestamp_seconds Last time (line time) a valid token signed by the key (any key of the role) was seen; 0 if never.
# TYPE jwtwatch_key_last_valid_timestamp_seconds gauge
jwtwatch_key_last_valid_timestamp_seconds{role="current",token="access"} 1.76425e+09
jwtwatch_key_last_valid_timestamp_seconds{role="previous",token="access"} 1.7641e+09
# HELP jwtwatch_previous_key_removable 1 when this replica sees no reason to keep the previous key of the token family.
# TYPE jwtwatch_previous_key_removable gauge
jwtwatch_previous_key_removable{token="access"} 0
jwtwatch_previous_key_removable{token="refresh"} 0
# HELP jwtwatch_previous_key_removal_blocked 1 for each reason that keeps the previous key (min_window, recent_use, unexpired_tokens, insufficient_evidence, unseen_tokens_may_be_valid, tokens_without_expiry).
# TYPE jwtwatch_previous_key_removal_blocked gauge
jwtwatch_previous_key_removal_blocked{reason="insufficient_evidence",token="access"} 0
jwtwatch_previous_key_removal_blocked{reason="min_window",token="access"} 1
jwtwatch_previous_key_removal_blocked{reason="recent_use",token="access"} 0
jwtwatch_previous_key_removal_blocked{reason="tokens_without_expiry",token="access"} 0
jwtwatch_previous_key_removal_blocked{reason="unexpired_tokens",token="access"} 0
jwtwatch_previous_key_removal_blocked{reason="unseen_tokens_may_be_valid",token="access"} 1
jwtwatch_previous_key_removal_blocked{reason="insufficient_evidence",token="refresh"} 0
jwtwatch_previous_key_removal_blocked{reason="min_window",token="refresh"} 0
jwtwatch_previous_key_removal_blocked{reason="recent_use",token="refresh"} 0
jwtwatch_previous_key_removal_blocked{reason="tokens_without_expiry",token="refresh"} 1
jwtwatch_previous_key_removal_blocked{reason="unexpired_tokens",token="refresh"} 0
jwtwatch_previous_key_removal_blocked{reason="unseen_tokens_may_be_valid",token="refresh"} 0
# HELP jwtwatch_rotation_started_timestamp_seconds When the current key of the token family became current.
# TYPE jwtwatch_rotation_started_timestamp_seconds gauge
jwtwatch_rotation_started_timestamp_seconds{token="access"} 1.764e+09
jwtwatch_rotation_started_timestamp_seconds{token="refresh"} 1.764e+09
# HELP jwtwatch_token_max_lifetime_seconds The longest exp - iat among valid tokens of the family's keys that raised no suspicion, bounded against outliers (a lifetime counts once two different tokens reach it, or while only one was seen); 0 until one was seen.
# TYPE jwtwatch_token_max_lifetime_seconds gauge
jwtwatch_token_max_lifetime_seconds{token="access"} 900
jwtwatch_token_max_lifetime_seconds{token="refresh"} 2.592e+06
# HELP jwtwatch_previous_key_all_expired_timestamp_seconds When every token the previous key could legitimately have signed has expired, seen or not: the rotation start + --rotation.grace + --policy.clock-skew + the longest token lifetime (--policy.max-lifetime when set). +Inf once the previous key signed a valid token without exp; absent while no lifetime is known.
# TYPE jwtwatch_previous_key_all_expired_timestamp_seconds gauge
jwtwatch_previous_key_all_expired_timestamp_seconds{token="access"} 1.76400096e+09
jwtwatch_previous_key_all_expired_timestamp_seconds{token="refresh"} +Inf
# HELP jwtwatch_rotation_wait_for_unseen 1 when --rotation.wait-for-unseen is on (the default): the previous key stays until every token it could have signed before the rotation has expired, seen or not.
# TYPE jwtwatch_rotation_wait_for_unseen gauge
jwtwatch_rotation_wait_for_unseen 1
# HELP jwtwatch_source_behind_bytes Bytes of the source file not yet processed.
# TYPE jwtwatch_source_behind_bytes gauge
jwtwatch_source_behind_bytes{source="/var/log/gw.log"} 512
# HELP jwtwatch_first_line_timestamp_seconds When this process read its first log line, from any source; 0 until it has. A replica votes removable only after reading its log for the quiet period.
# TYPE jwtwatch_first_line_timestamp_seconds gauge
jwtwatch_first_line_timestamp_seconds 1.764000005e+09
# HELP jwtwatch_rotation_quiet_period_seconds The configured --rotation.quiet-period: how long without a valid previous-key token, and with the log read, before the previous key is removable.
# TYPE jwtwatch_rotation_quiet_period_seconds gauge
jwtwatch_rotation_quiet_period_seconds 86400
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jwtwatch_key_info", "jwtwatch_key_distinct_subjects", "jwtwatch_key_last_valid_timestamp_seconds",
		"jwtwatch_previous_key_removable", "jwtwatch_previous_key_removal_blocked",
		"jwtwatch_rotation_started_timestamp_seconds", "jwtwatch_source_behind_bytes",
		"jwtwatch_first_line_timestamp_seconds", "jwtwatch_rotation_quiet_period_seconds",
		"jwtwatch_token_max_lifetime_seconds", "jwtwatch_previous_key_all_expired_timestamp_seconds", "jwtwatch_rotation_wait_for_unseen"); err != nil {
		t.Error(err)
	}

	// While no lifetime is known the moment is no series at all: 0 would
	// read as "long past".
	st.Rotation.Families[0].AllExpired = time.Time{}
	st.WaitForUnseen = false
	want = `
# HELP jwtwatch_previous_key_all_expired_timestamp_seconds When every token the previous key could legitimately have signed has expired, seen or not: the rotation start + --rotation.grace + --policy.clock-skew + the longest token lifetime (--policy.max-lifetime when set). +Inf once the previous key signed a valid token without exp; absent while no lifetime is known.
# TYPE jwtwatch_previous_key_all_expired_timestamp_seconds gauge
jwtwatch_previous_key_all_expired_timestamp_seconds{token="refresh"} +Inf
# HELP jwtwatch_rotation_wait_for_unseen 1 when --rotation.wait-for-unseen is on (the default): the previous key stays until every token it could have signed before the rotation has expired, seen or not.
# TYPE jwtwatch_rotation_wait_for_unseen gauge
jwtwatch_rotation_wait_for_unseen 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jwtwatch_previous_key_all_expired_timestamp_seconds", "jwtwatch_rotation_wait_for_unseen"); err != nil {
		t.Error(err)
	}
}

func TestReloadAndSources(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.Reload(nil)
	m.Reload(errors.New("bad file"))
	m.Reload(errors.New("bad file"))
	m.KeysLoaded(time.Unix(1764000000, 0))
	s := m.Source("/var/log/a.log")
	s.Read.Inc()
	if m.Source("/var/log/a.log") != s {
		t.Error("Source returned new counters for a known source")
	}
	want := `
# HELP jwtwatch_key_reloads_total Key reloads (SIGHUP or a changed secret file), by result.
# TYPE jwtwatch_key_reloads_total counter
jwtwatch_key_reloads_total{result="failure"} 2
jwtwatch_key_reloads_total{result="success"} 1
# HELP jwtwatch_keys_loaded_timestamp_seconds When keys were last loaded successfully, at start-up or by a reload.
# TYPE jwtwatch_keys_loaded_timestamp_seconds gauge
jwtwatch_keys_loaded_timestamp_seconds 1.764e+09
# HELP jwtwatch_lines_dropped_total Log lines skipped unchecked, per source and reason (too_long, invalid).
# TYPE jwtwatch_lines_dropped_total counter
jwtwatch_lines_dropped_total{reason="invalid",source="/var/log/a.log"} 0
jwtwatch_lines_dropped_total{reason="too_long",source="/var/log/a.log"} 0
# HELP jwtwatch_lines_read_total Log lines read, per source.
# TYPE jwtwatch_lines_read_total counter
jwtwatch_lines_read_total{source="/var/log/a.log"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jwtwatch_key_reloads_total", "jwtwatch_keys_loaded_timestamp_seconds", "jwtwatch_lines_dropped_total", "jwtwatch_lines_read_total"); err != nil {
		t.Error(err)
	}
}

// TestRotationsAndRelogin: the changes of each family's current key by kind
// (a counter, every family and kind from zero) and the sessions still on a
// removed key.
func TestRotationsAndRelogin(t *testing.T) {
	st := State{Rotation: rotation.Report{
		Families: []rotation.FamilyReport{{Family: keys.Access, RetiredSubjects: 17}},
		Changes: []rotation.ChangeCount{
			{Family: keys.Access, Kind: rotation.KindRotation, Count: 2}, {Family: keys.Access, Kind: rotation.KindRollback, Count: 1},
			{Family: keys.Refresh, Kind: rotation.KindRotation}, {Family: keys.Refresh, Kind: rotation.KindRollback},
		},
	}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewStateCollector(func() State { return st }, ""))
	want := `
# HELP jwtwatch_retired_key_recent_subjects Estimated distinct sub values that presented a token a retired key of the family verifies (any verdict) within --rotation.relogin-window, since the rotation: the sessions still on the removed key, falling to 0 as their users log in again.
# TYPE jwtwatch_retired_key_recent_subjects gauge
jwtwatch_retired_key_recent_subjects{token="access"} 17
# HELP jwtwatch_rotations_total Changes of the family's current key this process saw, by kind: rotation (a new key), rollback (back to the key the last rotation replaced).
# TYPE jwtwatch_rotations_total counter
jwtwatch_rotations_total{kind="rollback",token="access"} 1
jwtwatch_rotations_total{kind="rollback",token="refresh"} 0
jwtwatch_rotations_total{kind="rotation",token="access"} 2
jwtwatch_rotations_total{kind="rotation",token="refresh"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jwtwatch_rotations_total", "jwtwatch_retired_key_recent_subjects"); err != nil {
		t.Error(err)
	}
}

// Every timestamp metric is right for any time a JWT can carry: time.Time's
// UnixNano overflows after 2262 and before 1678.
func TestTimestampsForAnyJWTTime(t *testing.T) {
	cur := keys.New(keys.Access, keys.Current, []byte("current-secret-current-secret-00"))
	end := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // exp 253402300799
	early := time.Date(1000, 1, 1, 0, 0, 0, 500_000_000, time.UTC)
	st := State{
		Rotation: rotation.Report{
			Keys:     []rotation.KeyReport{{Key: cur, LastValid: early, MaxExpiry: end}},
			Roles:    []rotation.KeyReport{{Key: cur, LastValid: early, MaxExpiry: end}},
			Families: []rotation.FamilyReport{{Family: keys.Access, Started: end}},
		},
		FirstLine: end,
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewStateCollector(func() State { return st }, ""))
	want := `
# HELP jwtwatch_key_max_token_expiry_timestamp_seconds Latest exp among valid tokens seen signed by the key (any key of the role); 0 if none.
# TYPE jwtwatch_key_max_token_expiry_timestamp_seconds gauge
jwtwatch_key_max_token_expiry_timestamp_seconds{role="current",token="access"} 2.53402300799e+11
# HELP jwtwatch_key_last_valid_timestamp_seconds Last time (line time) a valid token signed by the key (any key of the role) was seen; 0 if never.
# TYPE jwtwatch_key_last_valid_timestamp_seconds gauge
jwtwatch_key_last_valid_timestamp_seconds{role="current",token="access"} -3.06102239995e+10
# HELP jwtwatch_rotation_started_timestamp_seconds When the current key of the token family became current.
# TYPE jwtwatch_rotation_started_timestamp_seconds gauge
jwtwatch_rotation_started_timestamp_seconds{token="access"} 2.53402300799e+11
# HELP jwtwatch_first_line_timestamp_seconds When this process read its first log line, from any source; 0 until it has. A replica votes removable only after reading its log for the quiet period.
# TYPE jwtwatch_first_line_timestamp_seconds gauge
jwtwatch_first_line_timestamp_seconds 2.53402300799e+11
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jwtwatch_key_max_token_expiry_timestamp_seconds", "jwtwatch_key_last_valid_timestamp_seconds",
		"jwtwatch_rotation_started_timestamp_seconds", "jwtwatch_first_line_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if got, want := seconds(time.Unix(1764000000, 250_000_000)), 1764000000.25; got != want {
		t.Errorf("seconds keeps the fraction: got %v, want %v", got, want)
	}
}

// The rotation procedure around the dual-key window: the environment on
// key_info, when each key's first valid token since the rotation was seen,
// since when the current key is current (exactly, or at least since jwtwatch
// first saw it), and the schedule's --rotation.max-age.
func TestProcedureState(t *testing.T) {
	cur := keys.New(keys.Access, keys.Current, []byte("current-secret-current-secret-00"))
	prev := keys.New(keys.Access, keys.Previous, []byte("previous-secret-previous-secret0"))
	ref := keys.New(keys.Refresh, keys.Current, []byte("refresh-secret-refresh-secret-00"))
	st := State{
		Rotation: rotation.Report{
			Keys: []rotation.KeyReport{{Key: cur}, {Key: prev}, {Key: ref}},
			Roles: []rotation.KeyReport{
				{Key: cur, FirstValid: time.Unix(1764000300, 0)},
				{Key: prev, FirstValid: time.Unix(1764000001, 0)},
				{Key: ref},
			},
			Families: []rotation.FamilyReport{
				{Family: keys.Access, Started: time.Unix(1764000000, 0), Exact: true},
				{Family: keys.Refresh, Started: time.Unix(1763000000, 0)},
			},
		},
		MaxAge: 90 * 24 * time.Hour,
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewStateCollector(func() State { return st }, "production"))
	want := `
# HELP jwtwatch_key_info One series per loaded key, value 1; the fingerprint is one-way and safe to show; kid is the key ID tokens name it by (empty when none).
# TYPE jwtwatch_key_info gauge
jwtwatch_key_info{alg="HS256",environment="production",fingerprint="` + cur.Fingerprint + `",kid="",role="current",token="access",weak="false"} 1
jwtwatch_key_info{alg="HS256",environment="production",fingerprint="` + prev.Fingerprint + `",kid="",role="previous",token="access",weak="false"} 1
jwtwatch_key_info{alg="HS256",environment="production",fingerprint="` + ref.Fingerprint + `",kid="",role="current",token="refresh",weak="false"} 1
# HELP jwtwatch_key_first_valid_timestamp_seconds First time (line time) a valid token signed by the key (any key of the role) was seen since its family's rotation started; 0 if not yet.
# TYPE jwtwatch_key_first_valid_timestamp_seconds gauge
jwtwatch_key_first_valid_timestamp_seconds{role="current",token="access"} 1.7640003e+09
jwtwatch_key_first_valid_timestamp_seconds{role="previous",token="access"} 1.764000001e+09
jwtwatch_key_first_valid_timestamp_seconds{role="current",token="refresh"} 0
# HELP jwtwatch_current_key_since_timestamp_seconds Since when the family's current key is current: since="rotation" when this replica saw it become current, since="first_seen" when it was current already when jwtwatch first saw it (the key is at least that old).
# TYPE jwtwatch_current_key_since_timestamp_seconds gauge
jwtwatch_current_key_since_timestamp_seconds{since="rotation",token="access"} 1.764e+09
jwtwatch_current_key_since_timestamp_seconds{since="first_seen",token="refresh"} 1.763e+09
# HELP jwtwatch_rotation_max_age_seconds The configured --rotation.max-age: how long a key may stay current before the rotation schedule calls for the next rotation.
# TYPE jwtwatch_rotation_max_age_seconds gauge
jwtwatch_rotation_max_age_seconds 7.776e+06
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jwtwatch_key_info", "jwtwatch_key_first_valid_timestamp_seconds", "jwtwatch_current_key_since_timestamp_seconds", "jwtwatch_rotation_max_age_seconds"); err != nil {
		t.Error(err)
	}
	// Without --environment, key_info has no environment label at all, so a
	// target label set by relabelling takes its place.
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(NewStateCollector(func() State { return st }, ""))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "environment" {
					t.Errorf("%s has an environment label without --environment", f.GetName())
				}
			}
		}
	}
}

// The gateway mirror and suspicion of the procedure, as a scrape shows them:
// a 2xx for a forgery and for a removed (retired) key's token are bypasses, a 401 for a
// retired-key token and a 404 or 500 for anything are no mismatch, and an
// old-key token issued within the grace is issued_during_grace.
func TestProcedureCounters(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	forged := verify.Verdict{Family: keys.Unknown, Key: keys.None, Result: verify.BadSignature}
	retired := verify.Verdict{Family: keys.Access, Key: keys.Retired, Result: verify.Valid}
	grace := verify.Verdict{Family: keys.Access, Key: keys.Previous, Result: verify.Valid}
	m.Token(forged, 200, false, nil)
	m.Token(forged, 404, false, nil)
	m.Token(forged, 500, false, nil)
	m.Token(retired, 302, true, nil)
	m.Token(retired, 401, true, nil)
	m.Token(grace, 200, false, []rotation.Reason{rotation.IssuedDuringGrace})

	nonZero := map[string]int{
		`gateway="accepted",key="none",result="bad_signature"`:       1,
		`gateway="accepted",key="retired",result="valid"`:            1,
		`key="previous",reason="issued_during_grace",token="access"`: 1,
	}
	var want strings.Builder
	want.WriteString("# HELP jwtwatch_gateway_mismatches_total Requests where the gateway's verdict (its HTTP status) contradicts jwtwatch's.\n# TYPE jwtwatch_gateway_mismatches_total counter\n")
	for _, g := range []string{GatewayAccepted, GatewayRejected} {
		for _, k := range keys.Roles {
			for _, r := range verify.Results {
				l := `gateway="` + g + `",key="` + string(k) + `",result="` + string(r) + `"`
				fmt.Fprintf(&want, "jwtwatch_gateway_mismatches_total{%s} %d\n", l, nonZero[l])
			}
		}
	}
	want.WriteString("# HELP jwtwatch_suspicious_tokens_total Tokens whose signature verifies but that the rightful issuer would not have minted.\n# TYPE jwtwatch_suspicious_tokens_total counter\n")
	for _, k := range keys.Roles {
		for _, r := range rotation.Reasons {
			for _, f := range keys.Families {
				l := `key="` + string(k) + `",reason="` + string(r) + `",token="` + string(f) + `"`
				fmt.Fprintf(&want, "jwtwatch_suspicious_tokens_total{%s} %d\n", l, nonZero[l])
			}
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "jwtwatch_gateway_mismatches_total", "jwtwatch_suspicious_tokens_total"); err != nil {
		t.Error(err)
	}
}
