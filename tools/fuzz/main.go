// Command fuzz runs every Go fuzz target of the module for a short time
// each, as part of make test. go test -fuzz takes one target of one
// package per run, so fuzz finds the targets itself: it lists the
// packages whose tests declare a Fuzz function, builds each package's
// test binary once with the fuzzing instrumentation, asks the binary for
// its targets (-test.list '^Fuzz', what go test -list runs), and runs
// them one after the other for -fuzztime each, in the package's
// directory, with go test's corpus cache ($GOCACHE/fuzz). A new Fuzz
// function in any package is picked up without changing anything here.
//
// By default only the module's own packages are instrumented for
// coverage (-instrument module): the binary builds in seconds from the
// ordinary build cache rather than recompiling the standard library and
// every dependency, and runs about ten times as many inputs a second,
// which is what a few seconds of fuzzing per target need. -instrument
// all instruments every package, as go test -fuzz does, for longer runs
// that should also be guided by coverage inside encoding/json,
// encoding/csv or parquet-go.
//
// It prints one line per target and, for a failure, the crasher's path,
// the command that re-runs it, the input and the failure; it exits 1 when
// a target failed or a package did not build, 2 on a usage error.
//
// Targets run -jobs at a time (default: one per CPU), each with its
// share of the CPUs as fuzzing workers, so that the wall time of make
// fuzz grows with the number of targets divided by the CPUs; each
// target's lines are printed, in order, when it is done.
//
//	go run ./tools/fuzz [-fuzztime 5s] [-instrument module|all] [-jobs N] [-run regexp] [-v] [packages]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	def := envOr("FUZZTIME", "5s")
	fuzztime := flag.String("fuzztime", def, "how long to fuzz each target: a duration, or Nx for N inputs (env FUZZTIME)")
	run := flag.String("run", "", "only fuzz the targets whose name matches this regular expression")
	minimize := flag.Duration("minimizetime", 10*time.Second, "how long to minimize a failing input")
	jobs := flag.Int("jobs", runtime.NumCPU(), "targets fuzzed at the same time")
	parallel := flag.Int("parallel", 0, "fuzzing workers per target (default: the CPUs divided among the jobs)")
	verbose := flag.Bool("v", false, "stream each target's output")
	instrument := flag.String("instrument", envOr("FUZZINSTRUMENT", "module"), "which packages to instrument for coverage: module (the module's own) or all (as go test -fuzz) (env FUZZINSTRUMENT)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: go run ./tools/fuzz [flags] [packages (default ./...)]\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	r := &runner{fuzztime: *fuzztime, minimize: *minimize, jobs: max(*jobs, 1), parallel: *parallel, verbose: *verbose, instrument: *instrument, out: os.Stdout}
	if r.parallel <= 0 {
		r.parallel = max(runtime.NumCPU()/r.jobs, 1)
	}
	if r.instrument != "module" && r.instrument != "all" {
		fmt.Fprintf(os.Stderr, "fuzz: -instrument %q: want module or all\n", r.instrument)
		os.Exit(2)
	}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fuzz: -run:", err)
			os.Exit(2)
		}
		r.match = re
	}
	if err := r.checkFuzztime(); err != nil {
		fmt.Fprintln(os.Stderr, "fuzz:", err)
		os.Exit(2)
	}
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	ok, err := r.main(context.Background(), patterns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzz:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type runner struct {
	fuzztime   string
	instrument string
	minimize   time.Duration
	jobs       int
	parallel   int
	verbose    bool
	match      *regexp.Regexp
	out        io.Writer
	outMu      sync.Mutex // for -v, where targets running together stream

	dir      string // where to run the go command; "" is the current directory
	root     string // the module's directory
	module   string // the module's path
	cacheDir string // go test's fuzz corpus cache, $GOCACHE/fuzz
	binDir   string
}

// pkg is a package whose tests may declare fuzz targets.
type pkg struct {
	ImportPath   string
	Dir          string
	TestGoFiles  []string
	XTestGoFiles []string
	rel          string // "./shared/approve"
	bin          string
	targets      []string
}

// result is how fuzzing one target went.
type result struct {
	pkg     *pkg
	target  string
	elapsed time.Duration
	err     error
	output  []byte
	execs   string
	newIn   string
	crasher string // path relative to the module root
	// race is set when the run failed only by Go's fuzzing coordinator
	// missing its own deadline (go.dev/issue/75804, fixed in Go 1.27):
	// "context deadline exceeded" at the end of -fuzztime, no crasher.
	race bool
}

func (r *runner) checkFuzztime() error {
	if n, ok := strings.CutSuffix(r.fuzztime, "x"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return nil
		}
	} else if d, err := time.ParseDuration(r.fuzztime); err == nil && d > 0 {
		return nil
	}
	return fmt.Errorf("-fuzztime %q: want a positive duration (5s) or a count of inputs (1000x)", r.fuzztime)
}

