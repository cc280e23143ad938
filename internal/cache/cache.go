// Package cache remembers, per token, the part of a verdict that does not
// depend on time, so a token seen again (a session token is seen on every
// request) skips base64, JSON and HMAC. Expiry, not-before and issuer are
// judged afresh against each line's time by verify.Verifier.Judge, the same
// rules Check applies.
package cache

import (
	"strings"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// MaxTokenLen is the longest token cached. Real tokens are a few hundred
// bytes; the bound keeps a flood of huge hostile tokens from filling the
// cache with up to verify.MaxTokenLen bytes each, so an entry holds at most
// about 2×MaxTokenLen bytes (the token and the strings of its claims).
const MaxTokenLen = 2 << 10

// DefaultSize is the number of entries a sidecar keeps unless configured:
// a few thousand concurrently active sessions, at most about 16 MiB even when
// every entry is a MaxTokenLen-byte token.
const DefaultSize = 4096

// Cache is a bounded CLOCK (second-chance) cache of verdicts for the tokens
// of one verify.Verifier. It is not safe for concurrent use: the sidecar's
// single pipeline goroutine owns it.
type Cache struct {
	size    int
	owner   *verify.Verifier
	index   map[string]int // token → slot
	slots   []entry
	hand    int
	evicted uint64
}

// entry is one cached token. verdict keeps which key verified it, whether
// the claims parsed and the claims; its Result is judged again on every hit.
type entry struct {
	token   string
	verdict verify.Verdict
	used    bool
}

// New returns a cache of at most size entries; size <= 0 caches nothing.
func New(size int) *Cache {
	c := &Cache{size: max(size, 0)}
	if c.size > 0 {
		c.index = make(map[string]int, c.size)
		c.slots = make([]entry, 0, c.size)
	}
	return c
}

// Check returns v.Check(token, at), from the cache when the token was seen
// before with the same Verifier, and whether it was a hit. A different
// Verifier (keys were reloaded) empties the cache first: the verdicts of the
// old keys no longer hold.
func (c *Cache) Check(v *verify.Verifier, token string, at time.Time) (verify.Verdict, bool) {
	if v != c.owner {
		c.reset()
		c.owner = v
	}
	if c.size == 0 || len(token) > MaxTokenLen {
		return v.Check(token, at), false
	}
	if i, ok := c.index[token]; ok {
		e := &c.slots[i]
		e.used = true
		return v.Judge(e.verdict, at), true
	}
	vd := v.Check(token, at)
	c.add(strings.Clone(token), vd) // the caller's string may share a whole log line's memory
	return vd, false
}

// add stores a new token, evicting the first entry not used since the clock
// hand last passed it when the cache is full.
func (c *Cache) add(token string, vd verify.Verdict) {
	if len(c.slots) < c.size {
		c.index[token] = len(c.slots)
		c.slots = append(c.slots, entry{token: token, verdict: vd})
		return
	}
	for c.slots[c.hand].used {
		c.slots[c.hand].used = false
		c.hand = (c.hand + 1) % c.size
	}
	e := &c.slots[c.hand]
	delete(c.index, e.token)
	*e = entry{token: token, verdict: vd}
	c.index[token] = c.hand
	c.hand = (c.hand + 1) % c.size
	c.evicted++
}

// reset forgets every entry.
func (c *Cache) reset() {
	clear(c.index)
	clear(c.slots) // drop the strings for the collector
	c.slots = c.slots[:0]
	c.hand = 0
}

// Len returns the number of cached tokens; it never exceeds the size.
func (c *Cache) Len() int { return len(c.slots) }

// Evictions returns how many entries were replaced to make room.
func (c *Cache) Evictions() uint64 { return c.evicted }
