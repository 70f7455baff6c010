package awsfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The S3 fake serves the bucket calls of the provider, path-style, in
// S3's REST XML protocol, over the simulated estate's buckets:
// ListBuckets (with bucket-region, continuation-token and max-buckets),
// HeadBucket, GetBucketTagging and Get, Put and DeleteBucketLifecycle.
// A bucket's lifecycle is the estate's tiering: none is no rule,
// "CLASS@Nd" is the rule cloudtrim-tiering, and an owners' bucket
// (custom) holds the rule archive-old moving objects to GLACIER after a
// year. Rules of other IDs that a PUT adds to a bucket are kept by the
// fake beside the estate, so a test can see whether a client kept them.

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

type s3Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type s3Transition struct {
	Days         *int32 `xml:"Days,omitempty"`
	StorageClass string `xml:"StorageClass,omitempty"`
}

type s3Expiration struct {
	Days *int32 `xml:"Days,omitempty"`
}

type s3Filter struct {
	Prefix *string `xml:"Prefix"`
}

type s3Rule struct {
	ID          string         `xml:"ID,omitempty"`
	Filter      *s3Filter      `xml:"Filter,omitempty"`
	Status      string         `xml:"Status"`
	Transitions []s3Transition `xml:"Transition,omitempty"`
	Expiration  *s3Expiration  `xml:"Expiration,omitempty"`
}

