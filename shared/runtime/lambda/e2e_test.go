package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda"
	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda/lambdatest"
)

// functionBinaries holds each function's bootstrap, built once per test
// as make package builds it (tags lambda.norpc and awslambda).
var functionBinaries = struct {
	sync.Mutex
	done map[string]string
}{done: map[string]string{}}

func functionBinary(t *testing.T, name string) string {
	t.Helper()
	functionBinaries.Lock()
	defer functionBinaries.Unlock()
	if p, ok := functionBinaries.done[name]; ok {
		return p
	}
	p, err := lambdatest.Build(context.Background(), "github.com/cloudtrim/cloudtrim/functions/"+name, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	functionBinaries.done[name] = p
	return p
}

// deployment is one cloudtrim deployment on the stand-ins: the AWS part
// of the simulated demo estate behind the wire-level fakes, the lake on
// an S3 server, the action queues on an SQS emulator, and the approval
// secret in the fake Secrets Manager.
type deployment struct {
	est        *simcloud.Estate
	aws        *awsfake.Server
	account    string
	lake       *lake.Lake
	lakeURL    string
	sqs        *sqs.Client
	queueURL   string
	dlqURL     string
	secret     []byte
	secretARN  string
	now        time.Time
	harnesses  map[string]*lambdatest.Harness
	apply      bool
	killSwitch bool
	bucketName string
	// notify receives the optimize function's notifications.
	notify   *httptest.Server
	notified chan []byte
	slackKey []byte
	slackARN string
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx := context.Background()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	// The estate's clock is the real one: the functions stamp runs and
	// approvals with theirs.
	now := time.Now().UTC().Truncate(time.Hour)
	est, err := simcloud.New(simcloud.Demo(now), prices)
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{est: est, now: now, harnesses: map[string]*lambdatest.Harness{}}
	d.account = est.Accounts(domain.AWS)[0]
	d.aws = awsfake.New(est.Cloud(domain.AWS), awsfake.Options{Prices: prices})
	t.Cleanup(d.aws.Close)
	// Changes complete at once: the provider's waits (5 s polls in
	// production) are covered by its own tests.
	d.aws.SetTransitions(0)
	d.secretARN = "arn:aws:secretsmanager:us-east-1:" + d.account + ":secret:cloudtrim-approval-AbCdEf"
	d.secret = []byte("e2e-approval-secret-0123456789abcdef")
	d.aws.SetSecret(d.secretARN, string(d.secret), "")
	d.slackARN = "arn:aws:secretsmanager:us-east-1:" + d.account + ":secret:cloudtrim-slack-GhIjKl"
	d.slackKey = []byte("8f742231b10e8888abcd99aa11bb85a5")
	d.aws.SetSecret(d.slackARN, string(d.slackKey), "")
	d.notified = make(chan []byte, 16)
	d.notify = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d.notified <- b
	}))
	t.Cleanup(d.notify.Close)

	backend := s3mem.New()
	s3srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3srv.Close)
	d.bucketName = "cloudtrim-lake-e2e"
	if err := backend.CreateBucket(d.bucketName); err != nil {
		t.Fatal(err)
	}
	d.lakeURL = fmt.Sprintf("s3://%s?endpoint=%s&hostname_immutable=true&use_path_style=true&region=us-east-1", d.bucketName, s3srv.URL)
	for _, kv := range d.aws.Env(d.account) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if d.lake, err = lake.Open(ctx, d.lakeURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.lake.Close() })

	sqsEndpoint := standin.SQS(t)
	d.sqs = sqs.NewFromConfig(standin.Config(sqsEndpoint))
	dlq, err := d.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cloudtrim-actions-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := d.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := d.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cloudtrim-actions"), Attributes: map[string]string{
		"VisibilityTimeout": "1800",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":5}`, attrs.Attributes["QueueArn"]),
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.queueURL, d.dlqURL = aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
	t.Setenv("AWS_ENDPOINT_URL_SQS", sqsEndpoint)
	return d
}

