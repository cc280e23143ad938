// Package parse turns one gateway log line into a token observation: the
// bearer token, the gateway's HTTP status and the line's own timestamp.
//
// The auto format needs no configuration. A line that is a JSON object
// (pino-http/nestjs-pino, Caddy, nginx escape=json, Docker json-file, ...)
// is walked once: the token is the Bearer value of an "authorization" key
// (any case, any depth, a string or the first element of a list), else a
// Bearer value or a raw JWT inside any string value; the status comes from
// statusCode, status or status_code at the top level or in a top-level res
// or response object; the time from a top-level time, timestamp,
// @timestamp or ts. Any other line (nginx and Envoy access logs with the
// Authorization header appended, NestJS text logs, and JSON that does not
// parse) is scanned for "Bearer " and then for a raw eyJ... JWT; its status
// is the number after the quoted request line and its time a leading RFC
// 3339 field or the first [bracketed] field. A Kubernetes CRI prefix is
// stripped first.
//
// The json and regex formats take the fields from where the operator says.
//
// Times are RFC 3339, nginx's $time_local or epoch numbers in seconds,
// milliseconds, microseconds or nanoseconds, told apart by magnitude (see
// epochMillisFrom); anything else leaves Observation.Time zero. Statuses
// outside 100..599 are 0.
//
// Parse never panics on any input and its errors never contain line or
// token text.
package parse

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/jsonlex"
)

// Observation is what one line says about one request.
type Observation struct {
	// Token is whatever followed "Bearer " (well-formed or not) or a raw JWT
	// found in the line. Never log it.
	Token string
	// Status is the HTTP status the gateway answered, 0 when the line has none.
	Status int
	// Time is the line's own timestamp, zero when it has none.
	Time time.Time
}

// Log formats accepted in Config.Format.
const (
	FormatAuto  = "auto"
	FormatJSON  = "json"
	FormatRegex = "regex"
)

// Errors returned by New (start-up) and Parse (per line). Parse returns the
// bare sentinels so that the hot path does not allocate and no error can
// carry line or token text.
var (
	ErrUnknownFormat = errors.New("unknown log format")
	ErrNoTokenGroup  = errors.New("regex has no (?P<token>...) group")
	ErrBadPattern    = errors.New("regex does not compile")
	ErrMissingField  = errors.New("json format needs a token field")
	ErrBadField      = errors.New("malformed json field path")
	ErrNoToken       = errors.New("line carries no bearer token")
	// ErrOtherScheme is an ErrNoToken: the line's Authorization uses another
	// scheme than Bearer (Basic, Digest, DPoP, ...), so a JWT elsewhere in
	// it (an OIDC callback's id_token in the query string) is not the
	// request's credential.
	ErrOtherScheme = fmt.Errorf("%w: its Authorization uses another scheme", ErrNoToken)
	ErrInvalidLine = errors.New("line does not match the log format")
)

// Config selects how lines are parsed.
type Config struct {
	// Format is "auto" (the default when empty), "json" or "regex".
	Format string
	// TokenField, StatusField and TimeField are dotted paths into a JSON
	// object for the json format, e.g. "req.headers.authorization",
	// "res.statusCode", "time". Only TokenField is required.
	TokenField, StatusField, TimeField string
	// Pattern is a Go regexp for the regex format with a named group token
	// and optional named groups status and time.
	Pattern string
}

// The fields of the json format unless configured: nestjs-pino's request
// lines (pino-http).
const (
	DefaultTokenField  = "req.headers.authorization"
	DefaultStatusField = "res.statusCode"
	DefaultTimeField   = "time"
)

// Indexes into Parser.paths and Parser.groups.
const (
	fieldToken = iota
	fieldStatus
	fieldTime
	numFields
)

// Parser extracts observations from log lines. It is immutable after New
// and safe for concurrent use.
type Parser struct {
	format string
	paths  [numFields]string // json: dotted paths, "" when not configured
	re     *regexp.Regexp    // regex
	groups [numFields]int    // regex: subexpression index, -1 when absent
}

