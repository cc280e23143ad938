package scan

import (
	"time"

	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/rotation"
	"github.com/jwtwatch/jwtwatch/internal/verify"
)

// Report is the result of a scan. Its JSON encoding is the --output=json
// document: field names are stable and every time is RFC 3339 in UTC; zero
// times are left out.
type Report struct {
	Inputs []Input `json:"inputs"`
	Lines  Lines   `json:"lines"`
	// From and Until echo --from and --until (From <= line time < Until).
	From      time.Time `json:"from,omitzero"`
	Until     time.Time `json:"until,omitzero"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// ScannedAt is when the scan ran: the "today" of Lifetimes.
	ScannedAt time.Time `json:"scanned_at"`
	// Rotations lists, for each family with a current key, when its rotation
	// started (as far as known) and where that came from.
	Rotations []RotationStart `json:"rotations"`
	Notes     []string        `json:"notes,omitempty"`
	// Keys has one row per loaded key and one for tokens no key verifies.
	Keys []KeyStats `json:"keys"`
	// Lifetimes answers, per family with a current key, whether a token
	// signed before the rotation could still be valid at ScannedAt.
	Lifetimes []FamilyLifetime `json:"lifetimes"`
	Key       *KeyReport       `json:"key,omitempty"`
	Forged    Forged           `json:"forged"`
	// State is what the report is made from, in a form that merges with
	// the state of other scans (Merge, jwtwatch scan --merge). It holds no
	// token and no subject, only their one-way fingerprints and hashes.
	State *State `json:"state,omitempty"`
}

// Input is one scanned file (or stdin).
type Input struct {
	Name  string `json:"name"`
	Gzip  bool   `json:"gzip"`
	Lines int64  `json:"lines"`
}

// Lines counts what happened to the lines read.
type Lines struct {
	Read int64 `json:"read"`
	// Checked lines had a token and, with --from/--until, a time in range.
	Checked      int64 `json:"checked"`
	WithoutToken int64 `json:"without_token"`
	Invalid      int64 `json:"invalid"`
	TooLong      int64 `json:"too_long"`
	// WithoutTime lines had a token but no time of their own: skipped with
	// --from/--until, otherwise checked at the time of the scan.
	WithoutTime   int64 `json:"without_time"`
	OutsideWindow int64 `json:"outside_window"`
}

// RotationStart is when the current key of a family became current.
type RotationStart struct {
	Family  keys.Family `json:"token"`
	Started time.Time   `json:"started,omitzero"`
	// Source is SourceFlag, SourceStateFile, or "" when the start is
	// unknown (then issued_after_rotation cannot be told).
	Source string `json:"source"`
}

// Where a rotation start came from.
const (
	SourceFlag      = "rotation_start_flag" // --rotation-start
	SourceStateFile = "state_file"          // the sidecar's --state.file
)

// Counts are requests by verify.Result.
type Counts struct {
	Valid        int64 `json:"valid"`
	Expired      int64 `json:"expired"`
	NotYetValid  int64 `json:"not_yet_valid"`
	WrongIssuer  int64 `json:"wrong_issuer"`
	BadSignature int64 `json:"bad_signature"`
	AlgRejected  int64 `json:"alg_rejected"`
	Malformed    int64 `json:"malformed"`
}

func (c *Counts) ptr(r verify.Result) *int64 {
	switch r {
	case verify.Valid:
		return &c.Valid
	case verify.Expired:
		return &c.Expired
	case verify.NotYetValid:
		return &c.NotYetValid
	case verify.WrongIssuer:
		return &c.WrongIssuer
	case verify.BadSignature:
		return &c.BadSignature
	case verify.AlgRejected:
		return &c.AlgRejected
	}
	return &c.Malformed
}

func (c *Counts) add(r verify.Result) { *c.ptr(r)++ }

// Get returns the count of one result.
func (c Counts) Get(r verify.Result) int64 { return *c.ptr(r) }

// KeyStats is what was seen of one key (or of tokens no key verifies).
type KeyStats struct {
	Family      keys.Family `json:"token"`
	Key         keys.Role   `json:"key"`
	Fingerprint string      `json:"fingerprint,omitempty"`
	Requests    int64       `json:"requests"`
	Results     Counts      `json:"results"`
	// Suspicious counts requests whose token verifies but has a suspicion reason.
	Suspicious int64 `json:"suspicious"`
	// Subjects is the number of distinct sub claims of verifying tokens:
	// exact up to distinct.Bound of them, then a HyperLogLog estimate whose
	// relative standard error SubjectsError states (0 when exact).
	Subjects      uint64    `json:"subjects"`
	SubjectsError float64   `json:"subjects_error"`
	FirstSeen     time.Time `json:"first_seen,omitzero"`
	LastSeen      time.Time `json:"last_seen,omitzero"`
	// LongestLifetime is the longest exp - iat, in seconds, of a valid
	// token the key signed that raised no suspicion; 0 if none.
	LongestLifetime float64 `json:"longest_lifetime_seconds"`
	// WithoutExpiry is when such a token without exp was last seen.
	WithoutExpiry time.Time `json:"without_expiry_last_seen,omitzero"`
}

// Answers of FamilyLifetime.StillValid.
const (
	StillValidYes     = "yes"
	StillValidNo      = "no"
	StillValidUnknown = "unknown"
)

// FamilyLifetime answers, for one family, "could a token signed before the
// rotation still be valid?" — the sidecar's wait for the tokens nobody saw
// (unseen_tokens_may_be_valid), and after a leak the moment from which a
// valid token of the old key can only have been minted by whoever holds it.
type FamilyLifetime struct {
	Family keys.Family `json:"token"`
	// StillValid is StillValidYes, StillValidNo or StillValidUnknown (the
	// rotation start or the lifetime is not known), at Report.ScannedAt.
	StillValid string `json:"still_valid"`
	// LongestLifetime is the family's longest token lifetime in seconds,
	// bounded against outliers as the sidecar bounds it
	// (jwtwatch_token_max_lifetime_seconds): a lifetime counts once two
	// different tokens reach it, or while only one token was seen.
	LongestLifetime float64 `json:"longest_lifetime_seconds"`
	// PolicyLifetime is --policy.max-lifetime in seconds, when set: the
	// bound the moment uses instead.
	PolicyLifetime float64 `json:"policy_max_lifetime_seconds,omitempty"`
	// AllExpired is when every token the previous key could legitimately
	// have signed has expired: the rotation start + --rotation.grace +
	// --policy.clock-skew + the lifetime. Zero when unknown, or when Never.
	AllExpired time.Time `json:"all_expired,omitzero"`
	// Never: the previous key signed a valid, unsuspicious token without
	// exp, which stays valid for ever.
	Never bool `json:"never"`
}

// KeyRef names a loaded key.
type KeyRef struct {
	Family      keys.Family `json:"token"`
	Key         keys.Role   `json:"key"`
	Fingerprint string      `json:"fingerprint"`
}

// KeyReport is everything about the tokens signed by the key(s) --key selects.
type KeyReport struct {
	Selector   string    `json:"selector"`
	Keys       []KeyRef  `json:"keys"`
	Requests   int64     `json:"requests"`
	Results    Counts    `json:"results"`
	Suspicious int64     `json:"suspicious"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	// Compromise is set when a token the key signed could not have come from
	// its rightful issuer.
	Compromise *Compromise `json:"compromise,omitempty"`
	// Suspicions has one row per reason (per unusual claim set for
	// unusual_claims), in the order of rotation.Reasons.
	Suspicions []Suspicion `json:"suspicions"`
	// SuspiciousTokens lists distinct suspicious tokens: up to
	// MaxSuspiciousTokens with a rotation reason, in the order first seen,
	// and up to as many per unusual claim set; SuspiciousTokensOmitted
	// counts the requests of the rest. Whether a claim set is unusual is
	// settled once every line (every shard) is in.
	SuspiciousTokens        []SuspiciousToken `json:"suspicious_tokens"`
	SuspiciousTokensOmitted int64             `json:"suspicious_tokens_omitted"`
	// SuspiciousClients and SuspiciousUserAgents are the top sources of
	// suspicious requests.
	SuspiciousClients    []Top `json:"suspicious_clients"`
	SuspiciousUserAgents []Top `json:"suspicious_user_agents"`
	// Timeline has the hours with requests, in order.
	Timeline []Hour `json:"timeline"`
	// Subjects has every distinct subject, most suspicious first.
	Subjects []Subject `json:"subjects"`
}

