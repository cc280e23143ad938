package cache

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

const (
	accessIss  = "https://auth.example.test"
	refreshIss = "https://auth.example.test/refresh"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func secret(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns header.payload.signature with an HS256 signature by key.
func sign(t testing.TB, key []byte, header string, claims map[string]any) string {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return gatewaylog.Raw(gatewaylog.HS256(key), header, string(body))
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

// secrets are the keys of the two key sets of the corpus test: before the
// reload access/refresh × current/previous/retired, after it a new current
// access key with the old ones moved down.
type secrets struct {
	ac, ap, ar, rc, rp, rr, ac2, an, attacker []byte
}

func (s secrets) before() keys.Set {
	return keys.Set{
		Keys: []keys.Key{
			keys.New(keys.Access, keys.Current, s.ac), keys.New(keys.Refresh, keys.Current, s.rc),
			keys.New(keys.Access, keys.Previous, s.ap), keys.New(keys.Refresh, keys.Previous, s.rp),
			keys.New(keys.Access, keys.Retired, s.ar), keys.New(keys.Refresh, keys.Retired, s.rr),
			keys.New(keys.Access, keys.Next, s.an),
		},
		Issuers: map[keys.Family]string{keys.Access: accessIss, keys.Refresh: refreshIss},
	}
}

func (s secrets) after() keys.Set {
	return keys.Set{
		Keys: []keys.Key{
			keys.New(keys.Access, keys.Current, s.ac2), keys.New(keys.Refresh, keys.Current, s.rc),
			keys.New(keys.Access, keys.Previous, s.ac), keys.New(keys.Refresh, keys.Previous, s.rp),
			keys.New(keys.Access, keys.Retired, s.ap), keys.New(keys.Refresh, keys.Retired, s.rr),
			keys.New(keys.Access, keys.Next, s.an),
		},
		Issuers: map[keys.Family]string{keys.Access: accessIss, keys.Refresh: refreshIss},
	}
}

// corpus returns tokens of every result kind and key role; times are
// spread over [t0, t0+span) so that many expire, or become valid, while the
// corpus is read.
func corpus(t testing.TB, s secrets, span time.Duration) []string {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(1, 2))
	at := func() int64 { return t0.Add(time.Duration(rng.Int64N(int64(span)))).Unix() }
	var toks []string
	for i := range 40 {
		for _, k := range []struct {
			key []byte
			iss string
		}{
			{s.ac, accessIss}, {s.ap, accessIss}, {s.ar, accessIss}, {s.ac2, accessIss}, {s.an, accessIss},
			{s.rc, refreshIss}, {s.rp, refreshIss}, {s.rr, refreshIss},
		} {
			sub := fmt.Sprintf("u%d", i)
			toks = append(toks,
				sign(t, k.key, hs256, map[string]any{"sub": sub, "iss": k.iss, "iat": t0.Unix() - 60, "exp": at()}),
				sign(t, k.key, hs256, map[string]any{"sub": sub, "iss": k.iss, "nbf": at(), "azp": "web"}),
				sign(t, k.key, hs256, map[string]any{"sub": sub, "iss": "https://evil.test", "exp": at()}),
				sign(t, k.key, hs256, map[string]any{"sub": sub, "exp": at()}), // no iss
				sign(t, k.key, hs256, map[string]any{"sub": sub, "iss": k.iss, "exp": "soon"}),
			)
		}
		toks = append(toks,
			sign(t, s.attacker, hs256, map[string]any{"sub": "mallory", "iss": accessIss, "exp": at()}),
			sign(t, s.ac, `{"alg":"none"}`, map[string]any{"sub": "mallory"}),
			sign(t, s.ac, `{"alg":"HS512"}`, map[string]any{"sub": "mallory"}),
			fmt.Sprintf("eyJhbGciOiJIUzI1NiJ9.garbage%d", i),
			fmt.Sprintf("not-a-token-%d", i),
		)
	}
	// Too long to cache but a valid token; and too long to check at all.
	toks = append(toks,
		sign(t, s.ac, hs256, map[string]any{"sub": strings.Repeat("x", MaxTokenLen), "iss": accessIss, "exp": at()}),
		strings.Repeat("A", verify.MaxTokenLen+1),
	)
	return toks
}

// TestCachedMatchesUncached reads a large mixed corpus, tokens repeated in
// random order at increasing times with a key reload half-way, through the
// cache and straight through the Verifier: every verdict must be the same.
func TestCachedMatchesUncached(t *testing.T) {
	s := secrets{ac: secret(t), ap: secret(t), ar: secret(t), rc: secret(t), rp: secret(t), rr: secret(t), ac2: secret(t), an: secret(t), attacker: secret(t)}
	const lines = 20000
	span := time.Duration(lines) * time.Second
	toks := corpus(t, s, span)
	before, after := verify.New(s.before(), verify.Options{}), verify.New(s.after(), verify.Options{Leeway: 30 * time.Second})

	tests := []struct {
		name string
		size int
	}{
		{"disabled", 0},
		{"tiny", 7}, // evicts nearly every time
		{"small", 200},
		{"large", 10 * len(toks)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.size)
			rng := mrand.New(mrand.NewPCG(3, 4))
			results := map[verify.Result]bool{}
			roles := map[keys.Role]bool{}
			changed := 0 // hits whose result differs from the token's previous one
			last := map[string]verify.Result{}
			hits := 0
			for i := range lines {
				v := before
				if i >= lines/2 {
					v = after
				}
				if i == lines/2 {
					// The first line after the reload must not be served from the old keys' entries.
					tok := toks[0]
					if _, hit := c.Check(v, tok, t0); hit {
						t.Fatal("hit right after a reload")
					}
				}
				// Skewed towards the first tokens, as traffic is to active
				// sessions, so that even the tiny cache hits.
				tok := toks[rng.IntN(rng.IntN(len(toks))+1)]
				at := t0.Add(time.Duration(i) * time.Second)
				want := v.Check(tok, at)
				got, hit := c.Check(v, tok, at)
				if got != want {
					t.Fatalf("line %d: cached verdict %+v, uncached %+v (hit %v)", i, got, want, hit)
				}
				if c.Len() > tt.size {
					t.Fatalf("line %d: %d entries, size %d", i, c.Len(), tt.size)
				}
				if hit {
					hits++
					if r, ok := last[tok]; ok && r != got.Result {
						changed++
					}
				}
				last[tok] = got.Result
				results[got.Result] = true
				roles[got.Key] = true
			}
			for _, r := range verify.Results {
				if !results[r] {
					t.Errorf("no %s verdict in the corpus", r)
				}
			}
			for _, r := range keys.Roles {
				if !roles[r] {
					t.Errorf("no %s key verdict in the corpus", r)
				}
			}
			// The tiny cache evicts too often to see a token change verdict on a hit.
			if tt.size > 0 && (hits == 0 || (tt.size >= 200 && changed == 0)) {
				t.Errorf("%d hits, %d of them with a changed result: the corpus does not exercise the cache", hits, changed)
			}
			if tt.size == 0 && hits != 0 {
				t.Errorf("%d hits with caching disabled", hits)
			}
		})
	}
}

