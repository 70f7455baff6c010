package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The Lambda event decoders read what arrives from outside: a schedule,
// S3 notifications, SQS batches and Function URL requests from the
// internet. These fuzzers call the decoders directly, not through
// Invoke, whose recover would turn a panic into an error.

// addEventSeeds adds every sample event of events/aws, and a few broken
// ones, to the corpus.
func addEventSeeds(f *testing.F) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "..", "events", "aws", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no sample events in events/aws: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `null`, `[]`, `{}`, `{"Records": null}`, `{"Records": [{}]}`, `{"Records": [null]}`,
		`{"Event": "s3:TestEvent", "Bucket": "b"}`, `{"source": 1}`, `{"detail": []}`, `{"version": "2.0"}`} {
		f.Add([]byte(s))
	}
}

// fuzzFunction returns the handler of name with handlers that do nothing
// and record what they were given.
func fuzzFunction(t *testing.T, name string, got *[]any) *Function {
	t.Helper()
	fn, err := NewHandler(name, Handlers{
		Collect: func(_ context.Context, r CollectRequest) (any, error) { *got = append(*got, r); return nil, nil },
		Optimize: func(_ context.Context, m SnapshotManifest) (any, error) {
			*got = append(*got, m)
			return "ok", nil
		},
		Ingest: func(_ context.Context, d BillingDelivery) (any, error) { *got = append(*got, d); return "ok", nil },
		Approve: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("read the request body: %v", err)
			}
			*got = append(*got, b)
			w.WriteHeader(http.StatusAccepted)
		}),
		Actuate: func(_ context.Context, m Message) error {
			*got = append(*got, m)
			if bytes.Contains(m.Body, []byte("fail")) {
				return errors.New("fail")
			}
			return nil
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// checkEventError fails unless err is nil or an *EventError.
func checkEventError(t *testing.T, err error) {
	t.Helper()
	var ee *EventError
	if err != nil && (!errors.As(err, &ee) || !errors.Is(err, domain.ErrInvalid)) {
		t.Fatalf("error %v (%T); want nil or an *EventError", err, err)
	}
}

// FuzzScheduledEvent: a collector's event decodes to a request within its
// bounds, or is refused with an *EventError.
func FuzzScheduledEvent(f *testing.F) {
	addEventSeeds(f)
	f.Add([]byte(`{"days": 3, "regions": ["us-east-1", "us-east-1", "westeurope"]}`))
	f.Add([]byte(`{"source": "aws.events", "time": "2026-11-23T06:00:00Z", "detail": {"days": 90}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var got []any
		fn := fuzzFunction(t, "collect-gcp", &got)
		req, err := fn.parseCollect(payload)
		checkEventError(t, err)
		if err != nil {
			return
		}
		if req.Cloud != domain.GCP || req.Days < 0 || req.Days > MaxCollectDays {
			t.Fatalf("parseCollect = %+v; want cloud gcp and days within 0..%d", req, MaxCollectDays)
		}
		for i, r := range req.Regions {
			if !validRegion(r) || slices.Contains(req.Regions[:i], r) {
				t.Fatalf("parseCollect regions %q: %q is invalid or repeated", req.Regions, r)
			}
		}
	})
}

// FuzzS3Event: an S3 notification names snapshot manifests and billing
// deliveries with well-formed keys, or is refused with an *EventError.
func FuzzS3Event(f *testing.F) {
	addEventSeeds(f)
	f.Add([]byte(`{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
		"object": {"key": "lake/cur/report/20240901-20241001/report-Manifest.json"}}}]}`))
	f.Add([]byte(`{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
		"object": {"key": "p%2Fsnapshots%2Fcloud%3Dazure%2Frun%3Dx%2F_manifest.json"}}}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var got []any
		fn := fuzzFunction(t, "optimize", &got)
		out, err := fn.optimize(context.Background(), payload)
		checkEventError(t, err)
		if err != nil {
			return
		}
		res, ok := out.(OptimizeResponse)
		if !ok {
			t.Fatalf("optimize returned %T; want OptimizeResponse", out)
		}
		if len(res.Optimized)+len(res.Ingested) != len(got) {
			t.Fatalf("optimize reports %d optimized and %d ingested; the handlers were called %d times", len(res.Optimized), len(res.Ingested), len(got))
		}
		for _, m := range res.Optimized {
			if !strings.HasSuffix(m.Key, "/_manifest.json") || !slices.Contains(domain.Clouds, m.Cloud) || !validRunID(m.RunID) || m.Bucket == "" {
				t.Fatalf("optimize called for %+v, not a snapshot manifest", m.SnapshotManifest)
			}
		}
		for _, d := range res.Ingested {
			if !isBillingManifest(d.Key) || d.Bucket == "" {
				t.Fatalf("ingest called for %+v, not a billing manifest", d.BillingDelivery)
			}
		}
	})
}

