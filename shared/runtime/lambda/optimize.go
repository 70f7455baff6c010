package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// SnapshotManifest names the manifest of a committed snapshot, as an S3
// event reported it.
type SnapshotManifest struct {
	Bucket string `json:"bucket"`
	// Key is the object key, URL-decoded.
	Key string `json:"key"`
	// Prefix is the lake's key prefix before "snapshots/": empty, or
	// ending with "/".
	Prefix string       `json:"prefix,omitempty"`
	Cloud  domain.Cloud `json:"cloud"`
	RunID  string       `json:"run_id"`
	// ETag and VersionID identify the version of the manifest written.
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version_id,omitempty"`
}

// BillingDelivery names the manifest of a billing export AWS delivered
// to the lake's bucket (Cost and Usage Report or Data Export, under
// "cur/").
type BillingDelivery struct {
	Bucket string `json:"bucket"`
	// Key is the manifest's object key, URL-decoded.
	Key string `json:"key"`
}

// OptimizeResponse is the response of the optimize function: what each
// manifest's optimization returned, what each billing delivery's ingest
// returned, and the objects of the event that were neither.
type OptimizeResponse struct {
	Optimized []OptimizedManifest `json:"optimized"`
	Ingested  []IngestedDelivery  `json:"ingested,omitempty"`
	Ignored   []IgnoredObject     `json:"ignored,omitempty"`
}

// IngestedDelivery is one billing delivery and what Handlers.Ingest
// returned for it.
type IngestedDelivery struct {
	BillingDelivery
	Result any `json:"result,omitempty"`
}

// isBillingManifest reports whether key is the manifest of a billing
// export delivered under cur/: "<...>cur/<report path>/<name>-Manifest.json"
// (legacy CUR) or ".../Manifest.json" (Data Exports).
func isBillingManifest(key string) bool {
	if !strings.HasPrefix(key, "cur/") && !strings.Contains(key, "/cur/") {
		return false
	}
	base := key[strings.LastIndexByte(key, '/')+1:]
	return strings.HasSuffix(base, "-Manifest.json") || base == "Manifest.json"
}

// OptimizedManifest is one manifest and what Handlers.Optimize returned
// for it.
type OptimizedManifest struct {
	SnapshotManifest
	Result any `json:"result,omitempty"`
}

// IgnoredObject is an object of an S3 event that was not a snapshot
// manifest, or an event that was not about objects.
type IgnoredObject struct {
	Bucket string `json:"bucket,omitempty"`
	Key    string `json:"key,omitempty"`
	Reason string `json:"reason"`
}

const optimizeWant = `an S3 event notification {"Records": [...]} for an object created at snapshots/cloud=<cloud>/run=<run>/_manifest.json`

