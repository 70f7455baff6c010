// Package local is the runtime that runs the whole pipeline in one
// process on the embedded defaults: a file-backed lake, in-process
// queues, the approval webhook on a loopback port, and the simulated
// three-cloud estate, whose state (its configuration and every change
// the actuator made) is kept in the lake so separate commands see the
// same estate.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/queue"
	"github.com/cloudtrim/cloudtrim/shared/queue/memqueue"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

// Options configures the local runtime.
type Options struct {
	// Dir is the data directory; the lake lives in Dir/lake unless
	// LakeURL is set, and the webhook secret in Dir/webhook-secret.
	Dir     string
	LakeURL string
	// Estate configures the simulated estate when the lake has none yet;
	// zero means the committed demo estate.
	Estate EstateConfig
	Policy domain.Policy
	// Secret is the approval webhook's HMAC secret; when empty one is
	// generated and kept in Dir/webhook-secret (mode 0600).
	Secret []byte
	Now    func() time.Time
	Logger *slog.Logger
	// SlackSecrets are the Slack app's signing secrets for POST
	// /slack/actions; nil reads CLOUDTRIM_SLACK_SIGNING_SECRET (none
	// refuses every Slack request).
	SlackSecrets [][]byte
	// Getenv reads the environment (default os.Getenv): the actuator's
	// kill switch is CLOUDTRIM_KILL_SWITCH=1.
	Getenv func(string) string
}

// Runtime is one local process of the pipeline.
type Runtime struct {
	Pipeline *pipeline.Pipeline
	Sim      *Sim
	Queues   map[domain.Cloud]*memqueue.Queue
	secret   []byte
	lakeURL  string
	dir      string
	logger   *slog.Logger
	now      func() time.Time
	// killSwitch is CLOUDTRIM_KILL_SWITCH as read when the runtime opened.
	killSwitch bool
	// breakerThreshold and breakerCoolDown are CLOUDTRIM_BREAKER_THRESHOLD
	// and CLOUDTRIM_BREAKER_COOLDOWN (zero: the actuator's defaults).
	breakerThreshold int
	breakerCoolDown  time.Duration
	// slackSecrets verify Slack's interaction requests.
	slackSecrets [][]byte
}

// Open opens (or creates) the local state in opts.Dir.
func Open(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Dir == "" && opts.LakeURL == "" {
		return nil, fmt.Errorf("%w: a data directory or a lake URL is required", domain.ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Policy.Version == "" {
		opts.Policy = domain.DefaultPolicy()
	}
	if err := opts.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	url := opts.LakeURL
	if url == "" {
		abs, err := filepath.Abs(filepath.Join(opts.Dir, "lake"))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		url = "file://" + abs
	}
	l, err := lake.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", url, err)
	}
	prices, err := pricing.Embedded()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("load price catalog: %w", err)
	}
	// The simulated estate holds and bills buckets where their hot class
	// is priced.
	prices = pricing.WithObjectStorage(prices)
	sim, err := OpenSim(ctx, l, prices, opts.Estate, opts.Now)
	if err != nil {
		l.Close()
		return nil, err
	}
	secret := opts.Secret
	if len(secret) == 0 && opts.Dir != "" {
		secret, err = loadOrCreateSecret(filepath.Join(opts.Dir, "webhook-secret"))
		if err != nil {
			l.Close()
			return nil, err
		}
	}
	threshold, coolDown, err := actuate.BreakerFromEnv(opts.Getenv)
	if err != nil {
		l.Close()
		return nil, err
	}
	slack := opts.SlackSecrets
	if slack == nil {
		if slack, err = approve.ParseSlackSecrets(opts.Getenv(approve.SlackSigningSecretEnv)); err != nil {
			l.Close()
			return nil, err
		}
	}
	rt := &Runtime{
		Pipeline: &pipeline.Pipeline{Lake: l, Prices: prices, Policy: opts.Policy, Now: opts.Now, Logger: opts.Logger},
		Sim:      sim,
		Queues:   map[domain.Cloud]*memqueue.Queue{},
		secret:   secret,
		lakeURL:  url,
		dir:      opts.Dir,
		logger:   opts.Logger,
		now:      opts.Now,

		killSwitch:       actuate.KillSwitchEngaged(opts.Getenv(actuate.KillSwitchEnv)),
		breakerThreshold: threshold,
		breakerCoolDown:  coolDown,
		slackSecrets:     slack,
	}
	for _, c := range domain.Clouds {
		rt.Queues[c] = memqueue.New(memqueue.Options{Visibility: 30 * time.Second, MaxAttempts: 5, Now: opts.Now})
	}
	return rt, nil
}

