package gcpfunc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// The Functions Framework keeps one registry per process and exits on a
// second registration of a name, so the tests register once (TestMain)
// functions that dispatch to the Handlers the running test installs, and
// drive them through the framework's own HTTP server: its CloudEvents
// decoding (binary, structured) and its conversion of Pub/Sub push
// bodies are what Cloud Run runs.
var (
	current   atomic.Pointer[Handlers]
	framework string // the framework server's base URL
)

func TestMain(m *testing.M) {
	logger := slog.New(slog.DiscardHandler)
	for _, target := range []string{TargetCollect, TargetOptimize, TargetActuate} {
		functions.CloudEvent(target, func(ctx context.Context, e cloudevents.Event) error {
			h := current.Load()
			switch target {
			case TargetCollect:
				return h.collect(logger)(ctx, e)
			case TargetOptimize:
				return h.optimize(logger)(ctx, e)
			}
			return h.actuate(logger)(ctx, e)
		})
	}
	functions.HTTP(TargetApprove, func(w http.ResponseWriter, r *http.Request) { current.Load().Approve.ServeHTTP(w, r) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	os.Unsetenv("FUNCTION_TARGET")
	go func() { _ = funcframework.StartHostPort("127.0.0.1", port) }()
	framework = "http://127.0.0.1:" + port
	for i := 0; ; i++ {
		if resp, err := http.Get(framework + "/none"); err == nil {
			resp.Body.Close()
			break
		}
		if i == 500 {
			fmt.Fprintln(os.Stderr, "the Functions Framework server did not start")
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	os.Exit(m.Run())
}

// recorder is a test's Handlers with what they were called with.
type recorder struct {
	mu        sync.Mutex
	collects  int
	optimized []string
	messages  []funcapp.Message
	delayed   []time.Duration
	dead      []string
	err       error
}

func (r *recorder) handlers(now time.Time) *Handlers {
	return &Handlers{
		Collect: func(context.Context) (any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.collects++
			return "collected", r.err
		},
		Optimize: func(_ context.Context, key string) (any, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.optimized = append(r.optimized, key)
			return "planned", r.err
		},
		Actuate: func(_ context.Context, m funcapp.Message) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.messages = append(r.messages, m)
			return r.err
		},
		Queue:               r,
		MaxDeliveryAttempts: 5,
		Approve: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			fmt.Fprintf(w, "approve %s %s", req.Method, req.URL.Path)
		}),
		Bucket: "lake-bucket", Prefix: "team/",
		Now: func() time.Time { return now },
	}
}

func (r *recorder) Send(context.Context, []byte) error { return nil }
func (r *recorder) SendDelayed(_ context.Context, _ []byte, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delayed = append(r.delayed, d)
	return nil
}
func (r *recorder) SendDeadLetter(_ context.Context, _ []byte, _ int, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead = append(r.dead, reason)
	return nil
}

var t0 = time.Date(2026, 11, 20, 5, 0, 0, 0, time.UTC)

// binary posts a binary-mode CloudEvent, as Eventarc delivers them.
func binary(t *testing.T, path, typ, source string, data any) int {
	t.Helper()
	body, _ := json.Marshal(data)
	req, _ := http.NewRequest(http.MethodPost, framework+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", typ)
	req.Header.Set("ce-source", source)
	req.Header.Set("ce-id", "evt-1")
	return do(t, req)
}

// structured posts a structured-mode CloudEvent.
func structured(t *testing.T, path, typ, source string, data any) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "type": typ, "source": source, "id": "evt-2",
		"datacontenttype": "application/json", "data": data})
	req, _ := http.NewRequest(http.MethodPost, framework+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	return do(t, req)
}

// push posts a Pub/Sub push body, as a push subscription sends it.
func push(t *testing.T, path string, data []byte, attrs map[string]string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"subscription": "projects/p-123456/subscriptions/s",
		"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "attributes": attrs,
			"messageId": "m-9", "publishTime": t0.Format(time.RFC3339)}})
	req, _ := http.NewRequest(http.MethodPost, framework+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func pubsubData(data []byte, attrs map[string]string, attempt int) map[string]any {
	m := map[string]any{"subscription": "projects/p-123456/subscriptions/eventarc-sub",
		"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data), "attributes": attrs,
			"messageId": "m-1", "publishTime": t0.Format(time.RFC3339)}}
	if attempt > 0 {
		m["deliveryAttempt"] = attempt
	}
	return m
}

