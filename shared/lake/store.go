package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// store is the little the lake needs from an object store. Keys are
// slash-separated and relative to the lake's root.
//
// Every error is mapped to a domain kind where one applies, with the
// backend's own error still reachable through errors.As.
type store interface {
	// Get returns the whole object; domain.ErrNotFound when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put writes the whole object. With ifNotExist it fails with
	// domain.ErrConflict when the key already exists, leaving it as it
	// was; the check and the write are one atomic step for the lake's
	// writers (see bucketStore for file://).
	Put(ctx context.Context, key string, data []byte, ifNotExist bool) error
	// List returns the keys under prefix in lexical order. With a
	// non-empty delimiter, keys holding the delimiter after the prefix
	// are folded into one entry ending with it, as "directories".
	List(ctx context.Context, prefix, delimiter string) ([]string, error)
	// Delete removes an object; domain.ErrNotFound when there is none.
	Delete(ctx context.Context, key string) error
	// Exists reports whether the key exists.
	Exists(ctx context.Context, key string) (bool, error)
	// ModTime returns when the object was last written, by the store's
	// clock; domain.ErrNotFound when there is none.
	ModTime(ctx context.Context, key string) (time.Time, error)
	// Close releases the store.
	Close() error
}

// bucketStore is the store over a gocloud.dev blob.Bucket.
type bucketStore struct {
	b *blob.Bucket
	// serialize makes IfNotExist writes take a process-wide per-key
	// lock. fileblob checks for an existing file and renames its
	// temporary file over it without holding any lock shared between
	// writers, so two writers can both win; the lock makes the check and
	// the write atomic for every Lake in this process. It does nothing
	// across processes: file:// is a single-process lake.
	serialize bool
}

// newBucketStore wraps b. A fileblob bucket (which answers As for
// *os.FileInfo) gets serialized conditional writes.
func newBucketStore(b *blob.Bucket) *bucketStore {
	var fi os.FileInfo
	return &bucketStore{b: b, serialize: b.As(&fi)}
}

// condLocks stripes the per-key locks of serialized conditional writes.
var condLocks [64]sync.Mutex

func condLock(key string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = io.WriteString(h, key)
	return &condLocks[h.Sum32()%uint32(len(condLocks))]
}

func (s *bucketStore) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := s.b.ReadAll(ctx, key)
	if err != nil {
		return nil, kindOf(err)
	}
	return b, nil
}

func (s *bucketStore) Put(ctx context.Context, key string, data []byte, ifNotExist bool) error {
	if ifNotExist && s.serialize {
		mu := condLock(key)
		mu.Lock()
		defer mu.Unlock()
	}
	// Upload, not WriteAll: WriteAll adds a Content-MD5 and so writes
	// through the driver's Write, and gocloud v0.47.0's azureblob writer
	// dereferences a nil pipe in Close when such an upload fails (every
	// refused create-if-absent, every 403 or 503). Upload hands the whole
	// body to the driver in one call where the driver can take it
	// (azureblob, s3blob, gcsblob) and to Write otherwise (fileblob,
	// memblob). The lake's manifests carry each file's checksum, which
	// readers verify.
	opts := &blob.WriterOptions{IfNotExist: ifNotExist, ContentType: contentType(key)}
	if err := s.b.Upload(ctx, key, bytes.NewReader(data), opts); err != nil {
		return kindOf(err)
	}
	return nil
}