func (f *Function) optimize(ctx context.Context, payload []byte) (any, error) {
	if !isObject(payload) {
		return nil, f.eventError(optimizeWant, "got %s", jsonKind(payload))
	}
	// S3 sends a test event, without records, to a function when its
	// notification is configured: acknowledge it so it is not retried.
	var probe struct {
		Event   string          `json:"Event"`
		Bucket  string          `json:"Bucket"`
		Records json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(payload, &probe); err == nil && probe.Event == "s3:TestEvent" && probe.Records == nil {
		f.logger.InfoContext(ctx, "S3 test event ignored", "bucket", probe.Bucket)
		return OptimizeResponse{Optimized: []OptimizedManifest{}, Ignored: []IgnoredObject{{Bucket: probe.Bucket, Reason: "s3:TestEvent"}}}, nil
	}
	var ev events.S3Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, f.eventError(optimizeWant, "decode S3 event: %v", err)
	}
	if len(ev.Records) == 0 {
		return nil, f.eventError(optimizeWant, "the event has no Records")
	}
	for i, r := range ev.Records {
		switch {
		case r.EventSource != "aws:s3":
			return nil, f.eventError(optimizeWant, "record %d has eventSource %q, not aws:s3", i, r.EventSource)
		case r.S3.Bucket.Name == "" || r.S3.Object.Key == "":
			return nil, f.eventError(optimizeWant, "record %d has no bucket name or no object key", i)
		}
	}
	res := OptimizeResponse{Optimized: []OptimizedManifest{}}
	var errs []error
	for _, r := range ev.Records {
		bucket, key := r.S3.Bucket.Name, r.S3.Object.URLDecodedKey
		if f.h.Ingest != nil && isBillingManifest(key) && strings.HasPrefix(r.EventName, "ObjectCreated:") {
			d := BillingDelivery{Bucket: bucket, Key: key}
			f.logger.InfoContext(ctx, "ingest billing export", "bucket", bucket, "key", key)
			out, err := f.h.Ingest(ctx, d)
			if err != nil {
				errs = append(errs, fmt.Errorf("s3://%s/%s: %w", bucket, key, err))
				continue
			}
			res.Ingested = append(res.Ingested, IngestedDelivery{BillingDelivery: d, Result: out})
			continue
		}
		m, reason := parseManifestKey(key)
		if reason == "" && !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			reason = "event " + r.EventName + " is not an object creation"
		}
		if reason != "" {
			f.logger.InfoContext(ctx, "object ignored", "bucket", bucket, "key", key, "event_name", r.EventName, "reason", reason)
			res.Ignored = append(res.Ignored, IgnoredObject{Bucket: bucket, Key: key, Reason: reason})
			continue
		}
		m.Bucket, m.ETag, m.VersionID = bucket, r.S3.Object.ETag, r.S3.Object.VersionID
		f.logger.InfoContext(ctx, "optimize", "bucket", bucket, "key", key, "cloud", m.Cloud, "run_id", m.RunID)
		out, err := f.h.Optimize(ctx, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("s3://%s/%s: %w", bucket, key, err))
			continue
		}
		res.Optimized = append(res.Optimized, OptimizedManifest{SnapshotManifest: m, Result: out})
	}
	if len(errs) > 0 {
		return nil, &FunctionError{Function: f.name, Err: errors.Join(errs...)}
	}
	return res, nil
}

// parseManifestKey reads a decoded object key of the form
// [prefix/]snapshots/cloud=<cloud>/run=<run>/_manifest.json. It returns
// the reason when key is not a snapshot manifest.
func parseManifestKey(key string) (SnapshotManifest, string) {
	const notManifest = "not a snapshot manifest (snapshots/cloud=<cloud>/run=<run>/_manifest.json)"
	seg := strings.Split(key, "/")
	n := len(seg)
	if n < 4 || seg[n-1] != "_manifest.json" || seg[n-4] != "snapshots" {
		return SnapshotManifest{}, notManifest
	}
	cloud, ok1 := strings.CutPrefix(seg[n-3], "cloud=")
	run, ok2 := strings.CutPrefix(seg[n-2], "run=")
	if !ok1 || !ok2 {
		return SnapshotManifest{}, notManifest
	}
	m := SnapshotManifest{Key: key, RunID: run}
	for _, c := range domain.Clouds {
		if string(c) == cloud {
			m.Cloud = c
		}
	}
	if m.Cloud == "" {
		return SnapshotManifest{}, fmt.Sprintf("unknown cloud %q in a snapshot manifest key", cloud)
	}
	if !validRunID(run) {
		return SnapshotManifest{}, fmt.Sprintf("run ID %q is not valid", run)
	}
	if n > 4 {
		m.Prefix = strings.Join(seg[:n-4], "/") + "/"
		if m.Prefix == "/" || strings.Contains(m.Prefix, "//") {
			return SnapshotManifest{}, fmt.Sprintf("prefix %q has an empty path segment", m.Prefix)
		}
	}
	return m, ""
}

// validRunID accepts the characters a lake partition value keeps as is.
func validRunID(run string) bool {
	if run == "" || run == "." || run == ".." {
		return false
	}
	for _, c := range run {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && !strings.ContainsRune("._~-", c) {
			return false
		}
	}
	return true
}
