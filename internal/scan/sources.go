package scan

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/parse"
	"github.com/jwtwatch/jwtwatch/internal/stragglers"
)

// sources counts where requests came from — client addresses and user
// agents — in bounded memory: the Space-Saving sketch of the sidecar's
// stragglers endpoint, one per kind, keyed by that field alone. In JSON
// they are the sketches' snapshots, which merge (stragglers.Sketch.Merge).
type sources struct {
	clients, agents *stragglers.Sketch
}

func newSources() *sources {
	return &sources{clients: stragglers.New(topSize), agents: stragglers.New(topSize)}
}

// add counts one request with the details of its line, seen at seen (zero
// when unknown).
func (s *sources) add(d parse.Details, seen time.Time) {
	if d.Client != "" {
		s.clients.Observe("", "", stragglers.Client{Address: d.Client}, seen)
	}
	if d.UserAgent != "" {
		s.agents.Observe("", "", stragglers.Client{UserAgent: d.UserAgent}, seen)
	}
}

func (s *sources) merge(o *sources) {
	s.clients.Merge(o.clients.Top())
	s.agents.Merge(o.agents.Top())
}

type sourcesState struct {
	Clients    stragglers.Snapshot `json:"clients"`
	UserAgents stragglers.Snapshot `json:"user_agents"`
}

// MarshalJSON implements json.Marshaler.
func (s *sources) MarshalJSON() ([]byte, error) {
	return json.Marshal(sourcesState{s.clients.Top(), s.agents.Top()})
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *sources) UnmarshalJSON(b []byte) error {
	var st sourcesState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	st.Clients.Capacity, st.UserAgents.Capacity = topSize, topSize
	s.clients, s.agents = stragglers.Restore(st.Clients), stragglers.Restore(st.UserAgents)
	return nil
}

func clientAddress(c stragglers.Client) string { return c.Address }
func clientAgent(c stragglers.Client) string   { return c.UserAgent }

// top returns the n values most counted across the sketches, most first,
// ties by value. A value's counts and possible overcounts add up across
// sketches.
func top(n int, value func(stragglers.Client) string, sketches ...*stragglers.Sketch) []Top {
	byValue := map[string]*Top{}
	for _, sk := range sketches {
		for _, e := range sk.Top().Clients {
			v := value(e.Client)
			t := byValue[v]
			if t == nil {
				t = &Top{Value: v}
				byValue[v] = t
			}
			t.Requests += int64(e.Count)
			t.MaxOvercount += int64(e.Error)
			t.LastSeen = latest(t.LastSeen, utc(e.LastSeen))
		}
	}
	out := make([]Top, 0, len(byValue))
	for _, t := range byValue {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Top) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Value, b.Value))
	})
	return out[:min(n, len(out))]
}