// Compromise says when the key started signing tokens its rightful issuer
// could not have minted.
type Compromise struct {
	// Began is the earliest evidence: the iat of such a token when it is not
	// later than the token was seen, else when it was seen.
	Began time.Time `json:"began"`
	// Basis is "iat" or "seen": which of the two Began is.
	Basis string `json:"basis"`
	// Evidence is the token Began comes from.
	Evidence Sighting `json:"evidence"`
	// First is the first such token seen in the logs.
	First Sighting `json:"first"`
}

// Suspicion is one reason with the requests it applies to.
type Suspicion struct {
	Reason rotation.Reason `json:"reason"`
	// Detail explains an unusual_claims row: which claims deviate.
	Detail   string `json:"detail,omitempty"`
	Requests int64  `json:"requests"`
	// First is the first such request seen; Earliest the one with the
	// earliest evidence time (see Compromise.Began).
	First    Sighting `json:"first"`
	Earliest Sighting `json:"earliest"`
}

// Sighting is one request with a token, tied to the token by its
// fingerprint, never by the token itself.
type Sighting struct {
	Seen             time.Time         `json:"seen,omitzero"`
	Input            string            `json:"input"`
	Line             int64             `json:"line"`
	TokenFingerprint string            `json:"token_fingerprint"`
	Family           keys.Family       `json:"token"`
	Key              keys.Role         `json:"key"`
	KeyFingerprint   string            `json:"key_fingerprint"`
	Result           verify.Result     `json:"result"`
	Subject          string            `json:"subject,omitempty"`
	JTI              string            `json:"jti,omitempty"`
	ClientID         string            `json:"client_id,omitempty"`
	IssuedAt         time.Time         `json:"issued_at,omitzero"`
	ExpiresAt        time.Time         `json:"expires_at,omitzero"`
	Claims           []string          `json:"claims"`
	Reasons          []rotation.Reason `json:"reasons"`
	Client           string            `json:"client,omitempty"`
	UserAgent        string            `json:"user_agent,omitempty"`
}

