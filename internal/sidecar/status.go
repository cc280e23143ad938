package sidecar

import (
	"slices"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/metrics"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/status"
	"github.com/jwtwatch/jwtwatch/internal/timeline"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// Spans of the status page's timelines, and how many stragglers it lists.
const (
	previousSpan   = 24 * 60 // minutes: the sparkline
	recentSpan     = 60      // minutes: "in the last hour"
	pageStragglers = 10
)

// activity is what the status page shows of one token family's recent
// traffic, per minute of line time. The pipeline adds under its lock; the
// page reads without it.
type activity struct {
	previousValid, suspicious, mismatches *timeline.Timeline
}

func newActivity() map[keys.Family]*activity {
	a := map[keys.Family]*activity{}
	for _, f := range []keys.Family{keys.Access, keys.Refresh} {
		a[f] = &activity{previousValid: timeline.New(previousSpan), suspicious: timeline.New(recentSpan), mismatches: timeline.New(recentSpan)}
	}
	return a
}

// record counts one checked token at line time at; it does not allocate.
func (a *activity) record(v verify.Verdict, status int, removed, suspicious bool, at time.Time) {
	if v.Key == keys.Previous && v.Result == verify.Valid {
		a.previousValid.Add(at)
	}
	if suspicious {
		a.suspicious.Add(at)
	}
	if _, ok := metrics.Mismatch(status, v.Result, removed); ok {
		a.mismatches.Add(at)
	}
}

// statusPage gathers the status page at the injected now.
func (s *sidecar) statusPage() status.Page {
	now := s.opts.Now()
	st := s.state()
	top := s.stragglers.Top()
	p := status.Page{Now: now, Build: s.opts.Build, MetricsPath: s.opts.TelemetryPath}
	for _, src := range st.Sources {
		p.Sources = append(p.Sources, status.Source{Path: src.Path, LastLine: src.LastLine})
	}
	for _, f := range st.Rotation.Families {
		fam := status.Family{Name: string(f.Family), Started: f.Started, RetiredSubjects: f.RetiredSubjects}
		for _, c := range slices.Backward(st.Rotation.History) {
			if c.Family == f.Family {
				fam.Changes = append(fam.Changes, status.Change{Kind: c.Kind, From: c.From, To: c.To, At: c.At})
			}
		}
		for _, k := range st.Rotation.Keys {
			if k.Key.Family != f.Family {
				continue
			}
			fam.Keys = append(fam.Keys, status.Key{Role: string(k.Key.Role), Fingerprint: k.Key.Fingerprint, Alg: k.Key.Alg, Weak: k.Key.Weak, LastValid: k.LastValid,
				Remembered: k.Key.Remembered})
		}
		if f.Previous != nil {
			fam.Previous = s.removal(f, *f.Previous)
		}
		if a := s.activity[f.Family]; a != nil {
			fam.Suspicious = a.suspicious.Sum(now, time.Hour)
			fam.Mismatches = a.mismatches.Sum(now, time.Hour)
			fam.PreviousPerMinute = a.previousValid.Counts(now)
		}
		for _, e := range top.Clients {
			// The page's table is about removing the previous key.
			if e.Family == string(f.Family) && e.Key == string(keys.Previous) && len(fam.Stragglers) < pageStragglers {
				fam.Stragglers = append(fam.Stragglers, e)
			}
		}
		p.Families = append(p.Families, fam)
	}
	return p
}

// removal is the removal decision for a family's previous key, with when
// each blocking reason clears.
func (s *sidecar) removal(f rotation.FamilyReport, prev rotation.KeyReport) *status.Previous {
	pol := s.opts.Policy
	pv := &status.Previous{Removable: f.Removable, LastValid: prev.LastValid, MaxExpiry: prev.MaxExpiry, Subjects: prev.Subjects,
		Lifetime: f.Lifetime, PolicyLifetime: pol.MaxLifetime, AllExpired: f.AllExpired}
	if f.AllExpired.Equal(rotation.Never) {
		pv.AllExpired, pv.NeverExpire = time.Time{}, true
	}
	if f.Removable {
		pv.Since = pol.RemovableSince(f, prev)
	}
	for _, r := range f.Blocking {
		b := status.Blocker{Reason: r, Clears: pol.Clears(r, f, prev)}
		if b.Clears.Equal(rotation.Never) {
			b.Clears, b.Never = time.Time{}, true
		}
		pv.Blockers = append(pv.Blockers, b)
	}
	return pv
}
