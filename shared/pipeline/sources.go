package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gocloud.dev/blob"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
)

// Sources is what a list of ingest arguments expands to: the files to
// read, and the files a folder held that were left out, with why.
type Sources struct {
	Inputs  []focus.Input
	Skipped []string
	closers []func() error
}

// Close releases the buckets the sources read from.
func (s *Sources) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// billingExt reports whether a file name looks like a billing export a
// folder walk should read.
func billingExt(name string) bool {
	n := strings.ToLower(name)
	n = strings.TrimSuffix(n, ".gz")
	n = strings.TrimSuffix(n, ".gzip")
	for _, ext := range []string{".csv", ".parquet", ".json", ".jsonl", ".ndjson", ".tsv", ".txt"} {
		if strings.HasSuffix(n, ext) {
			return !isManifest(name)
		}
	}
	return strings.HasSuffix(strings.ToLower(name), ".gz")
}

// isManifest reports whether name is an AWS CUR or Data Exports manifest.
func isManifest(name string) bool {
	n := strings.ToLower(path.Base(name))
	return strings.HasSuffix(n, "-manifest.json") || n == "manifest.json"
}

// ExpandSources turns ingest arguments into the files to read. An
// argument is a local file or folder, or a URL: s3://, gs://, azblob://,
// file:// (a bucket prefix, or one object) or http(s):// (one file). A
// folder or prefix is walked; when it holds AWS CUR manifests, only the
// files the manifests name are read (CUR keeps superseded versions of a
// month beside the current one), and the others are listed as skipped.
// A manifest naming a file that is not there is domain.ErrNotFound
// naming both.
func ExpandSources(ctx context.Context, args []string) (*Sources, error) {
	out := &Sources{}
	for _, arg := range args {
		var err error
		switch u, perr := url.Parse(arg); {
		case perr == nil && (u.Scheme == "http" || u.Scheme == "https"):
			out.Inputs = append(out.Inputs, httpInput(arg))
		case perr == nil && (u.Scheme == "s3" || u.Scheme == "gs" || u.Scheme == "azblob" || u.Scheme == "mem"):
			err = expandBucket(ctx, u, out)
		case perr == nil && u.Scheme == "file":
			err = expandLocal(u.Path, out)
		default:
			err = expandLocal(arg, out)
		}
		if err != nil {
			out.Close()
			return nil, err
		}
	}
	if len(out.Inputs) == 0 {
		out.Close()
		return nil, fmt.Errorf("ingest %s: %w: no billing files found", strings.Join(args, " "), domain.ErrNotFound)
	}
	return out, nil
}

func httpInput(u string) focus.Input {
	return focus.Input{Name: u, Open: func(ctx context.Context) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: GET answered %s", domain.ErrNotFound, resp.Status)
		}
		return resp.Body, nil
	}}
}

func expandLocal(p string, out *Sources) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ingest %s: %w: no such file or folder", p, domain.ErrNotFound)
		}
		return fmt.Errorf("ingest %s: %w", p, err)
	}
	if !st.IsDir() {
		if isManifest(p) {
			return addLocalManifest(p, out, nil)
		}
		out.Inputs = append(out.Inputs, focus.FileInput(p))
		return nil
	}
	var data, manifests []string
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && q != p {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch {
		case isManifest(q):
			manifests = append(manifests, q)
		case billingExt(q):
			data = append(data, q)
		default:
			out.Skipped = append(out.Skipped, q+" (not a billing file name)")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ingest %s: %w", p, err)
	}
	sort.Strings(data)
	if len(manifests) == 0 {
		for _, q := range data {
			out.Inputs = append(out.Inputs, focus.FileInput(q))
		}
		return nil
	}
	named := map[string]bool{}
	var roots []string
	for _, m := range manifests {
		if err := addLocalManifest(m, out, named); err != nil {
			return err
		}
		abs, _ := filepath.Abs(filepath.Dir(m))
		roots = append(roots, abs+string(filepath.Separator))
	}
	for _, q := range data {
		abs, _ := filepath.Abs(q)
		switch {
		case named[abs]:
		case underAny(abs, roots):
			out.Skipped = append(out.Skipped, q+" (beside a CUR manifest that does not name it: a superseded version)")
		default:
			out.Inputs = append(out.Inputs, focus.FileInput(q))
		}
	}
	return nil
}

