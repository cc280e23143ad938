package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// keyRotation is the page an SRE keeps open during the dual-key window: the
// fleet's answer to "can the previous key go?", why not yet, and the signals
// that call for the rollback or the emergency procedure instead.
func keyRotation() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("jwtwatch / Key rotation").
		Uid(KeyRotationUID).
		Description("The dual-key rotation window (\"Monitor for 1-2 weeks\"): when the previous JWT signing key can be removed, who still uses it, and whether it leaked.").
		Tags([]string{"jwtwatch"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-24h", "now").
		Refresh("1m").
		Timezone(common.TimeZoneBrowser).
		Links(links()).
		Variables(variables()).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Rotation started").
			Datasource(datasource()).
			Enable(true).
			IconColor("orange").
			// The series' value is the rotation time: Grafana places one
			// annotation there, even when the rotation predates the series.
			Expr(`min by (token) (jwtwatch_rotation_started_timestamp_seconds{` + selToken + `}) * 1000`).
			UseValueForTime(true).
			Step("60s").
			TitleFormat("Rotation started: {{token}} key").
			TagKeys("token"))

	b.WithRow(dashboard.NewRowBuilder("Remove old key?"))
	b.WithPanel(statPanel("Can the previous key be removed?",
		"The fleet-wide answer for the procedure's step \"Remove old key\", per token family (recording rule "+
			"token:jwtwatch_previous_key_removable:min). YES only when every jwtwatch replica sees no reason to keep "+
			"the previous key having read its log for the quiet period, no replica seen in the last day (scaled-down "+
			"ones included) saw a valid previous-key token within the quiet period or one still unexpired, no token "+
			"the previous key could have signed before the rotation can still be valid, seen or not, and every "+
			"replica seen in the last day is up. NOT YET: the panel to the right says why; "+
			"keep both keys. \"no previous key\": no replica has a previous key loaded for that family, there is "+
			"nothing to remove. Before removing, check \"Distinct subjects still on the previous key\" (who would be "+
			"logged out) and that \"Tokens minted with the previous key after the rotation\" stayed 0; if it did not, "+
			"the old key leaked: follow Emergency Rotation instead. No data: load alerts/jwtwatch.rules.yml into Prometheus.",
		"none").
		Height(7).Span(6).
		WithTarget(instant("A",
			`(
  (
    token:jwtwatch_previous_key_removable:min{token=~"$token"}
      unless on (token)
    jwtwatch_key_info{`+selToken+`, role="previous"}
  ) * 0 + 2
)
or
token:jwtwatch_previous_key_removable:min{token=~"$token"}`,
			"{{token}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(
			text{"1", "YES, remove it", "green"},
			text{"0", "NOT YET", "red"},
			text{"2", "no previous key", "blue"},
		)}).
		Thresholds(thresholds("red", step{1, "green"}, step{2, "blue"})).
		NoValue("No data: are the rules in alerts/jwtwatch.rules.yml loaded?"))

	b.WithPanel(statPanel("What still blocks removal",
		"Each reason that keeps the previous key, fleet-wide (recording rule "+
			"token:jwtwatch_previous_key_removal_blocked:max). min_window: the minimum window since the rotation "+
			"(--rotation.min-window, 7 days by default) has not passed on some replica; wait. recent_use: a valid "+
			"previous-key token was seen within the quiet period (--rotation.quiet-period, 24h); some clients still "+
			"use old tokens, see the traffic panels below. unexpired_tokens: a valid previous-key token seen has not "+
			"expired yet; see \"Latest expiry among previous-key tokens\". recent_use and unexpired_tokens count a "+
			"replica scaled down within the last day too. insufficient_evidence: some replica has not read its log for "+
			"the quiet period since it started (log path missing, nothing logged, just restarted), so its \"not seen\" "+
			"is no evidence; see the jwtwatch / Sidecar health dashboard. unseen_tokens_may_be_valid: a token the "+
			"previous key signed before the rotation may still be valid although nobody saw it (a user back after "+
			"weeks with a long-lived refresh token); it clears at \"When can no old-key token still be valid?\" "+
			"(--no-rotation.wait-for-unseen turns it off). tokens_without_expiry: the previous key signed a token without "+
			"exp, valid for ever; it never clears by itself: find its holders and decide (runbook). "+
			"replica_down: a jwtwatch replica is down, "+
			"so the fleet's view is incomplete; see the jwtwatch / Sidecar health dashboard. All clear means the "+
			"panel to the left says YES.",
		"none").
		Height(7).Span(10).
		WithTarget(instant("A", `token:jwtwatch_previous_key_removal_blocked:max{token=~"$token"}`, "{{token}}: {{reason}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(
			text{"0", "clear", "green"},
			text{"1", "BLOCKING", "red"},
		)}).
		Thresholds(thresholds("green", step{1, "red"})).
		NoValue("No data: are the rules in alerts/jwtwatch.rules.yml loaded?"))

	b.WithPanel(statPanel("Current-key fingerprints per family",
		"How many different current keys the replicas run, per token family. 1 is right. 2 or more is a partial "+
			"deploy: some replicas verify with another current key than the rest (\"Deploy new key to all services "+
			"simultaneously\" did not reach them). Find them in \"Key fingerprints per replica\" below and redeploy "+
			"them, or roll back (Rollback Procedure). JWTWatchCurrentKeyMismatch pages on it.",
		"none").
		Height(7).Span(4).
		WithTarget(instant("A",
			`count by (token) (count by (token, fingerprint) (jwtwatch_key_info{`+selToken+`, role="current"}))`,
			"{{token}}")).
		Thresholds(thresholds("green", step{2, "red"})))

	b.WithPanel(statPanel("Replicas down",
		"jwtwatch replicas seen in the last day that Prometheus cannot scrape now. While one is down the "+
			"fleet-wide verdict stays NOT YET (replica_down): its view of the old key is missing. Check the "+
			"jwtwatch / Sidecar health dashboard and the pod.",
		"none").
		Height(7).Span(4).
		WithTarget(instant("A",
			`count(
  up{`+sel+`}
    * on (job, instance) group_left ()
  max by (job, instance) (max_over_time(jwtwatch_build_info{`+sel+`}[1d]))
  == 0
)
or vector(0)`,
			"down")).
		Thresholds(thresholds("green", step{1, "red"})))

	b.WithRow(dashboard.NewRowBuilder("Old-key traffic"))
	b.WithPanel(timeseriesPanel("Share of checked tokens by signing key",
		"Which key signed the tokens the gateways received, as a share of all checked tokens (every token family). "+
			"previous must shrink towards 0 during the window as old tokens expire and clients log in again; when it "+
			"stays flat, some client keeps an old long-lived token or a service still signs with the old key "+
			"(see the minted-after-rotation panel). none: no known key verifies the token: forged, malformed, or signed "+
			"by a key jwtwatch does not have. retired: an already removed key still signs tokens; investigate. next: "+
			"the key published ahead of its promotion signs already (signed_with_next_key).",
		"percentunit").
		Height(8).Span(12).
		WithTarget(query("A",
			`sum by (key) (rate(jwtwatch_tokens_total{`+sel+`}[$__rate_interval]))
  / ignoring (key) group_left ()
sum(rate(jwtwatch_tokens_total{`+sel+`}[$__rate_interval]))`,
			"{{key}}")).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		FillOpacity(60).
		Min(0).Max(1).
		Thresholds(thresholds("green")).
		OverrideByName("current", colorOverride("green")).
		OverrideByName("previous", colorOverride("orange")).
		OverrideByName("retired", colorOverride("purple")).
		OverrideByName("next", colorOverride("blue")).
		OverrideByName("none", colorOverride("red")))

	b.WithPanel(timeseriesPanel("Valid previous-key tokens per second",
		"The legitimate traffic that still depends on the previous key, per token family. It must fall to 0 and "+
			"stay there for the quiet period (--rotation.quiet-period, 24h by default) before the key is removable. "+
			"A sudden rise late in the window is suspicious: compare with \"Tokens minted with the previous key after "+
			"the rotation\".",
		"reqps").
		Height(8).Span(12).
		WithTarget(query("A",
			`sum by (token) (rate(jwtwatch_tokens_total{`+selToken+`, key="previous", result="valid"}[$__rate_interval]))`,
			"{{token}}")).
		Thresholds(thresholds("green")))

	b.WithRow(dashboard.NewRowBuilder("Immediate rotation and rollback: sessions on the removed key"))
	b.WithPanel(timeseriesPanel("Sessions still on the removed key",
		"After \"Option 2: Immediate Rotation\" (or an emergency rotation, or a rollback) the removed key's sessions "+
			"get a 401 and their users must log in again. This is how many distinct users (sub) still presented a token "+
			"of the removed (retired) key within --rotation.relogin-window (15m), since the rotation: it rises with the "+
			"wave and falls to 0 as users log in again. The largest replica's estimate per family, a lower bound for the "+
			"fleet. Retired-key tokens the gateways reject are expected and never paged; one a gateway accepts is a "+
			"bypass. What stays above 0 once the wave is over is clients that never re-authenticate: "+
			"/api/v1/stragglers and jwtwatch scan --key retired name them (runbook, Immediate rotation). "+
			"jwtwatch knows the removed key when it is configured as JWT_*_SECRET_RETIRED, or kept in memory after a "+
			"reload replaced it (forgotten at restart); otherwise these sessions count as bad_signature.",
		"none").
		Height(8).Span(12).
		WithTarget(query("A",
			`max by (token) (jwtwatch_retired_key_recent_subjects{`+selToken+`})`,
			"{{token}}")).
		Min(0).
		Thresholds(thresholds("green")))

	b.WithPanel(timeseriesPanel("Share of requests on the removed key",
		"Of the tokens of each family the gateways received, the share a retired key signed: the requests still "+
			"presenting a removed key's token, whatever their verdict. Falls to 0 as sessions end and users log in "+
			"again, the same wave as \"Sessions still on the removed key\" in requests. Rotations and rollbacks of "+
			"the current key (jwtwatch_rotations_total) are marked by the \"Rotation started\" annotation.",
		"percentunit").
		Height(8).Span(12).
		WithTarget(query("A",
			`sum by (token) (rate(jwtwatch_tokens_total{`+selToken+`, key="retired"}[$__rate_interval]))
  /
(sum by (token) (rate(jwtwatch_tokens_total{`+selToken+`, key!="none"}[$__rate_interval])) > 0)`,
			"{{token}}")).
		Min(0).Max(1).
		Thresholds(thresholds("green")))

	b.WithRow(dashboard.NewRowBuilder("When does old-key traffic end?"))
	b.WithPanel(statPanel("Time since the previous key was last used validly",
		"How long ago the newest valid token signed by the previous key was seen (by the log line's time), on any "+
			"replica. Green from 24h, the default quiet period (--rotation.quiet-period) after which recent_use no "+
			"longer blocks removal. \"never\": no valid previous-key token since the rotation.",
		"s").
		Height(6).Span(6).
		WithTarget(instant("A",
			`time() - max by (token) (jwtwatch_key_last_valid_timestamp_seconds{`+selToken+`, role="previous"})`,
			"{{token}}")).
		Mappings([]dashboard.ValueMapping{neverMapping(0, "green")}).
		Thresholds(thresholds("orange", step{86400, "green"})))

	b.WithPanel(statPanel("Latest expiry among previous-key tokens",
		"The latest exp of any valid token the previous key was seen signing: old-key traffic ends by itself at "+
			"this time, when the last such token expires (unless the key is used to mint new ones). Removing the key "+
			"earlier logs those users out.",
		"dateTimeAsIso").
		Height(6).Span(6).
		WithTarget(instant("A",
			`max by (token) (jwtwatch_key_max_token_expiry_timestamp_seconds{`+selToken+`, role="previous"}) * 1000`,
			"{{token}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(text{"0", "none seen", "green"})}).
		ColorMode(common.BigValueColorModeValue).
		Thresholds(thresholds("blue")))

	b.WithPanel(statPanel("Time until the last previous-key token expires",
		"How long until the latest-expiring valid previous-key token expires. \"all expired\": unexpired_tokens no "+
			"longer blocks removal.",
		"s").
		Height(6).Span(6).
		WithTarget(instant("A",
			`clamp_min(max by (token) (jwtwatch_key_max_token_expiry_timestamp_seconds{`+selToken+`, role="previous"}) - time(), 0)`,
			"{{token}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(text{"0", "all expired", "green"})}).
		Thresholds(thresholds("green", step{1, "orange"})))

	b.WithPanel(statPanel("Distinct subjects still on the previous key",
		"Distinct users (sub claims) with valid previous-key tokens since the rotation: who would be logged out "+
			"if the key were removed now. Each replica estimates its own count (about 1% error); the panel shows the "+
			"largest, a lower bound for the fleet (the sum would be an upper bound). It only grows within a rotation: "+
			"read the trend in \"Valid previous-key tokens per second\".",
		"none").
		Height(6).Span(6).
		WithTarget(query("A",
			`max by (token) (jwtwatch_key_distinct_subjects{`+selToken+`, role="previous"})`,
			"{{token}}")).
		GraphMode(common.BigValueGraphModeArea).
		Thresholds(thresholds("green", step{1, "orange"})))

	b.WithPanel(statPanel("When can no old-key token still be valid?",
		"The moment by which every token the previous key could legitimately have signed has expired, seen or "+
			"not: the rotation start + --rotation.grace + --policy.clock-skew + the longest token lifetime (below, or --policy.max-lifetime "+
			"when set, the bound the operator vouches for), the latest any replica reported over the last day "+
			"(recording rule token:jwtwatch_previous_key_all_expired_timestamp_seconds:max1d). Until then "+
			"unseen_tokens_may_be_valid blocks removal: a user who logged in just before the rotation and comes back "+
			"later still holds a valid old-key token. \"never\": the previous key signed a valid token without exp "+
			"(tokens_without_expiry). Seen tokens with a later exp (a far-exp outlier, a token minted after the "+
			"rotation) are in \"Latest expiry among previous-key tokens\". No data: no replica knows how long tokens "+
			"live yet (no token with iat and exp seen, no --policy.max-lifetime), or the rules are not loaded.",
		"dateTimeAsIso").
		Height(6).Span(12).
		WithTarget(instant("A",
			`token:jwtwatch_previous_key_all_expired_timestamp_seconds:max1d{token=~"$token"} * 1000`,
			"{{token}}")).
		// +Inf (never) and anything beyond the year 2100.
		Mappings([]dashboard.ValueMapping{{RangeMap: &dashboard.RangeMap{
			Type: dashboard.MappingTypeRangeToText,
			Options: dashboard.DashboardRangeMapOptions{
				From:   ptr(4102444800000.0),
				Result: dashboard.ValueMappingResult{Text: ptr("never: a token without exp"), Color: ptr("red"), Index: ptr(int32(0))},
			},
		}}}).
		ColorMode(common.BigValueColorModeValue).
		Thresholds(thresholds("blue")).
		NoValue("unknown: no token lifetime seen yet"))

	b.WithPanel(statPanel("Longest token lifetime",
		"The longest exp - iat among valid tokens of the family (any key) that raised no suspicion, on any "+
			"replica: how long the auth service makes its tokens live, and so how long a token nobody saw may stay "+
			"valid after the rotation. One token with a far exp does not count until a second, different token lives "+
			"as long (a forgotten test token is not a kind of token); tokens beyond --policy.max-lifetime are "+
			"suspicious and do not count either. \"none seen\": no token with iat and exp yet.",
		"s").
		Height(6).Span(12).
		WithTarget(instant("A",
			`max by (token) (jwtwatch_token_max_lifetime_seconds{`+selToken+`})`,
			"{{token}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(text{"0", "none seen", "orange"})}).
		ColorMode(common.BigValueColorModeValue).
		Thresholds(thresholds("blue")))

	b.WithRow(dashboard.NewRowBuilder("Leaks, forgeries and missed deploys"))
	b.WithPanel(timeseriesPanel("Forged tokens per second",
		"Tokens that no known key verifies (bad_signature) or that use a rejected algorithm such as alg: none "+
			"(alg_rejected). A low steady level is background noise; a jump well above it is an attack, and "+
			"JWTWatchForgedTokenSpike fires. The gateway must reject all of them: check \"Gateway verdicts that "+
			"contradict jwtwatch\" for accepted ones. The dashed line marks 0.1/s.",
		"reqps").
		Height(8).Span(8).
		WithTarget(query("A",
			`sum by (result) (rate(jwtwatch_tokens_total{`+sel+`, result=~"bad_signature|alg_rejected"}[$__rate_interval]))`,
			"{{result}}")).
		Thresholds(thresholds("green", step{0.1, "red"})).
		ThresholdsStyle(thresholdLines()).
		OverrideByName("bad_signature", colorOverride("red")).
		OverrideByName("alg_rejected", colorOverride("purple")))

	b.WithPanel(statPanel("Tokens minted with the previous key after the rotation",
		"Valid tokens signed with the previous (or a retired) key whose iat is after the rotation started, in the "+
			"selected time range. The auth service no longer signs with that key, so anything above 0 means someone "+
			"else holds the old secret: do not wait for the window, follow the procedure's Emergency Rotation "+
			"(immediate rotation, investigate logs, notify the security team). JWTWatchPreviousKeyMintingTokens pages on it.",
		"none").
		Height(8).Span(8).
		WithTarget(instant("A",
			`sum by (token) (increase(jwtwatch_suspicious_tokens_total{`+selToken+`, key=~"previous|retired", reason="issued_after_rotation"}[$__range]))`,
			"{{token}}")).
		Decimals(0).
		// Counts are whole tokens: red from the first one.
		Thresholds(thresholds("green", step{0.5, "red"})))

	b.WithPanel(timeseriesPanel("Gateway verdicts that contradict jwtwatch",
		"Requests where the gateway's HTTP status disagrees with jwtwatch's own check, by gateway verdict, key and "+
			"jwtwatch's result. rejected + previous + valid: a gateway lacks the previous key (it missed the dual-key "+
			"deploy) and logs out users with old tokens; pick replicas with $instance to find it, redeploy it or roll "+
			"back (JWTWatchGatewayRejectsPreviousKey). rejected + current + valid: a gateway lacks the new key. "+
			"accepted + any other result: the gateway lets through tokens it should reject (expired, forged); check "+
			"its verification settings (algorithms: ['HS256'], issuer).",
		"reqps").
		Height(8).Span(8).
		WithTarget(query("A",
			`sum by (gateway, key, result) (rate(jwtwatch_gateway_mismatches_total{`+sel+`}[$__rate_interval]))`,
			"gateway {{gateway}}, key {{key}}, jwtwatch {{result}}")).
		Legend(tableLegend()).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending).
			HideZeros(true)).
		Thresholds(thresholds("green")))

	b.WithRow(dashboard.NewRowBuilder("Authentication bypass and emergency rotation"))
	b.WithPanel(statPanel("Requests the gateways accepted but must reject",
		"Requests a gateway answered with a 2xx or 3xx although jwtwatch judged the token forged (bad_signature), "+
			"alg_rejected, malformed, expired beyond --jwt.leeway, not yet valid or of the wrong issuer, or signed by a "+
			"retired key (removed, after an emergency rotation because it leaked), per replica, key and result, in the "+
			"selected time range. Must be 0: anything else is an authentication bypass and JWTWatchAuthenticationBypass "+
			"pages. Other statuses (404, 429, 5xx) and routes on --gateway.public-paths are never counted; a public route "+
			"(NestJS @Public()) missing from that flag is the usual harmless cause.",
		"none").
		Height(8).Span(8).
		WithTarget(instant("A",
			`sum by (instance, key, result) (increase(jwtwatch_gateway_mismatches_total{`+sel+`, gateway="accepted"}[$__range])) > 0
or on ()
vector(0)`,
			"{{instance}} {{key}} {{result}}")).
		Decimals(0).
		Thresholds(thresholds("green", step{0.5, "red"})))

	b.WithPanel(timeseriesPanel("Tokens of the retired key",
		"Tokens signed by a retired key (JWT_*_SECRET_RETIRED: a key removed from the gateways, after an emergency "+
			"rotation the leaked one), per verdict, and those a gateway accepted. After \"Immediate rotation\" stale "+
			"sessions keep sending them for a while and the gateways answer 401: the sessions ending, expected, not "+
			"paged; the curve falls to 0 as clients log in again. \"accepted by a gateway\" must stay 0: a gateway "+
			"that accepts one still has the leaked key (JWTWatchAuthenticationBypass pages). Who still sends them: "+
			"/api/v1/stragglers (key retired) and jwtwatch scan --key retired.",
		"reqps").
		Height(8).Span(16).
		WithTarget(query("A",
			`sum by (result) (rate(jwtwatch_tokens_total{`+selToken+`, key="retired"}[$__rate_interval]))`,
			"{{result}}")).
		WithTarget(query("B",
			`sum(rate(jwtwatch_gateway_mismatches_total{`+sel+`, gateway="accepted", key="retired"}[$__rate_interval]))`,
			"accepted by a gateway")).
		Thresholds(thresholds("green")).
		OverrideByName("accepted by a gateway", colorOverride("red")))

	b.WithRow(dashboard.NewRowBuilder("Around the window: the new key, the grace, the schedule, environments"))
	b.WithPanel(statPanel("New key in use since",
		"When the first valid token signed by the current key was seen since the rotation started, on any replica: "+
			"the auth service signs with the new key (the procedure's \"Test authentication\"). \"not yet\" half an "+
			"hour after a rotation while old-key tokens keep arriving means the auth service was not restarted or reads "+
			"another secret: JWTWatchNewKeyUnused.",
		"dateTimeAsIso").
		Height(6).Span(6).
		WithTarget(instant("A",
			`min by (token) (jwtwatch_key_first_valid_timestamp_seconds{`+selToken+`, role="current"} > 0) * 1000
or
max by (token) (jwtwatch_key_first_valid_timestamp_seconds{`+selToken+`, role="current"})`,
			"{{token}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(text{"0", "not yet", "red"})}).
		ColorMode(common.BigValueColorModeValue).
		Thresholds(thresholds("green")))

	b.WithPanel(statPanel("Old-key tokens issued during the grace",
		"Old-key tokens whose iat falls within --rotation.grace (10m by default) after the rotation start, in the "+
			"selected time range: the auth service, restarted after the gateways, still minted with the old key. Shown, "+
			"not paged; after the grace such tokens are issued_after_rotation and page. A number that keeps growing "+
			"long after the auth service's restart, or an attacker who minted inside the grace, is found with "+
			"jwtwatch scan --key previous.",
		"none").
		Height(6).Span(6).
		WithTarget(instant("A",
			`sum by (token) (increase(jwtwatch_suspicious_tokens_total{`+selToken+`, key=~"previous|retired", reason="issued_during_grace"}[$__range]))`,
			"{{token}}")).
		Decimals(0).
		Thresholds(thresholds("green", step{0.5, "orange"})))

	b.WithPanel(statPanel("Time until the rotation is due",
		"How long until the current key reaches the rotation schedule (--rotation.max-age: the procedure's 90 days in "+
			"production, 60 in staging, 30 in development), on the replica where it is soonest; negative: overdue. "+
			"Where jwtwatch found the key already current (jwtwatch_current_key_since_timestamp_seconds{since=\"first_seen\"}) "+
			"its age is a lower bound and the rotation may be due sooner. JWTWatchRotationDueSoon informs 7 days before, "+
			"JWTWatchRotationOverdue opens a ticket after.",
		"s").
		Height(6).Span(6).
		WithTarget(instant("A",
			`min by (token) (
    jwtwatch_rotation_max_age_seconds{`+sel+`}
  - on (job, instance) group_right ()
    (time() - jwtwatch_current_key_since_timestamp_seconds{`+selToken+`})
)`,
			"{{token}}")).
		Thresholds(thresholds("red", step{0, "orange"}, step{7 * 86400, "green"})))

	b.WithPanel(statPanel("Keys shared across environments",
		"Key fingerprints that replicas of more than one environment have loaded (jwtwatch_key_info's environment "+
			"label, from --environment or relabelling): against \"Use different secrets per environment\". Must be 0; "+
			"JWTWatchKeyReusedAcrossEnvironments pages. Fingerprints are one-way, so the environments' series may meet in "+
			"one Prometheus. Needs the environments in this Prometheus (or a federated one) to see anything.",
		"none").
		Height(6).Span(6).
		WithTarget(instant("A",
			`count(count by (fingerprint) (count by (fingerprint, environment) (jwtwatch_key_info{`+sel+`, environment!=""})) > 1)
or
vector(0)`,
			"shared")).
		Thresholds(thresholds("green", step{1, "red"})))

	b.WithRow(dashboard.NewRowBuilder("Keys loaded on every replica"))
	b.WithPanel(tablePanel("Key fingerprints per replica",
		"One row per key each replica (instance) has loaded. During the window every replica must show the same "+
			"current and the same previous fingerprint per token family; a replica with another current fingerprint, "+
			"or without the previous key, missed the deploy (partial deploy): redeploy it. After \"Remove old key\" the "+
			"previous rows disappear. weak: the secret is shorter than 32 bytes; replace it at the next rotation. "+
			"environment: --environment (or relabelling); one fingerprint under two environments is a shared secret. "+
			"Fingerprints are one-way; secrets never leave jwtwatch.").
		Height(9).Span(16).
		WithTarget(instant("A",
			`max by (instance, environment, token, role, fingerprint, alg, weak) (jwtwatch_key_info{`+selToken+`})`,
			"").
			Format(prometheus.PromQueryFormatTable)).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true},
				"indexByName": map[string]any{
					"instance": 0, "environment": 1, "token": 2, "role": 3, "fingerprint": 4, "alg": 5, "weak": 6,
				},
			},
		}).
		OverrideByName("weak", []dashboard.DynamicConfigValue{
			{Id: "mappings", Value: []any{map[string]any{
				"type": "value",
				"options": map[string]any{
					"true":  map[string]any{"text": "WEAK (< 32 bytes)", "color": "red", "index": 0},
					"false": map[string]any{"text": "ok", "color": "green", "index": 1},
				},
			}}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}},
		}).
		Thresholds(thresholds("green")))

	b.WithPanel(timeseriesPanel("Suspicious tokens per second",
		"Tokens whose signature verifies but that the auth service would not have minted, by reason. "+
			"issued_after_rotation: the old key leaked (Emergency Rotation). lifetime_exceeds_policy: exp - iat longer "+
			"than --policy.max-lifetime; minted by something other than the auth service, or its settings changed. "+
			"issued_in_future: iat ahead of the log line's time by more than --policy.clock-skew; a clock problem or "+
			"a forger. no_issued_at: a previous- or retired-key token without iat seen after the rotation started; the "+
			"auth service always sets iat, so someone else minted it: treat as issued_after_rotation until explained. "+
			"issued_during_grace: an old-key token issued within --rotation.grace after the rotation start (the auth "+
			"service restarted after the gateways); shown, not paged.",
		"reqps").
		Height(9).Span(8).
		WithTarget(query("A",
			`sum by (token, reason) (rate(jwtwatch_suspicious_tokens_total{`+selToken+`}[$__rate_interval]))`,
			"{{token}} {{reason}}")).
		Thresholds(thresholds("green")))

	return finish(b)
}

// links lead from each dashboard to the other and to the runbook.
func links() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("jwtwatch").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"jwtwatch"}).
			AsDropdown(false).
			IncludeVars(true).
			KeepTime(true),
		dashboard.NewDashboardLinkBuilder("Runbook").
			Type(dashboard.DashboardLinkTypeLink).
			Url(runbookURL).
			Icon("doc").
			TargetBlank(true),
	}
}

// finish builds the dashboard and numbers its panels, so that links to a
// panel (viewPanel=N) stay valid across regenerations.
func finish(b *dashboard.DashboardBuilder) (dashboard.Dashboard, error) {
	d, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, err
	}
	// The SDK puts links and annotation toggles into Grafana 12's controls
	// menu; without a placement they stay visible in the dashboard's top bar.
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}
