package scan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// selection accumulates the KeyReport of the keys --key selects.
type selection struct {
	r        KeyReport // running totals
	top      int
	hours    map[int64]*hourStat
	subjects map[subjectKey]*subjectStat
	reasons  map[rotation.Reason]*suspicionStat
	// shapes holds, per claim set, the tokens without a rotation reason:
	// whether a claim set is unusual is known only at the end of the pass.
	shapes  map[familyShape]*suspicionStat
	tokens  map[string]*tokenStat
	sources *sources // of suspicious requests
}

type hourStat struct {
	Hour
	clean shapeCounts
}

type subjectKey struct {
	family  keys.Family
	subject string
}

type subjectStat struct {
	Subject
	clean shapeCounts
}

type familyShape struct {
	family keys.Family
	shape  uint8
}

// suspicionStat is one row of Suspicions in the making.
type suspicionStat struct {
	n               int64
	first, earliest sighting
	evidence        time.Time // of earliest
	has             bool
	// sources of a claim set's requests while it looked unusual (nil until
	// then).
	sources *sources
}

// sighting is a Sighting with its claim set.
type sighting struct {
	Sighting
	shape uint8
}

type tokenStat struct {
	SuspiciousToken
	reasons []rotation.Reason
	shape   uint8
}

// observation is one selected request.
type observation struct {
	v        verify.Verdict
	reasons  []rotation.Reason
	seen     time.Time // zero when the line has no time
	shape    uint8
	hasShape bool
	// unusual says the claim set deviates from the family's tokens so far;
	// only the end of the pass tells for sure.
	unusual bool
	token   string
	in      string
	line    int64
	raw     []byte
	parser  *parse.Parser
}

func newSelection(sel string, refs []KeyRef, top int) *selection {
	return &selection{
		r:        KeyReport{Selector: sel, Keys: refs},
		top:      top,
		hours:    map[int64]*hourStat{},
		subjects: map[subjectKey]*subjectStat{},
		reasons:  map[rotation.Reason]*suspicionStat{},
		shapes:   map[familyShape]*suspicionStat{},
		tokens:   map[string]*tokenStat{},
		sources:  newSources(),
	}
}

