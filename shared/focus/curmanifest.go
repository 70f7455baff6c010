package focus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// CURManifest is what the manifest of one Cost and Usage Report delivery
// says: which files hold the rows, the billing period they cover and the
// columns they have. It reads both the legacy CUR manifest
// (<report>-Manifest.json beside the report's assembly) and the CUR 2.0
// manifest AWS Data Exports writes under metadata/BILLING_PERIOD=YYYY-MM/.
type CURManifest struct {
	// Version is "legacy" for a legacy CUR manifest and "2.0" for an AWS
	// Data Exports manifest.
	Version string `json:"version"`
	// Bucket is the S3 bucket the files are in: the legacy manifest's
	// "bucket", or the bucket of the Data Exports "dataFiles" URIs.
	Bucket string `json:"bucket,omitempty"`
	// Files are the object keys of the data files, relative to Bucket
	// (the s3://bucket/ of Data Exports URIs removed), in manifest order.
	Files []string `json:"files"`
	// BillingPeriodStart and BillingPeriodEnd bound the billing period
	// the files cover (end exclusive, UTC).
	BillingPeriodStart time.Time `json:"billing_period_start"`
	BillingPeriodEnd   time.Time `json:"billing_period_end"`
	// Columns are the columns the manifest lists, in its order.
	Columns []CURColumn `json:"columns,omitempty"`
	// Name is the legacy reportName or the Data Exports exportName.
	Name string `json:"name,omitempty"`
	// DeliveryID is the legacy assemblyId or the Data Exports executionId:
	// it changes with every refresh of the same billing period.
	DeliveryID string `json:"delivery_id,omitempty"`
	// Compression and ContentType are the legacy manifest's ("GZIP",
	// "text/csv", "Parquet"); empty for Data Exports.
	Compression string `json:"compression,omitempty"`
	ContentType string `json:"content_type,omitempty"`
}

// CURColumn is one column a manifest lists.
type CURColumn struct {
	// Category is the legacy column group ("lineItem", "resourceTags");
	// empty for CUR 2.0.
	Category string `json:"category,omitempty"`
	Name     string `json:"name"`
	Type     string `json:"type,omitempty"`
}

// Header returns the column's name as the data files spell it:
// "lineItem/UsageAmount" for a legacy column, the name for CUR 2.0.
func (c CURColumn) Header() string {
	if c.Category == "" {
		return c.Name
	}
	return c.Category + "/" + c.Name
}