// env is the environment template.yaml gives function name, pointed at
// the stand-ins.
func (d *deployment) env(name string) []string {
	env := append(d.aws.Env(d.account),
		"AWS_ENDPOINT_URL_SQS="+os.Getenv("AWS_ENDPOINT_URL_SQS"),
		"AWS_CONFIG_FILE="+os.Getenv("AWS_CONFIG_FILE"),
		"AWS_SHARED_CREDENTIALS_FILE="+os.Getenv("AWS_SHARED_CREDENTIALS_FILE"),
		"AWS_EC2_METADATA_DISABLED=true",
		"CLOUDTRIM_LAKE_URL="+d.lakeURL,
	)
	switch name {
	case "collect-aws":
		env = append(env, "CLOUDTRIM_ACCOUNT="+d.account)
	case "optimize":
		env = append(env, "CLOUDTRIM_OPTIN_TAG=cloudtrim-optin", "CLOUDTRIM_NOTIFY_URL="+d.notify.URL+"/hooks/T0/B0/x",
			"CLOUDTRIM_REPORT_URL=https://reports.example.com/cloudtrim")
	case "approve":
		env = append(env, "CLOUDTRIM_QUEUE_URL="+d.queueURL, "CLOUDTRIM_WEBHOOK_SECRET_ARN="+d.secretARN,
			"CLOUDTRIM_SLACK_SIGNING_SECRET_ARN="+d.slackARN)
	case "actuate":
		env = append(env, "CLOUDTRIM_QUEUE_URL="+d.queueURL, "CLOUDTRIM_DEAD_LETTER_QUEUE_URL="+d.dlqURL,
			"CLOUDTRIM_ACCOUNT="+d.account, "CLOUDTRIM_OPTIN_TAG=cloudtrim-optin", "CLOUDTRIM_APPLY="+strconv.FormatBool(d.apply))
		if d.killSwitch {
			env = append(env, "CLOUDTRIM_KILL_SWITCH=1")
		}
	}
	return env
}

// function starts (or returns the running) function name under the
// Lambda Runtime API harness.
func (d *deployment) function(t *testing.T, name string) *lambdatest.Harness {
	t.Helper()
	if h, ok := d.harnesses[name]; ok {
		return h
	}
	h := lambdatest.Start(t, lambdatest.Options{Binary: functionBinary(t, name), Env: d.env(name), FunctionName: "cloudtrim-" + name, Timeout: 2 * time.Minute})
	d.harnesses[name] = h
	return h
}

// restart stops function name so that the next call starts it afresh
// (with a changed environment).
func (d *deployment) restart(name string) {
	if h, ok := d.harnesses[name]; ok {
		h.Stop()
		delete(d.harnesses, name)
	}
}

