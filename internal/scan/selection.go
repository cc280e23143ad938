package scan

import (
	"cmp"
	"slices"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// selection accumulates the KeyReport of the keys --key selects. Every
// part of it merges (merge.go): sums add, first and last times take the
// earlier and the later, the first sighting of a suspicion the earlier
// shard's on a tie, as one pass would have kept.
type selection struct {
	r        KeyReport // running totals
	top      int
	hours    map[int64]*hourStat
	subjects map[subjectKey]*subjectStat
	reasons  map[rotation.Reason]*suspicionStat
	// shapes holds, per claim set that may turn out unusual, the requests
	// of verifying tokens without a rotation reason: whether a claim set is
	// unusual is known only once every shard is in.
	shapes map[familyShape]*suspicionStat
	// tokens are the suspicious tokens, by fingerprint, in the order first
	// seen, up to MaxSuspiciousTokens; candidates, per claim set, the
	// tokens that are suspicious if their claim set turns out unusual.
	tokens     tokenList
	candidates map[familyShape]*tokenList
	sources    *sources // of suspicious requests
}

type hourStat struct {
	Hour
	Clean shapeCounts `json:"clean,omitempty"`
}

type subjectKey struct {
	family  keys.Family
	subject string
}

type subjectStat struct {
	Subject
	Clean shapeCounts `json:"clean,omitempty"`
}

type familyShape struct {
	family keys.Family
	shape  claimSet
}

// suspicionStat is one row of Suspicions in the making.
type suspicionStat struct {
	N        int64     `json:"n"`
	First    sighting  `json:"first"`
	Earliest sighting  `json:"earliest"`
	Evidence time.Time `json:"evidence,omitzero"` // of Earliest
	// Sources are the clients and user agents of the requests: for a
	// claim set, in case it turns out unusual.
	Sources *sources `json:"sources,omitempty"`
}

// sighting is a Sighting; its Claims are its claim set.
type sighting = Sighting

func (sg Sighting) claims() claimSet {
	var s claimSet
	for _, n := range sg.Claims {
		if i := slices.Index(claimNameList[:], n); i >= 0 {
			s |= 1 << i
		}
	}
	return s
}

// has reports whether the stat has a sighting yet.
func (st *suspicionStat) has() bool { return st.N > 0 }

type tokenStat struct {
	SuspiciousToken
	Claims  claimSet          `json:"claims"`
	reasons []rotation.Reason // SuspiciousToken.Reasons is filled by the report
}

// tokenList is a bounded set of tokens in the order first seen; Omitted
// counts the requests of tokens beyond the bound.
type tokenList struct {
	byPrint map[string]*tokenStat
	order   []*tokenStat
	Omitted int64
}

// get returns the entry of fingerprint fp, adding one made by mk when there
// is room; nil when the list is full (the request is then counted omitted).
func (l *tokenList) get(fp string, mk func() *tokenStat) *tokenStat {
	if t := l.byPrint[fp]; t != nil {
		return t
	}
	if len(l.order) >= MaxSuspiciousTokens {
		l.Omitted++
		return nil
	}
	if l.byPrint == nil {
		l.byPrint = map[string]*tokenStat{}
	}
	t := mk()
	l.byPrint[fp] = t
	l.order = append(l.order, t)
	return t
}

// observation is one selected request.
type observation struct {
	v        verify.Verdict
	reasons  []rotation.Reason
	seen     time.Time // zero when the line has no time
	shape    claimSet
	hasShape bool
	token    string
	in       string
	line     int64
	raw      []byte
	parser   *parse.Parser
}

func newSelection(sel string, refs []KeyRef, top int) *selection {
	return &selection{
		r:          KeyReport{Selector: sel, Keys: refs},
		top:        top,
		hours:      map[int64]*hourStat{},
		subjects:   map[subjectKey]*subjectStat{},
		reasons:    map[rotation.Reason]*suspicionStat{},
		shapes:     map[familyShape]*suspicionStat{},
		candidates: map[familyShape]*tokenList{},
		sources:    newSources(),
	}
}

// selects reports whether a selected key signed the token.
func (s *selection) selects(v verify.Verdict) bool {
	if v.Key == keys.None {
		return false
	}
	for _, k := range s.r.Keys {
		if k.Family == v.Family && k.Fingerprint == v.Fingerprint {
			return true
		}
	}
	return false
}

func (s *selection) observe(o observation) {
	v, suspicious := o.v, len(o.reasons) > 0
	s.r.Requests++
	s.r.Results.add(v.Result)
	s.r.FirstSeen, s.r.LastSeen = earliest(s.r.FirstSeen, o.seen), latest(s.r.LastSeen, o.seen)
	if suspicious {
		s.r.Suspicious++
	}

	if !o.seen.IsZero() {
		h := hourOf(o.seen)
		hs := s.hours[h]
		if hs == nil {
			hs = &hourStat{Hour: Hour{Hour: time.Unix(h, 0).UTC()}}
			s.hours[h] = hs
		}
		hs.Requests++
		hs.Results.add(v.Result)
		switch {
		case suspicious:
			hs.Suspicious++
		case o.hasShape:
			hs.Clean.add(v.Family, o.shape, 1)
		}
	}

	sk := subjectKey{v.Family, v.Claims.Subject}
	ss := s.subjects[sk]
	if ss == nil {
		ss = &subjectStat{Subject: Subject{Family: v.Family, Subject: v.Claims.Subject}}
		s.subjects[sk] = ss
	}
	ss.Requests++
	if v.Result == verify.Valid {
		ss.Valid++
	}
	if v.Claims.ClientID != "" {
		ss.ClientID = v.Claims.ClientID
	}
	ss.FirstSeen, ss.LastSeen = earliest(ss.FirstSeen, o.seen), latest(ss.LastSeen, o.seen)
	switch {
	case suspicious:
		ss.Suspicious++
	case o.hasShape:
		ss.Clean.add(v.Family, o.shape, 1)
	}

	if !suspicious {
		if o.hasShape && o.shape.mayBeUnusual() {
			// Rare by definition where it turns out unusual: worth the
			// details and the fingerprint, in case it does.
			fs := familyShape{v.Family, o.shape}
			st := s.shapes[fs]
			if st == nil {
				st = &suspicionStat{Sources: newSources()}
				s.shapes[fs] = st
			}
			d := o.parser.Details(o.raw)
			st.Sources.add(d, o.seen)
			st.update(o, &d)
			l := s.candidates[fs]
			if l == nil {
				l = &tokenList{}
				s.candidates[fs] = l
			}
			l.observe(o)
		}
		return
	}
	// Suspicious requests are rare: they get their details and fingerprint.
	d := o.parser.Details(o.raw)
	s.sources.add(d, o.seen)
	for _, r := range o.reasons {
		st := s.reasons[r]
		if st == nil {
			st = &suspicionStat{}
			s.reasons[r] = st
		}
		st.update(o, &d)
	}
	s.tokens.observe(o)
}

// observe counts the request o in the token list.
func (l *tokenList) observe(o observation) {
	fp := TokenFingerprint(o.token)
	ts := l.get(fp, func() *tokenStat {
		c := o.v.Claims
		return &tokenStat{SuspiciousToken: SuspiciousToken{
			TokenFingerprint: fp, Family: o.v.Family, KeyFingerprint: o.v.Fingerprint,
			Subject: c.Subject, JTI: tokenID(o.token), ClientID: c.ClientID,
			IssuedAt: utc(c.IssuedAt), ExpiresAt: utc(c.ExpiresAt),
		}, Claims: o.shape}
	})
	if ts == nil {
		return
	}
	ts.Requests++
	ts.FirstSeen, ts.LastSeen = earliest(ts.FirstSeen, o.seen), latest(ts.LastSeen, o.seen)
	for _, r := range o.reasons {
		if !slices.Contains(ts.reasons, r) {
			ts.reasons = append(ts.reasons, r)
		}
	}
}

// update counts one request and keeps the first and the earliest-evidence
// sighting; d are the line's details.
func (st *suspicionStat) update(o observation, d *parse.Details) {
	ev := evidenceTime(o.v.Claims, o.seen)
	first := !st.has() || before(o.seen, st.First.Seen)
	early := !st.has() || before(ev, st.Evidence)
	st.N++
	if !first && !early {
		return
	}
	sg := newSighting(o, *d)
	if first {
		st.First = sg
	}
	if early {
		st.Earliest, st.Evidence = sg, ev
	}
}

func newSighting(o observation, d parse.Details) sighting {
	v, c := o.v, o.v.Claims
	sg := Sighting{
		Seen: o.seen, Input: o.in, Line: o.line,
		TokenFingerprint: TokenFingerprint(o.token),
		Family:           v.Family, Key: v.Key, KeyFingerprint: v.Fingerprint, Result: v.Result,
		Subject: c.Subject, JTI: tokenID(o.token), ClientID: c.ClientID,
		IssuedAt: utc(c.IssuedAt), ExpiresAt: utc(c.ExpiresAt),
		Claims:  o.shape.names(),
		Reasons: append([]rotation.Reason{}, o.reasons...),
		Client:  d.Client, UserAgent: d.UserAgent,
	}
	return sg
}

// evidenceTime is when a token proves the key was in other hands: its iat
// when that is not later than it was seen (a future iat is itself the
// anomaly), else when it was seen.
func evidenceTime(c verify.Claims, seen time.Time) time.Time {
	if !c.IssuedAt.IsZero() && (seen.IsZero() || !c.IssuedAt.After(seen)) {
		return c.IssuedAt.UTC()
	}
	return seen
}

// before reports whether a is known and earlier than b; a zero time is
// unknown, later than any known time.
func before(a, b time.Time) bool {
	return !a.IsZero() && (b.IsZero() || a.Before(b))
}

func (s *selection) report(norms map[keys.Family]claimNorm) KeyReport {
	r := s.r
	unusual := func(f keys.Family, shape claimSet) bool { return norms[f].deviation(shape) != 0 }
	finish := func(sg Sighting) Sighting {
		if unusual(sg.Family, sg.claims()) {
			sg.Reasons = append(slices.Clone(sg.Reasons), rotation.UnusualClaims)
		}
		return sg
	}

	// Suspicions, and the compromise from the earliest and the first of them.
	r.Suspicions = []Suspicion{}
	var began, first *suspicionStat
	consider := func(st *suspicionStat) {
		if began == nil || before(st.Evidence, began.Evidence) {
			began = st
		}
		if first == nil || before(st.First.Seen, first.First.Seen) {
			first = st
		}
	}
	for _, reason := range rotation.Reasons {
		if st := s.reasons[reason]; st != nil {
			r.Suspicions = append(r.Suspicions, Suspicion{Reason: reason, Requests: st.N, First: finish(st.First), Earliest: finish(st.Earliest)})
			consider(st)
		}
	}
	clients, agents := []*stragglers.Sketch{s.sources.clients}, []*stragglers.Sketch{s.sources.agents}
	var odd []familyShape
	for fs := range s.shapes {
		if unusual(fs.family, fs.shape) {
			odd = append(odd, fs)
		}
	}
	slices.SortFunc(odd, func(a, b familyShape) int {
		return cmp.Or(cmp.Compare(a.family, b.family), cmp.Compare(a.shape, b.shape))
	})
	// The tokens listed: every suspicious one, and the candidates of the
	// claim sets that turned out unusual, merged by fingerprint.
	byPrint := map[string]*SuspiciousToken{}
	list := func(ts *tokenStat, extra ...rotation.Reason) {
		t := byPrint[ts.TokenFingerprint]
		if t == nil {
			tt := ts.SuspiciousToken
			tt.Reasons = nil
			t = &tt
			byPrint[ts.TokenFingerprint] = t
		} else {
			t.Requests += ts.Requests
			t.FirstSeen, t.LastSeen = earliest(t.FirstSeen, ts.FirstSeen), latest(t.LastSeen, ts.LastSeen)
		}
		for _, reason := range slices.Concat(ts.reasons, extra) {
			if !slices.Contains(t.Reasons, reason) {
				t.Reasons = append(t.Reasons, reason)
			}
		}
	}
	for _, ts := range s.tokens.order {
		if unusual(ts.Family, ts.Claims) {
			list(ts, rotation.UnusualClaims)
		} else {
			list(ts)
		}
	}
	r.SuspiciousTokensOmitted = s.tokens.Omitted
	for _, fs := range odd {
		st := s.shapes[fs]
		r.Suspicions = append(r.Suspicions, Suspicion{Reason: rotation.UnusualClaims, Detail: norms[fs.family].describe(fs.family, fs.shape),
			Requests: st.N, First: finish(st.First), Earliest: finish(st.Earliest)})
		r.Suspicious += st.N
		consider(st)
		clients, agents = append(clients, st.Sources.clients), append(agents, st.Sources.agents)
		if l := s.candidates[fs]; l != nil {
			for _, ts := range l.order {
				list(ts, rotation.UnusualClaims)
			}
			r.SuspiciousTokensOmitted += l.Omitted
		}
	}
	if began != nil {
		c := &Compromise{Evidence: finish(began.Earliest), First: finish(first.First), Began: began.Evidence, Basis: "seen"}
		if ia := c.Evidence.IssuedAt; !ia.IsZero() && ia.Equal(c.Began) {
			c.Basis = "iat"
		}
		r.Compromise = c
	}

	r.SuspiciousTokens = make([]SuspiciousToken, 0, len(byPrint))
	for _, t := range byPrint {
		// In the order of rotation.Reasons, unusual_claims last.
		slices.SortFunc(t.Reasons, func(a, b rotation.Reason) int { return cmp.Compare(reasonRank(a), reasonRank(b)) })
		r.SuspiciousTokens = append(r.SuspiciousTokens, *t)
	}
	slices.SortFunc(r.SuspiciousTokens, func(a, b SuspiciousToken) int {
		return cmp.Or(compareTimes(a.FirstSeen, b.FirstSeen), cmp.Compare(a.TokenFingerprint, b.TokenFingerprint))
	})
	r.SuspiciousClients, r.SuspiciousUserAgents = top(s.top, clientAddress, clients...), top(s.top, clientAgent, agents...)

	r.Timeline = make([]Hour, 0, len(s.hours))
	for _, h := range s.hours {
		hr := h.Hour
		hr.Suspicious += h.Clean.unusual(norms)
		r.Timeline = append(r.Timeline, hr)
	}
	sortHours(r.Timeline)

	r.Subjects = make([]Subject, 0, len(s.subjects))
	for _, ss := range s.subjects {
		sub := ss.Subject
		sub.Suspicious += ss.Clean.unusual(norms)
		r.Subjects = append(r.Subjects, sub)
	}
	slices.SortFunc(r.Subjects, func(a, b Subject) int {
		return cmp.Or(cmp.Compare(b.Suspicious, a.Suspicious), cmp.Compare(b.Requests, a.Requests),
			cmp.Compare(a.Family, b.Family), cmp.Compare(a.Subject, b.Subject))
	})
	return r
}

// reasonRank orders reasons as rotation.Reasons does, unusual_claims last.
func reasonRank(reason rotation.Reason) int {
	if i := slices.Index(rotation.Reasons, reason); i >= 0 {
		return i
	}
	return len(rotation.Reasons)
}

// compareTimes orders times with unknown (zero) last.
func compareTimes(a, b time.Time) int {
	switch {
	case a.Equal(b):
		return 0
	case before(a, b):
		return -1
	}
	return 1
}
