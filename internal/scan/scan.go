// Package scan reads finished gateway logs — plain, gzip or stdin — through
// the sidecar's own pipeline (parse → verify → rotation suspicion) and
// builds an incident report: per key what was seen, everything about the
// tokens one key signed (who used it, per hour, and when it began signing
// tokens its rightful issuer could not have minted), and where forged
// tokens came from.
//
// One pass, and memory bounded independently of the input size except for
// the per-subject table of the selected key (and per-hour timelines, which
// grow with the time span, not the volume). Raw tokens are never kept in
// the report: a token is named by TokenFingerprint.
package scan

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jwtwatch/jwtwatch/internal/cache"
	"github.com/jwtwatch/jwtwatch/internal/distinct"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/lines"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// MaxSuspiciousTokens bounds the suspicious tokens a report lists: so many
// with a rotation reason, and so many per unusual claim set.
const MaxSuspiciousTokens = 1000

// topSize is how many values each client or user-agent sketch keeps,
// whatever --top asks for: enough that the shown entries are exact unless
// the traffic is spread over more values than this.
const topSize = 1000

// Errors of New and OpenInput.
var (
	ErrNoSuchKey = errors.New("no loaded key matches")
	ErrInput     = errors.New("cannot read input")
	ErrFormat    = errors.New("invalid log format")
	ErrState     = errors.New("invalid scan state")
	ErrMerge     = errors.New("reports do not merge")
	errNotGzip   = errors.New("named .gz but not gzip")
)

// Options configure a scan. The zero values of Parse, Verify and Policy are
// the sidecar's defaults.
type Options struct {
	Parse  parse.Config
	Verify verify.Options
	Policy rotation.Policy
	// Keys are the loaded keys (keys.Load), as the sidecar uses them.
	Keys keys.Set
	// Rotations are the known rotation starts; a family without one is not
	// checked for issued_after_rotation.
	Rotations []RotationStart
	// Notes are passed on to the report (e.g. why a saved start was ignored).
	Notes []string
	// Select is --key: "" for no key section, a role (current, previous,
	// retired), family/role (access/previous) or a key fingerprint.
	Select string
	// From and Until restrict the scan to lines with From <= time < Until;
	// zero means unbounded.
	From, Until time.Time
	// Top is how many clients and user agents to list; 10 when <= 0.
	Top int
	// MaxLineBytes skips longer lines as too long; 1 MiB when <= 0.
	MaxLineBytes int
	// Now is the time a line without a timestamp is checked at.
	Now func() time.Time
}

// Scanner accumulates one report over any number of inputs. Read is not
// safe for concurrent use; Progress is. Scanners of the same Options merge
// (Merge): several scan shards of one log, in order, in parallel or on other
// machines (through the JSON report), give the report one scan over all of
// them gives.
type Scanner struct {
	o        Options
	parser   *parse.Parser
	verifier *verify.Verifier
	verdicts *cache.Cache
	tracker  *rotation.Tracker         // the suspicion checks, and the lifetimes the tokens show
	keys     []KeyRef                  // the loaded keys, in set order
	started  map[keys.Family]time.Time // rotation starts
	now      time.Time
	merged   *Config // the Config of a scanner made from a report (FromReport)

	meter *meter // for Progress; shared by the scanners of a parallel scan

	inputs      []Input
	lines       Lines
	first, last time.Time
	groups      []*group
	norms       map[keys.Family]*claimNorm // claims of verifying tokens
	sel         *selection                 // nil without --key
	forged      forgedStats
}

// group is the running KeyStats of one key.
type group struct {
	stats    KeyStats
	subjects distinct.Set
	clean    shapeCounts // claim sets of verifying tokens without a reason
}

