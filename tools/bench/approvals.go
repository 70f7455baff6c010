package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

// The approvals benchmark drives the approval webhook and the actuator
// as they run locally: the real HTTP handler over the approval core and
// a file-backed lake, and the local runtime's in-process queues drained
// through the actuator into the simulated estate.

// approvalsConfig sizes the approvals benchmark.
type approvalsConfig struct {
	Rate      int           // webhook requests a second
	Duration  time.Duration // how long the webhook is driven
	Forgeries float64       // share of the requests that are forged
	Estates   []int         // estate sizes, 0 for the demo estate
}

var defaultApprovals = approvalsConfig{Rate: 200, Duration: 10 * time.Second, Forgeries: 0.25, Estates: []int{0, 2000}}

// benchSecret signs the benchmark's approvals.
var benchSecret = []byte("bench-webhook-secret-0123456789abcdef")

// approvalsTable runs both measurements for each estate size and prints
// them.
func approvalsTable(dir string, cfg approvalsConfig) error {
	ctx := context.Background()
	var hooks []webhookResult
	var acts []actuatorResult
	for _, n := range cfg.Estates {
		fmt.Fprintf(os.Stderr, "approval webhook: %s, %d requests/s for %s…\n", estateName(n), cfg.Rate, cfg.Duration)
		h, err := benchWebhook(ctx, filepath.Join(dir, fmt.Sprintf("webhook-%d", n)), n, cfg)
		if err != nil {
			return fmt.Errorf("approval webhook: %w", err)
		}
		hooks = append(hooks, h)
		fmt.Fprintf(os.Stderr, "actuator: %s, every action approved…\n", estateName(n))
		a, err := benchActuator(ctx, filepath.Join(dir, fmt.Sprintf("actuator-%d", n)), n)
		if err != nil {
			return fmt.Errorf("actuator: %w", err)
		}
		acts = append(acts, a)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "approval webhook (HTTP → approve → file:// lake), %d req/s for %s\tplan actions\trequests\treq/s\tapproved\tforgeries refused\terrors\tp50\tp95\tp99\ttarget\tmet\t\n", cfg.Rate, cfg.Duration)
	for _, h := range hooks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%d/%d\t%d/%d\t%d\t%.1f ms\t%.1f ms\t%.1f ms\tp99 ≤ 50 ms, no errors\t%s\t\n",
			estateName(h.estate), h.actions, h.requests, h.rate, h.approved, h.valid, h.refused, h.forged, h.errors,
			ms(h.p50), ms(h.p95), ms(h.p99), yes(h.p99 <= 50*time.Millisecond && h.errors == 0))
	}
	tw.Flush()
	fmt.Println("requests: signed approvals of one action each, and forgeries (wrong secret, body changed after signing, expired, unsigned) that must be refused 401; latency from sending to the whole answer, on loopback.")
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "actuator (local queues → Actuator → simulated estate)\tresources\tapproved\tapplied\tskipped\twall time\tactions/s\tapplied/s\texactly once\ttarget\tmet\t")
	for _, a := range acts {
		once := "yes"
		if a.onceErr != nil {
			once = "NO: " + a.onceErr.Error()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2f s\t%.0f\t%.0f\t%s\t≥ 100 actions/s, exactly once\t%s\t\n",
			estateName(a.estate), a.resources, a.approved, a.applied, a.skipped, a.wall.Seconds(), a.perSecond(a.handled), a.perSecond(a.applied),
			once, yes(a.perSecond(a.handled) >= 100 && a.onceErr == nil))
	}
	tw.Flush()
	fmt.Println("actions/s: approved actions handled (applied, or refused as not opted in) per second of one 'cloudtrim actuate --apply' run with the blast-radius cap lifted;")
	fmt.Println("exactly once: every applied action has one applied state and one apply_done record, every change the estate saw is one action's, and redelivering every message changes nothing.")
	return nil
}

func estateName(n int) string {
	if n == 0 {
		return "demo estate"
	}
	return fmt.Sprintf("%d-resource estate", n)
}

// benchRuntime opens a local runtime in dir on an estate of n resources
// (0: the demo estate) with the blast-radius cap lifted, collects it and
// makes a plan.
func benchRuntime(ctx context.Context, dir string, n int) (*local.Runtime, domain.Plan, error) {
	pol := domain.DefaultPolicy()
	pol.Caps = domain.Caps{MaxActions: 1_000_000, MaxPercent: 100}
	rt, err := local.Open(ctx, local.Options{Dir: dir, Estate: local.EstateConfig{Resources: n, Seed: 42}, Policy: pol,
		Secret: benchSecret, Getenv: func(string) string { return "" }})
	if err != nil {
		return nil, domain.Plan{}, err
	}
	if _, err := rt.Collect(ctx, domain.Clouds, 14, nil); err != nil {
		rt.Close()
		return nil, domain.Plan{}, err
	}
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		rt.Close()
		return nil, domain.Plan{}, err
	}
	if len(plan.Actions) == 0 {
		rt.Close()
		return nil, domain.Plan{}, errors.New("the plan has no actions")
	}
	return rt, plan, nil
}

