package focus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Input is one billing file to read.
type Input struct {
	// Name is the path or URL the file is known by; every error and
	// problem names it.
	Name string
	// Open opens the file's bytes (compressed or not) for one sequential
	// read.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// FileInput returns the Input of a local file.
func FileInput(path string) Input {
	return Input{Name: path, Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
}

// Options tunes Read. The zero Options is the default.
type Options struct {
	// BatchSize is the number of rows handed to emit at once (default 4096).
	BatchSize int
	// MaxExamples is the number of problems kept per rule (default 5).
	MaxExamples int
	// SpoolDir is where a compressed or remote Parquet file is copied
	// so it can be read by row group (default os.TempDir()).
	SpoolDir string
}

func (o Options) batch() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return 4096
}

func (o Options) examples() int {
	if o.MaxExamples > 0 {
		return o.MaxExamples
	}
	return 5
}

// records is a source of records: a CSV, JSON lines or Parquet file.
type records interface {
	header() []string
	// next returns the next record and its line (or row) number, io.EOF
	// at the end, or an error naming where the file is broken. The
	// record is valid until the next call.
	next() ([]string, int64, error)
	container() string
}

// countingReader counts the bytes read from the underlying file.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Read reads one billing file, detects its format from its header and
// calls emit with batches of valid FOCUS rows (the slice is reused after
// emit returns). Rows that break a rule are counted in the summary and
// not emitted. An unreadable file (bad gzip, broken CSV quoting, unknown
// format, a Parquet file no format matches) returns an error naming the
// file and where it broke; rows already emitted must then be discarded by
// the caller. Errors from emit are returned as they are.
func Read(ctx context.Context, in Input, opts Options, emit func([]domain.CostRow) error) (*Summary, error) {
	rc, err := in.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	defer rc.Close()
	counter := &countingReader{r: rc}
	src, cleanup, err := openRecords(ctx, in.Name, counter, opts)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	h := NewHeader(src.header())
	m, err := Detect(h)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	format := m.Format()
	format.Container = src.container()
	sum := newSummary(in.Name, format, opts.examples())
	direct := directColumns(m)

	batch := make([]domain.CostRow, 0, opts.batch())
	f := &Fields{header: h, layouts: &timeLayouts{}}
	for {
		rec, line, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", in.Name, err)
		}
		if sum.Rows%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("read %s: %w", in.Name, err)
			}
		}
		if blank(rec) {
			continue
		}
		f.rec, f.problems = rec, f.problems[:0]
		batch = batch[:len(batch)+1]
		row := &batch[len(batch)-1]
		*row = domain.CostRow{}
		m.Map(f, row)
		check(f, row)
		sum.add(f, row, line, direct)
		if len(f.problems) > 0 {
			batch = batch[:len(batch)-1]
			continue
		}
		row.XSourceFormat = format.Family + "/" + format.Version
		if len(batch) == cap(batch) {
			if err := emit(batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := emit(batch); err != nil {
			return nil, err
		}
	}
	sum.Bytes = counter.n
	// Some versions show only in the rows (Azure actual or amortized).
	if v := m.Format().Version; v != format.Version {
		sum.Format.Version = v
	}
	return sum, nil
}

func blank(rec []string) bool {
	for _, s := range rec {
		if s != "" {
			return false
		}
	}
	return true
}

// openRecords sniffs the file: gzip is unwrapped, "PAR1" is Parquet, a
// leading '{' is JSON lines, anything else CSV.
func openRecords(ctx context.Context, name string, r io.Reader, opts Options) (records, func(), error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, _ := br.Peek(4)
	var src io.Reader = br
	gz := len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: gzip: %w", name, err)
		}
		zr.Multistream(true)
		gbr := bufio.NewReaderSize(&gzipErrors{r: zr, name: name}, 256<<10)
		src, br = gbr, gbr
		magic, _ = br.Peek(4)
	}
	if bytes.Equal(magic, []byte("PAR1")) {
		return openParquet(ctx, name, br, opts)
	}
	head, _ := br.Peek(64 << 10)
	head = bytes.TrimPrefix(head, []byte("\ufeff"))
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		s, err := newJSONLines(name, br)
		return s, func() {}, err
	}
	s, err := newCSV(name, src, head)
	return s, func() {}, err
}

// gzipErrors names the file in the error of a truncated or corrupt gzip
// stream.
type gzipErrors struct {
	r    io.Reader
	name string
	off  int64
}

func (g *gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.off += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("gzip stream broken after %d uncompressed bytes (truncated or corrupt file): %w", g.off, err)
	}
	return n, err
}

// csvRecords reads CSV with the delimiter its header line uses: ',',
// ';', tab, '|' or the Hive text separator \x01.
type csvRecords struct {
	name string
	r    *csv.Reader
	cols []string
	hive bool
}

func newCSV(name string, r io.Reader, head []byte) (*csvRecords, error) {
	line := head
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	delim := sniffDelimiter(line)
	cr := csv.NewReader(r)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if delim == '\x01' {
		cr.LazyQuotes = true // Hive text tables do not quote
	}
	cols, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w: the file is empty (no header line)", name, domain.ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: header: %w", name, csvError(err))
	}
	return &csvRecords{name: name, r: cr, cols: append([]string(nil), cols...), hive: delim == '\x01'}, nil
}

func sniffDelimiter(line []byte) rune {
	best, n := ',', bytes.Count(line, []byte(","))
	for _, d := range []rune{'\x01', ';', '\t', '|'} {
		if c := bytes.Count(line, []byte(string(d))); c > n {
			best, n = d, c
		}
	}
	return best
}

func (c *csvRecords) header() []string  { return c.cols }
func (c *csvRecords) container() string { return ContainerCSV }

func (c *csvRecords) next() ([]string, int64, error) {
	rec, err := c.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		return nil, 0, csvError(err)
	}
	// FieldPos panics after a failed Read: only ask once the record read.
	line, _ := c.r.FieldPos(0)
	if len(rec) > len(c.cols) {
		for _, extra := range rec[len(c.cols):] {
			if extra != "" {
				return nil, 0, fmt.Errorf("%w: line %d has %d fields; the header has %d columns", domain.ErrInvalid, line, len(rec), len(c.cols))
			}
		}
	}
	return rec, int64(line), nil
}

// csvError rewords encoding/csv's errors: line, column and what is wrong.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		what := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			what = "broken quoting (a quote inside an unquoted field, or an unclosed quoted field)"
		case errors.Is(pe.Err, csv.ErrBareQuote):
			what = "a bare quote inside an unquoted field"
		}
		return fmt.Errorf("%w: line %d, column %d (record starting on line %d): %s", domain.ErrInvalid, pe.Line, pe.Column, pe.StartLine, what)
	}
	return err
}
