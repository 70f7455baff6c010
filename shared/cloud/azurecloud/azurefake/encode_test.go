package azurefake

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	"github.com/google/go-cmp/cmp"
)

// TestEncodeMetricsWritesWhatTheSDKWrites checks the fast metrics
// encoder against the SDK's: the SDK's decoder reads both into the same
// answer, with gaps, both aggregations and series of every metric.
func TestEncodeMetricsWritesWhatTheSDKWrites(t *testing.T) {
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	est := Synthetic(SyntheticConfig{Subscriptions: 1, VMsPerSubscription: 12, Regions: []string{"eastus"}, Now: now})
	var sub string
	for _, s := range est.Subscriptions {
		sub = s.ID
	}
	srv := New(est, Options{})
	ctx := context.WithValue(context.Background(), requestKey{}, Request{Subscription: sub})
	want, status, code := srv.metrics(ctx, metricQuery{region: "eastus", namespace: "Microsoft.Compute/virtualMachines",
		names:       MetricCPU + "," + MetricAvailableMem + "," + MetricNetIn + "," + MetricNetOut + "," + MetricDiskRead + "," + MetricDiskWrite,
		aggregation: "average,total", interval: "PT1H", top: 50, filter: "Microsoft.ResourceId eq '*'",
		timespan: now.Add(-24*time.Hour).Format(time.RFC3339) + "/" + now.Format(time.RFC3339)})
	if status != 0 {
		t.Fatalf("metrics query answered %d %s", status, code)
	}
	points := 0
	for _, m := range want.Value {
		for _, ts := range m.Timeseries {
			points += len(ts.Data)
		}
	}
	if points == 0 {
		t.Fatal("the query answered no points")
	}
	sdk, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var fromSDK, fromFast armmonitor.Response
	if err := json.Unmarshal(sdk, &fromSDK); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(encodeMetrics(want), &fromFast); err != nil {
		t.Fatalf("the fast encoding is not JSON the SDK reads: %v", err)
	}
	if diff := cmp.Diff(fromSDK, fromFast); diff != "" {
		t.Errorf("fast encoding against the SDK's (-sdk +fast):\n%s", diff)
	}
}
