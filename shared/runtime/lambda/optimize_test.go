package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const sampleRun = "20261123T060000.000Z-0a1b2c3d"

func TestParseManifestKey(t *testing.T) {
	tests := []struct {
		key        string
		want       SnapshotManifest
		wantReason string
	}{
		{"snapshots/cloud=aws/run=" + sampleRun + "/_manifest.json",
			SnapshotManifest{Key: "snapshots/cloud=aws/run=" + sampleRun + "/_manifest.json", Cloud: domain.AWS, RunID: sampleRun}, ""},
		{"lake/prod/snapshots/cloud=gcp/run=r-1/_manifest.json",
			SnapshotManifest{Key: "lake/prod/snapshots/cloud=gcp/run=r-1/_manifest.json", Prefix: "lake/prod/", Cloud: domain.GCP, RunID: "r-1"}, ""},
		{"snapshots/cloud=aws/run=" + sampleRun + "/resources/account=1/date=2026-11-23/part-00000.parquet", SnapshotManifest{}, "not a snapshot manifest"},
		{"snapshots/aws/latest/00000000000000000007.json", SnapshotManifest{}, "not a snapshot manifest"},
		{"snapshots/cloud=aws/_manifest.json", SnapshotManifest{}, "not a snapshot manifest"},
		{"snapshots/cloud=aws/run=r/manifest.json", SnapshotManifest{}, "not a snapshot manifest"},
		{"snapshots/cloud%3Daws/run%3Dr/_manifest.json", SnapshotManifest{}, "not a snapshot manifest"}, // still encoded
		{"snapshots/cloud=oci/run=r/_manifest.json", SnapshotManifest{}, `unknown cloud "oci"`},
		{"snapshots/cloud=AWS/run=r/_manifest.json", SnapshotManifest{}, `unknown cloud "AWS"`},
		{"snapshots/cloud=aws/run=/_manifest.json", SnapshotManifest{}, `run ID "" is not valid`},
		{"snapshots/cloud=aws/run=../_manifest.json", SnapshotManifest{}, `run ID ".." is not valid`},
		{"snapshots/cloud=aws/run=a b/_manifest.json", SnapshotManifest{}, `run ID "a b" is not valid`},
		{"/snapshots/cloud=aws/run=r/_manifest.json", SnapshotManifest{}, "empty path segment"},
		{"a//snapshots/cloud=aws/run=r/_manifest.json", SnapshotManifest{}, "empty path segment"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, reason := parseManifestKey(tt.key)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseManifestKey(%q) (-want +got):\n%s", tt.key, diff)
			}
			if (tt.wantReason == "") != (reason == "") || !strings.Contains(reason, tt.wantReason) {
				t.Errorf("parseManifestKey(%q) reason = %q; want %q", tt.key, reason, tt.wantReason)
			}
		})
	}
}

// s3Event is an S3 event of records (event name, bucket, key as S3
// encodes it).
func s3Event(records ...[3]string) string {
	var rs []map[string]any
	for _, r := range records {
		rs = append(rs, map[string]any{
			"eventSource": "aws:s3", "eventName": r[0], "eventTime": "2026-11-23T06:01:42.517Z",
			"s3": map[string]any{"bucket": map[string]any{"name": r[1]}, "object": map[string]any{"key": r[2], "eTag": "e"}},
		})
	}
	b, _ := json.Marshal(map[string]any{"Records": rs})
	return string(b)
}

