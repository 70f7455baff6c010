package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/approve"
)

// seenRequest is what a handler saw of a request.
type seenRequest struct {
	Method, Host, Path, EscapedPath, RequestURI, RawQuery, RemoteAddr, Proto string
	Query                                                                    url.Values
	Header                                                                   http.Header
	Cookies                                                                  []string
	Body                                                                     string
	ContentLength                                                            int64
}

func see(r *http.Request) seenRequest {
	body, _ := io.ReadAll(r.Body)
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	return seenRequest{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), RequestURI: r.RequestURI,
		RawQuery: r.URL.RawQuery, RemoteAddr: r.RemoteAddr, Proto: r.Proto, Query: r.URL.Query(), Header: r.Header,
		Cookies: cookies, Body: string(body), ContentLength: r.ContentLength,
	}
}

func functionURLRequest(t *testing.T) events.LambdaFunctionURLRequest {
	t.Helper()
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(sample(t, "approve.function-url.json"), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHTTPRequest(t *testing.T) {
	base := functionURLRequest(t)
	sampleBody := base.Body
	sampleHeader := http.Header{
		"Content-Type": {"application/json"}, "Content-Length": {"181"}, "User-Agent": {"cloudtrim-approve/1.0"},
		"X-Amzn-Trace-Id":       {"Root=1-6b03e5a7-5f1e2d3c4b5a697887766554"},
		"X-Cloudtrim-Timestamp": {"1795417511"}, "X-Cloudtrim-Signature": {"v1=2f6e0c1d9b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f7e6d"},
		"X-Forwarded-For": {"203.0.113.24"}, "X-Forwarded-Port": {"443"}, "X-Forwarded-Proto": {"https"},
	}
	const host = "abcdefghij2klmnopqrstuvwxy.lambda-url.us-east-1.on.aws"
	tests := []struct {
		name string
		edit func(*events.LambdaFunctionURLRequest)
		want seenRequest
	}{
		{"sample", func(*events.LambdaFunctionURLRequest) {}, seenRequest{
			Method: "POST", Host: host, Path: "/approve", EscapedPath: "/approve", RequestURI: "/approve",
			RemoteAddr: "203.0.113.24:0", Proto: "HTTP/1.1", Query: url.Values{}, Header: sampleHeader,
			Body: sampleBody, ContentLength: int64(len(sampleBody)),
		}},
		{"base64 body, query, cookies, several values", func(ev *events.LambdaFunctionURLRequest) {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte("\x00\xffbinary")), true
			ev.RawPath, ev.RawQueryString = "/approve/act%2F1", "action=act-1&action=act-2&note=a%20b+c"
			ev.Cookies = []string{"session=abc", "theme=dark"}
			ev.Headers = map[string]string{"accept": "application/json,text/plain", "host": "approve.example.com"}
			ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.SourceIP = "PUT", "2001:db8::1"
		}, seenRequest{
			Method: "PUT", Host: "approve.example.com", Path: "/approve/act/1", EscapedPath: "/approve/act%2F1",
			RequestURI: "/approve/act%2F1?action=act-1&action=act-2&note=a%20b+c", RawQuery: "action=act-1&action=act-2&note=a%20b+c",
			RemoteAddr: "[2001:db8::1]:0", Proto: "HTTP/1.1",
			Query:   url.Values{"action": {"act-1", "act-2"}, "note": {"a b c"}},
			Header:  http.Header{"Accept": {"application/json,text/plain"}, "Cookie": {"session=abc; theme=dark"}},
			Cookies: []string{"session=abc", "theme=dark"}, Body: "\x00\xffbinary", ContentLength: 8,
		}},
		{"no body, no raw path, HTTP/2", func(ev *events.LambdaFunctionURLRequest) {
			ev.Body, ev.RawPath, ev.Headers = "", "", nil
			ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Protocol = "GET", "/health", "HTTP/2.0"
			ev.RequestContext.HTTP.SourceIP = ""
		}, seenRequest{
			Method: "GET", Host: host, Path: "/health", EscapedPath: "/health", RequestURI: "/health",
			Proto: "HTTP/2.0", Query: url.Values{}, Header: http.Header{},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := functionURLRequest(t)
			tt.edit(&ev)
			type key struct{}
			ctx := context.WithValue(t.Context(), key{}, "v")
			r, err := HTTPRequest(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if r.Context().Value(key{}) != "v" {
				t.Error("the request does not carry the invocation's context")
			}
			if diff := cmp.Diff(tt.want, see(r)); diff != "" {
				t.Errorf("HTTPRequest() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPRequestRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*events.LambdaFunctionURLRequest)
		want string
	}{
		{"payload 1.0", func(ev *events.LambdaFunctionURLRequest) { ev.Version = "1.0" }, `payload format version "1.0" is not supported`},
		{"no version", func(ev *events.LambdaFunctionURLRequest) { ev.Version = "" }, `no "version"`},
		{"no method", func(ev *events.LambdaFunctionURLRequest) { ev.RequestContext.HTTP.Method = "" }, "no requestContext.http.method"},
		{"bad method", func(ev *events.LambdaFunctionURLRequest) { ev.RequestContext.HTTP.Method = "PO ST" }, `method "PO ST"`},
		{"bad base64", func(ev *events.LambdaFunctionURLRequest) { ev.IsBase64Encoded = true }, "body is marked base64 but does not decode"},
		{"relative path", func(ev *events.LambdaFunctionURLRequest) { ev.RawPath = "approve" }, `rawPath "approve" does not start with /`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := functionURLRequest(t)
			tt.edit(&ev)
			if _, err := HTTPRequest(t.Context(), ev); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("HTTPRequest() = %v; want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestFunctionURLResponse(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   []byte
		want   events.LambdaFunctionURLResponse
	}{
		{"JSON", http.StatusCreated, http.Header{"Content-Type": {"application/json"}}, []byte(`{"ok":true}`),
			events.LambdaFunctionURLResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`}},
		{"no status, no content type", 0, http.Header{}, []byte("<html><body>approved</body></html>"),
			events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}, Body: "<html><body>approved</body></html>"}},
		{"several values and cookies", http.StatusFound, http.Header{
			"Location": {"/done"}, "Vary": {"Accept", "Cookie"}, "Set-Cookie": {"a=1; Path=/", "b=2; HttpOnly"}, "X-Empty": {},
		}, nil, events.LambdaFunctionURLResponse{StatusCode: 302, Headers: map[string]string{"Location": "/done", "Vary": "Accept,Cookie"},
			Cookies: []string{"a=1; Path=/", "b=2; HttpOnly"}}},
		{"binary body", 200, http.Header{"Content-Type": {"application/octet-stream"}}, []byte{0x00, 0xff, 0xfe},
			events.LambdaFunctionURLResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"}, Body: "AP/+", IsBase64Encoded: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FunctionURLResponse(tt.status, tt.header, tt.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FunctionURLResponse() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApproveSignedSample re-signs the sample request and checks that
// the signature verifies on the converted request: the adapter passes
// the exact bytes and headers that were signed.
func TestApproveSignedSample(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now()
	ev := functionURLRequest(t)
	ev.Headers["x-cloudtrim-timestamp"], ev.Headers["x-cloudtrim-signature"] = approve.Sign(secret, now, []byte(ev.Body))
	for _, b64 := range []bool{false, true} {
		ev := ev
		if b64 {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(ev.Body)), true
		}
		payload, _ := json.Marshal(ev)
		f := newFunction(t, "approve", Handlers{Approve: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := approve.Verify([][]byte{secret}, r.Header.Get(approve.HeaderTimestamp), r.Header.Get(approve.HeaderSignature), body, now, approve.DefaultWindow); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			var b approve.Body
			if err := json.Unmarshal(body, &b); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("Set-Cookie", "seen=1")
			w.WriteHeader(http.StatusOK)
			_ = json.NewEncoder(w).Encode(map[string]string{"plan_id": b.PlanID, "approver": b.Approver})
		})}, nil)
		out, err := f.Invoke(invocation(t.Context(), "req-approve"), payload)
		if err != nil {
			t.Fatal(err)
		}
		var got events.LambdaFunctionURLResponse
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		want := events.LambdaFunctionURLResponse{
			StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Cookies: []string{"seen=1"},
			Body: `{"approver":"ops@example.com","plan_id":"plan-20261123T063000.000Z-5a6b7c8d"}` + "\n",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("base64=%v: response (-want +got):\n%s", b64, diff)
		}
	}
}

func TestApproveBodyTooLarge(t *testing.T) {
	for _, b64 := range []bool{false, true} {
		ev := functionURLRequest(t)
		ev.Body = strings.Repeat("x", MaxBody+1)
		if b64 {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(ev.Body)), true
		}
		payload, _ := json.Marshal(ev)
		called := false
		f := newFunction(t, "approve", Handlers{Approve: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })}, nil)
		out, err := f.Invoke(t.Context(), payload)
		if err != nil {
			t.Fatal(err)
		}
		var got events.LambdaFunctionURLResponse
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.StatusCode != http.StatusRequestEntityTooLarge || got.Body != `{"error":"request body too large: the limit is 1048576 bytes"}` || called {
			t.Errorf("base64=%v: Invoke() = %+v (handler called: %v); want 413 without calling the handler", b64, got, called)
		}
	}
	// A body of exactly MaxBody passes.
	ev := functionURLRequest(t)
	ev.Body = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("y", MaxBody)))
	ev.IsBase64Encoded = true
	r, err := HTTPRequest(t.Context(), ev)
	if err != nil || r.ContentLength != MaxBody {
		t.Errorf("HTTPRequest(MaxBody bytes) = %v; want it accepted", err)
	}
}

func TestApproveHandlerPanics(t *testing.T) {
	f := newFunction(t, "approve", Handlers{Approve: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("nil plan") })}, nil)
	_, err := f.Invoke(t.Context(), sample(t, "approve.function-url.json"))
	var fnErr *FunctionError
	if !errors.As(err, &fnErr) || err.Error() != "approve: panic: nil plan" {
		t.Errorf("Invoke() = %v; want a *FunctionError for the panic", err)
	}
}

func TestResponseWriter(t *testing.T) {
	w := newResponseWriter()
	w.WriteHeader(http.StatusContinue) // informational: ignored
	w.WriteHeader(http.StatusAccepted)
	w.WriteHeader(http.StatusTeapot) // superfluous: ignored
	_, _ = io.WriteString(w, "queued")
	got := w.response()
	if got.StatusCode != http.StatusAccepted || got.Body != "queued" {
		t.Errorf("response() = %+v; want 202 queued", got)
	}
	w = newResponseWriter()
	_, _ = io.WriteString(w, "implicit")
	if got := w.response(); got.StatusCode != http.StatusOK {
		t.Errorf("response() status = %d; want 200 after a Write", got.StatusCode)
	}
}
