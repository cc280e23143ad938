package scan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/distinct"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
)

// stateVersion is the version of State this build writes and reads.
const stateVersion = 1

// State is what a report is made from, as the JSON report carries it: the
// running counts before the end-of-scan judgements (which claim sets are
// unusual, which counts are suspicious), the distinct subjects as hashes or
// a sketch, the client and user-agent sketches, the first sightings. It is
// what Merge combines.
type State struct {
	Version   int             `json:"version"`
	Config    Config          `json:"config"`
	Groups    []groupState    `json:"groups"`
	Norms     []normState     `json:"norms"`
	Selection *selectionState `json:"selection,omitempty"`
	Forged    forgedState     `json:"forged"`
	// Tracker is the rotation tracker's state: the lifetimes and last uses
	// of the keys' tokens.
	Tracker rotation.Snapshot `json:"tracker"`
}

// Config is what two scans must share to merge: the keys they judged
// with, the report they were asked for and the rules of suspicion.
type Config struct {
	Keys        []KeyRef        `json:"keys"`
	Select      string          `json:"select,omitempty"`
	Top         int             `json:"top"`
	From        time.Time       `json:"from,omitzero"`
	Until       time.Time       `json:"until,omitzero"`
	Rotations   []RotationStart `json:"rotations"`
	MaxLifetime string          `json:"max_lifetime"`
	ClockSkew   string          `json:"clock_skew"`
	Grace       string          `json:"grace"`
	Leeway      string          `json:"leeway"`
	Algorithms  []string        `json:"algorithms"`
}

func (c Config) equal(o Config) bool {
	return slices.Equal(c.Keys, o.Keys) && c.Select == o.Select && c.Top == o.Top &&
		c.From.Equal(o.From) && c.Until.Equal(o.Until) &&
		slices.EqualFunc(c.Rotations, o.Rotations, func(a, b RotationStart) bool {
			return a.Family == b.Family && a.Started.Equal(b.Started)
		}) &&
		c.MaxLifetime == o.MaxLifetime && c.ClockSkew == o.ClockSkew && c.Grace == o.Grace && c.Leeway == o.Leeway &&
		slices.Equal(c.Algorithms, o.Algorithms)
}

type groupState struct {
	KeyStats
	SubjectSet distinct.Set `json:"subject_set"`
	Clean      shapeCounts  `json:"clean,omitempty"`
}

type normState struct {
	Family keys.Family `json:"token"`
	claimNorm
}

type selectionState struct {
	Requests   int64          `json:"requests"`
	Results    Counts         `json:"results"`
	Suspicious int64          `json:"suspicious"`
	FirstSeen  time.Time      `json:"first_seen,omitzero"`
	LastSeen   time.Time      `json:"last_seen,omitzero"`
	Hours      []*hourStat    `json:"hours"`
	Subjects   []*subjectStat `json:"subjects"`
	Reasons    []reasonState  `json:"reasons"`
	Shapes     []shapeState   `json:"claim_sets"`
	Tokens     tokenListState `json:"tokens"`
	Sources    *sources       `json:"sources"`
}

type reasonState struct {
	Reason rotation.Reason `json:"reason"`
	suspicionStat
}

type shapeState struct {
	Family     keys.Family    `json:"token"`
	Claims     claimSet       `json:"claims"`
	Candidates tokenListState `json:"candidates"`
	suspicionStat
}

type tokenListState struct {
	Tokens  []tokenState `json:"tokens"`
	Omitted int64        `json:"omitted"`
}

type tokenState struct {
	SuspiciousToken
	Claims claimSet `json:"claims"`
}

type forgedState struct {
	Requests         int64        `json:"requests"`
	BadSignature     int64        `json:"bad_signature"`
	AlgRejected      int64        `json:"alg_rejected"`
	FirstSeen        time.Time    `json:"first_seen,omitzero"`
	LastSeen         time.Time    `json:"last_seen,omitzero"`
	WithoutClient    int64        `json:"without_client"`
	WithoutUserAgent int64        `json:"without_user_agent"`
	Hours            []ForgedHour `json:"hours"`
	Sources          *sources     `json:"sources"`
}

