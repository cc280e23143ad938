package scan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// Claims tracked for the claim-set check, as bits of a claimSet.
const (
	claimSub = 1 << iota
	claimIss
	claimIat
	claimExp
	claimNbf
	claimClient
	numClaims = iota
)

var claimNameList = [numClaims]string{"sub", "iss", "iat", "exp", "nbf", "client_id"}

func claimName(i int) string { return claimNameList[i] }

// claimSet is which of the tracked claims a token has, as bits. In JSON it
// is the list of the claims' names.
type claimSet uint8

// claimsOf returns the claim set of a token whose claims could be read.
func claimsOf(v verify.Verdict) (claimSet, bool) {
	if v.Key == keys.None || v.Result == verify.Malformed {
		return 0, false
	}
	c := v.Claims
	var s claimSet
	for bit, present := range [numClaims]bool{c.Subject != "", c.Issuer != "", !c.IssuedAt.IsZero(), !c.ExpiresAt.IsZero(), !c.NotBefore.IsZero(), c.ClientID != ""} {
		if present {
			s |= 1 << bit
		}
	}
	return s, true
}

func (s claimSet) names() []string {
	names := []string{}
	for i := range numClaims {
		if s&(1<<i) != 0 {
			names = append(names, claimName(i))
		}
	}
	return names
}

// MarshalJSON implements json.Marshaler.
func (s claimSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.names()) }

// UnmarshalJSON implements json.Unmarshaler.
func (s *claimSet) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	*s = 0
	for _, n := range names {
		i := slices.Index(claimNameList[:], n)
		if i < 0 {
			return fmt.Errorf("%w: unknown claim %q", ErrState, n)
		}
		*s |= 1 << i
	}
	return nil
}

// shapeCounts counts claim sets per token family; there are few distinct
// ones, so a slice.
type shapeCounts []shapeCount

type shapeCount struct {
	Family keys.Family `json:"token"`
	Claims claimSet    `json:"claims"`
	N      int64       `json:"n"`
}

func (sc *shapeCounts) add(f keys.Family, s claimSet, n int64) {
	for i := range *sc {
		if (*sc)[i].Claims == s && (*sc)[i].Family == f {
			(*sc)[i].N += n
			return
		}
	}
	*sc = append(*sc, shapeCount{f, s, n})
}

func (sc *shapeCounts) merge(o shapeCounts) {
	for _, c := range o {
		sc.add(c.Family, c.Claims, c.N)
	}
}

// unusual sums the counts of the claim sets the norms find unusual.
func (sc shapeCounts) unusual(norms map[keys.Family]claimNorm) int64 {
	var n int64
	for _, c := range sc {
		if norms[c.Family].deviation(c.Claims) != 0 {
			n += c.N
		}
	}
	return n
}

// A claim is usual when at least usualPercent of a family's verifying
// tokens (and at least minNormSample of them) carry it; a token that lacks
// a usual one of the judged claims is unusual_claims. Only sub, iss, iat
// and exp are judged: an auth service sets them on every token it mints,
// while nbf and client ids legitimately vary between kinds of clients.
const (
	usualPercent  = 95
	minNormSample = 20
	judgedClaims  = claimSub | claimIss | claimIat | claimExp
)

// mayBeUnusual reports whether a claim set can turn out unusual: it lacks
// one of the judged claims. Which of those it is decides only the end of
// the scan, over all its shards.
func (s claimSet) mayBeUnusual() bool { return s&judgedClaims != judgedClaims }

// claimNorm is how often each claim occurs among a family's verifying tokens.
type claimNorm struct {
	Total int64            `json:"total"`
	Have  [numClaims]int64 `json:"have"`
}

func (n *claimNorm) add(s claimSet) {
	n.Total++
	for i := range numClaims {
		if s&(1<<i) != 0 {
			n.Have[i]++
		}
	}
}

func (n *claimNorm) merge(o claimNorm) {
	n.Total += o.Total
	for i := range n.Have {
		n.Have[i] += o.Have[i]
	}
}

// deviation returns the usual judged claims that s lacks.
func (n claimNorm) deviation(s claimSet) claimSet {
	if n.Total < minNormSample {
		return 0
	}
	var d claimSet
	for i := range numClaims {
		bit := claimSet(1 << i)
		if judgedClaims&bit != 0 && s&bit == 0 && n.Have[i]*100 >= n.Total*usualPercent {
			d |= bit
		}
	}
	return d
}

// describe explains a deviation, e.g. "no exp (99% of access tokens have one)".
func (n claimNorm) describe(f keys.Family, s claimSet) string {
	d := n.deviation(s)
	var parts []string
	for i := range numClaims {
		if d&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("no %s (%d%% of %s tokens have one)", claimName(i), n.Have[i]*100/n.Total, f))
		}
	}
	return strings.Join(parts, ", ")
}
