// Package cache remembers, per token, the part of a verdict that does not
// depend on time, so a token seen again (a session token is seen on every
// request) skips base64, JSON and HMAC. Expiry, not-before and issuer are
// judged afresh against each line's time by verify.Verifier.Judge, the same
// rules Check applies.
package cache

import (
	"hash/maphash"
	"math/bits"
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

// MaxSize bounds the number of entries: at most about 2×MaxTokenLen bytes
// each, 256 MiB in the worst case, a few tens of MiB with real tokens.
const MaxSize = 1 << 16

// Cache is a bounded CLOCK (second-chance) cache of verdicts for the tokens
// of one verify.Verifier. It is not safe for concurrent use: one pipeline
// goroutine owns it.
//
// A lookup hashes the token once (maphash, seeded per cache so that no
// client can choose tokens that collide) and uses that hash for the index,
// for the comparison of entries and, on a miss, for the insertion: the
// bytes of a token are hashed once and compared once per line. The index
// is an open-addressing table at most half full, with linear probing and
// deletion by backward shift, so it needs no tombstones.
type Cache struct {
	size    int
	owner   *verify.Verifier
	seed    maphash.Seed
	index   []int32 // slot+1 of the entry whose hash probes here; 0 empty
	mask    uint64
	slots   []entry
	hand    int
	evicted uint64
}

// entry is one cached token. verdict keeps which key verified it, whether
// the claims parsed and the claims; its Result is judged again on every hit.
type entry struct {
	hash    uint64
	token   string
	verdict verify.Verdict
	used    bool
}

// New returns a cache of at most size entries (at most MaxSize); size <= 0
// caches nothing. Memory is taken as tokens arrive, not for size up front.
func New(size int) *Cache {
	c := &Cache{size: min(max(size, 0), MaxSize), seed: maphash.MakeSeed()}
	if c.size > 0 {
		c.grow(min(c.size, 64))
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
	h := maphash.String(c.seed, token)
	for i := h & c.mask; ; i = (i + 1) & c.mask {
		k := c.index[i]
		if k == 0 {
			break
		}
		if e := &c.slots[k-1]; e.hash == h && e.token == token {
			e.used = true
			return v.Judge(e.verdict, at), true
		}
	}
	vd := v.Check(token, at)
	c.add(h, strings.Clone(token), vd) // the caller's string may share a whole log line's memory
	return vd, false
}

// add stores a new token whose hash is h, evicting the first entry not used
// since the clock hand last passed it when the cache is full.
func (c *Cache) add(h uint64, token string, vd verify.Verdict) {
	slot := len(c.slots)
	if slot < c.size {
		c.slots = append(c.slots, entry{})
	} else {
		for c.slots[c.hand].used {
			c.slots[c.hand].used = false
			c.hand = (c.hand + 1) % c.size
		}
		slot = c.hand
		c.unindex(slot)
		c.hand = (c.hand + 1) % c.size
		c.evicted++
	}
	c.slots[slot] = entry{hash: h, token: token, verdict: vd}
	if 2*len(c.slots) > len(c.index) {
		c.grow(len(c.slots))
		return // grow indexed the new entry too
	}
	c.place(slot)
}

// grow makes the index a power of two at least twice n (and not above
// what c.size needs) and indexes every entry again: the index grows with
// the entries rather than being allocated for c.size up front.
func (c *Cache) grow(n int) {
	size := 1 << bits.Len(uint(2*min(n, c.size)-1))
	c.index = make([]int32, size)
	c.mask = uint64(size - 1)
	for slot := range c.slots {
		c.place(slot)
	}
}

// place indexes the entry in slot at the first free place from its home.
func (c *Cache) place(slot int) {
	i := c.slots[slot].hash & c.mask
	for c.index[i] != 0 {
		i = (i + 1) & c.mask
	}
	c.index[i] = int32(slot + 1)
}

// unindex removes slot from the index, shifting back the entries after it
// in its probe run so that every entry stays reachable from its home.
func (c *Cache) unindex(slot int) {
	i := c.slots[slot].hash & c.mask
	for c.index[i] != int32(slot+1) {
		i = (i + 1) & c.mask
	}
	for j := (i + 1) & c.mask; c.index[j] != 0; j = (j + 1) & c.mask {
		home := c.slots[c.index[j]-1].hash & c.mask
		// The entry at j may fill the hole at i unless its home lies
		// cyclically in (i, j].
		if (j-home)&c.mask >= (j-i)&c.mask {
			c.index[i] = c.index[j]
			i = j
		}
	}
	c.index[i] = 0
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
