package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// jwtwatchOnly keeps the series of expr that come from jwtwatch targets.
// Generic series (up, process_*) carry no jwtwatch label, and the job
// variable's "All" matches every job, so they are joined on the targets
// that expose jwtwatch_build_info.
func jwtwatchOnly(expr string) string {
	return "(" + expr + ")\n  * on (job, instance) group_left ()\nmax by (job, instance) (jwtwatch_build_info{" + sel + "})"
}

// sidecarHealth shows whether the sidecars see the whole log, keep up with
// it and are healthy themselves: the trust behind the key rotation page.
func sidecarHealth() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("jwtwatch / Sidecar health").
		Uid(SidecarHealthUID).
		Description("Whether every jwtwatch sidecar is scraped, reads its gateway's whole log in time, reloads keys and saves its state: without that, the key rotation dashboard's verdicts are not complete.").
		Tags([]string{"jwtwatch"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-6h", "now").
		Refresh("30s").
		Timezone(common.TimeZoneBrowser).
		Links(links()).
		Variables(variables())

	b.WithRow(dashboard.NewRowBuilder("Scrape health"))
	b.WithPanel(statPanel("jwtwatch targets up",
		"Every jwtwatch target Prometheus scraped in the last day, by replica. DOWN: Prometheus cannot scrape it, "+
			"so its view of the rotation is missing and the fleet-wide removal verdict stays NOT YET (replica_down). "+
			"Check the pod, the sidecar's log and /-/healthy; JWTWatchSidecarDown fires on it.",
		"none").
		Height(6).Span(8).
		WithTarget(instant("A",
			`up{`+sel+`}
  * on (job, instance) group_left ()
max by (job, instance) (max_over_time(jwtwatch_build_info{`+sel+`}[1d]))`,
			"{{instance}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(
			text{"1", "UP", "green"},
			text{"0", "DOWN", "red"},
		)}).
		Thresholds(thresholds("red", step{1, "green"})))

	b.WithPanel(timeseriesPanel("Scrape duration",
		"How long Prometheus takes to scrape each sidecar. jwtwatch answers from memory, so this stays in the "+
			"milliseconds; seconds mean the pod is starved of CPU or the network is slow, and close to the scrape "+
			"timeout the target turns DOWN.",
		"s").
		Height(6).Span(8).
		WithTarget(query("A", jwtwatchOnly(`scrape_duration_seconds{`+sel+`}`), "{{instance}}")).
		Thresholds(thresholds("green", step{1, "orange"}, step{5, "red"})).
		ThresholdsStyle(thresholdLines()))

	b.WithPanel(tablePanel("Versions",
		"The jwtwatch build each replica runs. After a deploy all replicas should show the same version and "+
			"revision; a leftover one is a partial rollout.").
		Height(6).Span(8).
		WithTarget(instant("A",
			`max by (instance, version, revision, goversion) (jwtwatch_build_info{`+sel+`})`,
			"").
			Format(prometheus.PromQueryFormatTable)).
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Value": true},
				"indexByName":   map[string]any{"instance": 0, "version": 1, "revision": 2, "goversion": 3},
			},
		}).
		Thresholds(thresholds("green")))

	b.WithRow(dashboard.NewRowBuilder("Log sources"))
	b.WithPanel(timeseriesPanel("Lines read per second",
		"Log lines each sidecar reads, per source, and of those the lines without a bearer token. It should follow "+
			"the gateway's request rate. Zero while the gateway serves traffic: the sidecar does not see the log "+
			"(wrong --log.path, the gateway logs only to stdout, the volume is not shared). Mostly lines without a "+
			"token: the gateway's log format lacks the Authorization header, or the traffic is unauthenticated.",
		"cps").
		Height(8).Span(12).
		WithTarget(query("A",
			`sum by (instance, source) (rate(jwtwatch_lines_read_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{source}}")).
		WithTarget(query("B",
			`sum by (instance, source) (rate(jwtwatch_lines_without_token_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{source}} without token")).
		Thresholds(thresholds("green")))

	b.WithPanel(timeseriesPanel("Lines dropped per second",
		"Lines skipped without a check, by reason. Tokens in them are not verified, so a forgery there goes "+
			"unseen. too_long: longer than --log.max-line-bytes; raise it if such lines are legitimate (large "+
			"headers). invalid: the line does not fit --log.format; check the format flags against the gateway's "+
			"log. Anything above 0 deserves a look; JWTWatchLinesDropped fires on it. time ahead: lines checked, "+
			"but whose own time is ahead of jwtwatch's clock by more than --policy.clock-skew (the gateway's or "+
			"jwtwatch's clock is wrong); they are judged at the time they were read.",
		"cps").
		Height(8).Span(12).
		WithTarget(query("A",
			`sum by (instance, source, reason) (rate(jwtwatch_lines_dropped_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{source}} {{reason}}")).
		WithTarget(query("B",
			`sum by (instance, source) (rate(jwtwatch_lines_time_skewed_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{source}} time ahead")).
		Thresholds(thresholds("green", step{0.001, "red"})))

	b.WithPanel(timeseriesPanel("Bytes behind",
		"Bytes written to each log file that the sidecar has not processed yet. Near 0 normally; a spike that "+
			"drains is catching up after a restart. Steady growth means jwtwatch cannot keep up (see CPU below) and "+
			"its verdicts lag behind the gateway.",
		"bytes").
		Height(8).Span(6).
		WithTarget(query("A",
			`max by (instance, source) (jwtwatch_source_behind_bytes{`+sel+`})`,
			"{{instance}} {{source}}")).
		Thresholds(thresholds("green", step{1 << 20, "orange"}, step{64 << 20, "red"})).
		ThresholdsStyle(thresholdLines()))

	b.WithPanel(statPanel("Age of the last line read",
		"Time since each sidecar last read a line from each source. A busy gateway writes every second, so "+
			"minutes mean the sidecar no longer sees the log: the gateway writes to another file (a rotation the "+
			"--log.path glob does not match), the volume changed, or the gateway is idle. \"never\": the source is "+
			"open but nothing was read since start. JWTWatchLogSourceStalled fires on a stalled source.",
		"s").
		Height(8).Span(6).
		WithTarget(query("A",
			`time() - max by (instance, source) (jwtwatch_source_last_line_timestamp_seconds{`+sel+`})`,
			"{{instance}} {{source}}")).
		GraphMode(common.BigValueGraphModeArea).
		Mappings([]dashboard.ValueMapping{neverMapping(0, "red")}).
		Thresholds(thresholds("green", step{300, "orange"}, step{900, "red"})))

	b.WithPanel(timeseriesPanel("Reopens",
		"Times a log file was reopened after rotation or truncation, per interval. A few a day follow logrotate; "+
			"many per minute point to a rotation loop or a file truncated over and over, where lines can be missed.",
		"short").
		Height(8).Span(6).
		WithTarget(query("A",
			`sum by (instance, source) (increase(jwtwatch_source_reopens_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{source}}")).
		Thresholds(thresholds("green")))

	b.WithPanel(statPanel("Log read for the quiet period",
		"Whether each replica has read its log for at least --rotation.quiet-period since it started (recording "+
			"rule instance:jwtwatch_log_watched:bool). Only then does its \"no valid previous-key token seen\" count "+
			"as evidence. NO EVIDENCE: it has read no line (log path missing, nothing logged) or restarted within "+
			"the quiet period; the fleet-wide verdict stays NOT YET (insufficient_evidence) until it has.",
		"none").
		Height(8).Span(6).
		WithTarget(instant("A", `instance:jwtwatch_log_watched:bool{`+sel+`}`, "{{instance}}")).
		Mappings([]dashboard.ValueMapping{valueTexts(
			text{"1", "yes", "green"},
			text{"0", "NO EVIDENCE", "orange"},
		)}).
		Thresholds(thresholds("orange", step{1, "green"})).
		NoValue("No data: are the rules in alerts/jwtwatch.rules.yml loaded?"))

	b.WithRow(dashboard.NewRowBuilder("Keys and state"))
	b.WithPanel(timeseriesPanel("Key reloads",
		"Key reloads (SIGHUP or a changed *_FILE secret) per interval, by result. After \"Deploy new key\" expect "+
			"one success per replica. A failure keeps the previous keys in use (the file was empty or unreadable): "+
			"read the sidecar's log (key err) and fix the secret mount. JWTWatchKeyReloadFailed fires on it.",
		"short").
		Height(8).Span(6).
		WithTarget(query("A",
			`sum by (instance, result) (increase(jwtwatch_key_reloads_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{result}}")).
		Thresholds(thresholds("green")).
		OverrideByRegexp(".* success", colorOverride("green")).
		OverrideByRegexp(".* failure", colorOverride("red")))

	b.WithPanel(statPanel("Keys loaded per replica",
		"How many keys each replica holds per token family: 2 during a rotation window (current and previous), "+
			"1 otherwise. A replica with fewer than its peers missed the deploy; the key rotation dashboard shows "+
			"which fingerprints.",
		"none").
		Height(8).Span(6).
		WithTarget(instant("A",
			`count by (instance, token) (jwtwatch_key_info{`+selToken+`})`,
			"{{instance}} {{token}}")).
		ColorMode(common.BigValueColorModeValue).
		Thresholds(thresholds("blue")))

	b.WithPanel(statPanel("Keys last loaded",
		"When each replica last loaded its keys, at start or by a reload. After deploying a key every replica "+
			"should show a time after the deploy; an older one did not pick the change up: send it SIGHUP or "+
			"restart it.",
		"dateTimeFromNow").
		Height(8).Span(6).
		WithTarget(instant("A",
			`max by (instance) (jwtwatch_keys_loaded_timestamp_seconds{`+sel+`}) * 1000`,
			"{{instance}}")).
		ColorMode(common.BigValueColorModeValue).
		Thresholds(thresholds("blue")))

	b.WithPanel(timeseriesPanel("State file writes",
		"Writes of --state.file (every --state.checkpoint-interval and on shutdown), by result. Failures mean "+
			"read positions and the rotation start will not survive a restart (the minimum window would start "+
			"over): check the volume (full, read-only). All zero without --state.file.",
		"wps").
		Height(8).Span(6).
		WithTarget(query("A",
			`sum by (instance, result) (rate(jwtwatch_state_writes_total{`+sel+`}[$__rate_interval]))`,
			"{{instance}} {{result}}")).
		Thresholds(thresholds("green")).
		OverrideByRegexp(".* success", colorOverride("green")).
		OverrideByRegexp(".* failure", colorOverride("red")))

	b.WithRow(dashboard.NewRowBuilder("Process"))
	b.WithPanel(timeseriesPanel("Resident memory",
		"Memory each sidecar holds. It is bounded (about 16 KiB per key for the subject estimate plus buffers), "+
			"so it should stay flat; steady growth is a leak worth a bug report. The dashed lines mark 96 MiB and "+
			"the 128 MiB limit of the README's example pod spec.",
		"bytes").
		Height(8).Span(8).
		WithTarget(query("A", jwtwatchOnly(`process_resident_memory_bytes{`+sel+`}`), "{{instance}}")).
		Thresholds(thresholds("green", step{96 << 20, "orange"}, step{128 << 20, "red"})).
		ThresholdsStyle(thresholdLines()))

	b.WithPanel(timeseriesPanel("CPU",
		"CPU each sidecar uses, 100% being one core. It grows with the gateway's request rate; near its CPU limit "+
			"the sidecar falls behind (see Bytes behind): raise the limit.",
		"percentunit").
		Height(8).Span(8).
		WithTarget(query("A",
			jwtwatchOnly(`rate(process_cpu_seconds_total{`+sel+`}[$__rate_interval])`),
			"{{instance}}")).
		Thresholds(thresholds("green", step{0.8, "orange"})))

	b.WithPanel(timeseriesPanel("Open file descriptors",
		"Open file descriptors as a share of the process limit. The sidecar holds one per followed file plus "+
			"sockets; growth towards the limit means files are not closed after rotation.",
		"percentunit").
		Height(8).Span(8).
		WithTarget(query("A",
			jwtwatchOnly(`process_open_fds{`+sel+`} / process_max_fds{`+sel+`}`),
			"{{instance}}")).
		Min(0).
		Thresholds(thresholds("green", step{0.5, "orange"}, step{0.8, "red"})).
		ThresholdsStyle(thresholdLines()))

	return finish(b)
}