// TestCacheBounds checks the size limit, eviction and what is not cached.
func TestCacheBounds(t *testing.T) {
	key := secret(t)
	v := verify.New(keys.Set{Keys: []keys.Key{keys.New(keys.Access, keys.Current, key)}}, verify.Options{})
	tok := func(i int) string { return sign(t, key, hs256, map[string]any{"sub": fmt.Sprint(i)}) }
	long := sign(t, key, hs256, map[string]any{"sub": strings.Repeat("x", MaxTokenLen)})

	tests := []struct {
		name    string
		size    int
		in      []string
		wantLen int
		wantHit []bool
	}{
		{"repeat hits", 4, []string{tok(1), tok(1), tok(2), tok(1)}, 2, []bool{false, true, false, true}},
		{"full cache evicts", 2, []string{tok(1), tok(2), tok(3), tok(4)}, 2, []bool{false, false, false, false}},
		{"second chance keeps a used entry", 2, []string{tok(1), tok(2), tok(1), tok(3), tok(1)}, 2, []bool{false, false, true, false, true}},
		{"long token not cached", 4, []string{long, long}, 0, []bool{false, false}},
		{"disabled", 0, []string{tok(1), tok(1)}, 0, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.size)
			for i, in := range tt.in {
				if _, hit := c.Check(v, in, t0); hit != tt.wantHit[i] {
					t.Errorf("check %d: hit %v, want %v", i, hit, tt.wantHit[i])
				}
			}
			if c.Len() != tt.wantLen {
				t.Errorf("Len() = %d, want %d", c.Len(), tt.wantLen)
			}
		})
	}
}

// TestCacheReload checks that another Verifier empties the cache.
func TestCacheReload(t *testing.T) {
	key := secret(t)
	set := keys.Set{Keys: []keys.Key{keys.New(keys.Access, keys.Current, key)}}
	v1, v2 := verify.New(set, verify.Options{}), verify.New(keys.Set{Keys: []keys.Key{keys.New(keys.Access, keys.Current, secret(t))}}, verify.Options{})
	tok := sign(t, key, hs256, map[string]any{"sub": "a"})
	c := New(8)
	c.Check(v1, tok, t0)
	if _, hit := c.Check(v1, tok, t0); !hit {
		t.Fatal("no hit with the same Verifier")
	}
	got, hit := c.Check(v2, tok, t0)
	if hit || got.Result != verify.BadSignature {
		t.Fatalf("after a reload: hit %v, result %s; want a miss and bad_signature", hit, got.Result)
	}
	if c.Len() != 1 {
		t.Fatalf("Len() = %d after a reload and one token, want 1", c.Len())
	}
}

// The cache allocates as tokens arrive, not its whole size up front.
func TestAllocatedAsUsed(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := New(MaxSize)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("New(%d) allocated %d bytes before any token", MaxSize, got)
	}
	if c.size != MaxSize || New(MaxSize*10).size != MaxSize {
		t.Errorf("sizes %d and %d, want both %d", c.size, New(MaxSize*10).size, MaxSize)
	}
}
