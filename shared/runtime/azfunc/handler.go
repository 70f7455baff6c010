package azfunc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// Handlers are the functions of the app; a nil one answers 404, as for
// a function this deployment does not have.
type Handlers struct {
	// Collect runs one scheduled collection.
	Collect func(ctx context.Context) (any, error)
	// Optimize plans after the snapshot manifest at key (a key in the
	// lake's container) was committed.
	Optimize func(ctx context.Context, key string) (any, error)
	// Ingest reads the cost export whose manifest is blob name of
	// container and plans again.
	Ingest func(ctx context.Context, container, name string) (any, error)
	// Approve serves the approval channels (paths without /api).
	Approve http.Handler
	// Actuate handles one queue message; an error leaves it to the
	// host's redelivery.
	Actuate func(ctx context.Context, msg funcapp.Message) error
}

// RoutePrefix is host.json's extensions.http.routePrefix: forwarded
// HTTP requests arrive under it.
const RoutePrefix = "/api"

// MaxInvocation bounds an invocation payload: a blob trigger carries
// the blob (a manifest), a queue trigger a message of at most 64 KiB.
const MaxInvocation = 8 << 20

// InvokeRequest is the host's request payload for a non-HTTP trigger.
type InvokeRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// InvokeResponse is the handler's answer to the host.
type InvokeResponse struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// Ignored is the ReturnValue of an invocation that had nothing to do
// (a blob that is not a manifest).
type Ignored struct {
	Ignored string `json:"ignored"`
	Reason  string `json:"reason"`
}

// NewServer returns the custom handler's HTTP handler.
func NewServer(h Handlers, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{h: h, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("/collect", s.invocation("collect", "timer", s.collect))
	mux.HandleFunc("/optimize", s.invocation("optimize", "manifest", s.optimize))
	mux.HandleFunc("/ingest", s.invocation("ingest", "export", s.ingest))
	mux.HandleFunc("/actuate", s.invocation("actuate", "message", s.actuate))
	mux.HandleFunc(RoutePrefix+"/", s.approve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no function at " + funcapp.Clean(r.URL.Path)})
	})
	return mux
}

type server struct {
	h      Handlers
	logger *slog.Logger
}

// errNoFunction answers 404: the deployment does not run that function.
var errNoFunction = errors.New("no such function in this deployment")

// invocation decodes the host's payload for function name, checks the
// trigger binding is there, runs fn and answers the host.
func (s *server) invocation(name, binding string, fn func(ctx context.Context, in *InvokeRequest, data json.RawMessage) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "the Functions host invokes " + name + " with POST"})
			return
		}
		start := time.Now()
		log := s.logger.With("function", name, "invocation_id", funcapp.Clean(r.Header.Get("X-Azure-Functions-InvocationId")))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxInvocation))
		if err != nil {
			s.fail(w, log, name, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: %s invocation payload larger than %d bytes or unreadable", domain.ErrInvalid, name, MaxInvocation))
			return
		}
		var in InvokeRequest
		if err := json.Unmarshal(body, &in); err != nil {
			s.fail(w, log, name, http.StatusBadRequest, fmt.Errorf("%w: %s invocation payload is not the host's {\"Data\", \"Metadata\"} JSON: %v", domain.ErrInvalid, name, err))
			return
		}
		data, ok := in.Data[binding]
		if !ok {
			s.fail(w, log, name, http.StatusBadRequest, fmt.Errorf("%w: %s invocation has no %q in Data (its trigger binding, see infra/azure/%s/function.json)", domain.ErrInvalid, name, binding, name))
			return
		}
		out, err := fn(r.Context(), &in, data)
		if errors.Is(err, errNoFunction) {
			s.fail(w, log, name, http.StatusNotFound, fmt.Errorf("%s: %w", name, err))
			return
		}
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, domain.ErrInvalid) {
				status = http.StatusBadRequest // a failure all the same, for the host
			}
			s.fail(w, log, name, status, err)
			return
		}
		log.InfoContext(r.Context(), "invocation done", "duration_ms", time.Since(start).Milliseconds())
		writeJSON(w, http.StatusOK, InvokeResponse{Outputs: map[string]any{}, Logs: []string{name + " done"}, ReturnValue: out})
	}
}