// selects reports whether a selected key signed the token.
func (s *selection) selects(v verify.Verdict) bool {
	if v.Key == keys.None {
		return false
	}
	for _, k := range s.r.Keys {
		if k.Token == v.Token && k.Fingerprint == v.Fingerprint {
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
			hs.clean.add(v.Token, o.shape)
		}
	}

	sk := subjectKey{v.Token, v.Claims.Subject}
	ss := s.subjects[sk]
	if ss == nil {
		ss = &subjectStat{Subject: Subject{Token: v.Token, Subject: v.Claims.Subject}}
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
		ss.clean.add(v.Token, o.shape)
	}

	if !suspicious {
		if o.hasShape {
			st := s.shapes[familyShape{v.Token, o.shape}]
			if st == nil {
				st = &suspicionStat{}
				s.shapes[familyShape{v.Token, o.shape}] = st
			}
			st.n++
			var d *parse.Details
			if o.unusual {
				// Rare by definition: worth the details, in case the end
				// of the pass confirms the claim set as unusual.
				dd := o.parser.Details(o.raw)
				d = &dd
				if st.sources == nil {
					st.sources = newSources()
				}
				st.sources.add(dd, o.seen)
				s.token(o)
			}
			st.update(o, d)
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
		st.n++
		st.update(o, &d)
	}
	s.token(o)
}

// token records a suspicious token, or a candidate: one whose claims look
// unusual so far, listed if the end of the pass confirms it.
func (s *selection) token(o observation) {
	fp := TokenFingerprint(o.token)
	ts := s.tokens[fp]
	if ts == nil {
		if len(s.tokens) >= MaxSuspiciousTokens {
			s.r.SuspiciousTokensOmitted++
			return
		}
		c := o.v.Claims
		ts = &tokenStat{SuspiciousToken: SuspiciousToken{
			TokenFingerprint: fp, Token: o.v.Token, KeyFingerprint: o.v.Fingerprint,
			Subject: c.Subject, JTI: tokenID(o.token), ClientID: c.ClientID,
			IssuedAt: utc(c.IssuedAt), ExpiresAt: utc(c.ExpiresAt),
		}, shape: o.shape}
		s.tokens[fp] = ts
	}
	ts.Requests++
	ts.FirstSeen, ts.LastSeen = earliest(ts.FirstSeen, o.seen), latest(ts.LastSeen, o.seen)
	for _, r := range o.reasons {
		if !slices.Contains(ts.reasons, r) {
			ts.reasons = append(ts.reasons, r)
		}
	}
}

// update keeps the first and the earliest-evidence sighting; d, when the
// caller has them, are the line's details.
func (st *suspicionStat) update(o observation, d *parse.Details) {
	ev := evidenceTime(o.v.Claims, o.seen)
	first := !st.has || before(o.seen, st.first.Seen)
	early := !st.has || before(ev, st.evidence)
	if !first && !early {
		return
	}
	if d == nil {
		dd := o.parser.Details(o.raw)
		d = &dd
	}
	sg := newSighting(o, *d)
	if first {
		st.first = sg
	}
	if early {
		st.earliest, st.evidence = sg, ev
	}
	st.has = true
}

func newSighting(o observation, d parse.Details) sighting {
	v, c := o.v, o.v.Claims
	sg := sighting{Sighting: Sighting{
		Seen: o.seen, Input: o.in, Line: o.line,
		TokenFingerprint: TokenFingerprint(o.token),
		Token:            v.Token, Key: v.Key, KeyFingerprint: v.Fingerprint, Result: v.Result,
		Subject: c.Subject, JTI: tokenID(o.token), ClientID: c.ClientID,
		IssuedAt: utc(c.IssuedAt), ExpiresAt: utc(c.ExpiresAt),
		Claims:  claimNames(o.shape),
		Reasons: []string{},
		Client:  d.Client, UserAgent: d.UserAgent,
	}, shape: o.shape}
	for _, r := range o.reasons {
		sg.Reasons = append(sg.Reasons, string(r))
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
	unusual := func(f keys.Family, shape uint8) bool { return norms[f].deviation(shape) != 0 }
	finish := func(sg sighting) Sighting {
		out := sg.Sighting
		if unusual(out.Token, sg.shape) {
			out.Reasons = append(slices.Clone(out.Reasons), UnusualClaims)
		}
		return out
	}

	// Suspicions, and the compromise from the earliest and the first of them.
	r.Suspicions = []Suspicion{}
	var began, first *suspicionStat
	consider := func(st *suspicionStat) {
		if began == nil || before(st.evidence, began.evidence) {
			began = st
		}
		if first == nil || before(st.first.Seen, first.first.Seen) {
			first = st
		}
	}
	for _, reason := range rotation.Reasons {
		if st := s.reasons[reason]; st != nil {
			r.Suspicions = append(r.Suspicions, Suspicion{Reason: string(reason), Requests: st.n, First: finish(st.first), Earliest: finish(st.earliest)})
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
	for _, fs := range odd {
		st := s.shapes[fs]
		r.Suspicions = append(r.Suspicions, Suspicion{Reason: UnusualClaims, Detail: norms[fs.family].describe(fs.family, fs.shape),
			Requests: st.n, First: finish(st.first), Earliest: finish(st.earliest)})
		r.Suspicious += st.n
		consider(st)
		if st.sources != nil {
			clients, agents = append(clients, st.sources.clients), append(agents, st.sources.agents)
		}
	}
	if began != nil {
		c := &Compromise{Evidence: finish(began.earliest), First: finish(first.first), Began: began.evidence, Basis: "seen"}
		if ia := c.Evidence.IssuedAt; !ia.IsZero() && ia.Equal(c.Began) {
			c.Basis = "iat"
		}
		r.Compromise = c
	}

	r.SuspiciousTokens = make([]SuspiciousToken, 0, len(s.tokens))
	for _, ts := range s.tokens {
		t := ts.SuspiciousToken
		t.Reasons = []string{}
		for _, reason := range rotation.Reasons {
			if slices.Contains(ts.reasons, reason) {
				t.Reasons = append(t.Reasons, string(reason))
			}
		}
		if unusual(t.Token, ts.shape) {
			t.Reasons = append(t.Reasons, UnusualClaims)
		}
		if len(t.Reasons) == 0 {
			continue // a candidate the end of the pass did not confirm
		}
		r.SuspiciousTokens = append(r.SuspiciousTokens, t)
	}
	slices.SortFunc(r.SuspiciousTokens, func(a, b SuspiciousToken) int {
		return cmp.Or(compareTimes(a.FirstSeen, b.FirstSeen), cmp.Compare(a.TokenFingerprint, b.TokenFingerprint))
	})
	r.SuspiciousClients, r.SuspiciousUserAgents = top(s.top, clientAddress, clients...), top(s.top, clientAgent, agents...)

	r.Timeline = make([]Hour, 0, len(s.hours))
	for _, h := range s.hours {
		hr := h.Hour
		for _, c := range h.clean {
			if unusual(c.family, c.shape) {
				hr.Suspicious += c.n
			}
		}
		r.Timeline = append(r.Timeline, hr)
	}
	sortHours(r.Timeline)

	r.Subjects = make([]Subject, 0, len(s.subjects))
	for _, ss := range s.subjects {
		sub := ss.Subject
		for _, c := range ss.clean {
			if unusual(c.family, c.shape) {
				sub.Suspicious += c.n
			}
		}
		r.Subjects = append(r.Subjects, sub)
	}
	slices.SortFunc(r.Subjects, func(a, b Subject) int {
		return cmp.Or(cmp.Compare(b.Suspicious, a.Suspicious), cmp.Compare(b.Requests, a.Requests),
			cmp.Compare(a.Token, b.Token), cmp.Compare(a.Subject, b.Subject))
	})
	return r
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

// Claims tracked for the claim-set check, as bits of a shape.
const (
	claimSub = 1 << iota
	claimIss
	claimIat
	claimExp
	claimNbf
	claimClient
	numClaims = iota
)

func claimName(i int) string {
	return [numClaims]string{"sub", "iss", "iat", "exp", "nbf", "client_id"}[i]
}

// claimSet returns the claim set of a token whose claims could be read.
func claimSet(v verify.Verdict) (uint8, bool) {
	if v.Key == keys.None || v.Result == verify.Malformed {
		return 0, false
	}
	c := v.Claims
	var s uint8
	for bit, present := range [numClaims]bool{c.Subject != "", c.Issuer != "", !c.IssuedAt.IsZero(), !c.ExpiresAt.IsZero(), !c.NotBefore.IsZero(), c.ClientID != ""} {
		if present {
			s |= 1 << bit
		}
	}
	return s, true
}

func claimNames(shape uint8) []string {
	names := []string{}
	for i := range numClaims {
		if shape&(1<<i) != 0 {
			names = append(names, claimName(i))
		}
	}
	return names
}

// shapeCounts counts claim sets; there are few distinct ones, so a slice.
type shapeCounts []shapeCount

type shapeCount struct {
	family keys.Family
	shape  uint8
	n      int64
}

func (sc *shapeCounts) add(f keys.Family, shape uint8) {
	for i := range *sc {
		if (*sc)[i].shape == shape && (*sc)[i].family == f {
			(*sc)[i].n++
			return
		}
	}
	*sc = append(*sc, shapeCount{f, shape, 1})
}

// A claim is usual when at least usualPercent of a family's verifying
// tokens (and at least minNormSample of them) carry it; a token that lacks
// a usual one of the judged claims is unusual_claims. Only sub, iss, iat
// and exp are judged: an auth service sets them on every token it mints,
// while nbf and client ids legitimately vary between kinds of clients.
const (
	usualPercent  = 95
	minNormSample = 20
	judgedClaims  = claimSub | claimIss | claimIat | claimExp
)

// claimNorm is how often each claim occurs among a family's verifying tokens.
type claimNorm struct {
	total int64
	have  [numClaims]int64
}

func (n *claimNorm) add(shape uint8) {
	n.total++
	for i := range numClaims {
		if shape&(1<<i) != 0 {
			n.have[i]++
		}
	}
}

// deviation returns the usual judged claims that shape lacks.
func (n claimNorm) deviation(shape uint8) uint8 {
	if n.total < minNormSample {
		return 0
	}
	var d uint8
	for i := range numClaims {
		bit := uint8(1 << i)
		if judgedClaims&bit != 0 && shape&bit == 0 && n.have[i]*100 >= n.total*usualPercent {
			d |= bit
		}
	}
	return d
}

// describe explains a deviation, e.g. "no exp (99% of access tokens have one)".
func (n claimNorm) describe(f keys.Family, shape uint8) string {
	d := n.deviation(shape)
	var parts []string
	for i := range numClaims {
		if d&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("no %s (%d%% of %s tokens have one)", claimName(i), n.have[i]*100/n.total, f))
		}
	}
	return strings.Join(parts, ", ")
}
