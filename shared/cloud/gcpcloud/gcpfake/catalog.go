package gcpfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ComputeEngineService is the Cloud Billing Catalog ID of Compute
// Engine.
const ComputeEngineService = "6F81-5844-456A"

// MaxCatalogPageSize is the largest pageSize the Cloud Billing Catalog
// API serves, and its default.
const MaxCatalogPageSize = 5000

// Catalog is a Cloud Billing Catalog API v1 server over REST
// (httptest): services.list and services.skus.list with pageSize and
// pageToken, answered in the JSON the REST client parses (protojson of
// billingpb). It serves prices in USD only: another currencyCode is
// refused with 400. It is safe for concurrent use.
type Catalog struct {
	srv *httptest.Server

	mu          sync.Mutex
	services    []*billingpb.Service
	skus        map[string][]*billingpb.Sku // by service ID
	maxPageSize int
	throttle    int
	requests    []string
}

// NewCatalog starts a Catalog serving Compute Engine with no SKU; Close
// stops it.
func NewCatalog() *Catalog {
	c := &Catalog{skus: map[string][]*billingpb.Sku{}, maxPageSize: MaxCatalogPageSize}
	c.services = []*billingpb.Service{{Name: "services/" + ComputeEngineService, ServiceId: ComputeEngineService,
		DisplayName: "Compute Engine", BusinessEntityName: "businessEntities/GCP"}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	return c
}

// ClientOptions point a Cloud Billing REST client at the fake.
func (c *Catalog) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(c.srv.URL), option.WithoutAuthentication(), option.WithHTTPClient(c.srv.Client())}
}

// Close stops the server.
func (c *Catalog) Close() { c.srv.Close() }

// AddSKUs adds SKUs to a service (a service ID such as
// ComputeEngineService), naming each "services/<id>/skus/<skuId>".
func (c *Catalog) AddSKUs(service string, skus ...*billingpb.Sku) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range skus {
		s = proto.CloneOf(s)
		s.Name = "services/" + service + "/skus/" + s.GetSkuId()
		c.skus[service] = append(c.skus[service], s)
	}
}

// SetMaxPageSize caps the page size below what requests ask.
func (c *Catalog) SetMaxPageSize(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxPageSize = n
}

// Throttle answers the next n requests 429 RESOURCE_EXHAUSTED.
func (c *Catalog) Throttle(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttle = n
}

// Requests returns every request received, as "path?query".
func (c *Catalog) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.requests...)
}

func (c *Catalog) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests = append(c.requests, r.URL.Path+"?"+r.URL.RawQuery)
	throttled := c.throttle > 0
	if throttled {
		c.throttle--
	}
	maxPage := c.maxPageSize
	c.mu.Unlock()
	if throttled {
		writeGoogleError(w, http.StatusTooManyRequests, "", "RATE_LIMIT_EXCEEDED", "Quota exceeded for quota metric 'Read requests' of service 'cloudbilling.googleapis.com'")
		return
	}
	if r.Method != http.MethodGet {
		writeGoogleError(w, http.StatusMethodNotAllowed, "badRequest", "", "method "+r.Method+" is not served")
		return
	}
	q := r.URL.Query()
	if cur := q.Get("currencyCode"); cur != "" && cur != "USD" {
		writeGoogleError(w, http.StatusBadRequest, "invalid", "", "the fake serves prices in USD only, not "+cur)
		return
	}
	size := MaxCatalogPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "pageSize "+v+" is not a page size")
			return
		}
		if n > 0 {
			size = min(n, MaxCatalogPageSize)
		}
	}
	size = max(1, min(size, maxPage))
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/services")
	if !ok {
		writeGoogleError(w, http.StatusNotFound, "notFound", "", "no such path "+r.URL.Path)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case rest == "":
		from, ok := catalogOffset(w, q.Get("pageToken"), len(c.services))
		if !ok {
			return
		}
		to := min(from+size, len(c.services))
		resp := &billingpb.ListServicesResponse{Services: c.services[from:to], NextPageToken: catalogNextToken(to, len(c.services))}
		writeCatalogJSON(w, resp)
	case strings.HasPrefix(rest, "/") && strings.HasSuffix(rest, "/skus") && strings.Count(rest, "/") == 2:
		service := strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/skus")
		known := false
		for _, s := range c.services {
			known = known || s.GetServiceId() == service
		}
		if !known {
			writeGoogleError(w, http.StatusNotFound, "notFound", "", "service services/"+service+" not found")
			return
		}
		skus := c.skus[service]
		from, ok := catalogOffset(w, q.Get("pageToken"), len(skus))
		if !ok {
			return
		}
		to := min(from+size, len(skus))
		writeCatalogJSON(w, &billingpb.ListSkusResponse{Skus: skus[from:to], NextPageToken: catalogNextToken(to, len(skus))})
	default:
		writeGoogleError(w, http.StatusNotFound, "notFound", "", "no such path "+r.URL.Path)
	}
}

