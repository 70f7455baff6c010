package azfunc_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/runtime/azfunc"
)

// FuzzInvocation posts arbitrary payloads to every invocation path: the
// handler never panics, answers the host a status it understands, and a
// payload it refuses never reaches a function.
func FuzzInvocation(f *testing.F) {
	for _, name := range []string{"collect.timer.json", "optimize.blob-manifest.json", "optimize.blob-other.json", "ingest.blob-export-manifest.json", "actuate.queue-message.json"} {
		b, err := readSample(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"message":{"nested":true}},"Metadata":{"DequeueCount":"3"}}`))
	f.Add([]byte(`{"Data":null,"Metadata":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/collect", "/optimize", "/ingest", "/actuate"} {
			c := &calls{}
			h := azfunc.NewServer(c.handlers(), nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
			switch rec.Code {
			case http.StatusOK:
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
				if n := c.collect + len(c.optimize) + len(c.ingest) + len(c.actuate); n != 0 {
					t.Fatalf("POST %s refused with %d but reached %d functions", path, rec.Code, n)
				}
			default:
				t.Fatalf("POST %s %q = %d", path, body, rec.Code)
			}
		}
	})
}