// budget bounds one target's run: the fuzzing time (unknown for a count
// of inputs), minimizing a crasher, and start-up.
func (r *runner) budget() time.Duration {
	d, err := time.ParseDuration(r.fuzztime)
	if err != nil {
		d = 5 * time.Minute
	}
	return d + r.minimize + 3*time.Minute
}

func (r *runner) main(ctx context.Context, patterns []string) (bool, error) {
	start := time.Now()
	root, err := goOutput(ctx, r.dir, "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return false, err
	}
	r.root = root
	if r.module, err = goOutput(ctx, r.dir, "list", "-m", "-f", "{{.Path}}"); err != nil {
		return false, err
	}
	if r.cacheDir == "" {
		gocache, err := goOutput(ctx, r.dir, "env", "GOCACHE")
		if err != nil {
			return false, err
		}
		if gocache == "" || gocache == "off" {
			gocache = filepath.Join(os.TempDir(), "cloudtrim-fuzzcache")
		}
		r.cacheDir = filepath.Join(gocache, "fuzz")
	}
	if r.binDir, err = os.MkdirTemp("", "cloudtrim-fuzz-"); err != nil {
		return false, err
	}
	defer os.RemoveAll(r.binDir)

	pkgs, err := r.candidates(ctx, patterns)
	if err != nil {
		return false, err
	}
	ok := true
	var ready []*pkg
	for i, p := range pkgs {
		if err := r.build(ctx, p, i); err != nil {
			ok = false
			fmt.Fprintf(r.out, "FAIL  %s  does not build:\n%s\n", p.rel, indent(err.Error()))
			continue
		}
		if len(p.targets) > 0 {
			ready = append(ready, p)
		}
	}
	n := 0
	for _, p := range ready {
		n += len(p.targets)
	}
	fmt.Fprintf(r.out, "fuzz: %d targets in %d packages, %s each, %d at a time with %d workers each, %s instrumented (built in %s)\n",
		n, len(ready), r.fuzztime, r.jobs, r.parallel, map[string]string{"module": r.module + "/...", "all": "every package"}[r.instrument],
		time.Since(start).Round(100*time.Millisecond))
	// Targets run jobs at a time, each with its share of the CPUs; their
	// lines come out in order, each when its target is done.
	type job struct {
		p      *pkg
		target string
		done   chan result
	}
	var all []job
	for _, p := range ready {
		for _, t := range p.targets {
			all = append(all, job{p, t, make(chan result, 1)})
		}
	}
	sem := make(chan struct{}, r.jobs)
	go func() {
		for _, j := range all {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				j.done <- r.fuzz(ctx, j.p, j.target)
			}()
		}
	}()
	var failed []result
	for _, j := range all {
		res := <-j.done
		r.report(res)
		if res.err != nil {
			failed = append(failed, res)
		}
	}
	if len(failed) > 0 {
		ok = false
		fmt.Fprintf(r.out, "fuzz: %d of %d targets FAILED in %s:\n", len(failed), n, time.Since(start).Round(time.Second))
		for _, f := range failed {
			where := f.crasher
			if where == "" {
				where = "no crasher written (see the output above)"
			}
			fmt.Fprintf(r.out, "  %s %s: %s\n", f.pkg.rel, f.target, where)
		}
	} else {
		fmt.Fprintf(r.out, "fuzz: %d targets passed in %s\n", n, time.Since(start).Round(time.Second))
	}
	return ok, nil
}

