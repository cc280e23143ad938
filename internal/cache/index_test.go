package cache

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// TestIndexConsistent drives small caches through many insertions and
// evictions and checks after each that every cached token is reachable from
// its hash and the index holds exactly the cached entries: the backward
// shift of deletion must never strand an entry behind a hole.
func TestIndexConsistent(t *testing.T) {
	v := verify.New(keys.Set{}, verify.Options{})
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 3, 7, 64} {
		c := New(size)
		for step := range 5000 {
			tok := "tok-" + strconv.Itoa(r.IntN(3*size))
			c.Check(v, tok, time.Time{})
			indexed := 0
			for _, k := range c.index {
				if k != 0 {
					indexed++
				}
			}
			if indexed != len(c.slots) {
				t.Fatalf("size %d, step %d: %d indexed, %d cached", size, step, indexed, len(c.slots))
			}
			for slot, e := range c.slots {
				i := e.hash & c.mask
				for c.index[i] != int32(slot+1) {
					if c.index[i] == 0 {
						t.Fatalf("size %d, step %d: slot %d not reachable from its hash", size, step, slot)
					}
					i = (i + 1) & c.mask
				}
			}
		}
	}
}