const pubsubSource = "//pubsub.googleapis.com/projects/p-123456/topics/cloudtrim-collect"

func ok(code int) bool { return code >= 200 && code < 300 }

func TestCollectEvents(t *testing.T) {
	cases := []struct {
		name    string
		send    func(t *testing.T) int
		err     error
		acked   bool
		collect int
	}{
		{"eventarc binary", func(t *testing.T) int {
			return binary(t, "/collect", TypePubSubMessage, pubsubSource, pubsubData([]byte("{}"), nil, 0))
		}, nil, true, 1},
		{"structured", func(t *testing.T) int {
			return structured(t, "/collect", TypePubSubMessage, pubsubSource, pubsubData(nil, nil, 0))
		}, nil, true, 1},
		{"pubsub push body", func(t *testing.T) int { return push(t, "/collect", []byte("tick"), nil) }, nil, true, 1},
		{"wrong event type acknowledged, nothing run", func(t *testing.T) int {
			return binary(t, "/collect", TypeObjectFinalized, pubsubSource, map[string]string{"bucket": "b", "name": "n"})
		}, nil, true, 0},
		{"transient failure sent again", func(t *testing.T) int {
			return binary(t, "/collect", TypePubSubMessage, pubsubSource, pubsubData(nil, nil, 0))
		}, errors.New("lake unavailable"), false, 1},
		{"permission failure acknowledged", func(t *testing.T) int {
			return binary(t, "/collect", TypePubSubMessage, pubsubSource, pubsubData(nil, nil, 0))
		}, fmt.Errorf("projects: %w", domain.ErrPermission), true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{err: c.err}
			current.Store(r.handlers(t0))
			code := c.send(t)
			if ok(code) != c.acked {
				t.Errorf("status %d, want acknowledged=%v", code, c.acked)
			}
			if r.collects != c.collect {
				t.Errorf("%d collections, want %d", r.collects, c.collect)
			}
		})
	}
}

