package gcp

// This file runs deploy.sh against a fake gcloud: a shell script the test writes to a
// directory placed first on PATH. It records each invocation (its arguments, the content of
// the files they name and what it read on stdin) and answers as a project would in which
// nothing, or everything, exists already.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	fakeAccount       = "deployer@example.com"
	fakeProjectNumber = "123456789012"
)

// fakeGcloud is the fake gcloud. It appends each invocation to $CLOUDTRIM_FAKE_GCLOUD_LOG as
// NUL-terminated fields, which readCalls parses: "call", then "arg" and an argument for each
// argument, "file", a flag and the content of the file it names for each of the flags whose
// file deploy.sh deletes on exit, "stdin" and what it read for --data-file=-, and "end". With
// CLOUDTRIM_FAKE_GCLOUD_EXISTS=1 every describe finds its resource (a second run); without,
// none does (a first run). Lookups (--format=value(...)) get the answers deploy.sh needs; one
// the fake does not know fails, so that a new lookup cannot pass unnoticed.
var fakeGcloud = strings.NewReplacer("@ACCOUNT@", fakeAccount, "@NUMBER@", fakeProjectNumber).Replace(`#!/bin/sh
{
	printf 'call\0'
	printf 'arg\0%s\0' "$@"
	for a in "$@"; do
		case "$a" in
		--condition-from-file=* | --file=* | --lifecycle-file=*)
			printf 'file\0%s\0' "${a%%=*}"
			cat "${a#*=}" || exit 2
			printf '\0'
			;;
		--data-file=-)
			printf 'stdin\0'
			cat
			printf '\0'
			;;
		esac
	done
	printf 'end\0'
} >>"$CLOUDTRIM_FAKE_GCLOUD_LOG" || exit 2

project='' location='' format='' describe=false name='' prev=''
for a in "$@"; do
	case "$a" in
	--project=*) project="${a#*=}" ;;
	--location=*) location="${a#*=}" ;;
	--format=*) format="${a#*=}" ;;
	-*) ;;
	*)
		case "$prev" in describe | get-iam-policy) name="$a" ;; esac
		[ "$a" = describe ] && describe=true
		prev="$a"
		;;
	esac
done

case "$format" in
'value(account)') echo '@ACCOUNT@' ;;
'value(projectNumber)') echo '@NUMBER@' ;;
'value(transport.pubsub.subscription)') echo "projects/$project/subscriptions/eventarc-$location-$name-sub-042" ;;
'value(status.url)') echo "https://$name-x7k2q4-ew.a.run.app" ;;
'value(bindings.role)') if [ "$CLOUDTRIM_FAKE_GCLOUD_EXISTS" = 1 ]; then echo "projects/$name/roles/bound"; fi ;;
'value('*)
	echo "fake gcloud: no answer for --format=$format: teach the fake" >&2
	exit 3
	;;
*)
	case " $* " in
	*" storage service-agent "*) echo 'service-@NUMBER@@gs-project-accounts.iam.gserviceaccount.com' ;;
	*)
		if $describe && [ "$CLOUDTRIM_FAKE_GCLOUD_EXISTS" != 1 ]; then
			echo 'ERROR: (gcloud) NOT_FOUND: the resource does not exist' >&2
			exit 1
		fi
		;;
	esac
	;;
esac
`)

// fakeMake fails: the tests hand deploy.sh a stand-in dist/gcp.
const fakeMake = "#!/bin/sh\necho 'fake make: deploy.sh started a build in a test' >&2\nexit 97\n"

// scratch holds the runs shared by several tests; TestMain removes it.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "infra-gcp-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// call is one recorded gcloud invocation.
type call struct {
	Args  []string
	Files map[string]string // flag -> content of the file it names
	Stdin string
}

// run is the outcome of one deploy.sh run.
type run struct {
	calls          []call
	stdout, stderr string
	err            error // deploy.sh's exit status, nil for 0
}

