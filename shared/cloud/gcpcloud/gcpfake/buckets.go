package gcpfake

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/option"
	raw "google.golang.org/api/storage/v1"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Bucket is a Cloud Storage bucket, as the JSON API's buckets resource
// describes it.
type Bucket struct {
	Project, Name string
	// Location is the API's upper-case location: a region
	// ("US-CENTRAL1"), a dual-region ("NAM4") or a multi-region ("US").
	Location string
	// LocationType is "region", "dual-region" or "multi-region"; empty
	// reads "region".
	LocationType string
	// StorageClass is the bucket's default class; empty reads STANDARD.
	StorageClass string
	Labels       map[string]string
	// Lifecycle is the bucket's lifecycle configuration as a client
	// last wrote it.
	Lifecycle []*raw.BucketLifecycleRule
	// Autoclass, when on, moves objects between classes by their access.
	Autoclass bool
	// Metageneration counts the changes of the bucket's metadata; 0 reads
	// 1.
	Metageneration int64
	Created        time.Time
}

func (b *Bucket) storageClass() string {
	if b.StorageClass == "" {
		return "STANDARD"
	}
	return b.StorageClass
}

func (b *Bucket) locationType() string {
	if b.LocationType == "" {
		return "region"
	}
	return b.LocationType
}

// metageneration is the bucket's metageneration, at least 1.
func (b *Bucket) metageneration() int64 { return max(b.Metageneration, 1) }

// AddBucket adds a bucket to the estate; its project must exist.
func (e *Estate) AddBucket(b *Bucket) error {
	e.Lock()
	defer e.Unlock()
	if e.Projects[b.Project] == nil {
		return fmt.Errorf("gcpfake: bucket %s: no project %q in the estate", b.Name, b.Project)
	}
	if e.Buckets == nil {
		e.Buckets = map[string]*Bucket{}
	}
	e.Buckets[b.Name] = b
	return nil
}

// BucketNamed returns a bucket by name, or nil. The caller holds the
// lock.
func (e *Estate) BucketNamed(name string) *Bucket { return e.Buckets[name] }

// storagePrefix is the path of the JSON API's buckets collection.
const storagePrefix = "/storage/v1/b"

// StorageClientOptions are the options that point a Cloud Storage
// client (cloud.google.com/go/storage) at the server's JSON API, without
// credentials.
func (s *Server) StorageClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(s.URL + "/storage/v1/"), option.WithoutAuthentication(), option.WithHTTPClient(s.srv.Client())}
}

// storageMethod names the JSON API method of a request to the buckets
// collection ("storage.buckets.list", .get, .patch), and the bucket it
// names; "" when the fake does not serve it.
func storageMethod(r *http.Request) (method, bucket string) {
	rest := strings.TrimPrefix(r.URL.Path, storagePrefix)
	switch {
	case rest == "" && r.Method == http.MethodGet:
		return "storage.buckets.list", ""
	case !strings.HasPrefix(rest, "/") || strings.Contains(rest[1:], "/") || rest == "/":
		return "", ""
	case r.Method == http.MethodGet:
		return "storage.buckets.get", rest[1:]
	case r.Method == http.MethodPatch:
		return "storage.buckets.patch", rest[1:]
	}
	return "", ""
}

// serveStorage answers a request to the JSON API's buckets collection,
// refusing the full projection as to an identity without
// storage.buckets.getIamPolicy.
// The lock is held; the faults and the call count have been handled.
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request, method, name string) {
	e := s.Estate
	var b *Bucket
	project := r.URL.Query().Get("project")
	if name != "" {
		if b = e.Buckets[name]; b == nil {
			writeGoogleError(w, http.StatusNotFound, "notFound", "", "The specified bucket does not exist.")
			return
		}
		project = b.Project
	}
	switch {
	case project == "":
		writeGoogleError(w, http.StatusBadRequest, "required", "", "Required parameter: project")
		return
	case r.URL.Query().Get("projection") == "full":
		// The full projection carries the ACLs and needs
		// storage.buckets.getIamPolicy, which cloudtrim's roles do not grant.
		writeGoogleError(w, http.StatusForbidden, "forbidden", "", "The caller does not have storage.buckets.getIamPolicy access to the Google Cloud Storage bucket.")
		return
	case s.denied[project]:
		writeGoogleError(w, http.StatusForbidden, "forbidden", "", "The caller does not have storage.buckets."+strings.TrimPrefix(method, "storage.buckets.")+" access to project "+project+".")
		return
	case e.Projects[project] == nil:
		writeGoogleError(w, http.StatusNotFound, "notFound", "", "The project "+project+" was not found.")
		return
	}
	switch method {
	case "storage.buckets.list":
		s.listBuckets(w, r, project)
	case "storage.buckets.get":
		writeJSON(w, bucketJSON(b))
	default:
		s.patchBucket(w, r, b)
	}
}