// fail answers the host with status and the error in Logs, so it shows in
// the invocation's log; the error never holds a secret.
func (s *server) fail(w http.ResponseWriter, log *slog.Logger, name string, status int, err error) {
	log.Error("invocation failed", "status", status, "error", err)
	writeJSON(w, status, InvokeResponse{Outputs: map[string]any{}, Logs: []string{name + ": " + err.Error()}, ReturnValue: map[string]string{"error": err.Error()}})
}

func (s *server) collect(ctx context.Context, in *InvokeRequest, data json.RawMessage) (any, error) {
	if s.h.Collect == nil {
		return nil, errNoFunction
	}
	var timer struct {
		IsPastDue bool `json:"IsPastDue"`
	}
	if err := json.Unmarshal(data, &timer); err != nil {
		return nil, fmt.Errorf("%w: Data.timer is not the timer trigger's object: %v", domain.ErrInvalid, err)
	}
	if timer.IsPastDue {
		s.logger.WarnContext(ctx, "collection is past due: the previous run was missed or late")
	}
	return s.h.Collect(ctx)
}

// blobName returns the blob path within its container and the container
// from a blob trigger's metadata: BlobTrigger is "container/path"; name
// is the {name} of the binding's path pattern.
func blobName(in *InvokeRequest) (container, name string, err error) {
	if v := metaString(in, "BlobTrigger"); v != "" {
		container, name, _ = strings.Cut(v, "/")
		if container != "" && name != "" {
			return container, name, nil
		}
	}
	return "", "", fmt.Errorf("%w: blob trigger without Metadata.BlobTrigger (\"container/path\")", domain.ErrInvalid)
}

func (s *server) optimize(ctx context.Context, in *InvokeRequest, _ json.RawMessage) (any, error) {
	if s.h.Optimize == nil {
		return nil, errNoFunction
	}
	_, name, err := blobName(in)
	if err != nil {
		return nil, err
	}
	if !funcapp.IsSnapshotManifest(name) {
		return Ignored{Ignored: name, Reason: "not a snapshot manifest (snapshots/…/_manifest.json)"}, nil
	}
	return s.h.Optimize(ctx, name)
}

func (s *server) ingest(ctx context.Context, in *InvokeRequest, _ json.RawMessage) (any, error) {
	if s.h.Ingest == nil {
		return nil, errNoFunction
	}
	container, name, err := blobName(in)
	if err != nil {
		return nil, err
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	if !strings.HasSuffix(strings.ToLower(base), "manifest.json") {
		return Ignored{Ignored: container + "/" + name, Reason: "not a cost export manifest (…manifest.json); the export's data files are read through it"}, nil
	}
	return s.h.Ingest(ctx, container, name)
}

func (s *server) actuate(ctx context.Context, in *InvokeRequest, data json.RawMessage) (any, error) {
	if s.h.Actuate == nil {
		return nil, errNoFunction
	}
	body := []byte(data)
	var text string
	if err := json.Unmarshal(data, &text); err == nil {
		body = []byte(text) // the message text, as a JSON string
	}
	msg := funcapp.Message{ID: metaString(in, "Id"), Body: body, Attempt: 1}
	if raw, ok := in.Metadata["DequeueCount"]; ok {
		n, err := strconv.Atoi(strings.Trim(string(raw), `"`))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%w: Metadata.DequeueCount %s is not a positive count", domain.ErrInvalid, funcapp.Clean(string(raw)))
		}
		msg.Attempt = n
	}
	if err := s.h.Actuate(ctx, msg); err != nil {
		return nil, err
	}
	return map[string]any{"message_id": msg.ID, "attempt": msg.Attempt}, nil
}

// approve serves a forwarded HTTP request without the route prefix.
func (s *server) approve(w http.ResponseWriter, r *http.Request) {
	if s.h.Approve == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no approval function in this deployment"})
		return
	}
	http.StripPrefix(RoutePrefix, s.h.Approve).ServeHTTP(w, r)
}

// metaString returns a string metadata value ("" when absent or not a
// string).
func metaString(in *InvokeRequest, key string) string {
	var v string
	if raw, ok := in.Metadata[key]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
