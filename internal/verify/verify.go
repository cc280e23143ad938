// Package verify re-checks a JWT the way the gateway does, but classifies it
// the way an investigator would: the signature is judged against every known
// key before any claim, so an expired forgery is still a forgery.
package verify

import (
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// Result is the verdict on one token, as used in the `result` metric label.
type Result string

// Every value of the `result` label.
const (
	Valid        Result = "valid"
	Expired      Result = "expired"
	NotYetValid  Result = "not_yet_valid"
	WrongIssuer  Result = "wrong_issuer"
	BadSignature Result = "bad_signature"
	AlgRejected  Result = "alg_rejected"
	Malformed    Result = "malformed"
)

// Results lists every value of the `result` label.
var Results = []Result{Valid, Expired, NotYetValid, WrongIssuer, BadSignature, AlgRejected, Malformed}

// Claims holds the few claims jwtwatch needs after verification. Zero times
// mean the claim was absent (or, for iat, not a number).
type Claims struct {
	// Subject is the sub claim: a string's content, or the JSON text of any
	// other value (the NestJS documentation signs a numeric user id).
	Subject   string
	Issuer    string // "" when absent or not a string
	IssuedAt  time.Time
	ExpiresAt time.Time
	NotBefore time.Time
	// ClientID is the OAuth client the token was issued to: the azp claim,
	// else client_id; empty when neither is a non-empty string.
	ClientID string

	read  bool // the payload was a JSON object, so the claims above were read
	flaws flaw // claims of a type jsonwebtoken refuses
	// unknownKID is Verdict.UnknownKID, kept here in the padding after
	// flaws so that a Verdict stays 192 bytes: every Check returns one by
	// value, and eight bytes more cost the HS256 path measurably.
	unknownKID bool
}

// flaw marks a claim present with a type the gateway refuses or ignores.
type flaw uint8

const (
	expNotNumber flaw = 1 << iota // Malformed, once nbf has passed
	nbfNotNumber                  // Malformed
	issNotString                  // WrongIssuer when an issuer is configured
)

// Verdict is the outcome of checking one token.
type Verdict struct {
	Family      keys.Family // family of the verifying key, keys.Unknown when none verifies
	Key         keys.Role   // role of the verifying key, keys.None when none verifies
	Fingerprint string      // fingerprint of the verifying key, empty when none
	Result      Result
	Claims      Claims // set only when a key verified the signature
}

// UnknownKID reports that no key verified the token and its header names a
// kid no key has: a JWK Set may have gained a key since it was fetched.
func (v Verdict) UnknownKID() bool { return v.Claims.unknownKID }

// Options tunes the checks.
type Options struct {
	// Algorithms are the HMAC algorithms an unpinned secret (an environment
	// variable) verifies, like the gateway's algorithms option; empty means
	// HS256 only. Every other key verifies its own algorithm alone.
	Algorithms []string
	// Leeway applied to exp and nbf.
	Leeway time.Duration
	// Rotations is when each family's current key became current. It only
	// tells, when one secret is configured for several keys, whether a token
	// is too new for the previous or retired one (see Verifier.Check).
	Rotations map[keys.Family]time.Time
}
