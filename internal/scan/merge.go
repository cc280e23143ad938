package scan

import (
	"fmt"
	"slices"
	"time"
)

// Merge adds to s what o scanned, as if one Scanner had read s's inputs
// and then o's: counts add, first and last times take the earlier and the
// later, distinct subjects merge (exactly: distinct.Set), the first
// sighting of each suspicion is o's only when strictly earlier, suspicious
// tokens merge by fingerprint, client and user-agent sketches as
// Space-Saving summaries do. The report of s is then the report of one scan
// over all the inputs, with two exceptions it states: a sketch holding more
// than 1000 clients or user agents (then Top.MaxOvercount), and more than
// MaxSuspiciousTokens tokens in one list. o must not be used afterwards.
func (s *Scanner) Merge(o *Scanner) error {
	if a, b := s.config(), o.config(); !a.equal(b) {
		return fmt.Errorf("%w: they were made with different keys or options (%s)", ErrMerge, a.difference(b))
	}
	s.merge(o, false)
	return nil
}

// MergeReports merges JSON reports (decoded), in order, into the report one
// scan over all their inputs gives. It answers "could a token signed before
// the rotation still be valid?" at the latest of their scan times, or at at
// when it is not zero.
func MergeReports(rs []Report, at time.Time) (Report, error) {
	var merged *Scanner
	for i, r := range rs {
		s, err := FromReport(r)
		if err != nil {
			return Report{}, fmt.Errorf("report %d: %w", i+1, err)
		}
		if merged == nil {
			merged = s
		} else if err := merged.Merge(s); err != nil {
			return Report{}, fmt.Errorf("report %d: %w", i+1, err)
		}
	}
	if merged == nil {
		return Report{}, fmt.Errorf("%w: no report", ErrMerge)
	}
	if !at.IsZero() {
		merged.now = at.UTC()
	}
	return merged.Report(), nil
}

// merge is Merge; continued says o read the continuation of s's last
// input (the next byte range of the same file), whose lines o numbered
// from 1.
func (s *Scanner) merge(o *Scanner, continued bool) {
	ins := o.inputs
	if continued && len(s.inputs) > 0 && len(ins) > 0 {
		last := &s.inputs[len(s.inputs)-1]
		o.shiftLines(ins[0].Name, last.Lines)
		last.Lines += ins[0].Lines
		ins = ins[1:]
	}
	s.inputs = append(s.inputs, ins...)
	for _, n := range o.o.Notes {
		if !slices.Contains(s.o.Notes, n) {
			s.o.Notes = append(s.o.Notes, n)
		}
	}
	s.lines.add(o.lines)
	s.first, s.last = earliest(s.first, o.first), latest(s.last, o.last)
	s.now = latest(s.now, o.now)   // the merged report answers for the latest scan
	_ = s.tracker.Merge(o.tracker) // both are this build's trackers
	for _, og := range o.groups {
		i := slices.IndexFunc(s.groups, func(g *group) bool {
			return g.stats.Family == og.stats.Family && g.stats.Key == og.stats.Key && g.stats.Fingerprint == og.stats.Fingerprint
		})
		if i < 0 {
			s.groups = append(s.groups, og)
			continue
		}
		g := s.groups[i]
		g.stats.add(og.stats)
		_ = g.subjects.Merge(&og.subjects) // both are this build's sets
		g.clean.merge(og.clean)
	}
	for f, n := range o.norms {
		if mine := s.norms[f]; mine != nil {
			mine.merge(*n)
		} else {
			s.norms[f] = n
		}
	}
	if s.sel != nil && o.sel != nil {
		s.sel.merge(o.sel)
	}
	s.forged.merge(&o.forged)
}

// shiftLines moves the line numbers of input name's sightings by n.
func (s *Scanner) shiftLines(name string, n int64) {
	if s.sel == nil {
		return
	}
	shift := func(st *suspicionStat) {
		for _, sg := range []*Sighting{&st.First, &st.Earliest} {
			if sg.Input == name && sg.Line > 0 {
				sg.Line += n
			}
		}
	}
	for _, st := range s.sel.reasons {
		shift(st)
	}
	for _, st := range s.sel.shapes {
		shift(st)
	}
}

func (l *Lines) add(o Lines) {
	l.Read += o.Read
	l.Checked += o.Checked
	l.WithoutToken += o.WithoutToken
	l.Invalid += o.Invalid
	l.TooLong += o.TooLong
	l.WithoutTime += o.WithoutTime
	l.OutsideWindow += o.OutsideWindow
}

func (c *Counts) merge(o Counts) {
	c.Valid += o.Valid
	c.Expired += o.Expired
	c.NotYetValid += o.NotYetValid
	c.WrongIssuer += o.WrongIssuer
	c.BadSignature += o.BadSignature
	c.AlgRejected += o.AlgRejected
	c.Malformed += o.Malformed
}

func (k *KeyStats) add(o KeyStats) {
	k.Requests += o.Requests
	k.Results.merge(o.Results)
	k.Suspicious += o.Suspicious
	k.FirstSeen, k.LastSeen = earliest(k.FirstSeen, o.FirstSeen), latest(k.LastSeen, o.LastSeen)
}