// fuzzFunc finds the declaration of a fuzz target.
var fuzzFunc = regexp.MustCompile(`(?m)^func\s+Fuzz\w*\s*\(`)

// candidates lists the packages matching patterns whose test files
// declare a Fuzz function, by import path. Which of them are targets is
// the test binary's to say (build tags, the exact signature).
func (r *runner) candidates(ctx context.Context, patterns []string) ([]*pkg, error) {
	out, err := goOutput(ctx, r.dir, append([]string{"list", "-e", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles"}, patterns...)...)
	if err != nil {
		return nil, err
	}
	var pkgs []*pkg
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		for _, f := range slices.Concat(p.TestGoFiles, p.XTestGoFiles) {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return nil, err
			}
			if fuzzFunc.Match(b) {
				p.rel = "./" + filepath.ToSlash(mustRel(r.root, p.Dir))
				if p.rel == "./." {
					p.rel = "."
				}
				pkgs = append(pkgs, &p)
				break
			}
		}
	}
	slices.SortFunc(pkgs, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return pkgs, nil
}

// build builds p's test binary with the fuzzing instrumentation and
// lists its targets.
func (r *runner) build(ctx context.Context, p *pkg, i int) error {
	p.bin = filepath.Join(r.binDir, fmt.Sprintf("%d-%s.test", i, filepath.Base(p.Dir)))
	start := time.Now()
	args := []string{"test", "-c", "-o", p.bin}
	switch {
	case r.instrument == "all":
		args = append(args, "-fuzz=.")
	case runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64":
		// What go test -fuzz gives every package (cmd/go's
		// fuzzInstrumentFlags), for the module's packages only.
		args = append(args, "-gcflags="+r.module+"/...=-d=libfuzzer")
	}
	if _, err := goOutput(ctx, r.dir, append(args, p.ImportPath)...); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, p.bin, "-test.list", "^Fuzz")
	cmd.Dir = p.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -test.list: %v\n%s", filepath.Base(p.bin), err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(name, "Fuzz") && (r.match == nil || r.match.MatchString(name)) {
			p.targets = append(p.targets, name)
		}
	}
	if r.verbose {
		fmt.Fprintf(r.out, "built %s in %s: %s\n", p.rel, time.Since(start).Round(100*time.Millisecond), strings.Join(p.targets, ", "))
	}
	return nil
}

var (
	progressLine = regexp.MustCompile(`execs: (\d+) .*new interesting: (\d+)`)
	crasherLine  = regexp.MustCompile(`Failing input written to (\S+)`)
)

// fuzz runs one target in its package's directory, where go test runs
// it, so that a crasher lands in the package's testdata/fuzz.
func (r *runner) fuzz(ctx context.Context, p *pkg, target string) result {
	ctx, cancel := context.WithTimeout(ctx, r.budget())
	defer cancel()
	args := []string{
		"-test.run=^$", "-test.fuzz=^" + target + "$", "-test.fuzztime=" + r.fuzztime,
		"-test.fuzzminimizetime=" + r.minimize.String(), "-test.fuzzcachedir=" + filepath.Join(r.cacheDir, p.ImportPath),
		"-test.timeout=" + r.budget().String(),
	}
	args = append(args, "-test.parallel="+strconv.Itoa(r.parallel))
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir = p.Dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if r.verbose {
		w := io.MultiWriter(&buf, &lockedWriter{w: r.out, mu: &r.outMu})
		cmd.Stdout, cmd.Stderr = w, w
	}
	start := time.Now()
	err := cmd.Run()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	res := result{pkg: p, target: target, elapsed: time.Since(start), err: err, output: buf.Bytes()}
	if m := progressLine.FindAllSubmatch(res.output, -1); len(m) > 0 {
		last := m[len(m)-1]
		res.execs, res.newIn = string(last[1]), string(last[2])
	}
	if m := crasherLine.FindSubmatch(res.output); m != nil {
		res.crasher = filepath.ToSlash(mustRel(r.root, filepath.Join(p.Dir, string(m[1]))))
	}
	if res.err != nil && res.crasher == "" && ctx.Err() == nil && deadlineRace(res.output) {
		res.err, res.race = nil, true
	}
	return res
}