// SuspiciousToken is one distinct suspicious token.
type SuspiciousToken struct {
	TokenFingerprint string            `json:"token_fingerprint"`
	Family           keys.Family       `json:"token"`
	KeyFingerprint   string            `json:"key_fingerprint"`
	Subject          string            `json:"subject,omitempty"`
	JTI              string            `json:"jti,omitempty"`
	ClientID         string            `json:"client_id,omitempty"`
	IssuedAt         time.Time         `json:"issued_at,omitzero"`
	ExpiresAt        time.Time         `json:"expires_at,omitzero"`
	Reasons          []rotation.Reason `json:"reasons"`
	Requests         int64             `json:"requests"`
	FirstSeen        time.Time         `json:"first_seen,omitzero"`
	LastSeen         time.Time         `json:"last_seen,omitzero"`
}

// Hour is one hour of a timeline.
type Hour struct {
	Hour       time.Time `json:"hour"`
	Requests   int64     `json:"requests"`
	Results    Counts    `json:"results"`
	Suspicious int64     `json:"suspicious"`
}

// Subject is one sub claim seen with the selected key.
type Subject struct {
	Family  keys.Family `json:"token"`
	Subject string      `json:"subject"`
	// ClientID is the last azp/client_id seen with the subject.
	ClientID   string    `json:"client_id,omitempty"`
	Requests   int64     `json:"requests"`
	Valid      int64     `json:"valid"`
	Suspicious int64     `json:"suspicious"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
}

// Forged is what was seen of tokens no key verifies because their
// signature is wrong or their algorithm refused.
type Forged struct {
	Requests     int64        `json:"requests"`
	BadSignature int64        `json:"bad_signature"`
	AlgRejected  int64        `json:"alg_rejected"`
	FirstSeen    time.Time    `json:"first_seen,omitzero"`
	LastSeen     time.Time    `json:"last_seen,omitzero"`
	Timeline     []ForgedHour `json:"timeline"`
	Clients      []Top        `json:"clients"`
	UserAgents   []Top        `json:"user_agents"`
	// WithoutClient and WithoutUserAgent count requests whose line does not
	// say them.
	WithoutClient    int64 `json:"without_client"`
	WithoutUserAgent int64 `json:"without_user_agent"`
}

// ForgedHour is one hour of the forged-token timeline.
type ForgedHour struct {
	Hour         time.Time `json:"hour"`
	Requests     int64     `json:"requests"`
	BadSignature int64     `json:"bad_signature"`
	AlgRejected  int64     `json:"alg_rejected"`
}

// Top is one heavy hitter (client address or user agent). Counts come from
// a bounded Space-Saving sketch (internal/stragglers): Requests may
// overcount by up to MaxOvercount, which is 0 unless more distinct values
// were seen than it holds.
type Top struct {
	Value        string    `json:"value"`
	Requests     int64     `json:"requests"`
	MaxOvercount int64     `json:"max_overcount"`
	LastSeen     time.Time `json:"last_seen,omitzero"`
}