// New validates cfg and returns a Parser for it.
//
// Fields that do not apply to the chosen format are ignored.
func New(cfg Config) (*Parser, error) {
	switch cfg.Format {
	case "", FormatAuto:
		return &Parser{format: FormatAuto}, nil

	case FormatJSON:
		if cfg.TokenField == "" {
			return nil, fmt.Errorf("%w (e.g. req.headers.authorization)", ErrMissingField)
		}
		p := &Parser{format: FormatJSON}
		for i, f := range [numFields]struct{ name, path string }{
			{"token", cfg.TokenField},
			{"status", cfg.StatusField},
			{"time", cfg.TimeField},
		} {
			if f.path != "" && !validPath(f.path) {
				return nil, fmt.Errorf("%s field %q: %w (want dotted keys such as res.statusCode)", f.name, f.path, ErrBadField)
			}
			p.paths[i] = f.path
		}
		return p, nil

	case FormatRegex:
		re, err := regexp.Compile(cfg.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadPattern, err)
		}
		p := &Parser{format: FormatRegex, re: re}
		for i, name := range [numFields]string{"token", "status", "time"} {
			p.groups[i] = re.SubexpIndex(name)
		}
		if p.groups[fieldToken] < 0 {
			return nil, ErrNoTokenGroup
		}
		return p, nil

	default:
		return nil, fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownFormat, cfg.Format, FormatAuto, FormatJSON, FormatRegex)
	}
}

// validPath reports whether path is one or more non-empty dot-separated keys.
func validPath(path string) bool {
	for _, k := range strings.Split(path, ".") {
		if k == "" {
			return false
		}
	}
	return true
}

// Parse extracts the observation from one log line (with or without its
// trailing newline). It returns ErrNoToken when the line carries no bearer
// token and ErrInvalidLine when the line does not fit the json or regex
// format; the Observation is zero whenever the error is not nil.
//
// In auto and json formats a Kubernetes CRI prefix ("<RFC 3339 time>
// stdout F ") is stripped first; its time is used when the line has none.
func (p *Parser) Parse(line []byte) (Observation, error) {
	f, err := p.find(line, false)
	if err != nil {
		return Observation{}, err
	}
	return Observation{Token: string(f.tok), Status: f.status, Time: f.time}, nil
}

// ParseString is Parse for a line held in a string. The token it returns
// is a substring of line rather than a copy (unless the line escaped it),
// which saves an allocation per line; it keeps the whole line's memory
// alive for as long as it is kept.
func (p *Parser) ParseString(line string) (Observation, error) { return p.ParseLine(line, false) }

// ParseLine is ParseString for a line that complete says ended with a
// newline, as every line of a followed file does and all but maybe the last
// of a finished one: its writer finished it.
//
// Such a line, when it is plain JSON (no backslash, no control byte), is
// not validated whole: the token is found by its "authorization" key, and
// the containers that hold neither the status nor the time are jumped over
// by pairing their brackets, the quotes telling which are in strings
// (jsonlex.Jump). What it yields is ParseString's for every valid line, for
// every line cut short, alone or followed by the next record (a writer that
// died mid-line), and for every line with a control byte, a backslash, or a
// quote or bracket too many or too few; only a line whose sole fault is the
// order of what stands between the strings of a jumped container (a
// missing comma or colon, a malformed number) is read as the object it
// nearly is, where ParseString reads it as text (TestParseLineAgrees).
func (p *Parser) ParseLine(line string, complete bool) (Observation, error) {
	// Parsing only reads the bytes, and a string's bytes never change.
	b := unsafe.Slice(unsafe.StringData(line), len(line))
	f, err := p.find(b, complete)
	if err != nil {
		return Observation{}, err
	}
	var tok string
	if off, ok := offsetIn(b, f.tok); ok {
		tok = line[off : off+len(f.tok)]
	} else {
		tok = string(f.tok)
	}
	return Observation{Token: tok, Status: f.status, Time: f.time}, nil
}

