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
// mean the claim was absent.
type Claims struct {
	Subject   string
	Issuer    string
	IssuedAt  time.Time
	ExpiresAt time.Time
	NotBefore time.Time
	// ClientID is the OAuth client the token was issued to: the azp claim,
	// else client_id; empty when neither is a non-empty string.
	ClientID string
}

// Verdict is the outcome of checking one token.
type Verdict struct {
	Token       keys.Family // family of the verifying key, keys.Unknown when none verifies
	Key         keys.Role   // role of the verifying key, keys.None when none verifies
	Fingerprint string      // fingerprint of the verifying key, empty when none
	Result      Result
	Claims      Claims // set only when a key verified the signature
}

// Options tunes the checks.
type Options struct {
	// Algorithms allowed in the header; empty means HS256 only, like the gateway.
	Algorithms []string
	// Leeway applied to exp and nbf.
	Leeway time.Duration
}
