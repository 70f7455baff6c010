package awscloud

import (
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// httpDoer is the HTTP client of the SDK's service clients.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// wholeRequestBody works around a race between smithy-go (v1.28.8) and
// net/http that breaks responses. smithy-go closes a request's body as
// soon as the response's headers arrive, and its closed body's WriteTo
// answers io.EOF. When net/http is at that moment still draining the
// body after sending its Content-Length bytes, it takes that io.EOF for
// a failed write and closes the connection under the response being read:
// "deserialization failed ... use of closed network connection". With
// WriteTo hidden, the drain reads (0, io.EOF), which net/http takes for
// the end of the body. New puts it under every client of the provider,
// whose large replies (CloudWatch, Cost Explorer, the Price List, EC2
// pages) are the ones that lose the race.
type wholeRequestBody struct{ next httpDoer }

// Do sends r with its body's WriteTo hidden.
func (c wholeRequestBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloserOnly{r.Body}
	}
	return c.next.Do(r)
}

// readCloserOnly hides every method of a body but Read and Close.
type readCloserOnly struct{ io.ReadCloser }

// withWholeRequestBody wraps the configuration's HTTP client (or the
// SDK's default one) in wholeRequestBody.
func withWholeRequestBody(c httpDoer) httpDoer {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	if _, ok := c.(wholeRequestBody); ok {
		return c
	}
	return wholeRequestBody{next: c}
}
