package standin

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The static credentials and the region every stand-in is started with.
// They open nothing but the stand-ins on this machine.
const (
	AccessKeyID     = "cloudtrim-test"
	SecretAccessKey = "cloudtrim-test-secret"
	Region          = "us-east-1"
)

// Config returns an AWS SDK configuration for a stand-in at endpoint:
// static credentials AccessKeyID and SecretAccessKey, region us-east-1
// and BaseEndpoint set to endpoint. It reads nothing from the environment
// or from shared configuration files, so tests never reach a real account.
// S3 clients built from it also need UsePathStyle (see S3Client).
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// S3Client returns a path-style S3 client for the stand-in at endpoint.
func S3Client(endpoint string) *s3.Client {
	return s3.NewFromConfig(Config(endpoint), func(o *s3.Options) { o.UsePathStyle = true })
}

var buckets atomic.Int64

// Bucket creates a new, empty bucket on the S3 stand-in at endpoint and
// returns its name, unique within the test process.
func Bucket(t testing.TB, endpoint string) string {
	t.Helper()
	name := bucketName(t.Name(), buckets.Add(1))
	if _, err := S3Client(endpoint).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, endpoint, err)
	}
	return name
}

// bucketName makes a valid S3 bucket name (3 to 63 characters of lower
// case letters, digits and hyphens) from a test name and a sequence
// number.
func bucketName(test string, seq int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	suffix := fmt.Sprintf("-%d-%d", time.Now().UnixNano()%1e6, seq)
	base := strings.Trim(b.String(), "-")
	if max := 63 - len(suffix) - len("ct-"); len(base) > max {
		base = strings.Trim(base[:max], "-")
	}
	return "ct-" + base + suffix
}
