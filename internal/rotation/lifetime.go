package rotation

import (
	"math"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// lifetimes is what the tokens a key signed say of how long their issuer
// makes tokens live: the longest exp − iat, which token that was, and the
// longest of any other token. One token with a far exp — a test token, a
// forgotten service account's — is not taken for how long the family's
// tokens live until a second, different token lives as long (bound): two
// different tokens that do are a kind of token, not an outlier. The far-exp
// token itself is still waited for when the previous key signed it
// (unexpired_tokens), since it was seen.
type lifetimes struct {
	longest      time.Duration
	longestToken uint64        // tokenID of the token that set longest
	second       time.Duration // the longest lifetime of any other token
}

// observe records the lifetime d = exp − iat of one token. It is on the
// hot path: the token is hashed only when it could change the result, and
// most tokens live exactly as long as the longest confirmed.
func (l *lifetimes) observe(d time.Duration, c verify.Claims) {
	switch {
	case d <= l.second: // also every d <= 0
	case d > l.longest:
		l.second, l.longest, l.longestToken = l.longest, d, tokenID(c)
	case d == l.longest:
		if tokenID(c) != l.longestToken {
			l.second = d
		}
	default:
		l.second = d
	}
}

// merge adds the lifetimes of another key: its tokens are other tokens.
func (l *lifetimes) merge(o lifetimes) {
	for _, d := range [2]time.Duration{o.longest, o.second} {
		switch {
		case d > l.longest:
			l.second, l.longest = l.longest, d
		case d > l.second:
			l.second = d
		}
	}
}

// bound is the longest lifetime at least two different tokens reached;
// while only one token with a lifetime was seen, that token's.
func (l lifetimes) bound() time.Duration {
	if l.second > 0 {
		return l.second
	}
	return l.longest
}

// tokenID tells tokens apart for lifetimes without keeping them: a 64-bit
// FNV-1a hash of the subject and the issue time. A token seen again (a
// client's every request) has the same; another user's, or the same user's
// next login, another.
func tokenID(c verify.Claims) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(c.Subject); i++ {
		h = (h ^ uint64(c.Subject[i])) * prime
	}
	for _, v := range [2]uint64{uint64(c.IssuedAt.Unix()), uint64(c.IssuedAt.Nanosecond())} {
		for range 8 {
			h = (h ^ v&0xff) * prime
			v >>= 8
		}
	}
	return h
}

// lifetimeOf is exp − iat as time.Time.Sub gives it, saturating for far
// dates, without Sub's overflow check by adding the result back: that check
// cost more than the rest of a line's lifetime bookkeeping.
func lifetimeOf(iat, exp time.Time) time.Duration {
	const maxSeconds = int64(math.MaxInt64 / time.Second) // 9223372036: times 1e9 still fits
	s, ns := exp.Unix()-iat.Unix(), time.Duration(exp.Nanosecond()-iat.Nanosecond())
	// Borrow a second so that both parts have the same sign.
	switch {
	case s > 0 && ns < 0:
		s, ns = s-1, ns+time.Second
	case s < 0 && ns > 0:
		s, ns = s+1, ns-time.Second
	}
	switch {
	case s > maxSeconds:
		return math.MaxInt64
	case s < -maxSeconds:
		return math.MinInt64
	}
	d := time.Duration(s) * time.Second
	switch {
	case ns > 0 && d > math.MaxInt64-ns:
		return math.MaxInt64
	case ns < 0 && d < math.MinInt64-ns:
		return math.MinInt64
	}
	return d + ns
}

// follow merges the lifetimes of the same key's tokens seen after l's
// (another shard of one scan): the result is what observe would have made
// of both streams in turn. A token has one lifetime, so when the longest
// of both is the same token's, only the others' second longest counts.
func (l *lifetimes) follow(o lifetimes) {
	switch {
	case o.longest > l.longest:
		*l = lifetimes{longest: o.longest, longestToken: o.longestToken, second: max(o.second, l.longest)}
	case o.longest < l.longest:
		l.second = max(l.second, o.longest)
	case o.longestToken != l.longestToken:
		l.second = l.longest // two different tokens reach it
	default:
		l.second = max(l.second, o.second)
	}
}
