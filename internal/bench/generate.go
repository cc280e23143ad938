// Package bench measures jwtwatch end to end: it writes a realistic
// pino-http log of a given size and token mix to a file, runs the real
// sidecar (internal/sidecar.Run, reading through internal/tail) over it, and
// runs a naive pipeline over the same file for comparison.
package bench

import (
	"bufio"
	"crypto"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// Kind is what sort of token a generated request carries.
type Kind int

// Token kinds of the generated traffic.
const (
	Current   Kind = iota // valid, signed with the current access key
	Previous              // valid, signed with the previous access key
	Expired               // signed with the current key, expired before the log starts
	Forged                // signed with a key jwtwatch does not know
	Malformed             // not a JWT at all
	numKinds
)

// Mix is the share of each kind of token, in parts of the total.
type Mix [numKinds]int

// DefaultMix is the product brief's traffic: mostly current-key tokens, some
// previous-key ones mid-rotation, a few expired, forged and malformed.
var DefaultMix = Mix{Current: 85, Previous: 10, Expired: 2, Forged: 2, Malformed: 1}

// Issuer is the iss of the generated tokens.
const Issuer = "auth-service"

// ErrConfig marks an unusable generator or benchmark setting.
var ErrConfig = errors.New("invalid benchmark configuration")

// Secrets are the keys the generated tokens are signed with: HMAC secrets
// for HS256 (Alg empty), else key pairs of Alg (RS256, ES256, EdDSA), whose
// tokens name their key by kid (a forgery names the current key's).
type Secrets struct {
	Current, Previous, Attacker []byte
	Alg                         string
	CurrentKey, PreviousKey     crypto.Signer
	AttackerKey                 crypto.Signer
}

// Kids of the key pairs, as the generated JWK Set names them.
const (
	KidCurrent  = "bench-current"
	KidPrevious = "bench-previous"
)

// Signer returns the signer of tokens of kind k (not Malformed): the
// current key for current and expired tokens, the previous key, or the
// attacker's key, whose forgeries name the current key's kid.
func (s Secrets) Signer(k Kind) gatewaylog.Signer {
	if s.Alg == "" || s.Alg == "HS256" {
		return gatewaylog.HS256([][]byte{Current: s.Current, Expired: s.Current, Previous: s.Previous, Forged: s.Attacker}[k])
	}
	key, kid := s.CurrentKey, KidCurrent
	switch k {
	case Previous:
		key, kid = s.PreviousKey, KidPrevious
	case Forged:
		key = s.AttackerKey
	}
	return gatewaylog.WithKeyID(gatewaylog.PrivateKey(s.Alg, key), kid)
}

// NewKeyPairs returns Secrets with fresh key pairs of alg.
func NewKeyPairs(alg string) (Secrets, error) {
	s := Secrets{Alg: alg}
	for _, k := range []*crypto.Signer{&s.CurrentKey, &s.PreviousKey, &s.AttackerKey} {
		var err error
		if *k, err = keys.GeneratePair(alg); err != nil {
			return Secrets{}, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return s, nil
}

// GenConfig describes the log to write.
type GenConfig struct {
	// Lines is how many lines to write.
	Lines int
	// Repeat is how many requests each token makes (1: every token unique).
	Repeat int
	// Sessions is how many tokens are in use at once: the requests of a
	// block of Sessions tokens are interleaved, so a token's uses are
	// Sessions lines apart.
	Sessions int
	Mix      Mix
	Secrets  Secrets
	// Start is the time of the first line; the log spans about an hour.
	Start time.Time
	// Seed makes the output reproducible.
	Seed uint64
}

// Stats describes a written log.
type Stats struct {
	Lines, Tokens int
	Bytes         int64
	// Kinds counts the lines per token kind.
	Kinds [numKinds]int
}

// Generate writes cfg.Lines pino-http lines of about 700 bytes to w.
func Generate(w io.Writer, cfg GenConfig) (Stats, error) {
	var st Stats
	if cfg.Lines <= 0 || cfg.Repeat <= 0 || cfg.Sessions <= 0 {
		return st, fmt.Errorf("%w: lines, repeat and sessions must be positive", ErrConfig)
	}
	total := 0
	for _, n := range cfg.Mix {
		if n < 0 {
			return st, fmt.Errorf("%w: negative share in the mix", ErrConfig)
		}
		total += n
	}
	if total == 0 {
		return st, fmt.Errorf("%w: empty mix", ErrConfig)
	}
	g := &generator{
		cfg: cfg, total: total,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		req: gatewaylog.Request{
			Method: "GET", Hostname: "gateway-7d9f8b6c5-x2x4q", PID: 7, RemotePort: 50412,
			Headers: []gatewaylog.Header{{Name: "host", Value: "api.example.com"}, {Name: "authorization"}, {Name: "user-agent"},
				{Name: "accept", Value: "application/json"}, {Name: "x-request-id"}},
			ResponseHeaders: []gatewaylog.Header{{Name: "content-type", Value: "application/json; charset=utf-8"}, {Name: "content-length", Value: "612"}},
		},
	}
	for k := range Malformed {
		g.signers[k] = gatewaylog.NewAppender(cfg.Secrets.Signer(k))
		g.headers[k] = g.signers[k].Header()
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	// Spread the lines over an hour so that line times advance.
	step := time.Hour / time.Duration(cfg.Lines)
	block := cfg.Sessions * cfg.Repeat
	var toks []token
	var buf []byte
	for i := range cfg.Lines {
		if i%block == 0 {
			n := min(cfg.Sessions, (cfg.Lines-i+cfg.Repeat-1)/cfg.Repeat)
			toks = toks[:0]
			for range n {
				toks = append(toks, g.token(st.Tokens))
				st.Tokens++
			}
		}
		t := toks[(i%block)%len(toks)]
		at := cfg.Start.Add(time.Duration(i) * step)
		buf = g.line(buf[:0], i, at, t)
		if _, err := bw.Write(buf); err != nil {
			return st, fmt.Errorf("write log: %w", err)
		}
		st.Lines++
		st.Bytes += int64(len(buf))
		st.Kinds[t.kind]++
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write log: %w", err)
	}
	return st, nil
}

type generator struct {
	cfg     GenConfig
	total   int
	rng     *rand.Rand
	signers [numKinds]*gatewaylog.Appender
	headers [numKinds][]byte   // the signers' JOSE headers
	req     gatewaylog.Request // reused from line to line
	tok     []byte
}

type token struct {
	kind  Kind
	value string
	sub   string
	ua    int
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"okhttp/4.12.0",
	"python-requests/2.32.3",
}

var urls = []string{"/api/v1/orders", "/api/v1/users/me", "/api/v1/catalog/items?page=2", "/api/v1/cart", "/api/v1/notifications"}

// token makes the n-th token, its kind drawn from the mix.
func (g *generator) token(n int) token {
	r := g.rng.IntN(g.total)
	kind := Current
	for k, share := range g.cfg.Mix {
		if r < share {
			kind = Kind(k)
			break
		}
		r -= share
	}
	t := token{kind: kind, sub: "user-" + strconv.Itoa(n), ua: g.rng.IntN(len(userAgents))}
	if kind == Malformed {
		// Cut after the payload, as a truncated header value would be.
		t.value = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLT" + strconv.Itoa(n)
		return t
	}
	start := g.cfg.Start.Unix()
	iat, exp := start-600, start+24*3600
	if kind == Expired {
		iat, exp = start-3600, start-60
	}
	claims := `{"sub":"` + t.sub + `","iss":"` + Issuer + `","iat":` + strconv.FormatInt(iat, 10) +
		`,"exp":` + strconv.FormatInt(exp, 10) + `,"typ":"access","azp":"web-app"}`
	g.tok = g.signers[kind].Append(g.tok[:0], g.headers[kind], []byte(claims))
	t.value = string(g.tok)
	return t
}

// line appends one pino-http request line, newline included.
func (g *generator) line(b []byte, i int, at time.Time, t token) []byte {
	status := 200
	if t.kind != Current && t.kind != Previous {
		status = 401
	}
	r := &g.req
	r.Time, r.ID, r.URL, r.Status, r.ResponseTime = at, i+1, urls[i%len(urls)], status, 1+i%9
	r.Headers[1].Value = "Bearer " + t.value
	r.Headers[2].Value = userAgents[t.ua]
	r.Headers[4].Value = strconv.FormatUint(g.rng.Uint64(), 16)
	r.RemoteAddress = "::ffff:10.0." + strconv.Itoa(t.ua) + "." + strconv.Itoa(len(t.sub)%250)
	b = r.AppendPino(b)
	return append(b, '\n')
}
