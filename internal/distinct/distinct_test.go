package distinct

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

// fill adds the values from..to-1, as strings.
func fill(s *Set, from, to int) {
	for i := from; i < to; i++ {
		s.Add("user-" + strconv.Itoa(i))
	}
}

func TestExactUpToBound(t *testing.T) {
	var s Set
	fill(&s, 0, Bound)
	fill(&s, 0, Bound) // again: still distinct once
	if !s.Exact() || s.Count() != Bound || s.Error() != 0 {
		t.Fatalf("exact %v, count %d, error %v; want exact %d", s.Exact(), s.Count(), s.Error(), Bound)
	}
	s.Add("one more")
	if s.Exact() || s.Error() != StdError {
		t.Fatalf("past the bound: exact %v, error %v", s.Exact(), s.Error())
	}
	if got := float64(s.Count()); math.Abs(got-(Bound+1))/(Bound+1) > 4*StdError {
		t.Fatalf("estimate %v for %d", got, Bound+1)
	}
}

// TestMergeIsOnePass checks that merging shards, through their JSON form,
// gives exactly the count of one set over everything, below and above the
// bound, in any order.
func TestMergeIsOnePass(t *testing.T) {
	for _, total := range []int{0, 10, Bound, Bound + 1, 5 * Bound} {
		var whole Set
		fill(&whole, 0, total)
		// Four overlapping shards.
		var shards [4]Set
		for i := range shards {
			fill(&shards[i], i*total/4, min(total, (i+1)*total/4+10))
		}
		for _, order := range [][]int{{0, 1, 2, 3}, {3, 1, 0, 2}} {
			var merged Set
			for _, i := range order {
				b, err := json.Marshal(&shards[i])
				if err != nil {
					t.Fatal(err)
				}
				var back Set
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				if err := merged.Merge(&back); err != nil {
					t.Fatal(err)
				}
			}
			if merged.Count() != whole.Count() || merged.Exact() != whole.Exact() {
				t.Fatalf("%d values, order %v: merged %d (exact %v), one pass %d (exact %v)",
					total, order, merged.Count(), merged.Exact(), whole.Count(), whole.Exact())
			}
		}
	}
}

func TestBadState(t *testing.T) {
	for _, in := range []string{`{"sketch":"not base64!"}`, `{"sketch":"AAAA"}`, `[1]`} {
		var s Set
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
