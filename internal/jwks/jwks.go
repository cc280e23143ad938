// Package jwks fetches a JWK Set from a URL and keeps it fresh: at start,
// on an interval, and sooner when a token names a kid no key has
// (rate-limited), with conditional requests (ETag, Last-Modified), a
// timeout, and the last good set kept on any failure.
package jwks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Results of a fetch, as used in the `result` label.
const (
	// Success: a new body that passed the check.
	Success = "success"
	// NotModified: the server answered 304, or sent the body already held.
	NotModified = "not_modified"
	// Failed: no usable answer (network error, timeout, an HTTP status other
	// than 200 and 304, a body too large).
	Failed = "failed"
	// Invalid: an answer whose body failed the check (not a JWK Set, a key
	// that cannot be used, a ring that does not hold together).
	Invalid = "invalid"
)

// Results lists every value of the `result` label.
var Results = []string{Success, NotModified, Failed, Invalid}

// MaxBody bounds a JWK Set: real ones hold a few keys in a few KiB.
const MaxBody = 1 << 20

// Sentinel errors of a fetch.
var (
	ErrStatus   = errors.New("unexpected HTTP status")
	ErrTooLarge = fmt.Errorf("JWK Set larger than %d bytes", MaxBody)
	ErrInsecure = errors.New("redirect to a non-https URL")
)

// Config describes one JWKS URL.
type Config struct {
	URL string
	// Label is the URL as it may be shown: no user information or query
	// (keys.RedactURL). Errors name the URL by it.
	Label string
	// Client makes the requests (http.DefaultClient's transport when nil).
	Client *http.Client
	// Timeout bounds one fetch.
	Timeout time.Duration
	// MinInterval is the least time between two fetches a kid no key has
	// asks for.
	MinInterval time.Duration
	// AllowHTTP permits http:// redirects (the URL itself is checked where
	// it is configured).
	AllowHTTP bool
	// Check judges a new body: an error makes the fetch Invalid and keeps
	// the last good set.
	Check func([]byte) error
	// Observe is told the result of every fetch and when it ended.
	Observe func(result string, at time.Time)
	// Now is the clock (time.Now in production).
	Now func() time.Time
}

// Fetcher keeps the last good JWK Set of one URL. Safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *http.Client

	fetching sync.Mutex // one fetch at a time
	mu       sync.Mutex
	body     []byte
	etag     string
	modified string
	last     time.Time // when the last fetch started
	wake     chan struct{}
}

// New returns a Fetcher that has fetched nothing yet.
func New(cfg Config) *Fetcher {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Label == "" {
		cfg.Label = "(JWKS URL)"
	}
	base := cfg.Client
	if base == nil {
		base = http.DefaultClient
	}
	client := *base
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if req.URL.Scheme != "https" && !cfg.AllowHTTP {
			return ErrInsecure
		}
		return nil
	}
	return &Fetcher{cfg: cfg, client: &client, wake: make(chan struct{}, 1)}
}

// Body returns the last good JWK Set, nil before the first.
func (f *Fetcher) Body() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body
}

// Fetch asks the server once, conditionally when it gave an ETag or a
// Last-Modified before, and keeps a new body that passes the check. It
// reports whether the kept set changed; on any failure the last good set
// stays and the error says why, naming the URL by its label.
func (f *Fetcher) Fetch(ctx context.Context) (changed bool, err error) {
	f.fetching.Lock()
	defer f.fetching.Unlock()
	result := Failed
	defer func() {
		if f.cfg.Observe != nil {
			f.cfg.Observe(result, f.cfg.Now())
		}
	}()
	f.mu.Lock()
	f.last = f.cfg.Now()
	etag, modified, held := f.etag, f.modified, f.body
	f.mu.Unlock()

	if f.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL, nil)
	if err != nil {
		return false, fmt.Errorf("JWKS %s: %w", f.cfg.Label, unwrapURL(err))
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if held != nil {
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		if modified != "" {
			req.Header.Set("If-Modified-Since", modified)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("JWKS %s: %w", f.cfg.Label, unwrapURL(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && held != nil:
		result = NotModified
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("JWKS %s: %w %d", f.cfg.Label, ErrStatus, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return false, fmt.Errorf("JWKS %s: read: %w", f.cfg.Label, unwrapURL(err))
	}
	if len(body) > MaxBody {
		return false, fmt.Errorf("JWKS %s: %w", f.cfg.Label, ErrTooLarge)
	}
	if bytes.Equal(body, held) {
		result = NotModified
		f.remember(resp, nil)
		return false, nil
	}
	if f.cfg.Check != nil {
		if err := f.cfg.Check(body); err != nil {
			result = Invalid
			return false, err
		}
	}
	result = Success
	f.remember(resp, body)
	return true, nil
}

// remember keeps the validators of a 200 answer, and its body when new.
func (f *Fetcher) remember(resp *http.Response, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.etag, f.modified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if body != nil {
		f.body = body
	}
}

// unwrapURL drops net/http's *url.Error wrapping, whose text holds the whole
// URL, query included.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Request asks for an early fetch because a token named a kid no key has.
// It is rate-limited: unless MinInterval has passed since the last fetch
// began, it does nothing and reports false.
func (f *Fetcher) Request() bool {
	f.mu.Lock()
	due := f.cfg.Now().Sub(f.last) >= f.cfg.MinInterval
	f.mu.Unlock()
	if !due {
		return false
	}
	select {
	case f.wake <- struct{}{}:
	default: // one already pending
	}
	return true
}

// Run fetches on every tick and every granted Request until ctx is done,
// calling changed after each fetch that changed the kept set and failed
// after each that failed.
func (f *Fetcher) Run(ctx context.Context, ticks <-chan time.Time, changed func(), failed func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		case <-f.wake:
			// Requests that came while this one was queued are covered by it.
		}
		ok, err := f.Fetch(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failed(err)
		case ok:
			changed()
		}
	}
}
