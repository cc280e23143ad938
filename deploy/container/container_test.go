package container

import (
	"bufio"
	"crypto/rand"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jwtwatch/jwtwatch/internal/gatewaylog"
	"github.com/jwtwatch/jwtwatch/internal/needs"
)

var (
	dockerfile = filepath.Join("..", "..", "Dockerfile")
	release    = filepath.Join("..", "..", "Dockerfile.release")
	gomod      = filepath.Join("..", "..", "go.mod")
)

// finalStage returns the Dockerfile's instructions from the last FROM
// on, continuation lines joined and comments dropped.
func finalStage(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(strings.TrimSpace(more) + " ")
			continue
		}
		cur.WriteString(line)
		if strings.HasPrefix(cur.String(), "FROM ") {
			out = out[:0]
		}
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// TestDockerfiles checks the image's promises in both Dockerfiles, and that
// the image built from source and the one packed from a built binary differ
// only in where the binary comes from.
func TestDockerfiles(t *testing.T) {
	src, rel := finalStage(t, dockerfile), finalStage(t, release)
	const fromBuild, fromContext = "COPY --from=build /out/jwtwatch /jwtwatch", "COPY jwtwatch /jwtwatch"
	if !slices.Contains(src, fromBuild) || !slices.Contains(rel, fromContext) {
		t.Fatalf("want %q in Dockerfile's final stage and %q in Dockerfile.release", fromBuild, fromContext)
	}
	same := slices.Clone(src)
	same[slices.Index(same, fromBuild)] = fromContext
	if !slices.Equal(same, rel) {
		t.Errorf("the final stages differ beyond the COPY:\nDockerfile:\n%s\nDockerfile.release:\n%s", strings.Join(src, "\n"), strings.Join(rel, "\n"))
	}
	for _, want := range []string{"FROM scratch", "USER 65534:65534", "EXPOSE 9824", `ENTRYPOINT ["/jwtwatch"]`} {
		if !slices.Contains(rel, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	labels := strings.Join(rel, "\n")
	for _, l := range []string{"version", "revision", "source", "created"} {
		if !strings.Contains(labels, "org.opencontainers.image."+l+"=") {
			t.Errorf("no OCI label org.opencontainers.image.%s", l)
		}
	}

	// The builder's Go is the go.mod's.
	mod, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	if goVersion == nil || !strings.Contains(string(data), "golang:"+string(goVersion[1])+"-") {
		t.Errorf("Dockerfile's builder image is not golang:%s (go.mod's go line)", goVersion[1])
	}
}

// engine runs buildah and podman on a storage of the test's own: the vfs
// driver (works everywhere, and the image is one small layer) and chroot
// isolation for the build.
type engine struct {
	t               *testing.T
	buildah, podman string
	global          []string
}

func (e engine) run(name string, args ...string) string {
	e.t.Helper()
	bin := e.podman
	if name == "buildah" {
		bin = e.buildah
	}
	cmd := exec.Command(bin, append(slices.Clone(e.global), args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		e.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

// TestImage packs a locally built static binary with Dockerfile.release,
// checks the image's configuration and file tree, then runs it as a
// gateway's sidecar would run: read-only root file system, no capabilities,
// the gateway's log mounted read-only, metrics on a published port.
func TestImage(t *testing.T) {
	needs.Slow(t)
	e := newEngine(t)
	// runc rather than Debian's default crun: crun refuses to start anything
	// on a host with cgroup v1 controllers mounted beside a v2 hierarchy that
	// still holds one ("cgroups in hybrid mode not supported"), as these
	// machines are.
	runc := needs.Tool(t, "runc", "runc")

	const version, revision, created = "v9.8.7-test", "0123456789abcdef0123456789abcdef01234567", "2026-12-01T10:00:00Z"
	ctx := t.TempDir()
	bin := needs.Jwtwatch(t, []string{"CGO_ENABLED=0"}, "-trimpath", "-ldflags=-s -w"+
		" -X github.com/prometheus/common/version.Version="+version+
		" -X github.com/prometheus/common/version.Revision="+revision)
	if err := os.Rename(bin, filepath.Join(ctx, "jwtwatch")); err != nil {
		t.Fatal(err)
	}
	const image = "localhost/jwtwatch:test"
	start := time.Now()
	e.run("buildah", "bud", "--isolation", "chroot", "--pull=never", "-f", release,
		"--build-arg", "VERSION="+version, "--build-arg", "REVISION="+revision, "--build-arg", "CREATED="+created,
		"-t", image, ctx)
	t.Logf("image built in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { exec.Command(e.podman, append(slices.Clone(e.global), "rmi", "-f", image)...).Run() })

	t.Run("config", func(t *testing.T) { checkConfig(t, e, image, version, revision, created) })

	t.Run("file tree", func(t *testing.T) { checkFiles(t, e, image) })

	t.Run("run", func(t *testing.T) { runImage(t, e, runc, image, version) })
}

// checkConfig checks the image's configuration: user, entrypoint, port, labels.
func checkConfig(t *testing.T, e engine, image, version, revision, created string) {
	var cfg []struct {
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			ExposedPorts map[string]struct{}
			Labels       map[string]string
		}
	}
	if err := json.Unmarshal([]byte(e.run("podman", "image", "inspect", image)), &cfg); err != nil || len(cfg) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	c := cfg[0].Config
	if c.User != "65534:65534" {
		t.Errorf("User %q, want 65534:65534", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/jwtwatch"}) || len(c.Cmd) != 0 {
		t.Errorf("Entrypoint %q Cmd %q, want [/jwtwatch] and no Cmd", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["9824/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("ExposedPorts %v, want 9824/tcp", c.ExposedPorts)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.created":  created,
		"org.opencontainers.image.source":   "https://github.com/jwtwatch/jwtwatch",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, c.Labels[k], v)
		}
	}
}

// checkFiles checks that the image holds the binary alone: no shell, nothing else.
func checkFiles(t *testing.T, e engine, image string) {
	ctr := e.run("buildah", "from", "--pull=never", image)
	defer e.run("buildah", "rm", ctr)
	root := e.run("buildah", "mount", ctr)
	defer e.run("buildah", "umount", ctr)
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if !slices.Equal(files, []string{"jwtwatch"}) {
		t.Errorf("image holds %q, want the binary alone", files)
	}
	fi, err := os.Stat(filepath.Join(root, "jwtwatch"))
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("/jwtwatch is not executable: %v %v", fi, err)
	}
}

// newEngine finds buildah and podman and gives them a storage of the test's own.
func newEngine(t *testing.T) engine {
	e := engine{
		t:       t,
		buildah: needs.Tool(t, "buildah", "buildah"),
		podman:  needs.Tool(t, "podman", "podman"),
	}
	storage, err := os.MkdirTemp("", "jwc") // short: podman's socket paths live below it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(storage) })
	e.global = []string{"--root", filepath.Join(storage, "root"), "--runroot", filepath.Join(storage, "run"), "--storage-driver", "vfs"}
	return e
}

// TestImageFromSource builds the multi-stage Dockerfile. Its builder stage
// names the official golang image, which cannot be pulled on these machines
// (no registry but the Go module proxy, Debian's and npm's is reachable), so
// the test assembles a stand-in from what is here — this machine's Go
// toolchain (the go.mod's version) and Debian's static busybox for the shell
// — and passes it as GO_IMAGE. The module and build caches are mounted, so
// the build needs no network. The result must be the image Dockerfile.release
// makes: same configuration, the binary alone, and that binary reports the
// version, revision and date given as build arguments.
func TestImageFromSource(t *testing.T) {
	needs.Slow(t)
	e := newEngine(t)
	busybox := needs.Tool(t, "busybox-static", "busybox")
	if f, err := elf.Open(busybox); err != nil || slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		needs.Missing(t, busybox+" is not a static binary, which an empty image needs (Debian package busybox-static)")
	}
	goEnv := func(k string) string {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	goroot, modcache, gocache := goEnv("GOROOT"), goEnv("GOMODCACHE"), goEnv("GOCACHE")

	start := time.Now()
	bin := t.TempDir()
	for _, tool := range []string{"sh", "sed"} {
		if err := os.Symlink("busybox", filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	ctr := e.run("buildah", "from", "scratch") // commit --rm removes it
	e.run("buildah", "copy", ctr, goroot, "/usr/local/go")
	e.run("buildah", "copy", ctr, busybox, "/bin/busybox")
	e.run("buildah", "copy", ctr, bin, "/bin")
	e.run("buildah", "config", "--env", "PATH=/usr/local/go/bin:/bin", "--env", "HOME=/root", "--env", "GOPATH=/go",
		"--env", "GOTOOLCHAIN=local", "--env", "GOPROXY=off", "--env", "TMPDIR=/root", ctr)
	const builder = "localhost/jwtwatch-go-builder:test"
	e.run("buildah", "commit", "--rm", ctr, builder)
	t.Logf("builder image assembled in %s", time.Since(start).Round(time.Millisecond))

	const version, revision, created = "v9.8.7-src", "fedcba9876543210fedcba9876543210fedcba98", "2026-12-02T11:12:13Z"
	const image = "localhost/jwtwatch:src"
	start = time.Now()
	e.run("buildah", "bud", "--isolation", "chroot", "--pull=never", "-f", dockerfile,
		"--build-arg", "GO_IMAGE="+builder,
		"--build-arg", "VERSION="+version, "--build-arg", "REVISION="+revision, "--build-arg", "CREATED="+created,
		"-v", modcache+":/go/pkg/mod", "-v", gocache+":/root/.cache/go-build",
		"-t", image, filepath.Join("..", ".."))
	t.Logf("image built from source in %s", time.Since(start).Round(time.Millisecond))

	checkConfig(t, e, image, version, revision, created)
	checkFiles(t, e, image)
	ctr = e.run("buildah", "from", "--pull=never", image)
	defer e.run("buildah", "rm", ctr)
	root := e.run("buildah", "mount", ctr)
	defer e.run("buildah", "umount", ctr)
	out, err := exec.Command(filepath.Join(root, "jwtwatch"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("jwtwatch --version: %v\n%s", err, out)
	}
	for _, want := range []string{"version " + version + " ", "revision: " + revision + ")", "build date:       20261202-11:12:13"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--version of the image's binary lacks %q:\n%s", want, out)
		}
	}
}

func runImage(t *testing.T, e engine, runc, image, version string) {
	secrets := map[string]string{"JWT_ACCESS_SECRET": secret(t), "JWT_ACCESS_SECRET_PREVIOUS": secret(t), "JWT_ACCESS_ISSUER": "auth-service"}
	logDir, stateDir := t.TempDir(), t.TempDir()
	logFile := filepath.Join(logDir, "gateway.log")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The mounts as the container's user sees them: the log readable, the state writable.
	if err := os.Chmod(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(stateDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)

	var limits []string
	for name, res := range map[string]int{"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC} {
		var l unix.Rlimit
		if err := unix.Getrlimit(res, &l); err != nil {
			t.Fatal(err)
		}
		// podman raises both limits for a container started by root, which a
		// process without CAP_SYS_RESOURCE (as on these machines) may not;
		// lowering them is always allowed, and jwtwatch needs few of either.
		n := min(l.Max, 4096)
		limits = append(limits, "--ulimit", fmt.Sprintf("%s=%d:%d", name, n, n))
	}
	args := append([]string{"--runtime", runc, "run", "-d", "--name", "jwtwatch-test",
		"--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges",
		"-p", fmt.Sprintf("127.0.0.1:%d:9824", port),
		"-v", logDir + ":/var/log/gateway:ro",
		"-v", stateDir + ":/var/lib/jwtwatch",
	}, limits...)
	for k := range secrets {
		args = append(args, "-e", k) // the value from podman's environment, not its command line
	}
	args = append(args, image, "--log.path=/var/log/gateway/gateway.log", "--state.file=/var/lib/jwtwatch/state.json")
	cmd := exec.Command(e.podman, append(slices.Clone(e.global), args...)...)
	cmd.Env = os.Environ()
	for k, v := range secrets {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(e.podman, append(slices.Clone(e.global), "logs", "jwtwatch-test")...).CombinedOutput()
			t.Logf("container output:\n%s", out)
		}
		exec.Command(e.podman, append(slices.Clone(e.global), "rm", "-f", "-t", "0", "jwtwatch-test")...).Run()
	})

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "the container to be ready", func() bool {
		code, _ := get(base + "/-/ready")
		return code == http.StatusOK
	})
	if _, m := get(base + "/metrics"); !strings.Contains(m, `jwtwatch_build_info{`) || !strings.Contains(m, `version="`+version+`"`) {
		t.Errorf("/metrics has no jwtwatch_build_info of version %s", version)
	}

	// Non-root: the container's process as the host sees it.
	pid := e.run("podman", "inspect", "--format", "{{.State.Pid}}", "jwtwatch-test")
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if f := strings.Fields(line); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") && !slices.Equal(f[1:], []string{"65534", "65534", "65534", "65534"}) {
			t.Errorf("container process %s, want 65534 throughout", strings.TrimSpace(line))
		}
		if f := strings.Fields(line); len(f) == 2 && f[0] == "CapEff:" && f[1] != "0000000000000000" {
			t.Errorf("container process has capabilities %s", f[1])
		}
	}

	// Follows the read-only log: lines appended on the host are counted.
	now := time.Now()
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"JWT_ACCESS_SECRET", "JWT_ACCESS_SECRET_PREVIOUS", "JWT_ACCESS_SECRET"} {
		tok := gatewaylog.Token(gatewaylog.HS256([]byte(secrets[key])), map[string]any{"sub": "alice", "iss": "auth-service", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(time.Hour).Unix()})
		fmt.Fprintln(f, gatewaylog.Request{Time: now, URL: "/api", Headers: []gatewaylog.Header{gatewaylog.Bearer(tok)}, Status: 200}.Pino())
	}
	f.Close()
	waitFor(t, "the appended lines to be counted", func() bool {
		_, m := get(base + "/metrics")
		return strings.Contains(m, `jwtwatch_tokens_total{key="current",result="valid",token="access"} 2`) &&
			strings.Contains(m, `jwtwatch_tokens_total{key="previous",result="valid",token="access"} 1`)
	})

	// SIGTERM (podman stop) ends it cleanly within 5 s; the state is written.
	start := time.Now()
	e.run("podman", "stop", "-t", "5", "jwtwatch-test")
	took := time.Since(start)
	t.Logf("podman stop took %s", took.Round(time.Millisecond))
	if took >= 5*time.Second {
		t.Errorf("the container took %s to stop after SIGTERM, want < 5s", took)
	}
	if code := e.run("podman", "inspect", "--format", "{{.State.ExitCode}}", "jwtwatch-test"); code != "0" {
		t.Errorf("exit code %s after SIGTERM, want 0 (a clean stop, not a kill)", code)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "state.json")); err != nil {
		t.Errorf("no state file written to the state volume: %v", err)
	}
	logs, _ := exec.Command(e.podman, append(slices.Clone(e.global), "logs", "jwtwatch-test")...).CombinedOutput()
	for k, v := range secrets {
		if k != "JWT_ACCESS_ISSUER" && strings.Contains(string(logs), v) {
			t.Errorf("the container's output holds the secret %s", k)
		}
	}
	if !scanFor(string(logs), `msg="jwtwatch stopped"`) {
		t.Errorf("no clean-stop line in the container's output:\n%s", logs)
	}
}

func scanFor(s, sub string) bool {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			return true
		}
	}
	return false
}

func secret(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func get(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
