package awsfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
)

// Options configures a Server.
type Options struct {
	// Regions lists the regions DescribeRegions reports as enabled; empty
	// means every region that holds resources, or us-east-1.
	Regions []string
	// Prices, when set, is the catalog the Price List API serves.
	Prices simcloud.Prices
	// Data configures the CloudWatch, Cost Explorer and Price List fakes:
	// smaller pages, resource-level cost data, injected result statuses.
	Data DataOptions
	// Mirror, when set, makes every region of Regions serve the estate's
	// resources, metrics and changes of region Mirror, as if each region
	// held a copy: an account of many large regions for benchmarks, from
	// an estate whose prices exist in one region.
	Mirror string
}

// Server is a fake of the AWS APIs the awscloud provider calls.
type Server struct {
	cloud *simcloud.Cloud
	opts  Options
	http  *httptest.Server
	// URL is the base endpoint of every service.
	URL string

	mu       sync.Mutex
	keys     map[string]string // access key ID → account
	expired  map[string]bool
	faults   []*fault
	calls    []Call
	services map[string]func(w http.ResponseWriter, r *http.Request, rc *reqContext)
	secrets  map[string][2]string // secret ARN → current, previous value
	// s3Foreign holds the lifecycle rules of other IDs than cloudtrim's,
	// per bucket (see s3.go).
	s3Foreign map[string][]s3Rule
}

// Call records one request the server answered.
type Call struct {
	Service string // the SigV4 signing name: ec2, monitoring, ce, pricing, sts
	Op      string
	Account string
	Region  string
	Code    string // the error code returned, empty on success
}

// reqContext is what the router learned about a request.
type reqContext struct {
	service, op, account, region, accessKey string
	requestID                               string
}

type fault struct {
	service, op, region string
	code, message       string
	status, left        int
}

// New starts a server for the AWS part of a simulated estate. Close it
// when done.
func New(cloud *simcloud.Cloud, opts Options) *Server {
	s := &Server{cloud: cloud, opts: opts, keys: map[string]string{}, expired: map[string]bool{}}
	s.services = map[string]func(http.ResponseWriter, *http.Request, *reqContext){
		"sts": s.serveSTS, "secretsmanager": s.serveSecrets,
	}
	s.register()
	s.http = httptest.NewServer(http.HandlerFunc(s.route))
	s.URL = s.http.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// AccessKey returns the access key ID whose requests act as account.
func AccessKey(account string) string { return "AKIDFAKE" + account }

// SecretKey is the secret access key of every fake access key; the fake
// does not verify signatures.
const SecretKey = "fake-secret-key"

// Credentials returns static credentials acting as account.
func (s *Server) Credentials(account string) aws.CredentialsProvider {
	s.mu.Lock()
	s.keys[AccessKey(account)] = account
	s.mu.Unlock()
	return credentials.NewStaticCredentialsProvider(AccessKey(account), SecretKey, "")
}

// Config returns an SDK configuration for account pointed at the server
// (home region us-east-1).
func (s *Server) Config(account string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  s.Credentials(account),
		BaseEndpoint: aws.String(s.URL),
	}
}

// Env returns the environment a separate process needs to call the
// server as account through the SDK's default configuration chain: the
// service-specific endpoint variables of the services it fakes (so S3,
// SQS and others keep their own endpoints), credentials and region.
func (s *Server) Env(account string) []string {
	s.Credentials(account)
	env := []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey(account),
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=us-east-1",
	}
	for _, id := range []string{"EC2", "CLOUDWATCH", "COST_EXPLORER", "PRICING", "STS", "SECRETS_MANAGER"} {
		env = append(env, "AWS_ENDPOINT_URL_"+id+"="+s.URL)
	}
	return env
}

// Expire makes every later request with account's access key fail as
// with an expired session token.
func (s *Server) Expire(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[AccessKey(account)] = true
}

// Fail makes the next n requests of op on service (its signing name:
// ec2, monitoring, ce, pricing, sts) fail with the AWS error code and
// HTTP status. An empty op matches every operation; region, when not
// empty, limits the fault to one region. Faults queue in order.
func (s *Server) Fail(service, op, region string, n int, code string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{service: service, op: op, region: region, code: code, status: status, left: n,
		message: fmt.Sprintf("injected %s for %s", code, strings.TrimPrefix(op+" ", " "))})
}

// Calls returns the requests answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount counts the calls of op on service.
func (s *Server) CallCount(service, op string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Service == service && c.Op == op {
			n++
		}
	}
	return n
}

