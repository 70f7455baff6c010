package gcpfake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Storage is fake-gcs-server served in process on a loopback port, as
// the lake's gs:// URLs reach it with STORAGE_EMULATOR_HOST=Host.
type Storage struct {
	*fakestorage.Server
	// Host is host:port, the value of STORAGE_EMULATOR_HOST.
	Host string
	http *httptest.Server
}

// StartStorage starts fake-gcs-server. observe, when not nil, sees every
// request before the fake answers it (a test records upload
// preconditions with it). Close stops it.
func StartStorage(observe func(*http.Request)) (*Storage, error) {
	s := &Storage{}
	var handler http.Handler
	s.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if observe != nil {
			observe(r)
		}
		handler.ServeHTTP(w, r)
	}))
	s.Host = strings.TrimPrefix(s.http.URL, "http://")
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener:  true,
		Scheme:      "http",
		ExternalURL: s.http.URL, // where resumable uploads continue
		// The storage client reads objects through the XML API at the
		// emulator's host, which fake-gcs-server serves only to requests
		// for its public host.
		PublicHost: s.Host,
	})
	if err != nil {
		s.http.Close()
		return nil, fmt.Errorf("gcpfake: start fake-gcs-server: %w", err)
	}
	s.Server, handler = srv, srv.HTTPHandler()
	return s, nil
}

// Close stops the server.
func (s *Storage) Close() {
	s.http.Close()
	s.Server.Stop()
}
