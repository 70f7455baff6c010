package lake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/lake/lakestest"
)

// s3Env points the AWS SDK's default configuration, which s3blob loads,
// at the stand-ins' static credentials and away from anything on the
// machine (shared config files, profiles, endpoints, instance metadata).
func s3Env(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           standin.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       standin.SecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// s3LakeURL is the lake URL of bucket on the S3 endpoint of a stand-in:
// path-style requests to exactly that endpoint, in us-east-1.
func s3LakeURL(endpoint, bucket string) string {
	q := url.Values{
		"endpoint":           {endpoint},
		"hostname_immutable": {"true"},
		"use_path_style":     {"true"},
		"region":             {standin.Region},
	}
	return "s3://" + bucket + "?" + q.Encode()
}

func openS3Lake(t *testing.T, endpoint, bucket string) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), s3LakeURL(endpoint, bucket))
	if err != nil {
		t.Fatalf("lake.Open(%s) = %v", s3LakeURL(endpoint, bucket), err)
	}
	return l
}

// gofakes3Server serves an in-memory gofakes3 on a loopback port and
// returns its endpoint and a function that makes a new bucket.
func gofakes3Server(t *testing.T) (endpoint string, newBucket func(t *testing.T) string) {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithIntegrityCheck(true)).Server())
	t.Cleanup(srv.Close)
	var n atomic.Int64
	return srv.URL, func(t *testing.T) string {
		name := fmt.Sprintf("lake-%d", n.Add(1))
		if err := backend.CreateBucket(name); err != nil {
			t.Fatalf("create bucket %s: %v", name, err)
		}
		return name
	}
}

// TestConformanceGofakes3 runs the lake's suite through s3blob against
// gofakes3 in this process: each subtest gets a new bucket.
func TestConformanceGofakes3(t *testing.T) {
	s3Env(t)
	endpoint, newBucket := gofakes3Server(t)
	lakestest.RunConformance(t, func(t *testing.T) *lake.Lake {
		return openS3Lake(t, endpoint, newBucket(t))
	})
}

// TestConformanceVersityGW runs the lake's suite through s3blob against
// versitygw (posix backend), which checks SigV4 signatures and
// conditional writes as S3 does.
func TestConformanceVersityGW(t *testing.T) {
	s3Env(t)
	endpoint := standin.S3(t)
	lakestest.RunConformance(t, func(t *testing.T) *lake.Lake {
		return openS3Lake(t, endpoint, standin.Bucket(t, endpoint))
	})
}

// TestConditionalWritesOfStandIns checks, with a plain S3 client, the
// behaviour of S3 that the lake relies on and that the stand-ins must
// share: If-None-Match: * on an existing key and a stale If-Match both
// answer 412 PreconditionFailed and leave the object as it was; a current
// If-Match succeeds.
func TestConditionalWritesOfStandIns(t *testing.T) {
	t.Run("gofakes3", func(t *testing.T) {
		endpoint, newBucket := gofakes3Server(t)
		checkConditionalWrites(t, endpoint, newBucket(t))
	})
	t.Run("versitygw", func(t *testing.T) {
		endpoint := standin.S3(t)
		checkConditionalWrites(t, endpoint, standin.Bucket(t, endpoint))
	})
}

func checkConditionalWrites(t *testing.T, endpoint, bucket string) {
	ctx := context.Background()
	c := standin.S3Client(endpoint)
	put := func(body string, ifNoneMatch, ifMatch *string) (*s3.PutObjectOutput, error) {
		return c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("pointers/p/1.json"),
			Body: strings.NewReader(body), IfNoneMatch: ifNoneMatch, IfMatch: ifMatch})
	}
	get := func() string {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("pointers/p/1.json")})
		if err != nil {
			t.Fatalf("GetObject = %v", err)
		}
		defer out.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(out.Body)
		return b.String()
	}
	first, err := put("v1", aws.String("*"), nil)
	if err != nil {
		t.Fatalf("PutObject(If-None-Match *) of a new key = %v", err)
	}
	_, err = put("v2", aws.String("*"), nil)
	wantPreconditionFailed(t, "PutObject(If-None-Match *) of an existing key", err)
	second, err := put("v3", nil, first.ETag)
	if err != nil {
		t.Fatalf("PutObject(If-Match current) = %v", err)
	}
	if aws.ToString(second.ETag) == aws.ToString(first.ETag) {
		t.Fatalf("ETag did not change on a new body: %s", aws.ToString(first.ETag))
	}
	_, err = put("v4", nil, first.ETag)
	wantPreconditionFailed(t, "PutObject(If-Match stale)", err)
	if got := get(); got != "v3" {
		t.Errorf("object after refused writes = %q; want v3", got)
	}
}

func wantPreconditionFailed(t *testing.T, op string, err error) {
	t.Helper()
	var api smithy.APIError
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &api) || api.ErrorCode() != "PreconditionFailed" ||
		!errors.As(err, &status) || status.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("%s = %v; want 412 PreconditionFailed", op, err)
	}
}

// TestS3CreateIfAbsentIsAConflict checks the lake's side of it: a
// create-if-absent Put of an existing key through s3blob sends
// If-None-Match: * and the 412 comes back as domain.ErrConflict.
func TestS3CreateIfAbsentIsAConflict(t *testing.T) {
	s3Env(t)
	endpoint, newBucket := gofakes3Server(t)
	l := openS3Lake(t, endpoint, newBucket(t))
	defer l.Close()
	ctx := context.Background()
	if err := l.Put(ctx, "locks/a", []byte("1"), true); err != nil {
		t.Fatal(err)
	}
	err := l.Put(ctx, "locks/a", []byte("2"), true)
	var api smithy.APIError
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &api) || api.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second create-if-absent Put = %v; want ErrConflict wrapping S3's PreconditionFailed", err)
	}
}

// TestS3WrongCredentials makes sure the lake really signs its requests
// with the credentials it is given: versitygw refuses a wrong secret with
// 403 SignatureDoesNotMatch, which gocloud's s3blob reports as
// gcerrors.Unknown and the lake still classifies, by the HTTP status, as
// domain.ErrPermission.
func TestS3WrongCredentials(t *testing.T) {
	s3Env(t)
	endpoint := standin.S3(t)
	bucket := standin.Bucket(t, endpoint)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-"+standin.SecretAccessKey)
	l := openS3Lake(t, endpoint, bucket)
	defer l.Close()
	err := l.Put(context.Background(), "flags/a", []byte("x"), false)
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &status) || status.HTTPStatusCode() != http.StatusForbidden || !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("Put with a wrong secret = %v; want a 403 from versitygw, classified as a permission error", err)
	}
}