func invoke(t *testing.T, h *lambdatest.Harness, event []byte, out any) {
	t.Helper()
	res := h.Invoke(context.Background(), event)
	if res.Err != nil {
		t.Fatalf("invoke: %s: %s\nstderr:\n%s", res.Err.Type, res.Err.Message, h.Stderr())
	}
	if out != nil {
		if err := json.Unmarshal(res.Payload, out); err != nil {
			t.Fatalf("response %s: %v", res.Payload, err)
		}
	}
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "aws", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// s3Event is the ObjectCreated event S3 sends for key.
func (d *deployment) s3Event(t *testing.T, key string) []byte {
	t.Helper()
	ev := events.S3Event{Records: []events.S3EventRecord{{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: "us-east-1", EventTime: time.Now().UTC(), EventName: "ObjectCreated:Put",
		S3: events.S3Entity{Bucket: events.S3Bucket{Name: d.bucketName, Arn: "arn:aws:s3:::" + d.bucketName},
			Object: events.S3Object{Key: strings.ReplaceAll(key, "=", "%3D"), Size: 1024}},
	}}}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// functionURLEvent is the Function URL event of a signed POST /approve.
func functionURLEvent(t *testing.T, secret, body []byte, at time.Time) []byte {
	t.Helper()
	ts, sig := approve.Sign(secret, at, body)
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/approve",
		Headers: map[string]string{"content-type": "application/json", "x-cloudtrim-timestamp": ts, "x-cloudtrim-signature": sig},
		RequestContext: events.LambdaFunctionURLRequestContext{
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/approve", Protocol: "HTTP/1.1", SourceIP: "203.0.113.24"},
		},
		Body: string(body),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// notificationButtons maps the buttons of a Block Kit notification:
// "<action_id>" (plan buttons) or "<action_id> <action>" (per-action
// buttons) to the button's value, and "open:<url>" for link buttons.
func notificationButtons(t *testing.T, n httpapi.Notification) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range n.Blocks {
		for _, e := range b.Elements {
			btn, _ := e.(map[string]any) // decoded JSON
			str := func(k string) string { v, _ := btn[k].(string); return v }
			switch {
			case str("type") != "button":
			case str("url") != "":
				out["open:"+str("url")] = str("action_id")
			case strings.HasPrefix(b.BlockID, "act:"):
				out[str("action_id")+" "+strings.TrimPrefix(b.BlockID, "act:")] = str("value")
			default:
				out[str("action_id")] = str("value")
			}
		}
	}
	return out
}

// slackClick is the form body Slack posts when user U0001 of team T0001
// clicks the button actionID whose value is value.
func slackClick(t *testing.T, actionID, value string) []byte {
	t.Helper()
	if value == "" {
		t.Fatalf("no %s button in the notification", actionID)
	}
	p, _ := json.Marshal(map[string]any{"type": "block_actions", "team": map[string]string{"id": "T0001"},
		"user":    map[string]string{"id": "U0001", "team_id": "T0001"},
		"actions": []any{map[string]string{"action_id": actionID, "type": "button", "value": value, "action_ts": "1"}}})
	return []byte("payload=" + url.QueryEscape(string(p)))
}

// slackURLEvent is Slack's interaction request through the Function URL.
func slackURLEvent(t *testing.T, key, body []byte, at time.Time) []byte {
	t.Helper()
	ts, sig := approve.SignSlack(key, at, body)
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/slack/actions",
		Headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts, "x-slack-signature": sig},
		RequestContext: events.LambdaFunctionURLRequestContext{
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/slack/actions", Protocol: "HTTP/1.1", SourceIP: "3.80.0.1"},
		},
		Body: string(body),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// drain plays the SQS event source mapping: it receives the actions
// queue in batches of ten, invokes actuate with each batch and deletes
// the messages the function did not report as failures. It returns the
// number of messages handled and of failures reported.
func (d *deployment) drain(t *testing.T, h *lambdatest.Harness) (handled, failed int) {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		out, err := d.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}, VisibilityTimeout: 1800})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return handled, failed
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			for k, v := range m.Attributes {
				attrs[k] = v
			}
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: attrs, EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:" + d.account + ":cloudtrim-actions", AWSRegion: "us-east-1"})
		}
		b, _ := json.Marshal(ev)
		var resp events.SQSEventResponse
		invoke(t, h, b, &resp)
		failedIDs := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failedIDs[f.ItemIdentifier] = true
		}
		for _, m := range out.Messages {
			handled++
			if failedIDs[aws.ToString(m.MessageId)] {
				failed++
				continue
			}
			if _, err := d.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(d.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		if len(resp.BatchItemFailures) > 0 {
			return handled, failed
		}
	}
	t.Fatal("the actions queue did not drain")
	return
}

func (d *deployment) deadLetters(t *testing.T) map[string]string {
	t.Helper()
	out, err := d.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.dlqURL), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}, VisibilityTimeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range out.Messages {
		got[aws.ToString(m.Body)] = aws.ToString(m.MessageAttributes["cloudtrim-reason"].StringValue)
	}
	return got
}