// config returns the Config of the scan's options.
func (s *Scanner) config() Config {
	if s.merged != nil {
		return *s.merged
	}
	c := Config{
		Keys: s.keys, Select: s.o.Select, Top: s.o.Top, From: utc(s.o.From), Until: utc(s.o.Until),
		Rotations:   []RotationStart{},
		MaxLifetime: s.o.Policy.MaxLifetime.String(), ClockSkew: s.o.Policy.Skew.String(),
		Grace: s.o.Policy.Grace.String(), Leeway: s.o.Verify.Leeway.String(), Algorithms: s.o.Verify.Algorithms,
	}
	if c.Keys == nil {
		c.Keys = []KeyRef{}
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"HS256"} // verify.New's default
	}
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		if at, ok := s.started[f]; ok {
			c.Rotations = append(c.Rotations, RotationStart{Family: f, Started: at})
		}
	}
	return c
}

// state returns the scan's State.
func (s *Scanner) state() *State {
	st := &State{Version: stateVersion, Config: s.config(), Groups: []groupState{}, Norms: []normState{}}
	st.Tracker, _ = s.tracker.Snapshot() // its sketches marshal without error
	for _, g := range s.groups {
		st.Groups = append(st.Groups, groupState{KeyStats: g.stats, SubjectSet: g.subjects, Clean: g.clean})
	}
	for _, f := range keys.Families {
		if n := s.norms[f]; n != nil {
			st.Norms = append(st.Norms, normState{f, *n})
		}
	}
	if s.sel != nil {
		st.Selection = s.sel.state()
	}
	f := s.forged.f
	st.Forged = forgedState{
		Requests: f.Requests, BadSignature: f.BadSignature, AlgRejected: f.AlgRejected,
		FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, WithoutClient: f.WithoutClient, WithoutUserAgent: f.WithoutUserAgent,
		Hours: s.forged.timeline(), Sources: s.forged.sources,
	}
	return st
}

func (s *selection) state() *selectionState {
	st := &selectionState{
		Requests: s.r.Requests, Results: s.r.Results, Suspicious: s.r.Suspicious, FirstSeen: s.r.FirstSeen, LastSeen: s.r.LastSeen,
		Hours: []*hourStat{}, Subjects: []*subjectStat{}, Reasons: []reasonState{}, Shapes: []shapeState{},
		Tokens: s.tokens.state(), Sources: s.sources,
	}
	for _, h := range s.hours {
		st.Hours = append(st.Hours, h)
	}
	slices.SortFunc(st.Hours, func(a, b *hourStat) int { return a.Hour.Hour.Compare(b.Hour.Hour) })
	for _, sub := range s.subjects {
		st.Subjects = append(st.Subjects, sub)
	}
	slices.SortFunc(st.Subjects, func(a, b *subjectStat) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Subject.Subject, b.Subject.Subject))
	})
	for _, r := range rotation.Reasons {
		if rs := s.reasons[r]; rs != nil {
			st.Reasons = append(st.Reasons, reasonState{r, *rs})
		}
	}
	for fs, ss := range s.shapes {
		sh := shapeState{Family: fs.family, Claims: fs.shape, suspicionStat: *ss}
		if l := s.candidates[fs]; l != nil {
			sh.Candidates = l.state()
		}
		st.Shapes = append(st.Shapes, sh)
	}
	slices.SortFunc(st.Shapes, func(a, b shapeState) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Claims, b.Claims))
	})
	return st
}

func (l *tokenList) state() tokenListState {
	st := tokenListState{Tokens: []tokenState{}, Omitted: l.Omitted}
	for _, t := range l.order {
		ts := tokenState{SuspiciousToken: t.SuspiciousToken, Claims: t.Claims}
		ts.Reasons = append([]rotation.Reason{}, t.reasons...)
		st.Tokens = append(st.Tokens, ts)
	}
	return st
}