func (s *bucketStore) List(ctx context.Context, prefix, delimiter string) ([]string, error) {
	// fileblob fails a listing when a file vanishes under it (a temporary
	// file renamed into place, a pruned version deleted): list again. A
	// listing is never "not found", only empty.
	// Under many concurrent writers a listing can be disturbed several
	// times in a row, so back off a little between attempts.
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var keys []string
		keys, err = s.list(ctx, prefix, delimiter)
		if err == nil {
			return keys, nil
		}
		if !errors.Is(kindOf(err), domain.ErrNotFound) || ctx.Err() != nil {
			return nil, kindOf(err)
		}
		select {
		case <-time.After(time.Duration(min(attempt+1, 20)) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("listing keeps changing: %w", err)
}

func (s *bucketStore) list(ctx context.Context, prefix, delimiter string) ([]string, error) {
	var keys []string
	it := s.b.List(&blob.ListOptions{Prefix: prefix, Delimiter: delimiter})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys)
	return keys, nil
}

func (s *bucketStore) Delete(ctx context.Context, key string) error {
	if err := s.b.Delete(ctx, key); err != nil {
		return kindOf(err)
	}
	return nil
}

func (s *bucketStore) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.b.Exists(ctx, key)
	if err != nil {
		return false, kindOf(err)
	}
	return ok, nil
}

func (s *bucketStore) ModTime(ctx context.Context, key string) (time.Time, error) {
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		return time.Time{}, kindOf(err)
	}
	return a.ModTime, nil
}

func (s *bucketStore) Close() error { return s.b.Close() }

// kindOf maps a gocloud error to a domain kind, keeping the original in
// the chain.
//
// A refused conditional write is domain.ErrConflict whatever the backend
// calls it: S3 and GCS answer 412 (If-None-Match: *, a generation
// precondition), Azure answers If-None-Match: * on an existing blob with
// 409 BlobAlreadyExists (Azurite always does; Azure Storage documents 409
// BlobAlreadyExists and 412 ConditionNotMet). gocloud reports the codes
// it knows as FailedPrecondition (AlreadyExists is taken the same way in
// case a driver says so); the HTTP status, 409 or 412, catches those it
// does not, such as S3's 409 ConditionalRequestConflict between two
// racing conditional writes or Azure's 412 LeaseIdMissing on a leased
// blob.
func kindOf(err error) error {
	// A 401 or 403 is a permission error whatever the driver's code:
	// gcsblob reports Cloud Storage's 403 as NotFound, which would read a
	// missing role as "nothing there yet".
	if s := httpStatus(err); s == 401 || s == 403 {
		return fmt.Errorf("%w: %w", domain.ErrPermission, err)
	}
	var kind error
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		kind = domain.ErrNotFound
	case gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		kind = domain.ErrConflict
	case gcerrors.PermissionDenied:
		kind = domain.ErrPermission
	case gcerrors.ResourceExhausted:
		kind = domain.ErrThrottled
	case gcerrors.InvalidArgument:
		kind = domain.ErrInvalid
	case gcerrors.Unimplemented:
		kind = domain.ErrUnsupported
	default:
		// Drivers leave some answers Unknown (S3's 403
		// SignatureDoesNotMatch, 503 SlowDown; Azure's 403
		// AuthorizationPermissionMismatch, 503 ServerBusy, 412
		// LeaseIdMissing): the HTTP status still says what it is.
		switch httpStatus(err) {
		case 401, 403:
			kind = domain.ErrPermission
		case 409, 412:
			kind = domain.ErrConflict
		case 429, 503:
			kind = domain.ErrThrottled
		default:
			return err
		}
	}
	return fmt.Errorf("%w: %w", kind, err)
}

// httpStatus returns the HTTP status of the first SDK response error in
// err's chain, or 0. AWS's errors report it with an HTTPStatusCode
// method; the other SDKs' are read by the statusOf hooks their drivers'
// files register (drivers.go), so that builds leaving a driver out
// (tag awslambda) do not link its SDK.
func httpStatus(err error) int {
	var coder interface{ HTTPStatusCode() int }
	if errors.As(err, &coder) {
		return coder.HTTPStatusCode()
	}
	for _, of := range statusOf {
		if s := of(err); s != 0 {
			return s
		}
	}
	return 0
}

// statusOf are the registered readers of an SDK error's HTTP status.
var statusOf []func(error) int

func contentType(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".json":
		return "application/json"
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".md":
		return "text/markdown; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}