// deployScript runs deploy.sh with args and stdin against the fake gcloud, in a world where
// every resource exists or none does, and returns what the fake recorded.
func deployScript(t *testing.T, exists bool, stdin string, args ...string) run {
	t.Helper()
	needBash(t)
	r, err := runScript(t.TempDir(), exists, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func needBash(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed: deploy.sh cannot run")
	}
}

// runScript is deployScript working in dir.
func runScript(dir string, exists bool, stdin string, args ...string) (run, error) {
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return run{}, err
	}
	if err := os.WriteFile(filepath.Join(bin, "gcloud"), []byte(fakeGcloud), 0o755); err != nil {
		return run{}, err
	}
	// deploy.sh builds dist/gcp with make unless given --dist; a test must never start a build.
	if err := os.WriteFile(filepath.Join(bin, "make"), []byte(fakeMake), 0o755); err != nil {
		return run{}, err
	}
	log := filepath.Join(dir, "gcloud.log")
	world := ""
	if exists {
		world = "1"
	}
	cmd := exec.Command("bash", append([]string{"deploy.sh"}, args...)...)
	// A clean environment: nothing of the caller's (CLOUDTRIM_GCP_PROJECT, a real gcloud's
	// configuration) may leak into the run.
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir, "TMPDIR=" + dir, "LC_ALL=C",
		"CLOUDTRIM_FAKE_GCLOUD_LOG=" + log, "CLOUDTRIM_FAKE_GCLOUD_EXISTS=" + world,
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := run{err: cmd.Run(), stdout: stdout.String(), stderr: stderr.String()}
	var err error
	if r.calls, err = readCalls(log); err != nil {
		return run{}, fmt.Errorf("read the fake gcloud's record: %w", err)
	}
	return r, nil
}

// readCalls parses the fake gcloud's record (see fakeGcloud); no record is no call.
func readCalls(path string) ([]call, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fields := strings.Split(string(data), "\x00")
	if last := fields[len(fields)-1]; last != "" {
		return nil, fmt.Errorf("%s: the record ends in an unterminated field %q", path, last)
	}
	fields = fields[:len(fields)-1]
	var out []call
	var c *call
	take := func(i, n int) ([]string, error) {
		if c == nil || i+n >= len(fields) {
			return nil, fmt.Errorf("%s: field %d (%q) is outside a call or lacks its values", path, i, fields[i])
		}
		return fields[i+1 : i+1+n], nil
	}
	for i := 0; i < len(fields); i++ {
		switch fields[i] {
		case "call":
			if c != nil {
				return nil, fmt.Errorf("%s: field %d starts a call inside another", path, i)
			}
			c = &call{Files: map[string]string{}}
			continue
		case "end":
			if c == nil {
				return nil, fmt.Errorf("%s: field %d ends no call", path, i)
			}
			out = append(out, *c)
			c = nil
			continue
		}
		n := map[string]int{"arg": 1, "file": 2, "stdin": 1}[fields[i]]
		if n == 0 {
			return nil, fmt.Errorf("%s: field %d is %q, not a field name", path, i, fields[i])
		}
		v, err := take(i, n)
		if err != nil {
			return nil, err
		}
		switch fields[i] {
		case "arg":
			c.Args = append(c.Args, v[0])
		case "file":
			c.Files[v[0]] = v[1]
		case "stdin":
			c.Stdin = v[0]
		}
		i += n
	}
	if c != nil {
		return nil, fmt.Errorf("%s: the last call has no end", path)
	}
	return out, nil
}

// ---------------------------------------------------------------- scenarios

const (
	testProject      = "cloudtrim-test"
	testRegion       = "europe-west1"
	testBucket       = "cloudtrim-test-lake"
	testVersion      = "v1.2.3"
	testBillingTable = "billing-proj.billing_ds.gcp_billing_export_v1_0000"
	testReportURL    = "https://reports.example.com/cloudtrim"
	testSchedule     = "30 2 * * 1-5"

	// Secret values the tests hand deploy.sh; none may reach argv or output.
	testWebhookSecret = "webhook-0123456789abcdef-SECRET"
	testSlackSecret   = "slack-0123456789abcdef-SECRET"
	testNotifyURL     = "https://hooks.example.com/services/T000/B000/SECRET"
)