type webhookResult struct {
	estate, actions  int
	requests, errors int
	valid, approved  int
	forged, refused  int
	rate             float64
	p50, p95, p99    time.Duration
	firstErr         error
}

// benchWebhook serves the approval webhook on loopback and sends it
// cfg.Rate requests a second for cfg.Duration, open loop (a slow answer
// does not delay the next request).
func benchWebhook(ctx context.Context, dir string, n int, cfg approvalsConfig) (webhookResult, error) {
	rt, plan, err := benchRuntime(ctx, dir, n)
	if err != nil {
		return webhookResult{}, err
	}
	defer rt.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return webhookResult{}, err
	}
	srv := &http.Server{Handler: httpapi.ApproveHandler(rt.Pipeline.Approver([][]byte{benchSecret}, rt), nil), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/approve"
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	defer client.CloseIdleConnections()

	type sample struct {
		d       time.Duration
		forged  bool
		status  int
		err     error
		decided bool
	}
	total := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	samples := make([]sample, total)
	forgeEvery := 0
	if cfg.Forgeries > 0 {
		forgeEvery = int(1 / cfg.Forgeries)
	}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer tick.Stop()
	start := time.Now()
	for i := range total {
		<-tick.C
		forged := forgeEvery > 0 && i%forgeEvery == forgeEvery-1
		req, err := webhookRequest(ctx, url, &plan, i, forged)
		if err != nil {
			return webhookResult{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			resp, err := client.Do(req)
			s := sample{forged: forged, err: err}
			if err == nil {
				var res approve.Result
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				s.status, s.err = resp.StatusCode, rerr
				s.decided = json.Unmarshal(b, &res) == nil && len(res.Decisions) > 0
			}
			s.d = time.Since(t)
			samples[i] = s
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := webhookResult{estate: n, actions: len(plan.Actions), requests: total, rate: float64(total) / elapsed.Seconds()}
	lat := make([]time.Duration, 0, total)
	for _, s := range samples {
		lat = append(lat, s.d)
		switch {
		case s.forged:
			res.forged++
		default:
			res.valid++
		}
		ok := s.err == nil && ((s.forged && s.status == http.StatusUnauthorized) || (!s.forged && s.status == http.StatusOK && s.decided))
		switch {
		case ok && s.forged:
			res.refused++
		case ok:
			res.approved++
		default:
			res.errors++
			if res.firstErr == nil {
				res.firstErr = fmt.Errorf("forged %v: status %d, %v", s.forged, s.status, s.err)
				fmt.Fprintf(os.Stderr, "  first unexpected answer: %v\n", res.firstErr)
			}
		}
	}
	slices.Sort(lat)
	res.p50, res.p95, res.p99 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	return res, nil
}

// webhookRequest is request i: a signed approval of one action of the
// plan by one of many approvers, or, when forged, one of four
// forgeries.
func webhookRequest(ctx context.Context, url string, plan *domain.Plan, i int, forged bool) (*http.Request, error) {
	a := plan.Actions[i%len(plan.Actions)]
	body, err := json.Marshal(approve.Body{PlanID: plan.ID, Approver: fmt.Sprintf("bench-%d@example.com", i),
		Decisions: []approve.ActionChoice{{ActionID: a.ID, ActionHash: a.Hash(), Verdict: domain.Approved}}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ts, sig := approve.Sign(benchSecret, now, body)
	if forged {
		switch (i / 4) % 4 {
		case 0: // signed with another secret
			ts, sig = approve.Sign([]byte("an-attackers-guess-0123456789abcdef"), now, body)
		case 1: // the body changed after it was signed
			body = bytes.Replace(body, []byte("bench-"), []byte("evil--"), 1)
		case 2: // a replay of a request signed an hour ago
			ts, sig = approve.Sign(benchSecret, now.Add(-time.Hour), body)
		case 3: // unsigned
			ts, sig = "", ""
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set(approve.HeaderTimestamp, ts)
		req.Header.Set(approve.HeaderSignature, sig)
	}
	return req, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type actuatorResult struct {
	estate, resources int
	approved, handled int
	applied, skipped  int
	wall              time.Duration
	onceErr           error
}

func (a actuatorResult) perSecond(n int) float64 { return float64(n) / a.wall.Seconds() }

// benchActuator approves every action of the plan through the approval
// core (which puts them on the local runtime's queues), times one
// actuation run with changes enabled, then checks that each action was
// applied exactly once, redelivering every message to make sure.
func benchActuator(ctx context.Context, dir string, n int) (actuatorResult, error) {
	rt, plan, err := benchRuntime(ctx, dir, n)
	if err != nil {
		return actuatorResult{}, err
	}
	defer rt.Close()
	body, err := approve.NewBody(&plan, "bench@example.com")
	if err != nil {
		return actuatorResult{}, err
	}
	ts, sig := approve.Sign(benchSecret, time.Now(), body)
	ares, err := rt.Pipeline.Approver([][]byte{benchSecret}, rt).Handle(ctx, approve.Request{Timestamp: ts, Signature: sig, Body: body})
	if err != nil {
		return actuatorResult{}, fmt.Errorf("approve the plan: %w", err)
	}
	// Keep a copy of every message, to deliver them all again afterwards.
	var messages [][]byte
	for _, c := range domain.Clouds {
		messages = append(messages, peekAll(ctx, rt, c)...)
	}
	res := actuatorResult{estate: n, resources: plan.Resources, approved: len(ares.Approved)}
	start := time.Now()
	sum, err := rt.Actuate(ctx, false, nil)
	res.wall = time.Since(start)
	if err != nil {
		return res, err
	}
	res.applied, res.skipped = sum.Counts[domain.StatusApplied], sum.Counts[domain.StatusSkipped]
	for _, c := range sum.Counts {
		res.handled += c
	}
	if sum.Held > 0 || sum.DeadLetters > 0 || res.handled != res.approved {
		return res, fmt.Errorf("handled %d of %d approved actions (held %d, dead-lettered %d)", res.handled, res.approved, sum.Held, sum.DeadLetters)
	}
	res.onceErr = checkExactlyOnce(ctx, rt, plan, messages)
	return res, nil
}

// peekAll returns the bodies waiting on a cloud's queue, leaving them
// there: it receives them and makes them visible again.
func peekAll(ctx context.Context, rt *local.Runtime, c domain.Cloud) [][]byte {
	q := rt.Queues[c]
	var out [][]byte
	var ids []string
	for {
		msgs, err := q.Receive(ctx, 100)
		if err != nil || len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			out = append(out, m.Body)
			ids = append(ids, m.ID)
		}
	}
	for _, id := range ids {
		_ = q.Nack(ctx, id, 0, "peeked by the benchmark")
	}
	return out
}

// checkExactlyOnce checks the outcome of an actuation run: one applied
// state and one apply_done audit record per applied action, none for the
// others; every change the simulated estate saw belongs to an applied
// action; and a second run over every message delivered again applies
// nothing and changes nothing.
func checkExactlyOnce(ctx context.Context, rt *local.Runtime, plan domain.Plan, messages [][]byte) error {
	states, err := rt.Pipeline.Lake.ActionStates(ctx, plan.ID)
	if err != nil {
		return err
	}
	evs, err := rt.Pipeline.Lake.Audit(ctx, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	done := map[string]int{}
	for _, ev := range evs {
		if ev.Type == domain.AuditApplyDone && ev.PlanID == plan.ID {
			done[ev.ActionID]++
		}
	}
	applied := map[string]bool{}
	for _, a := range plan.Actions {
		isApplied := states[a.ID].Status == domain.StatusApplied
		applied[a.ID] = isApplied
		if want := map[bool]int{true: 1, false: 0}[isApplied]; done[a.ID] != want {
			return fmt.Errorf("action %s (%s) has %d apply_done records", a.ID, states[a.ID].Status, done[a.ID])
		}
	}
	changes := func() (int, error) {
		n := 0
		for _, c := range rt.Sim.Estate.Calls() {
			if c.Repeat || c.Err != "" {
				continue
			}
			planID, rest, _ := strings.Cut(c.Token, "/")
			actionID, _, _ := strings.Cut(rest, "/")
			if planID != plan.ID || !applied[actionID] {
				return 0, fmt.Errorf("the estate saw %s %s (token %q), which is no applied action's", c.Op, c.Ref.ID, c.Token)
			}
			n++
		}
		return n, nil
	}
	before, err := changes()
	if err != nil {
		return err
	}
	for _, m := range messages {
		var qa domain.QueuedAction
		if err := json.Unmarshal(m, &qa); err != nil {
			return err
		}
		if err := rt.Enqueue(ctx, qa.Action.Target.Cloud, m); err != nil {
			return err
		}
	}
	sum, err := rt.Actuate(ctx, false, nil)
	if err != nil {
		return fmt.Errorf("redelivery: %w", err)
	}
	if sum.Counts[domain.StatusApplied] != 0 && !allAlready(sum.Results) {
		return fmt.Errorf("redelivering %d messages applied %d actions again", len(messages), sum.Counts[domain.StatusApplied])
	}
	after, err := changes()
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("redelivery made %d more changes to the estate", after-before)
	}
	return nil
}

// allAlready reports whether every applied result of a redelivery run
// says the action was applied before (no new change).
func allAlready(rs []actuate.Result) bool {
	for _, r := range rs {
		if r.Status == domain.StatusApplied && !strings.HasPrefix(r.Reason, "already") {
			return false
		}
	}
	return true
}
