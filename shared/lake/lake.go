// Package lake is cloudtrim's object-store contract: the only state the
// functions share. It lays out committed snapshots of Parquet tables
// (resources, utilization, FOCUS cost rows) under Hive-style partitions
// that Athena, BigQuery and DuckDB read directly, and JSON documents
// (plans, decisions, nonces, action states, audit events) beside them.
//
// Everything written is immutable. What must change over time (the
// "latest snapshot" pointer of each cloud, the state of each action) is an
// append-only sequence of immutable versions written with the one
// conditional write every backend offers portably, create-if-absent, so
// that exactly one writer wins each version (see docs/lake.md).
//
// Backends are chosen by URL through gocloud.dev/blob: file://, mem://,
// s3://, gs:// and azblob://. Errors carry the operation and the key and
// wrap a domain kind (domain.ErrNotFound, domain.ErrConflict,
// domain.ErrInvalid, domain.ErrUnsupported, ...) for errors.Is, with the
// backend's own error still in the chain.
package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	// The backends the lake opens by URL.
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Lake is a handle on one object-store lake. It is safe for concurrent
// use by multiple goroutines.
type Lake struct {
	st       store
	pruneAge time.Duration // see pruneAge; tests shorten it
}

// Open opens a lake by URL:
//
//	file:///abs/dir            a directory, created when missing (single process only)
//	mem://                     a fresh in-memory bucket
//	s3://bucket?region=eu-west-1&prefix=cloudtrim/
//	gs://bucket?prefix=cloudtrim/
//	azblob://container?prefix=cloudtrim/
//
// A prefix query parameter puts the lake under that path inside the
// bucket. For file:// URLs the lake adds create_dir, no_tmp_dir (temporary
// files beside their target, so renames never cross file systems) and
// metadata=skip (no sidecar files) unless the URL sets them. Open fails
// with domain.ErrInvalid for a malformed URL and otherwise with the
// backend's error.
func Open(ctx context.Context, rawURL string) (*Lake, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open lake %q: %w: %w", rawURL, domain.ErrInvalid, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("open lake %q: %w: no scheme (want file://, mem://, s3://, gs:// or azblob://)", rawURL, domain.ErrInvalid)
	}
	if u.Scheme == "file" {
		q := u.Query()
		for k, v := range map[string]string{"create_dir": "true", "no_tmp_dir": "true", "metadata": "skip"} {
			if _, ok := q[k]; !ok {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open lake %q: %w", redactURL(u), err)
	}
	return New(b), nil
}

// redactURL drops any user information from u for error messages.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// New wraps an already-open bucket, for tests and emulators. The Lake
// owns b from then on: Close closes it.
func New(b *blob.Bucket) *Lake {
	return &Lake{st: newBucketStore(b), pruneAge: pruneAge}
}

// Close releases the lake's bucket.
func (l *Lake) Close() error {
	if err := l.st.Close(); err != nil {
		return fmt.Errorf("close lake: %w", err)
	}
	return nil
}

// Put writes data at key. With ifNotExist it fails with
// domain.ErrConflict when key already exists and leaves that object
// untouched. A malformed key is domain.ErrInvalid.
func (l *Lake) Put(ctx context.Context, key string, data []byte, ifNotExist bool) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := l.st.Put(ctx, key, data, ifNotExist); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get returns the object at key; domain.ErrNotFound when there is none.
func (l *Lake) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	b, err := l.st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// Delete removes the object at key; domain.ErrNotFound when there is
// none (some backends cannot tell and report success).
func (l *Lake) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := l.st.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List returns every key under prefix, at any depth, in lexical order.
// An empty prefix lists the whole lake. Nothing under prefix is not an
// error: the result is empty.
func (l *Lake) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := l.st.List(ctx, prefix, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return keys, nil
}

// checkKey rejects keys that would escape or confuse a backend.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", domain.ErrInvalid)
	}
	if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: key %q starts or ends with a slash", domain.ErrInvalid, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if err := checkSegment("key segment", seg); err != nil {
			return err
		}
	}
	return nil
}

// checkSegment validates one path segment built from a caller's value
// (an account, a plan ID, an action ID, ...).
func checkSegment(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", domain.ErrInvalid, what)
	case s == "." || s == "..":
		return fmt.Errorf("%w: %s %q", domain.ErrInvalid, what, s)
	case len(s) > 512:
		return fmt.Errorf("%w: %s longer than 512 bytes", domain.ErrInvalid, what)
	}
	for _, c := range s {
		if c == '/' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %s %q holds a slash or a control character", domain.ErrInvalid, what, s)
		}
	}
	return nil
}

// checkPartitionValue validates a value that becomes a Hive partition
// value: escapePartition encodes slashes and dots, so only emptiness,
// length and control characters are refused. Billing exports name
// accounts with slashes ("/subscriptions/…" in Microsoft's FOCUS export).
func checkPartitionValue(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", domain.ErrInvalid, what)
	case len(s) > 512:
		return fmt.Errorf("%w: %s longer than 512 bytes", domain.ErrInvalid, what)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %s %q holds a control character", domain.ErrInvalid, what, s)
		}
	}
	return nil
}

// getJSON reads the JSON document at key into v. A document that is not
// valid JSON is domain.ErrInvalid naming the key.
func (l *Lake) getJSON(ctx context.Context, key string, v any) error {
	b, err := l.st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return decodeJSON(key, b, v)
}

func decodeJSON(key string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w: not valid JSON: %w", key, domain.ErrInvalid, err)
	}
	return nil
}

// putJSON writes v as indented JSON at key.
// indentBelow is the size under which JSON documents are indented.
const indentBelow = 256 << 10

func (l *Lake) putJSON(ctx context.Context, key string, v any, ifNotExist bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w: %w", key, domain.ErrInvalid, err)
	}
	// Small documents are indented for people reading the lake; large
	// ones (plans of a big estate, manifests of many files) stay compact.
	if len(b) < indentBelow {
		var ind bytes.Buffer
		if json.Indent(&ind, b, "", "  ") == nil {
			b = ind.Bytes()
		}
	}
	if err := l.st.Put(ctx, key, append(b, '\n'), ifNotExist); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// readParallel is how many objects getMany reads at once.
const readParallel = 8

// getMany reads keys concurrently and returns their bodies in order. The
// first error wins. A missing key is domain.ErrNotFound, or a nil body
// when missingOK.
func (l *Lake) getMany(ctx context.Context, keys []string, missingOK bool) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < min(readParallel, len(keys)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b, err := l.st.Get(ctx, keys[i])
				if missingOK && isNotFound(err) {
					continue
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("read %s: %w", keys[i], err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				out[i] = b
			}
		}()
	}
feed:
	for i := range keys {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// isNotFound reports whether err is domain.ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, domain.ErrNotFound) }
