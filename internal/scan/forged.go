package scan

import (
	"cmp"
	"slices"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// forgedStats accumulates Forged: tokens with a bad signature or a refused
// algorithm.
type forgedStats struct {
	f       Forged // the running totals; its lists are made by report
	hours   map[int64]*ForgedHour
	sources *sources
}

// observe counts one forged token seen at seen (zero when unknown).
func (f *forgedStats) observe(r verify.Result, seen time.Time, d parse.Details) {
	f.f.Requests++
	if r == verify.AlgRejected {
		f.f.AlgRejected++
	} else {
		f.f.BadSignature++
	}
	f.f.FirstSeen, f.f.LastSeen = earliest(f.f.FirstSeen, seen), latest(f.f.LastSeen, seen)
	if !seen.IsZero() {
		fh := f.hour(hourOf(seen))
		fh.Requests++
		if r == verify.AlgRejected {
			fh.AlgRejected++
		} else {
			fh.BadSignature++
		}
	}
	if d.Client == "" {
		f.f.WithoutClient++
	}
	if d.UserAgent == "" {
		f.f.WithoutUserAgent++
	}
	f.sources.add(d, seen)
}

func (f *forgedStats) hour(h int64) *ForgedHour {
	fh := f.hours[h]
	if fh == nil {
		fh = &ForgedHour{Hour: time.Unix(h, 0).UTC()}
		f.hours[h] = fh
	}
	return fh
}

func (f *forgedStats) report(n int) Forged {
	out := f.f
	out.Timeline = f.timeline()
	out.Clients, out.UserAgents = top(n, clientAddress, f.sources.clients), top(n, clientAgent, f.sources.agents)
	return out
}

func (f *forgedStats) timeline() []ForgedHour {
	t := make([]ForgedHour, 0, len(f.hours))
	for _, h := range f.hours {
		t = append(t, *h)
	}
	slices.SortFunc(t, func(a, b ForgedHour) int { return a.Hour.Compare(b.Hour) })
	return t
}

// sortHours orders a timeline.
func sortHours(hs []Hour) {
	slices.SortFunc(hs, func(a, b Hour) int { return cmp.Compare(a.Hour.Unix(), b.Hour.Unix()) })
}