// addLocalManifest reads a CUR manifest and adds the files it names.
// Their keys are relative to the bucket the export was written to, so
// each is looked for under every folder above the manifest.
func addLocalManifest(mpath string, out *Sources, named map[string]bool) error {
	b, err := os.ReadFile(mpath)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", mpath, err)
	}
	m, err := focus.ParseCURManifest(b)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", mpath, err)
	}
	abs, _ := filepath.Abs(mpath)
	for _, key := range m.Files {
		found := ""
		for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
			cand := filepath.Join(dir, filepath.FromSlash(key))
			if _, err := os.Stat(cand); err == nil {
				found = cand
				break
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
		if found == "" {
			return fmt.Errorf("ingest %s: %w: the manifest names %s, which is not under any folder above it", mpath, domain.ErrNotFound, key)
		}
		if named != nil {
			named[found] = true
		}
		out.Inputs = append(out.Inputs, focus.FileInput(found))
	}
	return nil
}

// expandBucket lists a bucket prefix (or one object) through gocloud.
func expandBucket(ctx context.Context, u *url.URL, out *Sources) error {
	prefix := strings.TrimPrefix(u.Path, "/")
	bu := *u
	bu.Path = ""
	bucketURL := bu.String()
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", u.Redacted(), err)
	}
	out.closers = append(out.closers, b.Close)
	open := func(key string) focus.Input {
		name := bu.Scheme + "://" + bu.Host + "/" + key
		return focus.Input{Name: name, Open: func(ctx context.Context) (io.ReadCloser, error) {
			return b.NewReader(ctx, key, nil)
		}}
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		if ok, _ := b.Exists(ctx, prefix); ok {
			if isManifest(prefix) {
				return addBucketManifest(ctx, b, prefix, open, out, nil)
			}
			out.Inputs = append(out.Inputs, open(prefix))
			return nil
		}
		prefix += "/"
	}
	var data, manifests []string
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("ingest %s: list: %w", u.Redacted(), err)
		}
		switch {
		case obj.IsDir:
		case isManifest(obj.Key):
			manifests = append(manifests, obj.Key)
		case billingExt(obj.Key):
			data = append(data, obj.Key)
		default:
			out.Skipped = append(out.Skipped, obj.Key+" (not a billing file name)")
		}
	}
	sort.Strings(data)
	if len(manifests) == 0 {
		for _, k := range data {
			out.Inputs = append(out.Inputs, open(k))
		}
		return nil
	}
	named := map[string]bool{}
	var roots []string
	for _, m := range manifests {
		if err := addBucketManifest(ctx, b, m, open, out, named); err != nil {
			return err
		}
		roots = append(roots, path.Dir(m)+"/")
	}
	for _, k := range data {
		switch {
		case named[k]:
		case underAny(k, roots):
			out.Skipped = append(out.Skipped, k+" (beside a CUR manifest that does not name it: a superseded version)")
		default:
			out.Inputs = append(out.Inputs, open(k))
		}
	}
	return nil
}

func addBucketManifest(ctx context.Context, b *blob.Bucket, key string, open func(string) focus.Input, out *Sources, named map[string]bool) error {
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", key, err)
	}
	m, err := focus.ParseCURManifest(data)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", key, err)
	}
	for _, f := range m.Files {
		if ok, err := b.Exists(ctx, f); err != nil || !ok {
			return fmt.Errorf("ingest %s: %w: the manifest names %s, which is not in the bucket", key, domain.ErrNotFound, f)
		}
		if named != nil {
			named[f] = true
		}
		out.Inputs = append(out.Inputs, open(f))
	}
	return nil
}

// underAny reports whether p lies under one of the folders (each ending
// in a separator).
func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}