// deadlineRace reports whether a failed run's only failure is the
// coordinator's "context deadline exceeded" (go.dev/issue/75804): no
// panic, no failing input, no other failure message.
func deadlineRace(out []byte) bool {
	if bytes.Contains(out, []byte("Failing input")) || bytes.Contains(out, []byte("panic:")) {
		return false
	}
	seen := false
	for l := range strings.SplitSeq(string(out), "\n") {
		switch l = strings.TrimSpace(l); {
		case l == "context deadline exceeded":
			seen = true
		case l == "", l == "FAIL", strings.HasPrefix(l, "fuzz: elapsed:"), strings.HasPrefix(l, "--- FAIL: Fuzz"), strings.HasPrefix(l, "exit status"):
		default:
			return false
		}
	}
	return seen
}

func (r *runner) report(res result) {
	if res.err == nil {
		note := ""
		if res.race {
			note = "  (Go's fuzzing deadline race at the end, go.dev/issue/75804: not a finding)"
		}
		fmt.Fprintf(r.out, "ok    %-32s %-24s %5.1fs  %12s execs  %3s new%s\n", res.pkg.rel, res.target, res.elapsed.Seconds(), thousands(res.execs), res.newIn, note)
		return
	}
	fmt.Fprintf(r.out, "FAIL  %-32s %-24s %5.1fs  %v\n", res.pkg.rel, res.target, res.elapsed.Seconds(), res.err)
	if res.crasher != "" {
		name := filepath.Base(res.crasher)
		fmt.Fprintf(r.out, "      crasher: %s\n", res.crasher)
		fmt.Fprintf(r.out, "      re-run:  go test -run='^%s$/^%s$' %s\n", res.target, name, res.pkg.rel)
		if b, err := os.ReadFile(filepath.Join(r.root, res.crasher)); err == nil {
			if len(b) > 2048 {
				b = append(b[:2048:2048], "…"...)
			}
			fmt.Fprintf(r.out, "      input:\n%s\n", indent(string(b)))
		}
	}
	if !r.verbose {
		fmt.Fprintf(r.out, "      output:\n%s\n", indent(failure(res.output)))
	}
}

// failure keeps the part of a failed run's output that says what went
// wrong: from the first failure line on, without the progress lines.
func failure(out []byte) string {
	var lines []string
	started := false
	for l := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(l, "fuzz: elapsed:") {
			continue
		}
		if !started && (strings.Contains(l, "--- FAIL") || strings.HasPrefix(l, "panic:") || strings.Contains(l, "fuzzing process")) {
			started = true
		}
		if started {
			lines = append(lines, l)
		}
	}
	if !started {
		lines = strings.Split(string(out), "\n")
	}
	if len(lines) > 80 {
		lines = append(lines[:80], fmt.Sprintf("… %d more lines", len(lines)-80))
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// goOutput runs the go command in dir and returns its trimmed standard
// output, or an error with its standard error.
func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd(), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// goCmd is the go command: $GO when set (as make sets it), else go on
// the PATH.
func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// lockedWriter serializes the writes of targets that run together.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func mustRel(base, p string) string {
	rel, err := filepath.Rel(base, p)
	if err != nil {
		return p
	}
	return rel
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ")
}

// thousands groups the digits of a decimal count: 1234567 → 1,234,567.
func thousands(s string) string {
	if s == "" {
		return "?"
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