var (
	readProjects   = []string{"team-alpha-prod", "team-beta-prod"}
	changeProjects = []string{"team-alpha-prod"}
	image          = testRegion + "-docker.pkg.dev/" + testProject + "/cloudtrim/cloudtrim-gcp:" + testVersion
	pubsubAgent    = "service-" + fakeProjectNumber + "@gcp-sa-pubsub.iam.gserviceaccount.com"
)

// serviceAccount is the email of the deployment's service account for name (collector, ...).
func serviceAccount(name string) string {
	return "cloudtrim-" + name + "@" + testProject + ".iam.gserviceaccount.com"
}

// scenario is one way of running deploy.sh.
type scenario struct {
	name          string
	exists        bool     // a second run: everything exists already
	extra         []string // arguments beyond the common ones
	stdin         string
	noWebhookFile bool // let deploy.sh generate the webhook secret
}

// The four runs the invariants are checked on. Between them they give the webhook secret in
// each way deploy.sh takes it: from a file, generated, and on stdin.
var (
	firstRun    = scenario{name: "first run"}
	firstApply  = scenario{name: "first run with --apply", extra: []string{"--apply"}, noWebhookFile: true}
	secondRun   = scenario{name: "second run", exists: true}
	secondApply = scenario{name: "second run with --apply", exists: true, stdin: testWebhookSecret + "\n",
		extra: []string{"--apply", "--webhook-secret-file", "-"}}
)

// scenarios are the runs result serves.
var scenarios = []scenario{firstRun, firstApply, secondRun, secondApply}

// args returns the arguments of s: a full set of inputs, with its secrets and a stand-in
// dist/gcp in dir.
func (s scenario) args(dir string) ([]string, error) {
	dist := filepath.Join(dir, "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return nil, err
	}
	var err error
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		err = errors.Join(err, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	write("dist/cloudtrim-gcp", "not a real binary")
	write("dist/Dockerfile", "FROM scratch\n")
	args := []string{
		"--project", testProject, "--region", testRegion, "--bucket", testBucket,
		"--projects", strings.Join(readProjects, ","), "--change-projects", strings.Join(changeProjects, ","),
		"--billing-export-table", testBillingTable, "--schedule", testSchedule,
		"--report-url", testReportURL, "--version", testVersion, "--dist", dist,
		"--slack-secret-file", write("slack", testSlackSecret+"\n"),
		"--notify-url-file", write("notify", testNotifyURL+"\n"),
	}
	if !s.noWebhookFile && !slices.Contains(s.extra, "--webhook-secret-file") {
		args = append(args, "--webhook-secret-file", write("webhook", testWebhookSecret+"\n"))
	}
	return append(args, s.extra...), err
}

// runScenarios runs every scenario once, side by side: most of a run is waiting for the
// processes it starts.
var runScenarios = sync.OnceValue(func() map[string]run {
	out := make([]run, len(scenarios))
	var wg sync.WaitGroup
	for i, s := range scenarios {
		wg.Go(func() {
			dir := filepath.Join(scratch, strconv.Itoa(i))
			args, err := s.args(dir)
			if err == nil {
				out[i], err = runScript(dir, s.exists, s.stdin, args...)
			}
			if err != nil {
				out[i] = run{err: err}
			}
		})
	}
	wg.Wait()
	m := map[string]run{}
	for i, s := range scenarios {
		m[s.name] = out[i]
	}
	return m
})

// result returns the outcome of scenario s, failing t unless deploy.sh succeeded.
func result(t *testing.T, s scenario) run {
	t.Helper()
	needBash(t)
	r, ok := runScenarios()[s.name]
	if !ok {
		t.Fatalf("scenario %q is not among the scenarios run", s.name)
	}
	if r.err != nil {
		t.Fatalf("deploy.sh (%s): %v\nstderr:\n%s", s.name, r.err, r.stderr)
	}
	return r
}
