package main

import (
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"

	"github.com/jwtwatch/jwtwatch/internal/lines"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// The flag groups that several commands share (run, scan, inspect), each
// declared once so that a flag means the same, with the same default, in
// every command that takes it. Defaults come from the packages' constants.

// logFlags are the log.* flags that say how to read a gateway's lines:
// run and scan. The flags that only following a file needs are run's.
type logFlags struct {
	format       []string // --log.format, one value
	parse        parse.Config
	maxLineBytes int
}

func addLogFlags(c *kingpin.CmdClause, l *logFlags) {
	c.Flag("log.format", "Where the token, status and time are: auto (anywhere in the line), json (dotted field paths), regex (named groups).").Default("auto").SetValue(&enumValue{flag: "log.format", options: []string{"auto", "json", "regex"}, dst: &l.format})
	c.Flag("log.json.token-field", "With --log.format=json: dotted path of the Authorization value.").Default(parse.DefaultTokenField).StringVar(&l.parse.TokenField)
	c.Flag("log.json.status-field", "With --log.format=json: dotted path of the HTTP status.").Default(parse.DefaultStatusField).StringVar(&l.parse.StatusField)
	c.Flag("log.json.time-field", "With --log.format=json: dotted path of the timestamp.").Default(parse.DefaultTimeField).StringVar(&l.parse.TimeField)
	c.Flag("log.regex", "With --log.format=regex: Go regular expression with named groups token (required), status, time, path (for --gateway.public-paths), client and user_agent (for the stragglers and scan's report).").StringVar(&l.parse.Pattern)
	c.Flag("log.max-line-bytes", "Lines longer than this are counted (dropped as too long), not parsed, and never held in memory whole.").Default(units.Base2Bytes(lines.DefaultMaxLineBytes).String()).SetValue(bytesValue{"log.max-line-bytes", &l.maxLineBytes})
}

// config returns the parser's configuration the flags give.
func (l *logFlags) config() parse.Config {
	c := l.parse
	c.Format = l.format[0]
	return c
}

// addJWTFlags adds the jwt.* flags of the classifier that every command
// checking tokens takes (--jwt.algorithm is with the key flags, which it
// belongs to; --jwt.cache-size is run's).
func addJWTFlags(c *kingpin.CmdClause, v *verify.Options) {
	c.Flag("jwt.leeway", "Clock leeway for exp and nbf.").Default(duration(0)).SetValue(durationValue{"jwt.leeway", &v.Leeway})
}

// addPolicyFlags adds the policy.* flags of the suspicion checks.
func addPolicyFlags(c *kingpin.CmdClause, p *rotation.Policy) {
	c.Flag("policy.max-lifetime", "Flag verifying tokens whose exp - iat exceeds this, or that lack iat or exp, as suspicious; 0 disables. When set, also the longest lifetime trusted for the tokens nobody saw (--rotation.wait-for-unseen; scan's \"still valid?\").").Default(duration(0)).SetValue(durationValue{"policy.max-lifetime", &p.MaxLifetime})
	c.Flag("policy.clock-skew", "Skew tolerated before an iat counts as issued in the future, or as issued after the rotation started, and before a line's own time counts as ahead of the clock.").Default(duration(rotation.DefaultSkew)).SetValue(durationValue{"policy.clock-skew", &p.Skew})
}

// addRotationFlags adds the rotation.* flags: the grace, which the
// suspicion checks of every command use, and with removal the flags of the
// removal decision and the schedule, which only the sidecar keeps.
func addRotationFlags(c *kingpin.CmdClause, p *rotation.Policy, removal bool, waitForUnseen *bool) {
	c.Flag("rotation.grace", "How long after a rotation starts old-key tokens may still be issued (the auth service restarts after the gateways): issued_during_grace, shown but not paged; after it issued_after_rotation.").Default(duration(rotation.DefaultGrace)).SetValue(durationValue{"rotation.grace", &p.Grace})
	if !removal {
		return
	}
	c.Flag("rotation.min-window", "Least time the previous key stays after a rotation.").Default(duration(rotation.DefaultMinWindow)).SetValue(durationValue{"rotation.min-window", &p.MinWindow})
	c.Flag("rotation.quiet-period", "How long no valid previous-key token may have been seen, with the log read, before the key is removable.").Default(duration(rotation.DefaultQuietPeriod)).SetValue(durationValue{"rotation.quiet-period", &p.QuietPeriod})
	c.Flag("rotation.wait-for-unseen", "Keep the previous key until every token it could have signed before the rotation has expired, seen or not: the rotation start + the longest token lifetime (or --policy.max-lifetime). --no-rotation.wait-for-unseen decides on the tokens seen only.").Default("true").BoolVar(waitForUnseen)
	c.Flag("rotation.relogin-window", "How far back \"sessions still on the removed key\" (jwtwatch_retired_key_recent_subjects) looks: a subject that presented a retired key's token within it has not logged in again.").Default(duration(rotation.DefaultReloginWindow)).SetValue(durationValue{"rotation.relogin-window", &p.ReloginWindow})
	c.Flag("rotation.max-age", "The rotation schedule: how long a key may stay current (exported for the due and overdue alerts; the procedure: production 90d, staging 60d, development 30d).").Default(duration(rotation.DefaultMaxAge)).SetValue(durationValue{"rotation.max-age", &p.MaxAge})
}

// duration writes a default as the flags read it and a person would: 90d,
// 24h, 10m, 0s (model.Duration alone writes 90d as 12w6d).
func duration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d > day && d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return model.Duration(d).String()
}