// catalogOffset reads a page token of the fake's listings, answering 400
// for one it did not give.
func catalogOffset(w http.ResponseWriter, token string, n int) (int, bool) {
	if token == "" {
		return 0, true
	}
	off, err := strconv.Atoi(strings.TrimPrefix(token, "page-"))
	if err != nil || !strings.HasPrefix(token, "page-") || off <= 0 || off > n {
		writeGoogleError(w, http.StatusBadRequest, "invalid", "", "pageToken "+token+" is not a token of this listing")
		return 0, false
	}
	return off, true
}

// catalogNextToken is the page token after to of n items, "" at the end.
func catalogNextToken(to, n int) string {
	if to >= n {
		return ""
	}
	return "page-" + strconv.Itoa(to)
}

// writeCatalogJSON answers m as the REST clients ask for it (enums as
// numbers: $alt=json;enum-encoding=int).
func writeCatalogJSON(w http.ResponseWriter, m proto.Message) {
	b, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(m)
	if err != nil {
		writeGoogleError(w, http.StatusInternalServerError, "internalError", "", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

// writeGoogleError answers an error in the shape Google's REST APIs
// use: with infoReason, the google.rpc.ErrorInfo detail the generated
// clients read (apierror parses the body strictly, so such a body has no
// errors list); without, the errors[].reason the discovery clients
// (BigQuery's googleapi.Error) read.
func writeGoogleError(w http.ResponseWriter, code int, reason, infoReason, message string) {
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	type detail struct {
		Type   string `json:"@type"`
		Reason string `json:"reason"`
		Domain string `json:"domain"`
	}
	body := struct {
		Error struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Status  string   `json:"status"`
			Errors  []item   `json:"errors,omitempty"`
			Details []detail `json:"details,omitempty"`
		} `json:"error"`
	}{}
	body.Error.Code, body.Error.Message, body.Error.Status = code, message, httpStatusName[code]
	if infoReason != "" {
		body.Error.Details = []detail{{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: infoReason, Domain: "googleapis.com"}}
	} else {
		body.Error.Errors = []item{{Message: message, Domain: "global", Reason: reason}}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body) // a client gone away is no error of the fake's
}

// httpStatusName is the google.rpc.Code name Google gives each HTTP
// status in an error body.
var httpStatusName = map[int]string{
	http.StatusBadRequest: "INVALID_ARGUMENT", http.StatusUnauthorized: "UNAUTHENTICATED",
	http.StatusForbidden: "PERMISSION_DENIED", http.StatusNotFound: "NOT_FOUND", http.StatusConflict: "ALREADY_EXISTS",
	http.StatusMethodNotAllowed: "INVALID_ARGUMENT", http.StatusTooManyRequests: "RESOURCE_EXHAUSTED",
	http.StatusInternalServerError: "INTERNAL", http.StatusServiceUnavailable: "UNAVAILABLE",
}
