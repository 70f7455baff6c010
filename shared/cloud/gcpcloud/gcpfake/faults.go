package gcpfake

import (
	"net/http"
	"strings"
)

// Fault makes the requests it matches fail instead of being served.
type Fault struct {
	// Path matches requests whose URL path contains it ("" matches
	// every request); Verb, when set, their HTTP method.
	Path string
	Verb string
	// Times is how many requests the fault answers; 0 means every
	// matching request.
	Times int
	// Status, Reason and Message make the Google JSON error answered.
	Status  int
	Reason  string
	Message string
	// Body, when set, is answered as is with Status (200 when 0), to
	// serve a malformed answer.
	Body string
}

func (f *Fault) write(w http.ResponseWriter) {
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(max(f.Status, http.StatusOK))
		_, _ = w.Write([]byte(f.Body))
		return
	}
	writeError(w, apiErr(f.Status, f.Reason, f.Message))
}

// Inject adds a fault; faults are tried in the order they were added.
func (s *Server) Inject(f Fault) {
	s.Estate.Lock()
	defer s.Estate.Unlock()
	s.faults = append(s.faults, &f)
}

// Throttle makes the next n requests whose path contains path answer
// 429 rateLimitExceeded, as Compute Engine answers a project over its
// API rate quota.
func (s *Server) Throttle(path string, n int) {
	s.Inject(Fault{Path: path, Times: n, Status: http.StatusTooManyRequests, Reason: "rateLimitExceeded",
		Message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'"})
}

// Deny makes every Compute Engine request naming project answer 403
// forbidden, as for an identity without a role on it; Resource Manager
// still lists the project.
func (s *Server) Deny(project string) {
	s.Estate.Lock()
	defer s.Estate.Unlock()
	s.denied[project] = true
}

// Unreachable makes a scope of the aggregated lists ("zones/us-central1-a",
// "regions/us-central1") unreachable: a list asked with
// returnPartialSuccess=true names it in unreachables and leaves its
// resources out; one asked without fails with 503 backendError.
func (s *Server) Unreachable(scope string) {
	s.Estate.Lock()
	defer s.Estate.Unlock()
	s.unreachable[scope] = true
}

// OperationFault is how an operation ends when it fails: its
// error.errors[0].code ("QUOTA_EXCEEDED", "ZONE_RESOURCE_POOL_EXHAUSTED"),
// message and httpErrorStatusCode.
type OperationFault struct {
	Code       string
	Message    string
	HTTPStatus int
}

// FailOperation makes the next operation on the resource of relative
// name id end with f instead of applying its change.
func (s *Server) FailOperation(id string, f OperationFault) {
	s.Estate.Lock()
	defer s.Estate.Unlock()
	s.opFaults[id] = f
}

// takeFault returns the first fault matching r, counting it down; the
// lock is held.
func (s *Server) takeFault(r *http.Request) *Fault {
	for i, f := range s.faults {
		if !strings.Contains(r.URL.Path, f.Path) || (f.Verb != "" && f.Verb != r.Method) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}