// LakeURL returns the URL of the lake in use.
func (rt *Runtime) LakeURL() string { return rt.lakeURL }

// Secret returns the webhook secret, for signing requests in the
// demo. It must never be logged.
func (rt *Runtime) Secret() []byte { return rt.secret }

// Close releases the lake.
func (rt *Runtime) Close() error { return rt.Pipeline.Lake.Close() }

// Collect runs the collector of each cloud against the simulated estate.
func (rt *Runtime) Collect(ctx context.Context, clouds []domain.Cloud, days int, onProgress func(collect.Progress)) ([]collect.Result, error) {
	// The simulated estate has its own clock: its history ends at the
	// estate's now, so the collector reads it as of that time.
	var out []collect.Result
	for _, c := range clouds {
		res, err := rt.Pipeline.Collect(ctx, rt.Sim.Estate.Cloud(c), days, rt.Sim.Estate.Now(), onProgress)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// Enqueue implements approve.Enqueuer with the in-process queues.
func (rt *Runtime) Enqueue(ctx context.Context, cloud domain.Cloud, body []byte) error {
	q, ok := rt.Queues[cloud]
	if !ok {
		return fmt.Errorf("%w: no queue for cloud %q", domain.ErrInvalid, cloud)
	}
	return q.Send(ctx, body)
}

// Server is the approval webhook listening on loopback.
type Server struct {
	URL string
	srv *http.Server
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// ServeApprovals starts the approval webhook on addr (for example
// "127.0.0.1:0").
func (rt *Runtime) ServeApprovals(addr string) (*Server, error) {
	if len(rt.secret) == 0 {
		return nil, fmt.Errorf("%w: no webhook secret: set CLOUDTRIM_WEBHOOK_SECRET", domain.ErrInvalid)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	core := rt.Pipeline.Approver([][]byte{rt.secret}, rt)
	core.SlackSecrets = rt.slackSecrets
	core.SlackReplies = &httpapi.SlackReplier{}
	mux := httpapi.NewMux(core, rt.logger)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Server{URL: "http://" + ln.Addr().String() + "/approve", srv: srv}, nil
}

// ActuateSummary counts what an actuation pass did.
type ActuateSummary struct {
	Results     []actuate.Result
	Counts      map[domain.ActionStatus]int
	DeadLetters int
	// Held counts the actions kept for a later run by the blast-radius
	// cap, which allowed Cap changes in this run.
	Held     int
	Cap      int
	Realized domain.Money
	// Deferred counts the messages left on the queue because the kill
	// switch is engaged or a circuit breaker is open; Stopped says why
	// the run stopped then.
	Deferred int
	Stopped  string
}

// Actuate puts every approved, unfinished action of the newest plan
// back on the in-process queues (they do not outlive a process), then
// drains the queues through the actuator until nothing is left. When the
// kill switch (CLOUDTRIM_KILL_SWITCH or the lake's document) or a
// circuit breaker defers a message, the run finishes its round, leaves
// every deferred message on its queue and returns an error wrapping
// actuate.ErrStopped with the reason.
// EnforceSchedules runs the scheduler once over the simulated estate:
// every applied schedule is kept, starting or stopping its VM. It
// returns the report and the number of applied schedules.
func (rt *Runtime) EnforceSchedules(ctx context.Context, dryRun bool) (actuate.EnforceReport, int, error) {
	schedules, err := actuate.AppliedSchedules(ctx, rt.Pipeline.Lake)
	if err != nil {
		return actuate.EnforceReport{}, 0, err
	}
	providers := map[domain.Cloud]actuate.Resources{}
	for _, c := range domain.Clouds {
		providers[c] = rt.Sim.Resources(c)
	}
	act := rt.Pipeline.Actuator(providers, dryRun, "local")
	act.KillSwitch = rt.killSwitch
	rep, err := act.Enforce(ctx, schedules)
	if perr := rt.Sim.Persist(context.WithoutCancel(ctx)); perr != nil && err == nil {
		err = fmt.Errorf("persist simulated estate: %w", perr)
	}
	return rep, len(schedules), err
}

func (rt *Runtime) Actuate(ctx context.Context, dryRun bool, onResult func(actuate.Result)) (ActuateSummary, error) {
	plan, err := rt.Pipeline.LatestPlan(ctx)
	if err != nil {
		return ActuateSummary{}, err
	}
	pending, err := rt.Pipeline.Requeue(ctx, plan, !dryRun)
	if err != nil {
		return ActuateSummary{}, fmt.Errorf("requeue: %w", err)
	}
	queued := 0
	for _, q := range rt.Queues {
		queued += q.Len()
	}
	if queued == 0 {
		for _, qa := range pending {
			body, err := json.Marshal(qa)
			if err != nil {
				return ActuateSummary{}, err
			}
			if err := rt.Enqueue(ctx, qa.Action.Target.Cloud, body); err != nil {
				return ActuateSummary{}, err
			}
		}
	}
	providers := map[domain.Cloud]actuate.Resources{}
	for _, c := range domain.Clouds {
		providers[c] = rt.Sim.Resources(c)
	}
	// One worker name for every local process: the local host runs one
	// actuator at a time, so a claim left by a crashed earlier run is its own
	// and is taken over at once.
	act := rt.Pipeline.Actuator(providers, dryRun, "local")
	act.Budget = actuate.RunBudget(rt.Pipeline.Policy.Caps, plan.Resources)
	act.KillSwitch = rt.killSwitch
	act.BreakerThreshold, act.BreakerCoolDown = rt.breakerThreshold, rt.breakerCoolDown
	sum := ActuateSummary{Counts: map[domain.ActionStatus]int{}, Realized: domain.Money{Currency: plan.Currency}, Cap: act.Budget.Left()}
	defer func() {
		if err := rt.Sim.Persist(context.WithoutCancel(ctx)); err != nil {
			rt.logger.Error("persist simulated estate", "error", err)
		}
	}()
	clouds := domain.Clouds
	// Each round takes what every cloud's queue has visible and handles
	// it in plan order, largest savings first, so a capped run spends its
	// budget where it saves most whatever cloud that is.
	order := make(map[string]int, len(plan.Actions))
	for i, a := range plan.Actions {
		order[a.ID] = i
	}
	type delivery struct {
		q    *memqueue.Queue
		m    queue.Message
		rank int
	}
	for idle := 0; idle < 3; {
		var round []delivery
		for _, c := range clouds {
			msgs, err := rt.Queues[c].Receive(ctx, 100)
			if err != nil {
				return sum, err
			}
			for _, m := range msgs {
				var head struct {
					Action struct {
						ID string `json:"id"`
					} `json:"action"`
				}
				rank, ok := len(plan.Actions), json.Unmarshal(m.Body, &head) == nil
				if r, known := order[head.Action.ID]; ok && known {
					rank = r
				}
				round = append(round, delivery{rt.Queues[c], m, rank})
			}
		}
		sort.SliceStable(round, func(i, j int) bool { return round[i].rank < round[j].rank })
		for _, d := range round {
			q, m := d.q, d.m
			res := act.Handle(ctx, m.Body)
			switch res.Disposition {
			case actuate.Ack:
				_ = q.Ack(ctx, m.ID)
				sum.Counts[res.Status]++
				sum.Results = append(sum.Results, res)
				if res.Status == domain.StatusApplied {
					if a, ok := plan.Action(res.ActionID); ok && res.PlanID == plan.ID {
						sum.Realized = sum.Realized.Plus(a.MonthlySavings)
					}
				}
			case actuate.Retry:
				_ = q.Nack(ctx, m.ID, 0, res.Reason)
			case actuate.Hold:
				// Out of this run's budget. The lake keeps the action
				// queued, and the next run puts it back on the queue.
				_ = q.Ack(ctx, m.ID)
				sum.Held++
			case actuate.DeadLetter:
				_ = q.Reject(ctx, m.ID, res.Reason)
				sum.DeadLetters++
				sum.Results = append(sum.Results, res)
			case actuate.Defer:
				// Sent again rather than nacked, so waiting for the
				// switch or the breaker uses up none of its attempts.
				if err := q.Send(ctx, m.Body); err != nil {
					_ = q.Nack(ctx, m.ID, 0, res.Reason)
				} else {
					_ = q.Ack(ctx, m.ID)
				}
				sum.Deferred++
				if sum.Stopped == "" {
					sum.Stopped = res.Reason
				}
			}
			if onResult != nil {
				onResult(res)
			}
		}
		if sum.Stopped != "" {
			return sum, fmt.Errorf("%w: %s; %d messages deferred and left on the queues", actuate.ErrStopped, sum.Stopped, sum.Deferred)
		}
		if len(round) == 0 {
			idle++
		} else {
			idle = 0
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
	}
	if err := rt.Pipeline.WriteReports(ctx, plan); err != nil {
		return sum, err
	}
	return sum, nil
}

func loadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read webhook secret %s: %w", path, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	enc := []byte(hex.EncodeToString(secret))
	if err := os.WriteFile(path, enc, 0o600); err != nil {
		return nil, fmt.Errorf("write webhook secret %s: %w", path, err)
	}
	return enc, nil
}
