package lake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// schemaMetadataKey is the Parquet key-value metadata entry naming a
// file's table schema version.
const schemaMetadataKey = "cloudtrim.schema"

// codec compresses every column. zstd at its fastest level compresses
// about as fast as snappy here and makes smaller files.
var codec = &zstd.Codec{Level: zstd.SpeedFastest}

// encoder turns rows into one Parquet file. Its writers and buffer are
// reused from part to part; an encoder is used by one goroutine at a time.
type encoder struct {
	buf       bytes.Buffer
	resources *parquet.GenericWriter[resourceRow]
	series    *parquet.GenericWriter[seriesRow]
	costs     *parquet.GenericWriter[costRow]
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

func newWriter[T any](w io.Writer) *parquet.GenericWriter[T] {
	return parquet.NewGenericWriter[T](w, parquet.Compression(codec))
}

// writeRows encodes rows with w (created on first use) into e.buf.
func writeRows[T any](e *encoder, w **parquet.GenericWriter[T], rows []T, schema string) error {
	return writeChunks(e, w, [][]T{rows}, schema)
}

// writeChunks is writeRows for rows kept in chunks.
func writeChunks[T any](e *encoder, w **parquet.GenericWriter[T], chunks [][]T, schema string) error {
	e.buf.Reset()
	if *w == nil {
		*w = newWriter[T](&e.buf)
	} else {
		(*w).Reset(&e.buf)
	}
	(*w).SetKeyValueMetadata(schemaMetadataKey, schema)
	for _, rows := range chunks {
		if _, err := (*w).Write(rows); err != nil {
			return err
		}
	}
	return (*w).Close()
}

// encode writes the job's rows as Parquet and returns the file's bytes,
// valid until the encoder is used again.
func (e *encoder) encode(j *partJob) ([]byte, error) {
	var err error
	switch {
	case j.resources != nil:
		err = writeRows(e, &e.resources, j.resources, ResourcesSchema)
	case j.series != nil:
		err = writeRows(e, &e.series, j.series, UtilizationSchema)
	case j.costs != nil:
		err = writeChunks(e, &e.costs, j.costs, CostsSchema)
	default:
		return nil, fmt.Errorf("encode %s: no rows", j.entry.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", j.entry.Path, err)
	}
	return e.buf.Bytes(), nil
}

// readBatch is how many rows readTable decodes at a time.
const readBatch = 256

// fetched is one file read ahead of decoding.
type fetched struct {
	entry FileEntry
	data  []byte
	err   error
}

// readTable streams the rows of one table of s to fn, reading the next
// file while the current one is decoded. Each file is checked against its
// manifest entry (size, SHA-256, row count). An error fn returns is
// returned as it is.
func readTable[T any](ctx context.Context, s *Snapshot, table string, fn func(*T) error) error {
	var files []FileEntry
	for _, f := range s.m.Files {
		if f.Table != table {
			continue
		}
		if s.months != nil && (len(f.Date) < 7 || !s.months[f.Date[:7]]) {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan fetched, 1)
	go func() {
		defer close(ch)
		for _, f := range files {
			data, err := s.l.st.Get(ctx, f.Path)
			select {
			case ch <- fetched{entry: f, data: data, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	rows := make([]T, readBatch)
	for f := range ch {
		if f.err != nil {
			return fmt.Errorf("snapshot %s: file %s: %w", s.name(), f.entry.Path, f.err)
		}
		if err := verify(f.entry, f.data); err != nil {
			return fmt.Errorf("snapshot %s: file %s: %w", s.name(), f.entry.Path, err)
		}
		n, err := decodeRows(f.data, rows, fn)
		if err != nil {
			var cb callbackError
			if errors.As(err, &cb) {
				return cb.err
			}
			return fmt.Errorf("snapshot %s: file %s: %w", s.name(), f.entry.Path, err)
		}
		if n != f.entry.Rows {
			return fmt.Errorf("snapshot %s: file %s: %w: %d rows, manifest says %d", s.name(), f.entry.Path, errCorrupt, n, f.entry.Rows)
		}
	}
	return ctx.Err()
}

// errCorrupt is the cause of every integrity failure of a table file.
var errCorrupt = fmt.Errorf("%w: corrupt table file", domain.ErrInvalid)

// verify checks data against its manifest entry.
func verify(e FileEntry, data []byte) error {
	sum := sha256.Sum256(data)
	if int64(len(data)) != e.Bytes || hex.EncodeToString(sum[:]) != e.SHA256 {
		return fmt.Errorf("%w: checksum mismatch (truncated or corrupted): %d bytes, sha256 %s; manifest says %d bytes, sha256 %s",
			errCorrupt, len(data), hex.EncodeToString(sum[:8]), e.Bytes, shortHex(e.SHA256))
	}
	return nil
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// callbackError carries an error from the caller's function through
// decodeRows untouched.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// decodeRows decodes a verified Parquet file, calling fn per row, and
// returns the number of rows read.
func decodeRows[T any](data []byte, rows []T, fn func(*T) error) (int64, error) {
	r := parquet.NewGenericReader[T](bytes.NewReader(data))
	defer r.Close()
	var total int64
	for {
		// Fresh rows each batch: fn may keep slices and maps it was given.
		clear(rows)
		n, err := r.Read(rows)
		for i := 0; i < n; i++ {
			if err := fn(&rows[i]); err != nil {
				return total, callbackError{err}
			}
			total++
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("decode parquet: %w", err)
		}
	}
}