// FuzzSQSBatch: an SQS batch hands each message to the actuator once,
// with its body as sent, and reports as failures only messages of the
// batch; anything else is refused with an *EventError.
func FuzzSQSBatch(f *testing.F) {
	addEventSeeds(f)
	f.Add([]byte(`{"Records": [{"messageId": "a", "body": "fail", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q.fifo"},
		{"messageId": "b", "body": "{}", "eventSource": "aws:sqs", "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1795417512123"}}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var got []any
		fn := fuzzFunction(t, "actuate", &got)
		msgs, _, err := fn.parseSQS(payload)
		checkEventError(t, err)
		out, aerr := fn.actuate(context.Background(), payload)
		if (err == nil) != (aerr == nil) {
			t.Fatalf("parseSQS error %v but actuate error %v", err, aerr)
		}
		if err != nil {
			if len(got) > 0 {
				t.Fatalf("a refused batch reached the actuator: %v", got)
			}
			return
		}
		var ev events.SQSEvent
		_ = json.Unmarshal(payload, &ev)
		ids := map[string]bool{}
		for i, m := range msgs {
			if m.ID == "" || m.Attempt < 1 || string(m.Body) != ev.Records[i].Body {
				t.Fatalf("message %d = %+v; want its ID, a positive attempt and the record's body", i, m)
			}
			ids[m.ID] = true
		}
		if len(got) > len(msgs) {
			t.Fatalf("the actuator was called %d times for %d messages", len(got), len(msgs))
		}
		for _, fail := range out.(events.SQSEventResponse).BatchItemFailures {
			if !ids[fail.ItemIdentifier] {
				t.Fatalf("batch item failure %q is not a message of the batch", fail.ItemIdentifier)
			}
		}
	})
}

// FuzzFunctionURL: a Function URL request reaches the webhook as a
// well-formed *http.Request with its body decoded and within MaxBody, or
// is answered 413, or is refused with an *EventError.
func FuzzFunctionURL(f *testing.F) {
	addEventSeeds(f)
	f.Add([]byte(`{"version": "2.0", "rawPath": "/approve", "rawQueryString": "a=1&b", "cookies": ["c=1"],
		"headers": {"host": "h", "x-cloudtrim-signature": "v1=00"}, "requestContext": {"http": {"method": "POST", "protocol": "HTTP/2.0",
		"sourceIp": "::1"}}, "body": "e30=", "isBase64Encoded": true}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var got []any
		fn := fuzzFunction(t, "approve", &got)
		out, err := fn.approve(context.Background(), payload)
		checkEventError(t, err)
		if err != nil {
			if len(got) > 0 {
				t.Fatal("a refused event reached the webhook")
			}
			return
		}
		res, ok := out.(events.LambdaFunctionURLResponse)
		if !ok {
			t.Fatalf("approve returned %T; want a Function URL response", out)
		}
		if res.StatusCode == http.StatusRequestEntityTooLarge {
			return
		}
		if res.StatusCode != http.StatusAccepted || len(got) != 1 {
			t.Fatalf("approve answered %d after %d calls; want the handler's 202 after one call", res.StatusCode, len(got))
		}
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatalf("approve accepted an event that does not decode: %v", err)
		}
		r, err := HTTPRequest(context.Background(), ev)
		if err != nil {
			t.Fatalf("approve served an event HTTPRequest refuses: %v", err)
		}
		body := got[0].([]byte)
		if len(body) > MaxBody || int64(len(body)) != r.ContentLength || r.Method == "" || !strings.HasPrefix(r.URL.Path, "/") {
			t.Fatalf("request %s %q with %d body bytes (content length %d): malformed", r.Method, r.URL, len(body), r.ContentLength)
		}
	})
}
