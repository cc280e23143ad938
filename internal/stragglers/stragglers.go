// Package stragglers keeps, in bounded memory, the clients that still
// present valid previous-key tokens (and any token of a retired key): a
// Space-Saving heavy-hitters sketch (Metwally et al., 2005) over (subject,
// client id, user agent, address), so that before "Remove old key" an SRE
// can see who would be logged out, and after an emergency rotation who still
// presents the leaked key's tokens.
package stragglers

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxSize bounds the sketch's capacity: each client holds up to four
// 256-byte strings, so the largest sketch stays near 12 MiB.
const MaxSize = 10_000

// maxField bounds every stored string: user agents are attacker-controlled
// and a sketch of bounded size must not hold unbounded strings.
const maxField = 256

// Client identifies one straggler.
type Client struct {
	Subject   string `json:"subject"`
	ClientID  string `json:"client_id,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Address   string `json:"address,omitempty"`
}

// Entry is one straggler with its counts. Count may overestimate by at most
// Error (the Space-Saving guarantee); Count-Error is a lower bound.
type Entry struct {
	Client
	Family string `json:"token"`
	// Key is the role of the key that signed the client's tokens: previous
	// or retired.
	Key      string    `json:"key,omitempty"`
	Count    uint64    `json:"count"`
	Error    uint64    `json:"error"`
	LastSeen time.Time `json:"last_seen"`
}

// Sketch is a Space-Saving top-k; safe for concurrent use.
type Sketch struct {
	mu    sync.Mutex
	k     int
	items map[key]*item
	h     minHeap
	total uint64
}

type key struct {
	family, role string
	Client
}

type item struct {
	key
	count, err uint64
	last       time.Time
	index      int
}

// New returns a sketch that keeps the k heaviest clients, k between 1 and
// MaxSize. Memory is taken as clients arrive, not for k up front.
func New(k int) *Sketch {
	return &Sketch{k: min(max(k, 1), MaxSize), items: map[key]*item{}}
}

// Observe counts one request by client, with a token of the given family
// signed by a key of the given role, at time at.
func (s *Sketch) Observe(family, role string, c Client, at time.Time) {
	k := key{family: family, role: role, Client: Client{Subject: cut(c.Subject), ClientID: cut(c.ClientID), UserAgent: cut(c.UserAgent), Address: cut(c.Address)}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if it, ok := s.items[k]; ok {
		it.count++
		it.last = later(it.last, at)
		heap.Fix(&s.h, it.index)
		return
	}
	if len(s.h) < s.k {
		it := &item{key: k, count: 1, last: at}
		s.items[k] = it
		heap.Push(&s.h, it)
		return
	}
	// Replace the least counted: it inherits that count as its possible error.
	it := s.h[0]
	delete(s.items, it.key)
	it.key, it.err, it.count, it.last = k, it.count, it.count+1, at
	s.items[k] = it
	heap.Fix(&s.h, 0)
}

// Snapshot is what /api/v1/stragglers serves.
type Snapshot struct {
	// Observed counts every request recorded, including those of clients no
	// longer in the sketch.
	Observed uint64  `json:"observed"`
	Capacity int     `json:"capacity"`
	Clients  []Entry `json:"clients"`
}

// Top returns the clients, surest heaviest first: by the guaranteed count
// (Count-Error), then by Count, then most recent first, then by client.
func (s *Sketch) Top() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Observed: s.total, Capacity: s.k, Clients: make([]Entry, 0, len(s.h))}
	for _, it := range s.h {
		snap.Clients = append(snap.Clients, Entry{Client: it.Client, Family: it.family, Key: it.role, Count: it.count, Error: it.err, LastSeen: it.last})
	}
	slices.SortFunc(snap.Clients, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(b.Count-b.Error, a.Count-a.Error), cmp.Compare(b.Count, a.Count), b.LastSeen.Compare(a.LastSeen),
			compareKeys(key{a.Family, a.Key, a.Client}, key{b.Family, b.Key, b.Client}))
	})
	return snap
}

// Merge adds the counts of another sketch, given by its snapshot, as the
// mergeable Space-Saving summaries of Agarwal et al. (2012) do: counts and
// errors add; a client one side does not hold, when that side is full,
// may have been counted there up to that side's least count, which is
// added to its count and its error. The heaviest k are kept. When neither
// side was full and together they hold at most k clients, the result is
// exactly the sketch of both streams.
func (s *Sketch) Merge(o Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	floor := func(full bool, least uint64) uint64 {
		if full {
			return least
		}
		return 0
	}
	mine := floor(len(s.h) >= s.k, s.least())
	theirs := uint64(0)
	if len(o.Clients) >= o.Capacity && o.Capacity > 0 {
		theirs = o.Clients[0].Count
		for _, e := range o.Clients {
			theirs = min(theirs, e.Count)
		}
	}
	seen := map[key]bool{}
	for _, e := range o.Clients {
		k := key{family: e.Family, role: e.Key, Client: e.Client}
		seen[k] = true
		if it, ok := s.items[k]; ok {
			it.count += e.Count
			it.err += e.Error
			it.last = later(it.last, e.LastSeen)
			continue
		}
		it := &item{key: k, count: e.Count + mine, err: e.Error + mine, last: e.LastSeen}
		s.items[k] = it
		s.h = append(s.h, it)
	}
	for k, it := range s.items {
		if !seen[k] {
			it.count += theirs
			it.err += theirs
		}
	}
	s.total += o.Observed
	// Keep the k heaviest: most counted first, then the surest, then by
	// client, so that the choice does not depend on map order.
	slices.SortFunc(s.h, func(a, b *item) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.err, b.err), compareKeys(a.key, b.key))
	})
	for _, it := range s.h[min(len(s.h), s.k):] {
		delete(s.items, it.key)
	}
	s.h = s.h[:min(len(s.h), s.k)]
	for i, it := range s.h {
		it.index = i
	}
	heap.Init(&s.h)
}

// least is the smallest count held; 0 when empty.
func (s *Sketch) least() uint64 {
	if len(s.h) == 0 {
		return 0
	}
	return s.h[0].count
}

func compareKeys(a, b key) int {
	return cmp.Or(strings.Compare(a.family, b.family), strings.Compare(a.role, b.role), strings.Compare(a.Subject, b.Subject), strings.Compare(a.ClientID, b.ClientID),
		strings.Compare(a.UserAgent, b.UserAgent), strings.Compare(a.Address, b.Address))
}

// Restore returns a sketch of capacity snap.Capacity holding what snap
// holds, as Merge would into an empty sketch.
func Restore(snap Snapshot) *Sketch {
	s := New(snap.Capacity)
	s.Merge(snap)
	return s
}

// Reset forgets everything, for a new rotation.
func (s *Sketch) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items, s.h, s.total = map[key]*item{}, nil, 0
}

func cut(s string) string {
	if len(s) <= maxField {
		return s
	}
	s = s[:maxField]
	return strings.ToValidUTF8(s, "")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// minHeap orders items by count, least first.
type minHeap []*item

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h minHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *minHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *minHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