// listBuckets answers buckets.list: the project's buckets by name, with
// prefix, maxResults (default and at most 1,000) and pageToken (the last
// name of the page before).
func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request, project string) {
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "Invalid value for maxResults: "+v)
			return
		}
		limit = min(n, limit)
	}
	var names []string
	for n, b := range s.Estate.Buckets {
		if b.Project == project && strings.HasPrefix(n, q.Get("prefix")) && n > q.Get("pageToken") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := &raw.Buckets{Kind: "storage#buckets"}
	for i, n := range names {
		if i == limit {
			out.NextPageToken = names[i-1]
			break
		}
		out.Items = append(out.Items, bucketJSON(s.Estate.Buckets[n]))
	}
	writeJSON(w, out)
}

// patchBucket answers buckets.patch of the lifecycle and labels (a null
// label removes it), under ifMetagenerationMatch when given. Any other
// field is refused, so that a change of what the provider writes is
// caught.
func (s *Server) patchBucket(w http.ResponseWriter, r *http.Request, b *Bucket) {
	if v := r.URL.Query().Get("ifMetagenerationMatch"); v != "" && v != strconv.FormatInt(b.metageneration(), 10) {
		writeGoogleError(w, http.StatusPreconditionFailed, "conditionNotMet", "", "At least one of the pre-conditions you specified did not hold.")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeGoogleError(w, http.StatusBadRequest, "invalid", "", "read the body: "+err.Error())
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		writeGoogleError(w, http.StatusBadRequest, "parseError", "", "Parse Error: "+err.Error())
		return
	}
	var lifecycle *raw.BucketLifecycle
	var labels map[string]*string
	for k, v := range fields {
		switch k {
		case "lifecycle":
			lifecycle = &raw.BucketLifecycle{}
			if string(v) != "null" {
				err = json.Unmarshal(v, lifecycle)
			}
		case "labels":
			err = json.Unmarshal(v, &labels)
		default:
			err = fmt.Errorf("the fake does not patch the field %q", k)
		}
		if err != nil {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "Invalid argument: "+err.Error())
			return
		}
	}
	for _, rule := range lifecycleRules(lifecycle) {
		if a := rule.Action; a == nil || (a.Type != "Delete" && a.Type != "SetStorageClass" && a.Type != "AbortIncompleteMultipartUpload") ||
			(a.Type == "SetStorageClass" && !slices.Contains([]string{"NEARLINE", "COLDLINE", "ARCHIVE", "STANDARD"}, a.StorageClass)) {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "Invalid argument: a lifecycle rule with the action "+fmt.Sprint(a))
			return
		}
	}
	if lifecycle != nil {
		b.Lifecycle = lifecycleRules(lifecycle)
	}
	if labels != nil {
		if b.Labels == nil {
			b.Labels = map[string]string{}
		}
		for k, v := range labels {
			if v == nil {
				delete(b.Labels, k)
			} else {
				b.Labels[k] = *v
			}
		}
	}
	b.Metageneration = b.metageneration() + 1
	s.mutations = append(s.mutations, Mutation{Method: "storage.buckets.patch", Resource: "projects/" + b.Project + "/buckets/" + b.Name, Region: strings.ToLower(b.Location),
		Labels: maps.Clone(b.Labels), Lifecycle: slices.Clone(b.Lifecycle)})
	writeJSON(w, bucketJSON(b))
}

func lifecycleRules(l *raw.BucketLifecycle) []*raw.BucketLifecycleRule {
	if l == nil {
		return nil
	}
	return l.Rule
}