// offsetIn reports where sub starts inside b, if it is a slice of b's
// memory (and not, say, an unescaped copy).
func offsetIn(b, sub []byte) (int, bool) {
	if len(b) == 0 || len(sub) == 0 {
		return 0, false
	}
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return off, off >= 0 && off <= len(b)-len(sub)
}

// found is what a line yields before it becomes an Observation: the token
// still as a slice of the line (or of an unescaped copy).
type found struct {
	tok    []byte
	status int
	time   time.Time
}

// find is Parse without the copy of the token; complete is ParseLine's.
func (p *Parser) find(line []byte, complete bool) (found, error) {
	if p.format == FormatRegex {
		// The pattern sees the line as written, bar its line ending.
		return p.parseRegex(bytes.TrimRight(line, "\r\n"))
	}
	line = trimSpace(line)

	var criTime time.Time
	if rest, t, ok := stripCRI(line); ok {
		line, criTime = rest, t
	}

	var (
		f   found
		err error
	)
	switch {
	case p.format == FormatJSON:
		f, err = p.parseJSON(line, complete)
	case len(line) > 0 && line[0] == '{':
		f, err = p.parseJSON(line, complete)
		if err == ErrInvalidLine {
			// Truncated or not JSON after all: auto finds tokens anywhere.
			f, err = parseText(line)
		}
	default:
		f, err = parseText(line)
	}
	if err == nil && f.time.IsZero() {
		f.time = criTime
	}
	return f, err
}

// parseJSON walks one JSON object, in auto mode when no paths are
// configured; complete says the line ended with a newline.
func (p *Parser) parseJSON(line []byte, complete bool) (found, error) {
	// A plain line (nearly every logged one) has only valid strings: the
	// walker then does not read their bytes.
	w := jsonWalker{b: line, plain: jsonlex.Plain(line)}
	if p.format == FormatJSON {
		w.paths = &p.paths
	} else if w.plain && complete {
		// A complete line of a JSON log: find the token by its key and
		// jump over what holds nothing else (jsonWalker.jump).
		switch tok, how := anchoredToken(line); {
		case how == anchorFound:
			w.tok, w.settled, w.jump, w.square = tok, roleToken, true, !jsonlex.SquareFree(line)
		case how == anchorNone && !mayHaveToken(line):
			return found{}, ErrNoToken // as JSON or as text alike
		}
	}
	if !w.run() {
		return found{}, ErrInvalidLine
	}
	tok := w.tok
	if tok == nil {
		tok = w.bearer
	}
	if tok == nil {
		tok = w.raw
	}
	switch {
	case tok == nil:
		return found{}, ErrNoToken
	case w.tok == nil && w.otherScheme:
		return found{}, ErrOtherScheme
	}
	return found{tok: tok, status: w.status, time: w.ts}, nil
}

// parseRegex applies the configured pattern.
func (p *Parser) parseRegex(line []byte) (found, error) {
	m := p.re.FindSubmatchIndex(line)
	if m == nil {
		return found{}, ErrInvalidLine
	}
	group := func(field int) []byte {
		i := p.groups[field]
		if i < 0 || m[2*i] < 0 {
			return nil
		}
		return line[m[2*i]:m[2*i+1]]
	}
	tok, ok := explicitToken(group(fieldToken))
	if !ok {
		return found{}, ErrNoToken
	}
	return found{
		tok:    tok,
		status: parseStatus(trimSpace(group(fieldStatus))),
		time:   parseTimestamp(group(fieldTime)),
	}, nil
}

// parseText finds a token anywhere in a text line; status and time are read
// from the common access-log layouts (nginx, Envoy).
func parseText(line []byte) (found, error) {
	tok, ok := findBearer(line)
	if !ok {
		tok, ok = findRawJWT(line)
		// Rare (most lines carry a Bearer or no JWT at all), so the second
		// look is cheap where it is needed.
		if ok && hasOtherScheme(line) {
			return found{}, ErrOtherScheme
		}
	}
	if !ok {
		return found{}, ErrNoToken
	}
	t, end := textTime(line)
	return found{tok: tok, status: textStatus(line, end), time: t}, nil
}
