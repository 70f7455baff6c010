package pipeline

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
)

// TestIngestFromS3 reads a CUR as AWS delivers it to S3 (a manifest per
// billing period, the current assembly and a superseded one) from an
// S3 API (gofakes3) through the same s3:// URLs the lake uses.
func TestIngestFromS3(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": standin.AccessKeyID, "AWS_SECRET_ACCESS_KEY": standin.SecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	if err := backend.CreateBucket("cur"); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"endpoint": {srv.URL}, "hostname_immutable": {"true"}, "use_path_style": {"true"}, "region": {standin.Region}}
	bucketURL := "s3://cur?" + q.Encode()
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A real legacy CUR slice (focus_converters, MIT; see
	// shared/focus/testdata/aws/SOURCES.md).
	data, err := os.ReadFile(filepath.Join("..", "focus", "testdata", "aws", "cur-legacy-focus-converters.csv"))
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) {
		if err := b.WriteAll(ctx, key, body, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("reports/r/20231001-20231101/asm-new/r-00001.csv", data)
	put("reports/r/20231001-20231101/asm-old/r-00001.csv", data[:len(data)/2])
	put("reports/r/20231001-20231101/r-Manifest.json", []byte(`{"assemblyId": "asm-new", "account": "123456789012", "reportName": "r", "bucket": "cur",
  "billingPeriod": {"start": "20231001T000000.000Z", "end": "20231101T000000.000Z"}, "contentType": "text/csv",
  "reportKeys": ["reports/r/20231001-20231101/asm-new/r-00001.csv"], "columns": []}`))

	u, _ := url.Parse(bucketURL)
	u.Path = "/reports/r/"
	src, err := ExpandSources(ctx, []string{u.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if len(src.Inputs) != 1 || !strings.HasSuffix(src.Inputs[0].Name, "asm-new/r-00001.csv") || len(src.Skipped) != 1 {
		t.Fatalf("ExpandSources(%s) read %d inputs (%v), skipped %v; want the manifest's one file and the old assembly skipped", u, len(src.Inputs), src.Inputs, src.Skipped)
	}
	p := newIngestPipeline(t)
	res, err := p.Ingest(ctx, src, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Kept == 0 || res.Total.Kept != res.Commits[domain.AWS].Tables["costs"].Rows || res.ReadBack["USD"] != res.Total.Totals["USD"].Kept {
		t.Errorf("ingest from S3: kept %d, committed %+v, read back %v", res.Total.Kept, res.Commits, res.ReadBack)
	}
}