// curManifestJSON holds the fields of both manifest kinds.
type curManifestJSON struct {
	// Legacy CUR.
	AssemblyID  string          `json:"assemblyId"`
	Account     string          `json:"account"`
	Columns     json.RawMessage `json:"columns"`
	Charset     string          `json:"charset"`
	Compression string          `json:"compression"`
	ContentType string          `json:"contentType"`
	ReportID    string          `json:"reportId"`
	ReportName  string          `json:"reportName"`
	Bucket      string          `json:"bucket"`
	ReportKeys  json.RawMessage `json:"reportKeys"`
	// Data Exports.
	ExecutionID string          `json:"executionId"`
	ExportARN   string          `json:"exportArn"`
	ExportName  string          `json:"exportName"`
	DataFiles   json.RawMessage `json:"dataFiles"`
	Schema      json.RawMessage `json:"schema"`
	// Azure Cost Management exports (manifest.json of an export run).
	ManifestVersion string          `json:"manifestVersion"`
	Blobs           json.RawMessage `json:"blobs"`
	ExportConfig    *struct {
		ExportName string `json:"exportName"`
	} `json:"exportConfig"`
	RunInfo *struct {
		RunID     string `json:"runId"`
		StartDate string `json:"startDate"`
		EndDate   string `json:"endDate"`
	} `json:"runInfo"`
	// Both AWS kinds.
	BillingPeriod *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"billingPeriod"`
}

// ParseCURManifest reads a legacy CUR manifest, an AWS Data Exports
// (CUR 2.0) manifest or an Azure Cost Management export's manifest.json
// (see parseAzureExportManifest). A document that is not JSON, has neither
// "reportKeys" nor "dataFiles", lacks a readable "billingPeriod", or
// names a file it cannot place in a bucket is domain.ErrInvalid, with
// the field at fault named.
func ParseCURManifest(data []byte) (*CURManifest, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("parse CUR manifest: %w: "+format, append([]any{domain.ErrInvalid}, args...)...)
	}
	var raw curManifestJSON
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&raw); err != nil {
		return nil, fail("not a JSON object: %v", err)
	}
	m := &CURManifest{}
	hasKeys, hasFiles := present(raw.ReportKeys), present(raw.DataFiles)
	if present(raw.Blobs) && !hasKeys && !hasFiles {
		return parseAzureExportManifest(raw)
	}
	switch {
	case hasKeys && hasFiles:
		return nil, fail(`both "reportKeys" (legacy CUR) and "dataFiles" (Data Exports) are present`)
	case hasKeys:
		m.Version = "legacy"
		m.Bucket, m.Name, m.DeliveryID = raw.Bucket, raw.ReportName, raw.AssemblyID
		m.Compression, m.ContentType = raw.Compression, raw.ContentType
		var keys []string
		if err := json.Unmarshal(raw.ReportKeys, &keys); err != nil {
			return nil, fail(`"reportKeys" is not a list of strings: %v`, err)
		}
		for i, k := range keys {
			k = strings.TrimSpace(k)
			if strings.HasPrefix(k, "s3://") {
				b, key, err := splitS3URI(k)
				if err != nil {
					return nil, fail(`"reportKeys"[%d]: %v`, i, err)
				}
				if m.Bucket == "" {
					m.Bucket = b
				}
				k = key
			}
			k = strings.TrimPrefix(k, "/")
			if k == "" {
				return nil, fail(`"reportKeys"[%d] is empty`, i)
			}
			m.Files = append(m.Files, k)
		}
	case hasFiles:
		m.Version = "2.0"
		m.Name, m.DeliveryID = raw.ExportName, raw.ExecutionID
		if m.Name == "" && raw.ExportARN != "" {
			m.Name = exportNameOf(raw.ExportARN)
		}
		var uris []string
		if err := json.Unmarshal(raw.DataFiles, &uris); err != nil {
			return nil, fail(`"dataFiles" is not a list of strings: %v`, err)
		}
		for i, u := range uris {
			b, key, err := splitS3URI(strings.TrimSpace(u))
			if err != nil {
				return nil, fail(`"dataFiles"[%d]: %v`, i, err)
			}
			switch {
			case m.Bucket == "":
				m.Bucket = b
			case b != m.Bucket:
				return nil, fail(`"dataFiles"[%d] is in bucket %q, the files before it in %q`, i, b, m.Bucket)
			}
			m.Files = append(m.Files, key)
		}
	default:
		return nil, fail(`neither "reportKeys" (legacy CUR) nor "dataFiles" (AWS Data Exports) is present: not a Cost and Usage Report manifest`)
	}

	if raw.BillingPeriod == nil {
		return nil, fail(`"billingPeriod" is missing`)
	}
	var err error
	if m.BillingPeriodStart, err = manifestTime(raw.BillingPeriod.Start); err != nil {
		return nil, fail(`"billingPeriod.start": %v`, err)
	}
	if m.BillingPeriodEnd, err = manifestTime(raw.BillingPeriod.End); err != nil {
		return nil, fail(`"billingPeriod.end": %v`, err)
	}
	if !m.BillingPeriodEnd.After(m.BillingPeriodStart) {
		return nil, fail(`"billingPeriod" ends (%s) before it starts (%s)`, raw.BillingPeriod.End, raw.BillingPeriod.Start)
	}

	cols := raw.Columns
	if !present(cols) {
		cols = raw.Schema
	}
	if m.Columns, err = manifestColumns(cols); err != nil {
		return nil, fail("%v", err)
	}
	return m, nil
}

// parseAzureExportManifest reads the manifest.json an Azure Cost
// Management export writes beside each run's files: "blobs" lists the
// files ({"blobName": path in the container}), "runInfo" the dates the
// run covers. Version is "azure"; Bucket is empty (the container is the
// manifest's own).
func parseAzureExportManifest(raw curManifestJSON) (*CURManifest, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("parse Azure export manifest: %w: "+format, append([]any{domain.ErrInvalid}, args...)...)
	}
	m := &CURManifest{Version: "azure"}
	if raw.ExportConfig != nil {
		m.Name = raw.ExportConfig.ExportName
	}
	var blobs []struct {
		BlobName string `json:"blobName"`
	}
	if err := json.Unmarshal(raw.Blobs, &blobs); err != nil {
		return nil, fail(`"blobs" is not a list of {"blobName": …} objects: %v`, err)
	}
	for i, b := range blobs {
		name := strings.TrimPrefix(strings.TrimSpace(b.BlobName), "/")
		if name == "" || strings.Contains(name, "..") {
			return nil, fail(`"blobs"[%d].blobName %q is not a blob path`, i, b.BlobName)
		}
		m.Files = append(m.Files, name)
	}
	if raw.RunInfo == nil {
		return nil, fail(`"runInfo" is missing`)
	}
	m.DeliveryID = raw.RunInfo.RunID
	var err error
	if m.BillingPeriodStart, err = manifestTime(raw.RunInfo.StartDate); err != nil {
		return nil, fail(`"runInfo.startDate": %v`, err)
	}
	if m.BillingPeriodEnd, err = manifestTime(raw.RunInfo.EndDate); err != nil {
		return nil, fail(`"runInfo.endDate": %v`, err)
	}
	// The end is the run's last day, inclusive, unless it falls on a
	// month's first day (an exclusive end, as the AWS manifests give).
	if m.BillingPeriodEnd.Day() != 1 || m.BillingPeriodEnd.Hour() != 0 || !m.BillingPeriodEnd.After(m.BillingPeriodStart) {
		m.BillingPeriodEnd = m.BillingPeriodEnd.Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	if !m.BillingPeriodEnd.After(m.BillingPeriodStart) {
		return nil, fail(`"runInfo" ends (%s) before it starts (%s)`, raw.RunInfo.EndDate, raw.RunInfo.StartDate)
	}
	return m, nil
}

// present reports whether a JSON field was given and is not null.
func present(r json.RawMessage) bool {
	s := bytes.TrimSpace(r)
	return len(s) > 0 && !bytes.Equal(s, []byte("null"))
}

// splitS3URI splits "s3://bucket/key" into bucket and key.
func splitS3URI(u string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URI", u)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("%q names no bucket and key", u)
	}
	return bucket, key, nil
}

// exportNameOf returns the export name of a Data Exports ARN
// (arn:aws:bcm-data-exports:us-east-1:123456789012:export/NAME-UUID);
// the name is the part before the trailing UUID.
func exportNameOf(arn string) string {
	_, name, ok := strings.Cut(arn, ":export/")
	if !ok {
		return ""
	}
	// The UUID is 36 characters, joined by a dash.
	if len(name) > 37 && name[len(name)-37] == '-' {
		return name[:len(name)-37]
	}
	return name
}

// manifestTime reads a billing period bound: legacy manifests write
// "20240301T000000.000Z", Data Exports RFC 3339.
func manifestTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty")
	}
	for _, l := range []string{"20060102T150405.000Z", "20060102T150405Z", time.RFC3339Nano, "2006-01-02T15:04:05.000Z", "2006-01-02T15:04:05", "2006-01-02", "20060102"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (want 20060102T150405.000Z or RFC 3339)", s)
}

// manifestColumns reads the column list: a list of {category, name, type}
// (legacy) or {name, type} (Data Exports), possibly wrapped in an object
// under "columns".
func manifestColumns(r json.RawMessage) ([]CURColumn, error) {
	if !present(r) {
		return nil, nil
	}
	s := bytes.TrimSpace(r)
	if s[0] == '{' {
		var wrapped struct {
			Columns json.RawMessage `json:"columns"`
		}
		if err := json.Unmarshal(s, &wrapped); err != nil || !present(wrapped.Columns) {
			return nil, fmt.Errorf(`"columns" is neither a list nor an object holding one`)
		}
		s = bytes.TrimSpace(wrapped.Columns)
	}
	var cols []CURColumn
	if err := json.Unmarshal(s, &cols); err != nil {
		return nil, fmt.Errorf(`"columns" is not a list of {category, name, type}: %v`, err)
	}
	for i, c := range cols {
		if strings.TrimSpace(c.Name) == "" {
			return nil, fmt.Errorf(`"columns"[%d] has no name`, i)
		}
	}
	return cols, nil
}
