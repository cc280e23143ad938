package jwks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a JWKS endpoint whose answer the test sets; it honours
// If-None-Match against its ETag and counts requests.
type server struct {
	mu       sync.Mutex
	body     string
	etag     string
	status   int // 0: serve the body
	requests int
	cond     int // requests that carried If-None-Match
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Header.Get("If-None-Match") != "" {
		s.cond++
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	if s.etag != "" && r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if s.etag != "" {
		w.Header().Set("ETag", s.etag)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write([]byte(s.body))
}

func (s *server) set(body, etag string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.status = body, etag, status
}

func (s *server) counts() (requests, cond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.cond
}

// clock is an injected time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const setA, setB = `{"keys":[{"kid":"a"}]}`, `{"keys":[{"kid":"a"},{"kid":"b"}]}`

// TestFetch follows one JWKS URL served over TLS through a rotation: the
// first fetch, a conditional one answered 304, a server failing in several
// ways (the last good set stays), a body that fails the check (kept out),
// and a new set (picked up).
func TestFetch(t *testing.T) {
	srv := &server{}
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	var results []string
	f := New(Config{
		URL: ts.URL + "/jwks.json?token=sekrit", Label: ts.URL + "/jwks.json?…", Client: ts.Client(), Timeout: 5 * time.Second,
		Check: func(b []byte) error {
			if !strings.HasPrefix(string(b), `{"keys"`) {
				return errors.New("not a JWK Set")
			}
			return nil
		},
		Observe: func(r string, _ time.Time) { results = append(results, r) },
		Now:     clk.now,
	})
	ctx := context.Background()
	step := func(name string, wantChanged bool, wantErr bool, wantBody, wantResult string) {
		t.Helper()
		changed, err := f.Fetch(ctx)
		if changed != wantChanged || (err != nil) != wantErr {
			t.Fatalf("%s: changed=%v err=%v, want changed=%v error=%v", name, changed, err, wantChanged, wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "sekrit") {
			t.Errorf("%s: the error shows the URL's query: %v", name, err)
		}
		if got := string(f.Body()); got != wantBody {
			t.Errorf("%s: body %q, want %q", name, got, wantBody)
		}
		if got := results[len(results)-1]; got != wantResult {
			t.Errorf("%s: result %q, want %q", name, got, wantResult)
		}
	}
	srv.set(setA, `"v1"`, 0)
	step("first fetch", true, false, setA, Success)
	step("unchanged, 304", false, false, setA, NotModified)
	if req, cond := srv.counts(); req != 2 || cond != 1 {
		t.Errorf("requests %d, conditional %d; want 2 and 1", req, cond)
	}
	srv.set(setA, "", http.StatusInternalServerError)
	step("server error", false, true, setA, Failed)
	srv.set(setA, "", http.StatusNotFound)
	step("not found", false, true, setA, Failed)
	srv.set("<html>maintenance</html>", `"m"`, 0)
	step("not a JWK Set", false, true, setA, Invalid)
	srv.set(strings.Repeat(" ", MaxBody+1), "", 0)
	step("too large", false, true, setA, Failed)
	srv.set(setA, "", 0)
	step("same body without ETag", false, false, setA, NotModified)
	srv.set(setB, `"v2"`, 0)
	step("rotation", true, false, setB, Success)

	ts.Close()
	step("server gone", false, true, setB, Failed)
}

// TestFetchTimeout: a server that does not answer costs the timeout, and the
// last good set stays.
func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	first := true
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first {
			first = false
			_, _ = w.Write([]byte(setA))
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	f := New(Config{URL: ts.URL, Client: ts.Client(), Timeout: 50 * time.Millisecond})
	if _, err := f.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if string(f.Body()) != setA {
		t.Errorf("the last good set was lost")
	}
}

// TestRequestRateLimit: a kid no key has asks for a fetch at most once per
// MinInterval, by the injected clock, and Run fetches on each tick and each
// granted request.
func TestRequestRateLimit(t *testing.T) {
	srv := &server{}
	srv.set(setA, "", 0)
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	done := make(chan string, 10)
	f := New(Config{URL: ts.URL, Client: ts.Client(), MinInterval: time.Minute, Now: clk.now,
		Observe: func(r string, _ time.Time) { done <- r }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan time.Time)
	changed := make(chan struct{}, 10)
	go f.Run(ctx, ticks, func() { changed <- struct{}{} }, func(error) {})

	wait := func(what string) string {
		t.Helper()
		select {
		case r := <-done:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("no fetch after %s", what)
		}
		return ""
	}
	ticks <- clk.now()
	if r := wait("a tick"); r != Success {
		t.Fatalf("first fetch %s", r)
	}
	<-changed
	clk.add(30 * time.Second)
	if f.Request() {
		t.Error("a request 30s after a fetch was granted, want at most one a minute")
	}
	clk.add(31 * time.Second)
	if !f.Request() {
		t.Fatal("a request a minute after the last fetch was refused")
	}
	if r := wait("a request"); r != NotModified {
		t.Errorf("requested fetch %s, want not_modified (same body)", r)
	}
	if f.Request() {
		t.Error("a second request right after a fetch was granted")
	}
	if req, _ := srv.counts(); req != 2 {
		t.Errorf("%d requests reached the server, want 2", req)
	}
}

// TestRedirectToHTTP: a redirect may not downgrade to http.
func TestRedirectToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(setA)) }))
	defer plain.Close()
	ts := httptest.NewTLSServer(http.RedirectHandler(plain.URL, http.StatusFound))
	defer ts.Close()
	f := New(Config{URL: ts.URL, Client: ts.Client()})
	if _, err := f.Fetch(context.Background()); !errors.Is(err, ErrInsecure) {
		t.Fatalf("err = %v, want %v", err, ErrInsecure)
	}
	f = New(Config{URL: ts.URL, Client: ts.Client(), AllowHTTP: true})
	if _, err := f.Fetch(context.Background()); err != nil {
		t.Fatalf("with AllowHTTP: %v", err)
	}
}
