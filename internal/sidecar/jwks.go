package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jwtwatch/jwtwatch/internal/jwks"
	"github.com/jwtwatch/jwtwatch/internal/keys"
	"github.com/jwtwatch/jwtwatch/internal/metrics"
)

// JWKSOptions tunes the JWKS URLs of the key file.
type JWKSOptions struct {
	// RefreshInterval is how often each URL is fetched (5m when 0).
	RefreshInterval time.Duration
	// Timeout bounds one fetch (10s when 0).
	Timeout time.Duration
	// MinRefreshInterval is the least time between the fetches that tokens
	// naming an unknown kid ask for (1m when 0).
	MinRefreshInterval time.Duration
	// AllowHTTP accepts http:// URLs.
	AllowHTTP bool
	// Client makes the requests (tests pass one that trusts their server).
	Client *http.Client
	// Ticks returns the channel that paces a URL's refreshes and a stop
	// function (a time.Ticker when nil); tests drive refreshes with it.
	Ticks func(every time.Duration) (<-chan time.Time, func())
}

func (o *JWKSOptions) defaults() {
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MinRefreshInterval <= 0 {
		o.MinRefreshInterval = time.Minute
	}
	if o.Ticks == nil {
		o.Ticks = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
}

// errFetch marks a key load that failed because a JWKS URL could not be
// fetched: not a configuration error.
var errFetch = errors.New("cannot fetch the JWK Set")

// jwksSource is one JWKS URL of the key file, fetched and refreshed.
type jwksSource struct {
	entry    keys.Entry
	fetcher  *jwks.Fetcher
	counters *metrics.JWKS
	running  bool
	stop     context.CancelFunc
}

// loadKeys loads the environment's and the key file's keys. A JWKS URL seen
// for the first time is fetched now; with refetch every URL is. The caller
// holds no lock; loads are serialized.
func (s *sidecar) loadKeys(ctx context.Context, refetch bool) (keys.Set, error) {
	s.loading.Lock()
	defer s.loading.Unlock()
	return s.loadWith(ctx, refetch, "", nil)
}

// loadWith is loadKeys with the body of one URL replaced by body (a fetch
// being checked). The caller holds loading.
func (s *sidecar) loadWith(ctx context.Context, refetch bool, url string, body []byte) (keys.Set, error) {
	seen := map[string]bool{}
	set, err := keys.LoadAll(keys.Config{
		Lookup: s.opts.Lookup, ReadFile: s.opts.ReadFile, File: s.opts.KeysFile, AllowHTTP: s.opts.JWKS.AllowHTTP,
		Remote: func(e keys.Entry) ([]byte, error) {
			seen[e.JWKSURL] = true
			if e.JWKSURL == url && body != nil {
				return body, nil
			}
			src := s.jwks[e.JWKSURL]
			if src == nil {
				src = s.newSource(e)
				s.jwks[e.JWKSURL] = src
			}
			src.entry = e // roles may have changed
			if src.fetcher.Body() == nil || (refetch && !seen[e.JWKSURL+"\x00fetched"]) {
				seen[e.JWKSURL+"\x00fetched"] = true
				if _, err := src.fetcher.Fetch(ctx); err != nil && src.fetcher.Body() == nil {
					return nil, fmt.Errorf("%w: %w", errFetch, err)
				} else if err != nil {
					s.log.Warn("JWKS fetch failed; keeping the last good set", "url", e.RedactedURL(), "err", err)
				}
			}
			return src.fetcher.Body(), nil
		},
	})
	if err != nil {
		return keys.Set{}, err
	}
	if url == "" {
		s.startSources(seen)
		for _, r := range set.Remotes {
			s.jwks[r.Entry.JWKSURL].counters.Keys(r.Keys)
		}
	}
	return set, nil
}

// newSource sets up the fetcher of a JWKS URL and its series. A fetched body
// is checked by building the whole ring with it: a set the ring cannot use
// counts as invalid and the last good one stays.
func (s *sidecar) newSource(e keys.Entry) *jwksSource {
	o := s.opts.JWKS
	src := &jwksSource{entry: e, counters: s.metrics.JWKS(e.RedactedURL(), o.RefreshInterval, jwks.Results)}
	url := e.JWKSURL
	src.fetcher = jwks.New(jwks.Config{
		URL: url, Label: e.RedactedURL(), Client: o.Client, Timeout: o.Timeout, MinInterval: o.MinRefreshInterval,
		AllowHTTP: o.AllowHTTP, Now: s.opts.Now,
		Check: func(body []byte) error {
			// A load (SIGHUP) that fetches holds loading and checks the set
			// as a whole itself; waiting for it here would deadlock.
			if !s.loading.TryLock() {
				return nil
			}
			defer s.loading.Unlock()
			_, err := s.loadWith(s.bg, false, url, body)
			return err
		},
		Observe: func(result string, at time.Time) {
			src.counters.Fetch(result, at, result == jwks.Success || result == jwks.NotModified)
		},
	})
	return src
}

// startSources starts the refresh loop of every URL in use that has none,
// and stops (and forgets the series of) those no longer in the key file.
// The caller holds loading.
func (s *sidecar) startSources(inUse map[string]bool) {
	for url, src := range s.jwks {
		if !inUse[url] {
			if src.stop != nil {
				src.stop()
			}
			delete(s.jwks, url)
			s.metrics.DeleteJWKS(src.entry.RedactedURL())
			continue
		}
		if src.running {
			continue
		}
		src.running = true
		ticks, stop := s.opts.JWKS.Ticks(s.opts.JWKS.RefreshInterval)
		ctx, cancel := context.WithCancel(s.bg)
		s.jwksWait.Add(1)
		go func() {
			defer s.jwksWait.Done()
			defer stop()
			src.fetcher.Run(ctx, ticks, func() {
				s.log.Info("JWK Set changed; reloading keys", "url", src.entry.RedactedURL())
				s.reload(false)
			}, func(err error) {
				s.log.Warn("JWKS fetch failed; keeping the last good set", "url", src.entry.RedactedURL(), "err", err)
			})
		}()
		src.stop = cancel
	}
	fetchers := make([]*jwks.Fetcher, 0, len(s.jwks))
	for _, src := range s.jwks {
		fetchers = append(fetchers, src.fetcher)
	}
	s.fetchers.Store(&fetchers)
}

// requestRefresh asks every JWKS URL for an early fetch: a token named a kid
// no key has. Each fetcher rate-limits itself; the pipeline never waits on a
// fetch or a key load.
func (s *sidecar) requestRefresh() {
	if fs := s.fetchers.Load(); fs != nil {
		for _, f := range *fs {
			f.Request()
		}
	}
}