// New prepares a scan with the sidecar's parser, classifier and suspicion
// checks.
func New(o Options) (*Scanner, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = lines.DefaultMaxLineBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p, err := parse.New(o.Parse)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	started := map[keys.Family]time.Time{}
	snap := rotation.Snapshot{Rotations: map[keys.Family]rotation.Rotation{}}
	for _, r := range o.Rotations {
		if k, ok := o.Keys.Find(r.Family, keys.Current); ok && !r.Started.IsZero() {
			started[r.Family] = r.Started.UTC()
			snap.Rotations[r.Family] = rotation.Rotation{CurrentFingerprint: k.Fingerprint, Started: r.Started.UTC()}
		}
	}
	vo := o.Verify
	vo.Rotations = started
	s := &Scanner{
		o:        o,
		parser:   p,
		verifier: verify.New(o.Keys, vo),
		verdicts: cache.New(cache.DefaultSize),
		started:  started,
		now:      o.Now().UTC(),
		norms:    map[keys.Family]*claimNorm{},
		meter:    &meter{},
	}
	// The tracker is used for its suspicion checks and lifetimes only.
	// SetKeys is not called: it would start a rotation "now" for a family
	// whose start is unknown, and issued_after_rotation would then mean
	// nothing.
	if s.tracker, err = rotation.New(o.Policy, func() time.Time { return s.now }, snap); err != nil {
		return nil, err
	}
	for _, k := range o.Keys.Keys {
		s.groups = append(s.groups, newGroup(k.Family, k.Role, k.Fingerprint))
		s.keys = append(s.keys, KeyRef{Family: k.Family, Key: k.Role, Fingerprint: k.Fingerprint})
	}
	s.groups = append(s.groups, newGroup(keys.Unknown, keys.None, ""))
	if o.Select != "" {
		refs := match(o.Keys, o.Select)
		if len(refs) == 0 {
			return nil, fmt.Errorf("--key %q: %w (want current, previous, retired, FAMILY/ROLE or a fingerprint)", o.Select, ErrNoSuchKey)
		}
		s.sel = newSelection(o.Select, refs, o.Top)
	}
	s.forged = forgedStats{hours: map[int64]*ForgedHour{}, sources: newSources()}
	return s, nil
}

func newGroup(f keys.Family, r keys.Role, fp string) *group {
	return &group{stats: KeyStats{Family: f, Key: r, Fingerprint: fp}}
}

// match resolves --key against the loaded keys.
func match(set keys.Set, sel string) []KeyRef {
	var refs []KeyRef
	fam, role, qualified := strings.Cut(sel, "/")
	if !qualified {
		fam, role = "", sel
	}
	for _, k := range set.Keys {
		if k.Fingerprint == sel || string(k.Role) == role && (fam == "" || string(k.Family) == fam) {
			refs = append(refs, KeyRef{Family: k.Family, Key: k.Role, Fingerprint: k.Fingerprint})
		}
	}
	return refs
}

// Progress is how far the scan has got.
type Progress struct {
	Lines int64 // lines read
	Bytes int64 // bytes read from the inputs (compressed size for gzip)
}

// meter counts what scanners read, for Progress.
type meter struct{ lines, bytes atomic.Int64 }

func (m *meter) progress() Progress { return Progress{Lines: m.lines.Load(), Bytes: m.bytes.Load()} }

// Progress may be called from another goroutine while Read runs.
func (s *Scanner) Progress() Progress { return s.meter.progress() }