func (s *selection) merge(o *selection) {
	s.r.Requests += o.r.Requests
	s.r.Results.merge(o.r.Results)
	s.r.Suspicious += o.r.Suspicious
	s.r.FirstSeen, s.r.LastSeen = earliest(s.r.FirstSeen, o.r.FirstSeen), latest(s.r.LastSeen, o.r.LastSeen)
	for h, oh := range o.hours {
		mine := s.hours[h]
		if mine == nil {
			s.hours[h] = oh
			continue
		}
		mine.Requests += oh.Requests
		mine.Results.merge(oh.Results)
		mine.Suspicious += oh.Suspicious
		mine.Clean.merge(oh.Clean)
	}
	for k, os := range o.subjects {
		mine := s.subjects[k]
		if mine == nil {
			s.subjects[k] = os
			continue
		}
		mine.Requests += os.Requests
		mine.Valid += os.Valid
		mine.Suspicious += os.Suspicious
		if os.ClientID != "" { // the last one seen
			mine.ClientID = os.ClientID
		}
		mine.FirstSeen, mine.LastSeen = earliest(mine.FirstSeen, os.FirstSeen), latest(mine.LastSeen, os.LastSeen)
		mine.Clean.merge(os.Clean)
	}
	for r, os := range o.reasons {
		if mine := s.reasons[r]; mine != nil {
			mine.merge(os)
		} else {
			s.reasons[r] = os
		}
	}
	for fs, os := range o.shapes {
		if mine := s.shapes[fs]; mine != nil {
			mine.merge(os)
		} else {
			s.shapes[fs] = os
		}
	}
	for fs, ol := range o.candidates {
		mine := s.candidates[fs]
		if mine == nil {
			mine = &tokenList{}
			s.candidates[fs] = mine
		}
		mine.merge(ol)
	}
	s.tokens.merge(&o.tokens)
	s.sources.merge(o.sources)
}

// merge adds o's requests; o's sightings replace s's only when strictly
// earlier, as a later request of one pass would.
func (st *suspicionStat) merge(o *suspicionStat) {
	if !o.has() {
		return
	}
	switch {
	case st.Sources == nil:
		st.Sources = o.Sources
	case o.Sources != nil:
		st.Sources.merge(o.Sources)
	}
	if !st.has() {
		st.N, st.First, st.Earliest, st.Evidence = o.N, o.First, o.Earliest, o.Evidence
		return
	}
	if before(o.First.Seen, st.First.Seen) {
		st.First = o.First
	}
	if before(o.Evidence, st.Evidence) {
		st.Earliest, st.Evidence = o.Earliest, o.Evidence
	}
	st.N += o.N
}

// merge adds o's tokens after s's, in o's order, while there is room.
func (l *tokenList) merge(o *tokenList) {
	for _, t := range o.order {
		mine := l.byPrint[t.TokenFingerprint]
		if mine == nil {
			if len(l.order) >= MaxSuspiciousTokens {
				l.Omitted += t.Requests
				continue
			}
			if l.byPrint == nil {
				l.byPrint = map[string]*tokenStat{}
			}
			l.byPrint[t.TokenFingerprint] = t
			l.order = append(l.order, t)
			continue
		}
		mine.Requests += t.Requests
		mine.FirstSeen, mine.LastSeen = earliest(mine.FirstSeen, t.FirstSeen), latest(mine.LastSeen, t.LastSeen)
		for _, r := range t.reasons {
			if !slices.Contains(mine.reasons, r) {
				mine.reasons = append(mine.reasons, r)
			}
		}
	}
	l.Omitted += o.Omitted
}

func (f *forgedStats) merge(o *forgedStats) {
	f.f.Requests += o.f.Requests
	f.f.BadSignature += o.f.BadSignature
	f.f.AlgRejected += o.f.AlgRejected
	f.f.FirstSeen, f.f.LastSeen = earliest(f.f.FirstSeen, o.f.FirstSeen), latest(f.f.LastSeen, o.f.LastSeen)
	f.f.WithoutClient += o.f.WithoutClient
	f.f.WithoutUserAgent += o.f.WithoutUserAgent
	for h, oh := range o.hours {
		fh := f.hour(h)
		fh.Requests += oh.Requests
		fh.BadSignature += oh.BadSignature
		fh.AlgRejected += oh.AlgRejected
	}
	f.sources.merge(o.sources)
}

// difference names what differs between two configs, for the error.
func (c Config) difference(o Config) string {
	switch {
	case !slices.Equal(c.Keys, o.Keys):
		return "the loaded keys"
	case c.Select != o.Select:
		return fmt.Sprintf("--key %q and %q", c.Select, o.Select)
	case c.Top != o.Top:
		return fmt.Sprintf("--top %d and %d", c.Top, o.Top)
	case !c.From.Equal(o.From) || !c.Until.Equal(o.Until):
		return "--from or --until"
	case c.MaxLifetime != o.MaxLifetime || c.ClockSkew != o.ClockSkew:
		return "--policy.max-lifetime or --policy.clock-skew"
	case c.Grace != o.Grace:
		return "--rotation.grace"
	case c.Leeway != o.Leeway || !slices.Equal(c.Algorithms, o.Algorithms):
		return "--jwt.leeway or --jwt.algorithm"
	}
	return "the rotation starts"
}
