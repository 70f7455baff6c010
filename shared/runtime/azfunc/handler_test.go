package azfunc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/runtime/azfunc"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// calls records what the handler passed to each function.
type calls struct {
	mu       sync.Mutex
	collect  int
	optimize []string
	ingest   []string
	actuate  []funcapp.Message
	approve  []string
	fail     error
}

func (c *calls) handlers() azfunc.Handlers {
	return azfunc.Handlers{
		Collect: func(context.Context) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.collect++
			return map[string]int{"resources": 3}, c.fail
		},
		Optimize: func(_ context.Context, key string) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.optimize = append(c.optimize, key)
			return map[string]string{"plan_id": "plan-1"}, c.fail
		},
		Ingest: func(_ context.Context, container, name string) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.ingest = append(c.ingest, container+"/"+name)
			return map[string]int{"rows": 10}, c.fail
		},
		Actuate: func(_ context.Context, m funcapp.Message) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.actuate = append(c.actuate, m)
			return c.fail
		},
		Approve: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			c.mu.Lock()
			c.approve = append(c.approve, r.Method+" "+r.URL.Path+" "+string(b))
			c.mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}),
	}
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readSample(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readSample(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "..", "events", "azure", name))
}

func post(t *testing.T, h http.Handler, path string, body []byte) (int, azfunc.InvokeResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	var out azfunc.InvokeResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("POST %s answered %d with %q: not the host's response JSON: %v", path, rec.Code, rec.Body.String(), err)
	}
	return rec.Code, out
}

func TestSampleInvocations(t *testing.T) {
	c := &calls{}
	h := azfunc.NewServer(c.handlers(), nil)

	if code, out := post(t, h, "/collect", sample(t, "collect.timer.json")); code != 200 || c.collect != 1 || out.ReturnValue == nil {
		t.Fatalf("collect: %d %+v, %d calls; want 200, one collection and its result", code, out, c.collect)
	}
	if code, _ := post(t, h, "/optimize", sample(t, "optimize.blob-manifest.json")); code != 200 ||
		len(c.optimize) != 1 || c.optimize[0] != "snapshots/cloud=azure/run=20261123T120000Z-7c1e/_manifest.json" {
		t.Fatalf("optimize of a manifest: %d, keys %v; want the manifest's key within the container", code, c.optimize)
	}
	code, out := post(t, h, "/optimize", sample(t, "optimize.blob-other.json"))
	if code != 200 || len(c.optimize) != 1 || !strings.Contains(toJSON(out.ReturnValue), "not a snapshot manifest") {
		t.Fatalf("optimize of a data file: %d %+v, keys %v; want it ignored, saying why", code, out, c.optimize)
	}
	if code, _ := post(t, h, "/ingest", sample(t, "ingest.blob-export-manifest.json")); code != 200 || len(c.ingest) != 1 ||
		c.ingest[0] != "cost-exports/cloudtrim-daily/20261101-20261130/c3a1e8f0-0000-4000-8000-000000000001/manifest.json" {
		t.Fatalf("ingest: %d, %v; want the export manifest with its container", code, c.ingest)
	}
	if code, _ := post(t, h, "/actuate", sample(t, "actuate.queue-message.json")); code != 200 || len(c.actuate) != 1 {
		t.Fatalf("actuate: %d, %d calls", code, len(c.actuate))
	}
	m := c.actuate[0]
	if m.Attempt != 2 || m.ID != "5b7d1a2e-9c3f-4e1a-8b2d-0f9e8d7c6b5a" || !strings.HasPrefix(string(m.Body), `{"version":"cloudtrim.queued-action/v1"`) {
		t.Fatalf("actuate got %+v (body %s); want attempt 2 (DequeueCount), the message ID and the message text unquoted", m, m.Body)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestFailuresReachTheHost: a function's error is a 500 with the reason
// in Logs, so the host records a failed invocation and, for the queue,
// redelivers the message.
func TestFailuresReachTheHost(t *testing.T) {
	c := &calls{fail: errors.New("lake unreachable")}
	h := azfunc.NewServer(c.handlers(), nil)
	for path, file := range map[string]string{"/collect": "collect.timer.json", "/actuate": "actuate.queue-message.json", "/optimize": "optimize.blob-manifest.json"} {
		code, out := post(t, h, path, sample(t, file))
		if code != http.StatusInternalServerError || len(out.Logs) == 0 || !strings.Contains(out.Logs[0], "lake unreachable") {
			t.Errorf("POST %s with a failing function = %d %+v; want 500 with the error in Logs", path, code, out)
		}
	}
}

func TestMalformedInvocations(t *testing.T) {
	c := &calls{}
	h := azfunc.NewServer(c.handlers(), nil)
	tests := []struct {
		path, body string
		status     int
		want       string
	}{
		{"/collect", `not json`, 400, "not the host's"},
		{"/collect", `{"Data": {}}`, 400, `in Data (its trigger binding, see infra/azure/collect/function.json)`},
		{"/collect", `{"Data": {"timer": "yesterday"}}`, 400, "not the timer trigger's object"},
		{"/actuate", `{"Data": {"message": "{}"}, "Metadata": {"DequeueCount": 0}}`, 400, "not a positive count"},
		{"/actuate", `{"Data": {"message": "{}"}, "Metadata": {"DequeueCount": "two"}}`, 400, "not a positive count"},
		{"/optimize", `{"Data": {"manifest": ""}, "Metadata": {}}`, 400, "without Metadata.BlobTrigger"},
		{"/optimize", `{"Data": {"manifest": ""}, "Metadata": {"BlobTrigger": "lake/snapshots/../x/_manifest.json"}}`, 200, "not a snapshot manifest"},
		{"/ingest", `{"Data": {"export": ""}, "Metadata": {"BlobTrigger": "cost-exports/x/part_0.csv"}}`, 200, "not a cost export manifest"},
		{"/collect", `{"Data": {"timer": {}}, "pad": "` + strings.Repeat("x", azfunc.MaxInvocation) + `"}`, 413, "larger than"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body)))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("POST %s %.60q = %d %s; want %d and %q", tt.path, tt.body, rec.Code, rec.Body.String(), tt.status, tt.want)
		}
	}
	if c.collect+len(c.optimize)+len(c.ingest)+len(c.actuate) != 0 {
		t.Errorf("malformed invocations reached the functions: %+v", c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/collect", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /collect = %d; want 405", rec.Code)
	}
}

