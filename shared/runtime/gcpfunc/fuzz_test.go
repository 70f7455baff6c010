package gcpfunc

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// readSample reads a sample event of events/gcp.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "gcp", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The sample events decode and reach their function as Eventarc would
// deliver them.
func TestSampleEvents(t *testing.T) {
	for _, c := range []struct {
		file, fn  string
		collects  int
		optimized []string
		messages  int
	}{
		{"collect.scheduler-pubsub.json", TargetCollect, 1, nil, 0},
		{"optimize.storage-manifest.json", TargetOptimize, 0, []string{"snapshots/cloud=gcp/run=20261123T050012.118Z-3f2a9c1d/_manifest.json"}, 0},
		{"optimize.storage-other.json", TargetOptimize, 0, nil, 0},
		{"actuate.pubsub-message.json", TargetActuate, 0, nil, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			var e cloudevents.Event
			if err := e.UnmarshalJSON(readSample(t, c.file)); err != nil {
				t.Fatalf("%s is not a CloudEvent: %v", c.file, err)
			}
			r := &recorder{}
			h := r.handlers(t0)
			h.Bucket, h.Prefix = "my-finops-cloudtrim-lake", ""
			if code := structuredEvent(t, "/"+c.fn, e, h); !ok(code) {
				t.Fatalf("status %d", code)
			}
			if r.collects != c.collects || len(r.messages) != c.messages || len(r.optimized) != len(c.optimized) {
				t.Fatalf("collects %d, optimized %v, messages %d", r.collects, r.optimized, len(r.messages))
			}
			for i, k := range c.optimized {
				if r.optimized[i] != k {
					t.Errorf("optimized %q, want %q", r.optimized[i], k)
				}
			}
		})
	}
}

// structuredEvent posts e through the framework with h installed.
func structuredEvent(t *testing.T, path string, e cloudevents.Event, h *Handlers) int {
	t.Helper()
	current.Store(h)
	var data any
	if err := e.DataAs(&data); err != nil {
		t.Fatal(err)
	}
	return structured(t, path, e.Type(), e.Source(), data)
}

// FuzzEvents hands arbitrary data to every CloudEvent function: none
// panics; collect and optimize reach their function only for a
// well-formed event, and actuate either hands on a message, refuses an
// early one or dead-letters what it cannot read, never two of these.
func FuzzEvents(f *testing.F) {
	for _, name := range []string{"collect.scheduler-pubsub.json", "optimize.storage-manifest.json", "optimize.storage-other.json", "actuate.pubsub-message.json"} {
		var e cloudevents.Event
		if err := e.UnmarshalJSON(readSample(f, name)); err != nil {
			f.Fatal(err)
		}
		f.Add(e.Type(), e.Data())
	}
	f.Add(TypePubSubMessage, []byte(`{"message":{"data":"!!","messageId":""}}`))
	f.Add(TypeObjectFinalized, []byte(`{"bucket":"lake-bucket","name":"team/snapshots/cloud=gcp/run=1/_manifest.json"}`))
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		r := &recorder{}
		h := r.handlers(t0)
		e := cloudevents.NewEvent()
		e.SetID("fuzz")
		e.SetSource("//fuzz")
		e.SetType(typ)
		_ = e.SetData("application/json", data)
		ctx := context.Background()
		if err := h.collect(logger)(ctx, e); err != nil {
			t.Fatalf("collect: %v (its function succeeds, so the event must be acknowledged)", err)
		}
		if r.collects > 0 && typ != TypePubSubMessage {
			t.Fatalf("collect ran for an event of type %q", typ)
		}
		_ = h.optimize(logger)(ctx, e)
		if len(r.optimized) > 0 && (typ != TypeObjectFinalized || !funcapp.IsSnapshotManifest(r.optimized[0])) {
			t.Fatalf("optimize ran for %q of type %q", r.optimized, typ)
		}
		err := h.actuate(logger)(ctx, e)
		handed, dead := len(r.messages), len(r.dead)
		switch {
		case handed+dead > 1:
			t.Fatalf("one event handed on %d times and dead-lettered %d times", handed, dead)
		case handed+dead == 0 && err == nil && len(r.delayed) == 0:
			t.Fatalf("actuate acknowledged an event it neither handed on, sent again nor dead-lettered")
		}
	})
}