type s3Lifecycle struct {
	XMLName xml.Name `xml:"LifecycleConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Rules   []s3Rule `xml:"Rule"`
}

// s3Operation names the S3 call a request makes, for the call log and
// fault injection.
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	bucket := strings.Trim(r.URL.Path, "/")
	switch {
	case bucket == "" && r.Method == http.MethodGet:
		return "ListBuckets"
	case r.Method == http.MethodHead:
		return "HeadBucket"
	case q.Has("tagging") && r.Method == http.MethodGet:
		return "GetBucketTagging"
	case q.Has("lifecycle") && r.Method == http.MethodGet:
		return "GetBucketLifecycleConfiguration"
	case q.Has("lifecycle") && r.Method == http.MethodPut:
		return "PutBucketLifecycleConfiguration"
	case q.Has("lifecycle") && r.Method == http.MethodDelete:
		return "DeleteBucketLifecycle"
	}
	return r.Method + " " + r.URL.Path
}

func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	ctx := r.Context()
	buckets, err := s.s3Buckets(r, rc.account)
	if err != nil {
		s.s3SimFail(w, rc, err)
		return
	}
	name := strings.Trim(r.URL.Path, "/")
	if rc.op == "ListBuckets" {
		s.s3List(w, r, rc, buckets)
		return
	}
	i := slices.IndexFunc(buckets, func(b domain.Resource) bool { return b.ID == name })
	if i < 0 {
		s.fail(w, rc, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	b := buckets[i]
	switch rc.op {
	case "HeadBucket":
		s.ok(rc)
		w.Header().Set("X-Amz-Bucket-Region", b.Region)
		w.WriteHeader(http.StatusOK)
	case "GetBucketTagging":
		if len(b.Tags) == 0 {
			s.fail(w, rc, http.StatusNotFound, "NoSuchTagSet", "The TagSet does not exist")
			return
		}
		type tagging struct {
			XMLName xml.Name `xml:"Tagging"`
			Tags    []s3Tag  `xml:"TagSet>Tag"`
		}
		var out tagging
		for _, k := range slices.Sorted(maps.Keys(b.Tags)) {
			out.Tags = append(out.Tags, s3Tag{k, b.Tags[k]})
		}
		s.ok(rc)
		writeXML(w, http.StatusOK, out)
	case "GetBucketLifecycleConfiguration":
		rules := s.s3Rules(b)
		if len(rules) == 0 {
			s.fail(w, rc, http.StatusNotFound, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
			return
		}
		s.ok(rc)
		writeXML(w, http.StatusOK, s3Lifecycle{Xmlns: s3Namespace, Rules: rules})
	case "PutBucketLifecycleConfiguration":
		body, err := io.ReadAll(r.Body)
		var in s3Lifecycle
		if err == nil {
			err = xml.Unmarshal(body, &in)
		}
		if err != nil || len(in.Rules) == 0 {
			s.fail(w, rc, http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
			return
		}
		sum := sha256.Sum256(body)
		if err := s.s3SetRules(ctx, b, in.Rules, "s3-lifecycle-"+hex.EncodeToString(sum[:8])); err != nil {
			s.s3SimFail(w, rc, err)
			return
		}
		s.ok(rc)
		w.WriteHeader(http.StatusOK)
	case "DeleteBucketLifecycle":
		if err := s.s3SetRules(ctx, b, nil, "s3-delete-lifecycle-"+b.ID); err != nil {
			s.s3SimFail(w, rc, err)
			return
		}
		s.ok(rc)
		w.WriteHeader(http.StatusNoContent)
	default:
		s.fail(w, rc, http.StatusNotImplemented, "NotImplemented", "awsfake does not serve "+rc.op)
	}
}

// s3Buckets lists the account's buckets in the estate, in name order.
func (s *Server) s3Buckets(r *http.Request, account string) ([]domain.Resource, error) {
	scopes, err := s.cloud.Scopes(r.Context())
	if err != nil {
		return nil, err
	}
	var out []domain.Resource
	for _, sc := range scopes {
		if sc.Account != account {
			continue
		}
		err := s.cloud.Resources(r.Context(), sc, func(page []domain.Resource) error {
			for _, res := range page {
				if res.Kind == domain.KindBucket {
					out = append(out, res)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b domain.Resource) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Server) s3List(w http.ResponseWriter, r *http.Request, rc *reqContext, buckets []domain.Resource) {
	q := r.URL.Query()
	if region := q.Get("bucket-region"); region != "" {
		buckets = slices.DeleteFunc(buckets, func(b domain.Resource) bool { return b.Region != region })
	}
	if tok := q.Get("continuation-token"); tok != "" {
		buckets = slices.DeleteFunc(buckets, func(b domain.Resource) bool { return b.ID <= tok })
	}
	page := 10_000
	if m, err := strconv.Atoi(q.Get("max-buckets")); err == nil && m > 0 && m < page {
		page = m
	}
	type bucketXML struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
		BucketRegion string `xml:"BucketRegion"`
	}
	type result struct {
		XMLName           xml.Name    `xml:"ListAllMyBucketsResult"`
		Xmlns             string      `xml:"xmlns,attr"`
		OwnerID           string      `xml:"Owner>ID"`
		Buckets           []bucketXML `xml:"Buckets>Bucket"`
		ContinuationToken string      `xml:"ContinuationToken,omitempty"`
	}
	out := result{Xmlns: s3Namespace, OwnerID: rc.account}
	for i, b := range buckets {
		if i == page {
			out.ContinuationToken = buckets[i-1].ID
			break
		}
		out.Buckets = append(out.Buckets, bucketXML{b.ID, b.CreatedAt.UTC().Format(time.RFC3339), b.Region})
	}
	s.ok(rc)
	writeXML(w, http.StatusOK, out)
}

// s3Rules renders a bucket's lifecycle: the estate's tiering and the
// foreign rules the fake keeps.
func (s *Server) s3Rules(b domain.Resource) []s3Rule {
	s.mu.Lock()
	rules := slices.Clone(s.s3Foreign[b.ID])
	s.mu.Unlock()
	all := func(days int32, class string) []s3Transition {
		return []s3Transition{{Days: &days, StorageClass: class}}
	}
	empty := ""
	switch b.Tiering {
	case domain.TieringCustom:
		rules = append(rules, s3Rule{ID: "archive-old", Filter: &s3Filter{Prefix: &empty}, Status: "Enabled", Transitions: all(365, "GLACIER")})
	case domain.TieringNone, "":
	default:
		if t, err := domain.ParseTierRule(b.Tiering); err == nil {
			rules = append(rules, s3Rule{ID: domain.TierRuleID, Filter: &s3Filter{Prefix: &empty}, Status: "Enabled", Transitions: all(int32(t.AfterDays), t.Class)})
		}
	}
	return rules
}

// s3SetRules replaces a bucket's lifecycle: cloudtrim's rule goes to the
// estate, the others stay with the fake.
func (s *Server) s3SetRules(ctx context.Context, b domain.Resource, rules []s3Rule, token string) error {
	var tier domain.TierRule
	var foreign []s3Rule
	for _, r := range rules {
		if r.ID != domain.TierRuleID {
			foreign = append(foreign, r)
			continue
		}
		if len(r.Transitions) != 1 || r.Transitions[0].Days == nil {
			return errors.Join(domain.ErrInvalid, errors.New("rule cloudtrim-tiering needs one transition after a number of days"))
		}
		tier = domain.TierRule{Class: r.Transitions[0].StorageClass, AfterDays: int(*r.Transitions[0].Days)}
	}
	if b.Tiering != domain.TieringCustom || !tier.IsZero() {
		if err := s.cloud.SetTiering(ctx, b.Ref(), tier, token); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s3Foreign == nil {
		s.s3Foreign = map[string][]s3Rule{}
	}
	// The custom bucket's own rule is rendered from the estate.
	foreign = slices.DeleteFunc(foreign, func(r s3Rule) bool { return b.Tiering == domain.TieringCustom && r.ID == "archive-old" })
	s.s3Foreign[b.ID] = foreign
	return nil
}

// s3SimFail answers an error of the estate in S3's terms.
func (s *Server) s3SimFail(w http.ResponseWriter, rc *reqContext, err error) {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		s.fail(w, rc, http.StatusNotFound, "NoSuchBucket", err.Error())
	case errors.Is(err, domain.ErrConflict):
		s.fail(w, rc, http.StatusConflict, "OperationAborted", err.Error())
	case errors.Is(err, domain.ErrInvalid):
		s.fail(w, rc, http.StatusBadRequest, "InvalidArgument", err.Error())
	case errors.Is(err, domain.ErrPermission):
		s.fail(w, rc, http.StatusForbidden, "AccessDenied", err.Error())
	default:
		s.fail(w, rc, http.StatusServiceUnavailable, "ServiceUnavailable", err.Error())
	}
}

// writeS3Error writes an error of S3's REST XML protocol; a HEAD answer
// has no body.
func writeS3Error(w http.ResponseWriter, r *reqContext, status int, code, message string) {
	type errorXML struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}
	w.Header().Set("X-Amz-Request-Id", r.requestID)
	if r.op == "HeadBucket" {
		w.WriteHeader(status)
		return
	}
	writeXML(w, status, errorXML{Code: code, Message: message, RequestID: r.requestID})
}

// PutForeignLifecycleRule gives a bucket a lifecycle rule of its owners
// that moves nothing: objects expire after days.
func (s *Server) PutForeignLifecycleRule(bucket, id string, days int32) error {
	if id == domain.TierRuleID {
		return errors.New("awsfake: the foreign rule needs another ID than cloudtrim's")
	}
	empty := ""
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s3Foreign == nil {
		s.s3Foreign = map[string][]s3Rule{}
	}
	s.s3Foreign[bucket] = append(s.s3Foreign[bucket], s3Rule{ID: id, Filter: &s3Filter{Prefix: &empty}, Status: "Enabled", Expiration: &s3Expiration{Days: &days}})
	return nil
}

// HasForeignLifecycleRule reports whether a bucket still has the rule id
// of its owners.
func (s *Server) HasForeignLifecycleRule(bucket, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.s3Foreign[bucket], func(r s3Rule) bool { return r.ID == id })
}