// TestForwardedHTTPReachesOnlyTheApprovalRoutes: the approve function's
// requests come forwarded under /api; nothing from outside reaches the
// invocation paths, and a deployment without a function answers 404.
func TestForwardedHTTPReachesOnlyTheApprovalRoutes(t *testing.T) {
	c := &calls{}
	h := azfunc.NewServer(c.handlers(), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/slack/actions", strings.NewReader("payload=%7B%7D")))
	if rec.Code != http.StatusAccepted || len(c.approve) != 1 || c.approve[0] != "POST /slack/actions payload=%7B%7D" {
		t.Fatalf("forwarded /api/slack/actions = %d, %v; want the approval handler to get /slack/actions and the raw body", rec.Code, c.approve)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/collect", strings.NewReader(string(sample(t, "collect.timer.json")))))
	if c.collect != 0 {
		t.Fatal("a forwarded request under /api ran the collector")
	}
	only := azfunc.NewServer(azfunc.Handlers{Collect: c.handlers().Collect}, nil)
	for _, path := range []string{"/actuate", "/optimize", "/ingest"} {
		rec := httptest.NewRecorder()
		only.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(sample(t, map[string]string{
			"/actuate": "actuate.queue-message.json", "/optimize": "optimize.blob-manifest.json", "/ingest": "ingest.blob-export-manifest.json"}[path]))))
		if rec.Code != http.StatusNotFound {
			t.Errorf("POST %s to a deployment without it = %d; want 404", path, rec.Code)
		}
	}
	rec = httptest.NewRecorder()
	only.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/approve", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST /api/approve without an approval function = %d; want 404", rec.Code)
	}
}