// bucketJSON is the buckets resource of b, in the full projection.
func bucketJSON(b *Bucket) *raw.Bucket {
	out := &raw.Bucket{Kind: "storage#bucket", Id: b.Name, Name: b.Name, ProjectNumber: uint64(NewProject(b.Project).Number),
		Location: b.Location, LocationType: b.locationType(), StorageClass: b.storageClass(), Labels: maps.Clone(b.Labels),
		Metageneration: b.metageneration(), TimeCreated: b.Created.UTC().Format(time.RFC3339Nano),
		Updated: b.Created.UTC().Format(time.RFC3339Nano), SelfLink: "https://www.googleapis.com/storage/v1/b/" + b.Name}
	if len(b.Lifecycle) > 0 {
		out.Lifecycle = &raw.BucketLifecycle{Rule: b.Lifecycle}
	}
	if b.Autoclass {
		out.Autoclass = &raw.BucketAutoclass{Enabled: true, TerminalStorageClass: "NEARLINE", ToggleTime: b.Created.UTC().Format(time.RFC3339)}
	}
	return out
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, apiErr(http.StatusInternalServerError, "internalError", "encode the answer: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

// serveStorageRequest counts and answers a request to the buckets
// collection, after the injected faults.
func (s *Server) serveStorageRequest(w http.ResponseWriter, r *http.Request) {
	method, name := storageMethod(r)
	s.Estate.Lock()
	defer s.Estate.Unlock()
	if method == "" {
		writeError(w, apiErr(http.StatusNotImplemented, "notImplemented", "the fake does not serve "+r.Method+" "+r.URL.Path))
		return
	}
	s.calls[method]++
	if f := s.takeFault(r); f != nil {
		f.write(w)
		return
	}
	s.serveStorage(w, r, method, name)
}

// The convention by which cloudtrim's lifecycle rule is known on a
// bucket, the one gcpcloud writes: Cloud Storage's lifecycle rules have
// no names, so the rule is marked by the bucket label TierLabel, whose
// value names it ("coldline-30d"). The rule itself moves objects of the
// bucket's hot class (MatchesStorageClass STANDARD) older than the days
// to the class.
const TierLabel = "cloudtrim-tiering"

// TierLabelValue is the TierLabel value of a rule moving objects to
// class after days.
func TierLabelValue(class string, days int64) string {
	return strings.ToLower(class) + "-" + strconv.FormatInt(days, 10) + "d"
}

// TierRule is cloudtrim's lifecycle rule moving objects of the hot class
// older than days to class.
func TierRule(class string, days int64) *raw.BucketLifecycleRule {
	return &raw.BucketLifecycleRule{Action: &raw.BucketLifecycleRuleAction{Type: "SetStorageClass", StorageClass: class},
		Condition: &raw.BucketLifecycleRuleCondition{Age: &days, MatchesStorageClass: []string{"STANDARD"}}}
}

// ownersRule is the rule a simulated bucket whose owners tier it
// carries: everything older than a year to Archive.
func ownersRule() *raw.BucketLifecycleRule {
	days := int64(365)
	return &raw.BucketLifecycleRule{Action: &raw.BucketLifecycleRuleAction{Type: "SetStorageClass", StorageClass: "ARCHIVE"},
		Condition: &raw.BucketLifecycleRuleCondition{Age: &days}}
}

// bucketFromSim is the bucket of a simulated one: in its region, with
// its labels, and its tiering as lifecycle rules (cloudtrim's rule and
// label, or an owners' rule for "custom").
func bucketFromSim(project string, r domain.Resource) *Bucket {
	b := &Bucket{Project: project, Name: r.ID, Location: strings.ToUpper(r.Region), StorageClass: r.SKU,
		Labels: maps.Clone(r.Tags), Created: r.CreatedAt}
	if b.Labels == nil {
		b.Labels = map[string]string{}
	}
	if r.Tiering == domain.TieringCustom {
		b.Lifecycle = []*raw.BucketLifecycleRule{ownersRule()}
	} else if rule, err := domain.ParseTierRule(r.Tiering); err == nil && !rule.IsZero() {
		b.Lifecycle = []*raw.BucketLifecycleRule{TierRule(rule.Class, int64(rule.AfterDays))}
		b.Labels[TierLabel] = TierLabelValue(rule.Class, int64(rule.AfterDays))
	}
	return b
}

// ourRule returns the rule a bucket's TierLabel names, if the bucket's
// lifecycle holds it; the zero rule otherwise.
func ourRule(labels map[string]string, rules []*raw.BucketLifecycleRule) domain.TierRule {
	v, ok := labels[TierLabel]
	if !ok {
		return domain.TierRule{}
	}
	for _, r := range rules {
		if r.Action != nil && r.Action.Type == "SetStorageClass" && r.Condition != nil && r.Condition.Age != nil &&
			TierLabelValue(r.Action.StorageClass, *r.Condition.Age) == v {
			return domain.TierRule{Class: r.Action.StorageClass, AfterDays: int(*r.Condition.Age)}
		}
	}
	return domain.TierRule{}
}