// Read scans one input to its end; gzip is detected by its magic bytes.
// name labels the input in the report.
func (s *Scanner) Read(name string, r io.Reader) error {
	src, gz, closeSrc, err := source(r, &s.meter.bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.inputs = append(s.inputs, Input{Name: name, Gzip: gz})
	if err := s.read(&s.inputs[len(s.inputs)-1], lines.New(src, s.o.MaxLineBytes)); err != nil {
		return err
	}
	if err := closeSrc(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// read scans the lines of lr into the input in.
func (s *Scanner) read(in *Input, lr *lines.Reader) error {
	unmetered := int64(0)
	defer func() { s.meter.lines.Add(unmetered) }()
	for {
		line, tooLong, err := lr.Next()
		complete := true
		if err == io.EOF {
			var ok bool
			if line, tooLong, ok = lr.Rest(); !ok {
				break
			}
			err, complete = nil, false
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", in.Name, in.Lines+1, err)
		}
		in.Lines++
		s.lines.Read++
		if unmetered++; unmetered == 1024 {
			s.meter.lines.Add(unmetered)
			unmetered = 0
		}
		if tooLong {
			s.lines.TooLong++
			continue
		}
		s.line(in, line, complete)
	}
	return nil
}

// line sends one line through parse → verify → suspicion checks, as the
// sidecar does, and into the report; complete says it ended with a newline.
// b is valid until the next line only: nothing of it is kept.
func (s *Scanner) line(in *Input, b []byte, complete bool) {
	// Parsing only reads the line, and the token it returns is used (and
	// copied, by the cache) before the next line is read.
	obs, err := s.parser.ParseLine(unsafe.String(unsafe.SliceData(b), len(b)), complete)
	switch {
	case err == parse.ErrNoToken: // the parser returns the bare sentinels
		s.lines.WithoutToken++
		return
	case err != nil:
		s.lines.Invalid++
		return
	}
	at, timed := obs.Time, !obs.Time.IsZero()
	switch {
	case !timed:
		s.lines.WithoutTime++
		if !s.o.From.IsZero() || !s.o.Until.IsZero() {
			return
		}
		at = s.now
	case !s.o.From.IsZero() && at.Before(s.o.From), !s.o.Until.IsZero() && !at.Before(s.o.Until):
		s.lines.OutsideWindow++
		return
	}
	s.lines.Checked++
	if timed {
		s.first, s.last = earliest(s.first, at), latest(s.last, at)
	}
	v, _ := s.verdicts.Check(s.verifier, obs.Token, at)
	reasons := s.tracker.Record(v, at)

	seen := time.Time{}
	if timed {
		seen = at
	}
	shape, hasShape := claimsOf(v)
	g := s.group(v)
	g.stats.Requests++
	g.stats.Results.add(v.Result)
	g.stats.FirstSeen, g.stats.LastSeen = earliest(g.stats.FirstSeen, seen), latest(g.stats.LastSeen, seen)
	if v.Key != keys.None && v.Claims.Subject != "" {
		g.subjects.Add(v.Claims.Subject)
	}
	switch {
	case len(reasons) > 0:
		g.stats.Suspicious++
	case hasShape:
		g.clean.add(v.Family, shape, 1)
	}
	if hasShape {
		n := s.norms[v.Family]
		if n == nil {
			n = &claimNorm{}
			s.norms[v.Family] = n
		}
		n.add(shape)
	}

	switch {
	case v.Result == verify.BadSignature || v.Result == verify.AlgRejected:
		s.forged.observe(v.Result, seen, s.parser.Details(b))
	case s.sel != nil && s.sel.selects(v):
		s.sel.observe(observation{
			v: v, reasons: reasons, seen: seen, shape: shape, hasShape: hasShape,
			token: obs.Token, in: in.Name, line: in.Lines, raw: b, parser: s.parser,
		})
	}
}

func (s *Scanner) group(v verify.Verdict) *group {
	for _, g := range s.groups {
		if g.stats.Family == v.Family && g.stats.Fingerprint == v.Fingerprint {
			return g
		}
	}
	// Not reached: every verdict names a loaded key or none.
	g := newGroup(v.Family, v.Key, v.Fingerprint)
	s.groups = append(s.groups, g)
	return g
}

// Report assembles the report of everything read so far, with the state
// that lets it merge with others.
func (s *Scanner) Report() Report {
	r := Report{
		Inputs:    append([]Input(nil), s.inputs...),
		Lines:     s.lines,
		From:      utc(s.o.From),
		Until:     utc(s.o.Until),
		FirstSeen: s.first,
		LastSeen:  s.last,
		ScannedAt: s.now,
		Notes:     s.o.Notes,
	}
	if r.Inputs == nil {
		r.Inputs = []Input{}
	}
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		if !slices.ContainsFunc(s.keys, func(k KeyRef) bool { return k.Family == f && k.Key == keys.Current }) {
			continue
		}
		rs := RotationStart{Family: f}
		for _, known := range s.o.Rotations {
			if known.Family == f && !known.Started.IsZero() {
				rs.Started, rs.Source = known.Started.UTC(), known.Source
			}
		}
		r.Rotations = append(r.Rotations, rs)
	}
	if r.Rotations == nil {
		r.Rotations = []RotationStart{}
	}
	norms := map[keys.Family]claimNorm{}
	for f, n := range s.norms {
		norms[f] = *n
	}
	for _, g := range s.groups {
		ks := g.stats
		ks.Subjects, ks.SubjectsError = g.subjects.Count(), g.subjects.Error()
		if ks.Fingerprint != "" {
			kr := s.tracker.Key(keys.Key{Family: ks.Family, Role: ks.Key, Fingerprint: ks.Fingerprint})
			ks.LongestLifetime, ks.WithoutExpiry = kr.Longest.Seconds(), kr.WithoutExpiry
		}
		ks.Suspicious += g.clean.unusual(norms)
		r.Keys = append(r.Keys, ks)
	}
	r.Lifetimes = []FamilyLifetime{}
	for _, rs := range r.Rotations {
		r.Lifetimes = append(r.Lifetimes, s.lifetime(rs))
	}
	if s.sel != nil {
		kr := s.sel.report(norms)
		r.Key = &kr
	}
	r.Forged = s.forged.report(s.o.Top)
	r.State = s.state()
	return r
}

// lifetime answers for one family whether a token signed before its
// rotation could still be valid at the time of the scan, by the rule the
// sidecar waits for (rotation.Policy.Expired).
func (s *Scanner) lifetime(rs RotationStart) FamilyLifetime {
	lt := s.tracker.Lifetime(rs.Family)
	fl := FamilyLifetime{Family: rs.Family, StillValid: StillValidUnknown, LongestLifetime: lt.Seconds(), PolicyLifetime: s.o.Policy.MaxLifetime.Seconds()}
	if i := slices.IndexFunc(s.keys, func(k KeyRef) bool { return k.Family == rs.Family && k.Key == keys.Previous }); i >= 0 &&
		!s.tracker.Key(keys.Key{Family: rs.Family, Role: keys.Previous, Fingerprint: s.keys[i].Fingerprint}).WithoutExpiry.IsZero() {
		fl.Never, fl.StillValid = true, StillValidYes
		return fl
	}
	if fl.AllExpired = s.o.Policy.Expired(rotation.FamilyReport{Started: rs.Started, Lifetime: lt}); fl.AllExpired.IsZero() {
		return fl
	}
	fl.StillValid = StillValidNo
	if s.now.Before(fl.AllExpired) {
		fl.StillValid = StillValidYes
	}
	return fl
}

// TokenFingerprint is a short one-way identifier of a token — the first 6
// bytes of a domain-separated SHA-256, in hex — that ties report rows to a
// token without revealing it: the token cannot be recovered from it, and it
// is useless to present to a gateway.
func TokenFingerprint(tok string) string {
	h := sha256.New()
	h.Write([]byte("jwtwatch token fingerprint v1\x00"))
	h.Write([]byte(tok))
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// maxJTI bounds a jti shown in a report.
const maxJTI = 128

// tokenID returns the jti claim of a token whose signature already verified,
// for display; "" when absent or not a string or number. verify.Claims does
// not carry it because the hot path has no use for it, and this runs only
// for the few tokens a report shows.
func tokenID(tok string) string {
	_, rest, ok := strings.Cut(tok, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	var c struct {
		JTI json.RawMessage `json:"jti"`
	}
	if json.Unmarshal(b, &c) != nil || len(c.JTI) == 0 {
		return ""
	}
	var id string
	switch {
	case c.JTI[0] == '"':
		if json.Unmarshal(c.JTI, &id) != nil {
			return ""
		}
	case c.JTI[0] == '-' || (c.JTI[0] >= '0' && c.JTI[0] <= '9'):
		id = string(c.JTI)
	}
	if len(id) > maxJTI {
		id = id[:maxJTI]
	}
	return strings.ToValidUTF8(id, "\uFFFD")
}

// earliest returns the earlier of two times, a zero time counting as unknown.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// latest returns the later of two times, a zero time counting as unknown.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// hourOf returns the start of the hour of t, as Unix seconds.
func hourOf(t time.Time) int64 {
	u := t.Unix()
	return u - ((u%3600)+3600)%3600
}
