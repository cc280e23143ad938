package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/jwtwatch/jwtwatch/internal/needs"
)

// TestStatusPageInChromium loads the status page of a running sidecar in
// Debian's headless Chromium: the DOM it builds shows the keys and the
// verdict, the page makes no request but its own, the browser reports no
// blocked load, and a screenshot is taken (kept with `go test -artifacts`).
func TestStatusPageInChromium(t *testing.T) {
	needs.Slow(t)
	chromium := needs.Tool(t, "chromium", "chromium")
	f := startStatusFixture(t, "")
	waitFor(t, "all lines", func() bool {
		_, body := get(t, f.base+"/metrics")
		return strings.Contains(body, `jwtwatch_tokens_total{key="previous",result="valid",token="access"} 9`)
	})
	page := f.base + "/"

	netLog := filepath.Join(t.TempDir(), "net.json")
	dom, stderr := browse(t, chromium, "--log-net-log="+netLog, "--enable-logging=stderr", "--v=0", "--dump-dom", page)
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, doc)
	// A load the Content-Security-Policy blocked would be reported on the console.
	for _, bad := range []string{"Refused to", "Content Security Policy", "ERR_BLOCKED"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("Chromium reports %q:\n%s", bad, stderr)
		}
	}
	pageRequests(t, netLog, page)

	shot := filepath.Join(t.ArtifactDir(), "status.png")
	browse(t, chromium, "--hide-scrollbars", "--window-size=1280,2000", "--screenshot="+shot, page)
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1280×2000", b)
	}
	// Something was drawn: a blank page has one or two colours.
	colours := map[[4]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("the screenshot has %d colours: nothing rendered?", len(colours))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(data))
}

// browse runs headless Chromium as this project's machines allow it: no
// sandbox (root), no GPU, and none of the browser's own background traffic,
// with a fresh profile. It returns standard output and error.
func browse(t *testing.T, chromium string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// pageRequests checks Chromium's network log: every request made for the
// page (its network isolation key is the page's site) goes to the page's
// own server. The browser's own traffic (updates, time, accounts) carries
// another key and is not the page's doing.
func pageRequests(t *testing.T, netLog, page string) {
	t.Helper()
	data, err := os.ReadFile(netLog)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL                 string `json:"url"`
				NetworkIsolationKey string `json:"network_isolation_key"`
			} `json:"params"`
		} `json:"events"`
	}
	// Chromium may stop before closing the JSON; the events so far are enough.
	if err := json.Unmarshal(data, &log); err != nil {
		trimmed := strings.TrimRight(strings.TrimSpace(string(data)), ",")
		if err := json.Unmarshal([]byte(trimmed+"]}"), &log); err != nil {
			t.Fatalf("Chromium's net log: %v", err)
		}
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatal("the net log names no URL_REQUEST_START_JOB events")
	}
	const site = "http://127.0.0.1"
	seen := 0
	for _, e := range log.Events {
		if e.Type != start || !strings.HasPrefix(e.Params.NetworkIsolationKey, site+" ") {
			continue
		}
		seen++
		if !strings.HasPrefix(e.Params.URL, page) {
			t.Errorf("the page requested %s", e.Params.URL)
		}
	}
	if seen == 0 {
		t.Error("the net log shows no request for the page itself")
	}
}