// TestEndToEndOnAWS deploys the six functions as real bootstraps under
// the Lambda Runtime API harness and runs collect → optimize → approve →
// actuate through the awscloud provider against the wire-level fakes
// serving the demo estate's AWS part, exactly as against an account:
// first as a dry run (the default), then applied, then redelivered.
func TestEndToEndOnAWS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds six bootstraps")
	}
	d := newDeployment(t)
	ctx := context.Background()

	// collect: the sample Scheduler event.
	var col collect.Result
	invoke(t, d.function(t, "collect-aws"), readEvent(t, "collect-aws.scheduled.json"), &col)
	var want int
	_ = d.est.Cloud(domain.AWS).Resources(ctx, collect.Scope{Account: d.account, Region: "us-east-1"}, func(rs []domain.Resource) error {
		want += len(rs)
		return nil
	})
	if col.Cloud != domain.AWS || col.Resources != want || col.Series == 0 || col.CostRows == 0 {
		t.Fatalf("collect = %+v; want %d resources of account %s with series and cost rows", col, want, d.account)
	}
	for _, s := range col.Scopes {
		if s.Account != d.account || s.Error != "" {
			t.Fatalf("scope %+v: want only account %s, read without error", s, d.account)
		}
	}

	// The collector stored the live prices of the region it read.
	if b, err := d.lake.Get(ctx, pipeline.PricesKey(domain.AWS)); err != nil || !strings.Contains(string(b), `"sku":"m5.large"`) {
		t.Fatalf("stored AWS prices: %v; want the Price List's us-east-1 prices", err)
	}

	// optimize: the S3 event of the manifest just written, twice (S3
	// delivers at least once): the second reuses the plan.
	var opt lambda.OptimizeResponse
	invoke(t, d.function(t, "optimize"), d.s3Event(t, col.Manifest), &opt)
	if len(opt.Optimized) != 1 {
		t.Fatalf("optimize = %+v; want one manifest planned", opt)
	}
	plan, err := d.lake.GetPlan(ctx, planIDOf(t, opt))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) == 0 {
		t.Fatal("the plan has no actions")
	}
	for _, a := range plan.Actions {
		if a.Target.Account != d.account {
			t.Fatalf("action %s targets account %s", a.ID, a.Target.Account)
		}
	}
	// The plan's notification: Block Kit with approve buttons bound to
	// the plan and a link to its report.
	var note httpapi.Notification
	select {
	case b := <-d.notified:
		if err := json.Unmarshal(b, &note); err != nil {
			t.Fatalf("notification %s: %v", b, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the optimize function posted no notification")
	}
	buttons := notificationButtons(t, note)
	report := "https://reports.example.com/cloudtrim/plans/" + plan.ID + "/report.html"
	if note.PlanID != plan.ID || buttons["cloudtrim_approve_all"] == "" || buttons["open:"+report] == "" {
		t.Fatalf("notification for plan %s: plan %q, buttons %v; want approve-all and the report link %s", plan.ID, note.PlanID, buttons, report)
	}

	// Slack: a click on the first action's approve button in that message,
	// signed with the Slack app's signing secret from Secrets Manager.
	sorted := append([]domain.Action(nil), plan.Actions...)
	domain.SortActions(sorted) // the message's order
	first := sorted[0]
	click := slackClick(t, "cloudtrim_approve", buttons["cloudtrim_approve "+first.ID])
	var slackResp events.LambdaFunctionURLResponse
	invoke(t, d.function(t, "approve"), slackURLEvent(t, d.slackKey, click, time.Now()), &slackResp)
	if slackResp.StatusCode != 200 || !strings.Contains(slackResp.Body, first.ID) {
		t.Fatalf("Slack click: status %d: %s; want 200 approving %s", slackResp.StatusCode, slackResp.Body, first.ID)
	}
	invoke(t, d.function(t, "approve"), slackURLEvent(t, []byte("not-the-slack-signing-secret-0000"), click, time.Now()), &slackResp)
	if slackResp.StatusCode != 401 {
		t.Fatalf("Slack click with a wrong signing secret: status %d; want 401", slackResp.StatusCode)
	}

	var again lambda.OptimizeResponse
	invoke(t, d.function(t, "optimize"), d.s3Event(t, col.Manifest), &again)
	if planIDOf(t, again) != plan.ID {
		t.Fatalf("a redelivered S3 event made plan %s; want %s reused", planIDOf(t, again), plan.ID)
	}

	// approve: a signed approval of the whole plan through the Function URL.
	body, err := approve.NewBody(&plan, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var resp events.LambdaFunctionURLResponse
	invoke(t, d.function(t, "approve"), functionURLEvent(t, d.secret, body, time.Now()), &resp)
	if resp.StatusCode != 200 {
		t.Fatalf("approve: status %d: %s", resp.StatusCode, resp.Body)
	}
	// A forged signature is refused and queues nothing.
	invoke(t, d.function(t, "approve"), functionURLEvent(t, []byte("not-the-secret-0123456789abcdef"), body, time.Now()), &resp)
	if resp.StatusCode != 401 {
		t.Fatalf("approve with a wrong secret: status %d; want 401", resp.StatusCode)
	}

	// Bad messages beside the good ones: not an action, and an action on
	// another account than this deployment's.
	other := domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: "dec-x", Action: plan.Actions[0]}
	other.Action.Target.Account = "999999999999"
	otherBody, _ := json.Marshal(other)
	for _, b := range []string{`{"version":"cloudtrim.queued-action/v1","action":`, string(otherBody)} {
		if _, err := d.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.queueURL), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}

	// actuate, dry run (the default): nothing changes.
	before := d.est.Resources()
	// The first action was queued twice, by the Slack click and by the
	// approval of the whole plan: a duplicate the actuator absorbs.
	handled, failed := d.drain(t, d.function(t, "actuate"))
	if handled != len(plan.Actions)+3 || failed != 0 {
		t.Fatalf("dry run: handled %d, %d failures; want %d, none", handled, failed, len(plan.Actions)+3)
	}
	if n := mutatingCalls(d.aws); n != 0 {
		t.Fatalf("dry run made %d mutating EC2 calls", n)
	}
	if diff := len(before) - len(d.est.Resources()); diff != 0 {
		t.Fatalf("dry run changed the estate")
	}
	dls := d.deadLetters(t)
	if r := dls[string(otherBody)]; !strings.Contains(r, "999999999999") {
		t.Fatalf("action for another account: dead letter reason %q; want it refused naming the account (dead letters %v)", r, dls)
	}
	if len(dls) != 2 {
		t.Fatalf("dead letters = %v; want the two bad messages", dls)
	}
	states, err := d.lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	dryWorker := ""
	for _, a := range plan.Actions {
		st := states[a.ID]
		if st.Status != domain.StatusDryRun && st.Status != domain.StatusSkipped {
			t.Fatalf("dry run: action %s is %s (%s)", a.ID, st.Status, st.Reason)
		}
		dryWorker = st.Worker
	}

	// The kill switch, as the function's environment variable and then as
	// the lake's document: with CLOUDTRIM_APPLY=true every message is
	// deferred (sent again 15 minutes later, never dead-lettered), no
	// failure is reported and nothing changes.
	d.apply, d.killSwitch = true, true
	d.restart("actuate")
	for _, how := range []string{"CLOUDTRIM_KILL_SWITCH=1", "the lake's " + lake.KillSwitchKey} {
		mark := time.Now()
		requeue(t, d, plan)
		handled, failed := d.drain(t, d.function(t, "actuate"))
		if handled != len(plan.Actions) || failed != 0 {
			t.Fatalf("kill switch (%s): handled %d, %d failures; want %d deferred, none failed", how, handled, failed, len(plan.Actions))
		}
		if n := mutatingCalls(d.aws); n != 0 {
			t.Fatalf("kill switch (%s): %d mutating EC2 calls", how, n)
		}
		if dl := d.deadLetters(t); len(dl) != 0 {
			t.Fatalf("kill switch (%s): dead-lettered %v", how, dl)
		}
		deferred := 0
		audit, err := d.lake.Audit(ctx, mark, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range audit {
			if ev.Type == domain.AuditDeferred && strings.Contains(ev.Outcome, "kill switch") {
				deferred++
			}
		}
		if deferred < len(plan.Actions) {
			t.Fatalf("kill switch (%s): %d deferrals audited; want one per action (%d)", how, deferred, len(plan.Actions))
		}
		// Next: the document, with the variable gone.
		d.killSwitch = false
		d.restart("actuate")
		if err := d.lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: true, By: "oncall@example.com", Reason: "e2e", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: false, By: "oncall@example.com", Reason: "e2e done", At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// actuate, applied: put the approved actions back (what a new
	// approval or the requeue does) and drain with CLOUDTRIM_APPLY=true.
	requeue(t, d, plan)
	_, failed = d.drain(t, d.function(t, "actuate"))
	if failed != 0 {
		t.Fatalf("apply: %d failures", failed)
	}
	states, err = d.lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, a := range plan.Actions {
		st := states[a.ID]
		if st.Status == domain.StatusApplied {
			applied++
			live, err := d.est.Cloud(domain.AWS).Get(ctx, a.Target)
			switch {
			case a.After.State == domain.StateDeleted || a.After.State == domain.StateReleased:
				if err == nil {
					t.Errorf("action %s applied but %s still exists", a.ID, a.Target.ID)
				}
			case err != nil:
				t.Errorf("action %s: %v", a.ID, err)
			case a.After.SKU != "" && live.SKU != a.After.SKU:
				t.Errorf("action %s applied but %s is %s, want %s", a.ID, a.Target.ID, live.SKU, a.After.SKU)
			case a.After.State == domain.StateStopped && live.State != domain.StateStopped:
				t.Errorf("action %s applied but %s is %s", a.ID, a.Target.ID, live.State)
			}
		}
	}
	if applied == 0 {
		t.Fatalf("apply: nothing applied (states %v)", states)
	}
	// Each execution environment is its own worker, so one never takes
	// another's claim for its own.
	for _, st := range states {
		if st.Status == domain.StatusApplied && (!strings.HasPrefix(st.Worker, "lambda:actuate:") || st.Worker == dryWorker) {
			t.Fatalf("applied by worker %q (the dry run's was %q); want a name of its own per execution environment", st.Worker, dryWorker)
		}
	}
	calls := mutatingCalls(d.aws)
	if calls == 0 {
		t.Fatal("apply made no mutating EC2 call")
	}
	audit, err := d.lake.Audit(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(audit) < 2*applied {
		t.Fatalf("audit: %d events, %v; want before and after for each of %d applied actions", len(audit), err, applied)
	}

	// Redelivery: the same messages again change nothing.
	requeue(t, d, plan)
	requeue(t, d, plan)
	d.drain(t, d.function(t, "actuate"))
	if got := mutatingCalls(d.aws); got != calls {
		t.Fatalf("redelivered actions made %d more mutating EC2 calls", got-calls)
	}
	t.Logf("plan %s: %d actions, %d applied, %d mutating EC2 calls", plan.ID, len(plan.Actions), applied, calls)

	// The sample events of events/aws on the real binaries: an object
	// that is not a manifest is ignored; the sample batch (a plan this
	// lake never saw, a cut-off body, another account) is dead-lettered
	// whole, with no failure reported and no change made.
	var ignored lambda.OptimizeResponse
	invoke(t, d.function(t, "optimize"), readEvent(t, "optimize.s3-other.json"), &ignored)
	if len(ignored.Optimized) != 0 || len(ignored.Ignored) == 0 {
		t.Fatalf("optimize of a non-manifest object = %+v; want it ignored", ignored)
	}
	var batch events.SQSEventResponse
	invoke(t, d.function(t, "actuate"), readEvent(t, "actuate.sqs-batch.json"), &batch)
	if len(batch.BatchItemFailures) != 0 {
		t.Fatalf("sample batch: failures %v; want every message dead-lettered and done", batch.BatchItemFailures)
	}
	if got := mutatingCalls(d.aws); got != calls {
		t.Fatalf("the sample batch made %d mutating EC2 calls", got-calls)
	}
	// A Cost and Usage Report delivered to the lake's bucket under cur/
	// (what the CUR export writes, manifest last): its manifest's S3 event
	// makes the optimize function ingest the bill and plan with it.
	exports := t.TempDir()
	files, err := d.est.ExportBilling(exports, 40)
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := blob.OpenBucket(ctx, d.lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	var manifests []string
	for _, f := range files {
		rel, err := filepath.Rel(filepath.Join(exports, "aws"), f)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.ToSlash(rel)
		if err := bucket.WriteAll(ctx, key, body, nil); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(key, "-Manifest.json") {
			manifests = append(manifests, key)
		}
	}
	if len(manifests) < 2 {
		t.Fatalf("the export wrote manifests %v; want one per month of 40 days", manifests)
	}
	var ing lambda.OptimizeResponse
	invoke(t, d.function(t, "optimize"), d.s3Event(t, manifests[len(manifests)-1]), &ing)
	if len(ing.Ingested) != 1 || len(ing.Optimized) != 0 {
		t.Fatalf("optimize of a CUR manifest = %+v; want it ingested", ing)
	}
	var ir lambda.IngestResponse
	b, _ := json.Marshal(ing.Ingested[0].Result)
	if err := json.Unmarshal(b, &ir); err != nil || ir.Kept == 0 || ir.Kept != ir.Rows || ir.Plan == nil {
		t.Fatalf("ingest result %s (%v); want every row kept and a new plan", b, err)
	}
	billing, err := d.lake.CurrentBilling(ctx, domain.AWS)
	if err != nil || len(billing) != 1 {
		t.Fatalf("current AWS billing: %d snapshots, %v; want the delivered month", len(billing), err)
	}
	replanned, err := d.lake.GetPlan(ctx, ir.Plan.PlanID)
	if err != nil {
		t.Fatal(err)
	}
	if len(replanned.BillChecks) != 1 || replanned.BillChecks[0].Source != "billing export" {
		t.Fatalf("the plan after the delivery has bill checks %+v; want the AWS bill from the export", replanned.BillChecks)
	}

	res := d.function(t, "collect-azure").Invoke(ctx, readEvent(t, "collect-aws.scheduled.json"))
	if res.Err == nil || !strings.Contains(res.Err.Message, "azure") {
		t.Fatalf("collect-azure on Lambda: %+v; want a clear refusal (no Azure provider in this build)", res)
	}
}

func planIDOf(t *testing.T, r lambda.OptimizeResponse) string {
	t.Helper()
	if len(r.Optimized) != 1 {
		t.Fatalf("optimize response %+v", r)
	}
	b, _ := json.Marshal(r.Optimized[0].Result)
	var p lambda.PlanResponse
	if err := json.Unmarshal(b, &p); err != nil || p.PlanID == "" {
		t.Fatalf("optimize result %s: %v", b, err)
	}
	return p.PlanID
}

// requeue sends every approved action of plan again, as the approval
// webhook does.
func requeue(t *testing.T, d *deployment, plan domain.Plan) {
	t.Helper()
	ds, err := d.lake.Decisions(context.Background(), plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	latest := domain.LatestDecisions(ds)
	for _, a := range plan.Actions {
		dec, ok := latest[a.ID]
		if !ok || dec.Verdict != domain.Approved {
			continue
		}
		b, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: dec.ID, Action: a})
		if _, err := d.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(d.queueURL), MessageBody: aws.String(string(b))}); err != nil {
			t.Fatal(err)
		}
	}
}

func mutatingCalls(s *awsfake.Server) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Service != "ec2" || c.Code != "" {
			continue
		}
		switch c.Op {
		case "StopInstances", "StartInstances", "ModifyInstanceAttribute", "CreateSnapshot", "DeleteVolume", "DeleteSnapshot", "ReleaseAddress", "CreateTags":
			n++
		}
	}
	return n
}