var scopeRE = regexp.MustCompile(`Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// route finds the service, account and region of a request from its
// SigV4 Authorization header and hands it to the service.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	rc := &reqContext{requestID: newRequestID()}
	m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		http.Error(w, "missing or malformed SigV4 Authorization header", http.StatusForbidden)
		return
	}
	rc.accessKey, rc.region, rc.service = m[1], m[2], m[3]
	if s.opts.Mirror != "" && slices.Contains(s.opts.Regions, rc.region) {
		rc.region = s.opts.Mirror
	}
	s.mu.Lock()
	serve, ok := s.services[rc.service]
	account, known := s.keys[rc.accessKey]
	expired := s.expired[rc.accessKey]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "awsfake does not serve "+rc.service, http.StatusNotImplemented)
		return
	}
	rc.account = account
	rc.op = operationOf(r)
	if rc.service == "s3" {
		rc.op = s3Operation(r)
	}
	switch {
	case !known:
		s.fail(w, rc, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	case expired:
		s.fail(w, rc, http.StatusBadRequest, "ExpiredToken", "The security token included in the request is expired")
		return
	}
	if f := s.takeFault(rc); f != nil {
		s.fail(w, rc, f.status, f.code, f.message)
		return
	}
	serve(w, r, rc)
}

// operationOf reads the operation name without consuming the body: the
// query protocol's Action is read by the service handlers.
func operationOf(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.LastIndexByte(t, '.'); i >= 0 {
			return t[i+1:]
		}
		return t
	}
	if i := strings.Index(r.URL.Path, "/operation/"); i >= 0 {
		return r.URL.Path[i+len("/operation/"):]
	}
	if err := r.ParseForm(); err == nil {
		return r.PostForm.Get("Action")
	}
	return ""
}

func (s *Server) takeFault(rc *reqContext) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.service != rc.service || (f.op != "" && f.op != rc.op) || (f.region != "" && f.region != rc.region) {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// record notes an answered call.
func (s *Server) record(rc *reqContext, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Service: rc.service, Op: rc.op, Account: rc.account, Region: rc.region, Code: code})
}

// fail writes an error in the protocol of rc's service.
func (s *Server) fail(w http.ResponseWriter, rc *reqContext, status int, code, message string) {
	s.record(rc, code)
	switch rc.service {
	case "ec2":
		writeEC2Error(w, rc, status, code, message)
	case "sts":
		writeQueryError(w, rc, status, code, message)
	case "monitoring":
		writeCBORError(w, rc, status, code, message)
	case "s3":
		writeS3Error(w, rc, status, code, message)
	default:
		writeJSONError(w, rc, status, code, message)
	}
}

// ok records a successful call.
func (s *Server) ok(rc *reqContext) { s.record(rc, "") }

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeEC2Error writes an EC2 query-protocol error.
func writeEC2Error(w http.ResponseWriter, rc *reqContext, status int, code, message string) {
	type errorXML struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type response struct {
		XMLName   xml.Name   `xml:"Response"`
		Errors    []errorXML `xml:"Errors>Error"`
		RequestID string     `xml:"RequestID"`
	}
	writeXML(w, status, response{Errors: []errorXML{{code, message}}, RequestID: rc.requestID})
}

// writeQueryError writes an error of the AWS query protocol (STS).
func writeQueryError(w http.ResponseWriter, rc *reqContext, status int, code, message string) {
	type response struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}
	var resp response
	resp.Error.Type = "Sender"
	if status >= 500 {
		resp.Error.Type = "Receiver"
	}
	resp.Error.Code, resp.Error.Message, resp.RequestID = code, message, rc.requestID
	writeXML(w, status, resp)
}

// writeJSONError writes an AWS JSON 1.1 error.
func writeJSONError(w http.ResponseWriter, rc *reqContext, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", rc.requestID)
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// writeXML writes v as an XML document with status.
func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// writeJSON writes an AWS JSON 1.1 reply.
func writeJSON(w http.ResponseWriter, rc *reqContext, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", rc.requestID)
	_ = json.NewEncoder(w).Encode(v)
}

// serveSTS answers GetCallerIdentity.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	if rc.op != "GetCallerIdentity" {
		s.fail(w, rc, http.StatusBadRequest, "InvalidAction", "awsfake: sts "+rc.op+" is not served")
		return
	}
	type result struct {
		XMLName xml.Name `xml:"GetCallerIdentityResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Result  struct {
			Arn     string `xml:"Arn"`
			UserID  string `xml:"UserId"`
			Account string `xml:"Account"`
		} `xml:"GetCallerIdentityResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	var out result
	out.Xmlns = "https://sts.amazonaws.com/doc/2011-06-15/"
	out.Result.Account = rc.account
	out.Result.UserID = rc.accessKey
	out.Result.Arn = "arn:aws:sts::" + rc.account + ":assumed-role/cloudtrim/fake"
	out.RequestID = rc.requestID
	s.ok(rc)
	writeXML(w, http.StatusOK, out)
}

// regions returns the regions DescribeRegions reports.
func (s *Server) regions() []string {
	if len(s.opts.Regions) > 0 {
		return append([]string(nil), s.opts.Regions...)
	}
	seen := map[string]bool{}
	if scopes, err := s.cloud.Scopes(context.Background()); err == nil {
		for _, sc := range scopes {
			seen[sc.Region] = true
		}
	}
	if len(seen) == 0 {
		seen["us-east-1"] = true
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