func TestOptimizeEvents(t *testing.T) {
	const src = "//storage.googleapis.com/projects/_/buckets/lake-bucket"
	manifest := "team/snapshots/cloud=gcp/run=r1/_manifest.json"
	cases := []struct {
		name  string
		typ   string
		data  any
		err   error
		acked bool
		want  []string
	}{
		{"manifest", TypeObjectFinalized, map[string]string{"bucket": "lake-bucket", "name": manifest, "generation": "17"}, nil, true,
			[]string{"snapshots/cloud=gcp/run=r1/_manifest.json"}},
		{"a table file is ignored", TypeObjectFinalized, map[string]string{"bucket": "lake-bucket", "name": "team/snapshots/cloud=gcp/run=r1/resources.parquet"}, nil, true, nil},
		{"another bucket is ignored", TypeObjectFinalized, map[string]string{"bucket": "other", "name": manifest}, nil, true, nil},
		{"outside the prefix is ignored", TypeObjectFinalized, map[string]string{"bucket": "lake-bucket", "name": "snapshots/cloud=gcp/run=r1/_manifest.json"}, nil, true, nil},
		{"path traversal is ignored", TypeObjectFinalized, map[string]string{"bucket": "lake-bucket", "name": "team/snapshots/../x/_manifest.json"}, nil, true, nil},
		{"data without a name acknowledged", TypeObjectFinalized, map[string]string{"bucket": "lake-bucket"}, nil, true, nil},
		{"wrong type acknowledged", "google.cloud.storage.object.v1.deleted", map[string]string{"bucket": "lake-bucket", "name": manifest}, nil, true, nil},
		{"planning failure sent again", TypeObjectFinalized, map[string]string{"bucket": "lake-bucket", "name": manifest}, errors.New("timeout"), false,
			[]string{"snapshots/cloud=gcp/run=r1/_manifest.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{err: c.err}
			current.Store(r.handlers(t0))
			code := structured(t, "/optimize", c.typ, src, c.data)
			if ok(code) != c.acked {
				t.Errorf("status %d, want acknowledged=%v", code, c.acked)
			}
			if diff := cmp.Diff(c.want, r.optimized); diff != "" {
				t.Errorf("optimized keys (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("binary mode", func(t *testing.T) {
		r := &recorder{}
		current.Store(r.handlers(t0))
		if code := binary(t, "/optimize", TypeObjectFinalized, src, map[string]string{"bucket": "lake-bucket", "name": manifest}); !ok(code) || len(r.optimized) != 1 {
			t.Errorf("status %d, optimized %v", code, r.optimized)
		}
	})
}

func TestActuateEvents(t *testing.T) {
	body := []byte(`{"action":{"id":"a-1"}}`)
	due := func(d time.Duration) map[string]string {
		return map[string]string{pubsubqueue.NotBeforeAttribute: t0.Add(d).Format(time.RFC3339Nano)}
	}
	cases := []struct {
		name     string
		data     any
		err      error
		acked    bool
		messages []funcapp.Message
		delayed  []time.Duration
		dead     int
	}{
		{"delivered with its attempt", pubsubData(body, nil, 3), nil, true,
			[]funcapp.Message{{ID: "m-1", Body: body, Attempt: 3}}, nil, 0},
		{"no attempt means the first", pubsubData(body, nil, 0), nil, true,
			[]funcapp.Message{{ID: "m-1", Body: body, Attempt: 1}}, nil, 0},
		{"actuator error sent again", pubsubData(body, nil, 1), errors.New("throttled"), false,
			[]funcapp.Message{{ID: "m-1", Body: body, Attempt: 1}}, nil, 0},
		{"due now", pubsubData(body, due(-time.Second), 2), nil, true,
			[]funcapp.Message{{ID: "m-1", Body: body, Attempt: 2}}, nil, 0},
		{"early: refused for a redelivery", pubsubData(body, due(10*time.Minute), 1), nil, false, nil, nil, 0},
		{"early near the dead-letter policy: sent again", pubsubData(body, due(10*time.Minute), 4), nil, true,
			nil, []time.Duration{10 * time.Minute}, 0},
		{"unreadable due time: handled now", pubsubData(body, map[string]string{pubsubqueue.NotBeforeAttribute: "soon"}, 1), nil, true,
			[]funcapp.Message{{ID: "m-1", Body: body, Attempt: 1}}, nil, 0},
		{"not a Pub/Sub message: dead-lettered", map[string]string{"hello": "world"}, nil, true, nil, nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{err: c.err}
			current.Store(r.handlers(t0))
			code := binary(t, "/actuate", TypePubSubMessage, "//pubsub.googleapis.com/projects/p-123456/topics/cloudtrim-actions", c.data)
			if ok(code) != c.acked {
				t.Errorf("status %d, want acknowledged=%v", code, c.acked)
			}
			if diff := cmp.Diff(c.messages, r.messages); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.delayed, r.delayed); diff != "" {
				t.Errorf("sent again after (-want +got):\n%s", diff)
			}
			if len(r.dead) != c.dead {
				t.Errorf("dead-lettered %v, want %d", r.dead, c.dead)
			}
			for _, reason := range r.dead {
				if !strings.Contains(reason, "not a Pub/Sub message") && !strings.Contains(reason, "no messageId") {
					t.Errorf("dead-letter reason %q does not say what is wrong", reason)
				}
			}
		})
	}
	t.Run("push body", func(t *testing.T) {
		r := &recorder{}
		current.Store(r.handlers(t0))
		if code := push(t, "/actuate", body, nil); !ok(code) {
			t.Fatalf("status %d", code)
		}
		want := []funcapp.Message{{ID: "m-9", Body: body, Attempt: 1}}
		if diff := cmp.Diff(want, r.messages); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
}

func TestApproveIsServedOverHTTP(t *testing.T) {
	r := &recorder{}
	current.Store(r.handlers(t0))
	resp, err := http.Post(framework+"/approve", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "approve POST /approve" {
		t.Errorf("status %d, body %q", resp.StatusCode, b)
	}
}