// FromReport returns a scanner holding what a JSON report of this version
// of jwtwatch was made from, ready to Merge: it reads no input and judges
// no token, so it needs no key.
func FromReport(r Report) (*Scanner, error) {
	st := r.State
	switch {
	case st == nil:
		return nil, fmt.Errorf("%w: the report has no state (written by --output=json of jwtwatch scan)", ErrState)
	case st.Version != stateVersion:
		return nil, fmt.Errorf("%w: state version %d, this jwtwatch reads %d", ErrState, st.Version, stateVersion)
	case (st.Selection != nil) != (st.Config.Select != ""):
		return nil, fmt.Errorf("%w: --key %q without its key section", ErrState, st.Config.Select)
	}
	c := st.Config
	maxLifetime, err1 := time.ParseDuration(c.MaxLifetime)
	skew, err2 := time.ParseDuration(c.ClockSkew)
	grace, err3 := time.ParseDuration(c.Grace)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	s := &Scanner{
		now:  r.ScannedAt,
		keys: c.Keys, started: map[keys.Family]time.Time{},
		norms:  map[keys.Family]*claimNorm{},
		inputs: r.Inputs, lines: r.Lines, first: r.FirstSeen, last: r.LastSeen,
		forged: forgedStats{hours: map[int64]*ForgedHour{}, sources: st.Forged.Sources},
		merged: &c,
	}
	s.o.Select, s.o.Top, s.o.From, s.o.Until, s.o.Notes = c.Select, c.Top, c.From, c.Until, r.Notes
	s.o.Policy = rotation.Policy{MaxLifetime: maxLifetime, Skew: skew, Grace: grace}
	var err error
	if s.tracker, err = rotation.New(s.o.Policy, func() time.Time { return s.now }, st.Tracker); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	for _, rs := range r.Rotations {
		if !rs.Started.IsZero() {
			s.o.Rotations = append(s.o.Rotations, rs)
		}
	}
	for _, rs := range c.Rotations {
		s.started[rs.Family] = rs.Started
	}
	for _, g := range st.Groups {
		s.groups = append(s.groups, &group{stats: g.KeyStats, subjects: g.SubjectSet, clean: g.Clean})
	}
	for _, n := range st.Norms {
		s.norms[n.Family] = &n.claimNorm
	}
	if s.forged.sources == nil {
		return nil, fmt.Errorf("%w: forged tokens without their sources", ErrState)
	}
	f := st.Forged
	s.forged.f = Forged{
		Requests: f.Requests, BadSignature: f.BadSignature, AlgRejected: f.AlgRejected,
		FirstSeen: f.FirstSeen, LastSeen: f.LastSeen, WithoutClient: f.WithoutClient, WithoutUserAgent: f.WithoutUserAgent,
	}
	for _, h := range f.Hours {
		*s.forged.hour(h.Hour.Unix()) = h
	}
	if sel := st.Selection; sel != nil {
		if s.sel, err = selectionFromState(c, sel); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func selectionFromState(c Config, st *selectionState) (*selection, error) {
	refs := []KeyRef{}
	for _, k := range c.Keys {
		if selected(c.Select, k) {
			refs = append(refs, k)
		}
	}
	s := newSelection(c.Select, refs, c.Top)
	if st.Sources == nil {
		return nil, fmt.Errorf("%w: the key section has no sources", ErrState)
	}
	s.sources = st.Sources
	s.r.Requests, s.r.Results, s.r.Suspicious, s.r.FirstSeen, s.r.LastSeen = st.Requests, st.Results, st.Suspicious, st.FirstSeen, st.LastSeen
	for _, h := range st.Hours {
		s.hours[h.Hour.Hour.Unix()] = h
	}
	for _, sub := range st.Subjects {
		s.subjects[subjectKey{sub.Family, sub.Subject.Subject}] = sub
	}
	for _, rs := range st.Reasons {
		stat := rs.suspicionStat
		s.reasons[rs.Reason] = &stat
	}
	for _, sh := range st.Shapes {
		stat := sh.suspicionStat
		if stat.Sources == nil {
			return nil, fmt.Errorf("%w: a claim set has no sources", ErrState)
		}
		fs := familyShape{sh.Family, sh.Claims}
		s.shapes[fs] = &stat
		s.candidates[fs] = sh.Candidates.list()
	}
	s.tokens = *st.Tokens.list()
	return s, nil
}

func (st tokenListState) list() *tokenList {
	l := &tokenList{byPrint: map[string]*tokenStat{}, Omitted: st.Omitted}
	for _, ts := range st.Tokens {
		t := &tokenStat{SuspiciousToken: ts.SuspiciousToken, Claims: ts.Claims}
		t.reasons, t.Reasons = ts.Reasons, nil
		l.byPrint[t.TokenFingerprint] = t
		l.order = append(l.order, t)
	}
	return l
}

// selected reports whether --key sel selects the key k, as match does.
func selected(sel string, k KeyRef) bool {
	return len(match(keys.Set{Keys: []keys.Key{{Family: k.Family, Role: k.Key, Fingerprint: k.Fingerprint}}}, sel)) > 0
}
