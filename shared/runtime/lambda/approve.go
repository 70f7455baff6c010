package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBody is the largest request body the approve function passes to
// its handler; a larger one is answered 413 without calling it.
const MaxBody = 1 << 20

const approveWant = `a Lambda Function URL (or API Gateway HTTP API payload 2.0) request {"version": "2.0", "rawPath": ..., "requestContext": {"http": {"method": ...}}}`

func (f *Function) approve(ctx context.Context, payload []byte) (any, error) {
	if !isObject(payload) {
		return nil, f.eventError(approveWant, "got %s", jsonKind(payload))
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, f.eventError(approveWant, "decode request: %v", err)
	}
	req, err := HTTPRequest(ctx, ev)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			f.logger.WarnContext(ctx, "request refused", "status", http.StatusRequestEntityTooLarge, "error", err)
			return jsonResponse(http.StatusRequestEntityTooLarge, err.Error()), nil
		}
		return nil, f.eventError(approveWant, "%v", err)
	}
	w := newResponseWriter()
	f.h.Approve.ServeHTTP(w, req)
	res := w.response()
	f.logger.InfoContext(ctx, "http request", "method", req.Method, "path", req.URL.Path, "status", res.StatusCode, "response_bytes", w.body.Len())
	return res, nil
}

// ErrBodyTooLarge is returned by HTTPRequest for a body over MaxBody.
var ErrBodyTooLarge = errors.New("request body too large")

// HTTPRequest converts a Function URL request (the API Gateway HTTP API
// payload format 2.0) into the *http.Request a handler serves, with ctx
// as its context: method, raw path and query, headers (a header sent
// several times arrives as one comma-separated value, as the payload
// carries it), cookies as one Cookie header, source IP, and the body,
// base64-decoded when the payload says so. It fails when the payload has
// no method, is not version 2.0, has an undecodable body or a path that
// is not a path, and with an error wrapping ErrBodyTooLarge when the body
// is over MaxBody.
func HTTPRequest(ctx context.Context, ev events.LambdaFunctionURLRequest) (*http.Request, error) {
	if ev.Version != "2.0" {
		if ev.Version == "" {
			return nil, fmt.Errorf(`no "version": not a payload format 2.0 request`)
		}
		return nil, fmt.Errorf("payload format version %q is not supported", ev.Version)
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("no requestContext.http.method")
	}
	rawPath := ev.RawPath
	if rawPath == "" {
		rawPath = ev.RequestContext.HTTP.Path
	}
	if rawPath == "" {
		rawPath = "/"
	}
	if !strings.HasPrefix(rawPath, "/") {
		return nil, fmt.Errorf("rawPath %q does not start with /", rawPath)
	}
	u, err := url.ParseRequestURI(rawPath)
	if err != nil {
		return nil, fmt.Errorf("rawPath %q: %v", rawPath, err)
	}
	u.RawQuery = ev.RawQueryString

	size := len(ev.Body)
	if ev.IsBase64Encoded {
		size = base64.StdEncoding.DecodedLen(len(ev.Body))
	}
	if size > MaxBody+2 { // DecodedLen counts up to 2 bytes of padding
		return nil, fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, MaxBody)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		body, err = base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("body is marked base64 but does not decode: %v", err)
		}
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, MaxBody)
	}

	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("method %q: %v", method, err)
	}
	r.URL, r.RequestURI = u, u.RequestURI()
	if p := ev.RequestContext.HTTP.Protocol; p != "" {
		if major, minor, ok := http.ParseHTTPVersion(p); ok {
			r.Proto, r.ProtoMajor, r.ProtoMinor = p, major, minor
		}
	}
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	r.Header.Del("Host")
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return r, nil
}

// FunctionURLResponse converts what a handler wrote into a Function URL
// response: status (200 when none was written), headers (several values
// joined with commas), Set-Cookie headers as cookies, and the body,
// base64-encoded when it is not valid UTF-8. A body without a
// Content-Type gets the sniffed one, as net/http's server does.
func FunctionURLResponse(status int, header http.Header, body []byte) events.LambdaFunctionURLResponse {
	if status == 0 {
		status = http.StatusOK
	}
	res := events.LambdaFunctionURLResponse{StatusCode: status, Headers: map[string]string{}}
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := header[k]
		if len(vs) == 0 {
			continue
		}
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[k] = strings.Join(vs, ",")
	}
	if len(body) > 0 && header.Get("Content-Type") == "" {
		res.Headers["Content-Type"] = http.DetectContentType(body)
	}
	if utf8.Valid(body) {
		res.Body = string(body)
	} else {
		res.Body, res.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return res
}

// jsonResponse is a JSON error response in the webhook's format.
func jsonResponse(status int, msg string) events.LambdaFunctionURLResponse {
	b, _ := json.Marshal(map[string]string{"error": msg})
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(b))}}
	return FunctionURLResponse(status, h, b)
}

// responseWriter records what a handler writes.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newResponseWriter() *responseWriter { return &responseWriter{header: http.Header{}} }

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter; informational (1xx)
// statuses and calls after the first are ignored.
func (w *responseWriter) WriteHeader(status int) {
	if w.status != 0 || status < 200 {
		return
	}
	w.status = status
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *responseWriter) response() events.LambdaFunctionURLResponse {
	return FunctionURLResponse(w.status, w.header, w.body.Bytes())
}
