package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestCollectRequests(t *testing.T) {
	tests := []struct {
		name     string
		function string
		event    string
		want     CollectRequest
	}{
		{"EventBridge Scheduler sample", "collect-aws", string(sample(t, "collect-aws.scheduled.json")), CollectRequest{
			Cloud: domain.AWS, Source: "aws.scheduler", EventID: "8d3f0c2e-6b1a-4f57-9e2d-7c4b5a6e1f03",
			ScheduledAt: time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC),
		}},
		{"empty object", "collect-azure", `{}`, CollectRequest{Cloud: domain.Azure}},
		{"days and regions", "collect-gcp", `{"days": 14, "regions": ["europe-west1", "us-central1", "europe-west1"]}`,
			CollectRequest{Cloud: domain.GCP, Days: 14, Regions: []string{"europe-west1", "us-central1"}}},
		{"bounds", "collect-aws", `{"days": 90, "regions": []}`, CollectRequest{Cloud: domain.AWS, Days: 90}},
		{"parameters in the detail", "collect-aws",
			`{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.scheduler","time":"2026-11-23T06:00:00+01:00","detail":{"days":1,"regions":["us-east-1"]}}`,
			CollectRequest{Cloud: domain.AWS, Days: 1, Regions: []string{"us-east-1"}, Source: "aws.scheduler", EventID: "e1",
				ScheduledAt: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)}},
		{"CloudWatch Events scheduled rule", "collect-aws",
			`{"version":"0","id":"e2","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/daily"],"detail":{},"days":7}`,
			CollectRequest{Cloud: domain.AWS, Days: 7, Source: "aws.events", EventID: "e2"}},
		{"null detail", "collect-aws", `{"source":"aws.scheduler","detail":null}`, CollectRequest{Cloud: domain.AWS, Source: "aws.scheduler"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []CollectRequest
			f := newFunction(t, tt.function, Handlers{Collect: func(_ context.Context, req CollectRequest) (any, error) {
				got = append(got, req)
				return map[string]string{"run_id": "run-1"}, nil
			}}, nil)
			out, err := f.Invoke(t.Context(), []byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]CollectRequest{tt.want}, got); diff != "" {
				t.Errorf("Collect requests (-want +got):\n%s", diff)
			}
			if string(out) != `{"run_id":"run-1"}` {
				t.Errorf("Invoke() = %s; want the handler's result", out)
			}
		})
	}
}

func TestCollectRefuses(t *testing.T) {
	tests := []struct {
		event, want string
	}{
		{`{"days": 0}`, `"days" must be a whole number from 1 to 90, got 0`},
		{`{"days": 91}`, `got 91`},
		{`{"days": -3}`, `got -3`},
		{`{"days": 7.5}`, `got 7.5`},
		{`{"days": "14"}`, `got a JSON string`},
		{`{"days": null}`, `got JSON null`},
		{`{"day": 7}`, `unknown field "day"`},
		{`{"days": 7, "Regions": ["us-east-1"]}`, `unknown field "Regions"`},
		{`{"regions": "us-east-1"}`, `"regions" must be a list of region names, got a JSON string`},
		{`{"regions": ["US East"]}`, `region "US East" is not a region name`},
		{`{"regions": [""]}`, `region "" is not a region name`},
		{`{"source": "aws.scheduler", "detail": {"days": 7, "region": "x"}}`, `detail: unknown field "region"`},
		{`{"source": "aws.scheduler", "days": 7, "detail": {"days": 7}}`, `"days" is given both in the event and in its detail`},
		{`{"source": "aws.scheduler", "detail": []}`, `"detail" must be a JSON object`},
		{`{"source": "aws.scheduler", "time": "yesterday"}`, `"time" "yesterday" is not an RFC 3339 time`},
		{`{"source": 7}`, `"source" must be a string`},
		{`{"detail-type": "Scheduled Event", "Records": []}`, `unknown field "Records"`},
		{`{"detail": {}}`, `unknown field "detail"`},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			called := false
			f := newFunction(t, "collect-aws", Handlers{Collect: func(context.Context, CollectRequest) (any, error) {
				called = true
				return nil, nil
			}}, nil)
			_, err := f.Invoke(t.Context(), []byte(tt.event))
			var evErr *EventError
			if !errors.As(err, &evErr) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "collect-aws: invalid event: ") {
				t.Errorf("Invoke(%s) = %v; want an *EventError saying %q", tt.event, err, tt.want)
			}
			if called {
				t.Errorf("Invoke(%s) called Collect", tt.event)
			}
		})
	}
}

func TestCollectRequestJSON(t *testing.T) {
	b, err := json.Marshal(CollectRequest{Cloud: domain.AWS})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"cloud":"aws"}` {
		t.Errorf("json.Marshal(CollectRequest{Cloud: aws}) = %s; want only the cloud", b)
	}
}