func TestOptimizeEvents(t *testing.T) {
	manifest := SnapshotManifest{
		Bucket: "cloudtrim-lake-example", Key: "snapshots/cloud=aws/run=" + sampleRun + "/_manifest.json",
		Cloud: domain.AWS, RunID: sampleRun, ETag: "9b2cf535f27731c974343645a3985328",
	}
	tests := []struct {
		name        string
		event       string
		wantCalls   []SnapshotManifest
		wantIgnored []IgnoredObject
	}{
		{"manifest sample", string(sample(t, "optimize.s3-manifest.json")), []SnapshotManifest{manifest}, nil},
		{"other object sample", string(sample(t, "optimize.s3-other.json")), nil, []IgnoredObject{{
			Bucket: "cloudtrim-lake-example",
			Key:    "snapshots/cloud=aws/run=" + sampleRun + "/resources/account=123456789012/date=2026-11-23/part-00000.parquet",
			Reason: "not a snapshot manifest (snapshots/cloud=<cloud>/run=<run>/_manifest.json)",
		}}},
		{"prefix with a space, encoded as +", s3Event([3]string{"ObjectCreated:CompleteMultipartUpload", "b", "cost+lake/snapshots/cloud%3Dazure/run%3Dr-2/_manifest.json"}),
			[]SnapshotManifest{{Bucket: "b", Key: "cost lake/snapshots/cloud=azure/run=r-2/_manifest.json", Prefix: "cost lake/", Cloud: domain.Azure, RunID: "r-2", ETag: "e"}}, nil},
		{"several records", s3Event(
			[3]string{"ObjectCreated:Put", "b", "snapshots/cloud%3Dgcp/run%3Dr-3/_manifest.json"},
			[3]string{"ObjectRemoved:Delete", "b", "snapshots/cloud%3Daws/run%3Dr-4/_manifest.json"},
			[3]string{"ObjectCreated:Copy", "b", "snapshots/cloud%3Daws/run%3Dr-5/_manifest.json"},
		), []SnapshotManifest{
			{Bucket: "b", Key: "snapshots/cloud=gcp/run=r-3/_manifest.json", Cloud: domain.GCP, RunID: "r-3", ETag: "e"},
			{Bucket: "b", Key: "snapshots/cloud=aws/run=r-5/_manifest.json", Cloud: domain.AWS, RunID: "r-5", ETag: "e"},
		}, []IgnoredObject{{Bucket: "b", Key: "snapshots/cloud=aws/run=r-4/_manifest.json", Reason: "event ObjectRemoved:Delete is not an object creation"}}},
		{"S3 test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-23T05:00:00.000Z","Bucket":"b","RequestId":"R","HostId":"H"}`,
			nil, []IgnoredObject{{Bucket: "b", Reason: "s3:TestEvent"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []SnapshotManifest
			f := newFunction(t, "optimize", Handlers{Optimize: func(_ context.Context, m SnapshotManifest) (any, error) {
				calls = append(calls, m)
				return "plan-" + m.RunID, nil
			}}, nil)
			out, err := f.Invoke(t.Context(), []byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("Optimize calls (-want +got):\n%s", diff)
			}
			var got OptimizeResponse
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := OptimizeResponse{Optimized: []OptimizedManifest{}, Ignored: tt.wantIgnored}
			for _, m := range tt.wantCalls {
				want.Optimized = append(want.Optimized, OptimizedManifest{SnapshotManifest: m, Result: "plan-" + m.RunID})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptimizeRefuses(t *testing.T) {
	tests := []struct {
		name, event, want string
	}{
		{"no records", `{"Records": []}`, "the event has no Records"},
		{"empty object", `{}`, "the event has no Records"},
		{"SQS batch", string(sample(t, "actuate.sqs-batch.json")), `record 0 has eventSource "aws:sqs", not aws:s3`},
		{"bad escape", s3Event([3]string{"ObjectCreated:Put", "b", "snapshots/cloud%3Daws/run%3Dr/%zz_manifest.json"}), `invalid URL escape "%zz"`},
		{"no key", s3Event([3]string{"ObjectCreated:Put", "b", ""}), "record 0 has no bucket name or no object key"},
		{"no bucket", s3Event([3]string{"ObjectCreated:Put", "", "k"}), "record 0 has no bucket name or no object key"},
		{"records not a list", `{"Records": {}}`, "decode S3 event"},
		{"scheduled event", string(sample(t, "collect-aws.scheduled.json")), "the event has no Records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			f := newFunction(t, "optimize", Handlers{Optimize: func(context.Context, SnapshotManifest) (any, error) {
				called = true
				return nil, nil
			}}, nil)
			_, err := f.Invoke(t.Context(), []byte(tt.event))
			var evErr *EventError
			if !errors.As(err, &evErr) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Invoke(%s) = %v; want an *EventError saying %q", tt.name, err, tt.want)
			}
			if called {
				t.Errorf("Invoke(%s) called Optimize", tt.name)
			}
		})
	}
}

func TestOptimizeErrorNamesTheManifest(t *testing.T) {
	cause := errors.New("snapshot checksum mismatch")
	var calls []string
	f := newFunction(t, "optimize", Handlers{Optimize: func(_ context.Context, m SnapshotManifest) (any, error) {
		calls = append(calls, m.RunID)
		if m.RunID == "r-1" {
			return nil, cause
		}
		return nil, nil
	}}, nil)
	_, err := f.Invoke(t.Context(), []byte(s3Event(
		[3]string{"ObjectCreated:Put", "b", "snapshots/cloud%3Daws/run%3Dr-1/_manifest.json"},
		[3]string{"ObjectCreated:Put", "b", "snapshots/cloud%3Dgcp/run%3Dr-2/_manifest.json"},
	)))
	var fnErr *FunctionError
	if !errors.As(err, &fnErr) || !errors.Is(err, cause) ||
		err.Error() != "optimize: s3://b/snapshots/cloud=aws/run=r-1/_manifest.json: snapshot checksum mismatch" {
		t.Errorf("Invoke() = %v; want a *FunctionError naming the manifest", err)
	}
	if diff := cmp.Diff([]string{"r-1", "r-2"}, calls); diff != "" {
		t.Errorf("Optimize calls (-want +got):\n%s", diff)
	}
}

func TestIsBillingManifest(t *testing.T) {
	for key, want := range map[string]bool{
		"cur/report/20261101-20261201/report-Manifest.json":                    true,
		"cur/exports/data/BILLING_PERIOD=2026-11/Manifest.json":                true,
		"lake/cur/report/20261101-20261201/report-Manifest.json":               true,
		"cur/report/20261101-20261201/asm/report-00001.csv.gz":                 false,
		"snapshots/cloud=aws/run=20261123T000000.000Z-0000c0de/_manifest.json": false,
		"other/report-Manifest.json":                                           false,
		"cursor/report-Manifest.json":                                          false,
	} {
		if got := isBillingManifest(key); got != want {
			t.Errorf("isBillingManifest(%q) = %v; want %v", key, got, want)
		}
	}
}

func TestBillingSourceStaysInTheLakeBucket(t *testing.T) {
	a := &App{cfg: Config{LakeURL: "s3://lake-bucket?region=eu-west-1&prefix=cloudtrim%2F"}}
	got, err := a.billingSource(BillingDelivery{Bucket: "lake-bucket", Key: "cur/r/20261101-20261201/r-Manifest.json"})
	if err != nil || got != "s3://lake-bucket/cur/r/20261101-20261201/r-Manifest.json?region=eu-west-1" {
		t.Errorf("billingSource = %q, %v; want the manifest in the lake bucket, without the lake's prefix", got, err)
	}
	if _, err := a.billingSource(BillingDelivery{Bucket: "someone-else", Key: "cur/x-Manifest.json"}); err == nil {
		t.Error("billingSource accepted a delivery in another bucket")
	}
}
