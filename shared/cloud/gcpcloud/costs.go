package gcpcloud

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
)

var _ collect.Costs = (*Provider)(nil)

// SourceBillingExport is the x_SourceFormat of rows read from the Cloud
// Billing export to BigQuery.
const SourceBillingExport = "gcp-billing-export-bigquery"

// costRowsPerPage is the most rows CostRows hands to its callback at
// once.
const costRowsPerPage = 1000

// exportTable is a billing export table, "project.dataset.table".
type exportTable struct{ project, dataset, table string }

func (t exportTable) String() string { return t.project + "." + t.dataset + "." + t.table }

// The parts of a table name CostRows accepts: a project ID (a
// domain-scoped one, "example.com:my-project", included), a dataset and
// a table name of letters, digits and underscores (and dashes in the
// table), so that the name can be written into the query as it is.
var (
	exportProject = regexp.MustCompile(`^[a-z][a-z0-9.:-]*[a-z0-9]$`)
	exportDataset = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	exportName    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// parseExportTable reads Config.BillingExportTable.
func parseExportTable(s string) (exportTable, error) {
	parts := strings.Split(s, ".")
	if n := len(parts); n >= 3 {
		t := exportTable{strings.Join(parts[:n-2], "."), parts[n-2], parts[n-1]}
		if exportProject.MatchString(t.project) && exportDataset.MatchString(t.dataset) && exportName.MatchString(t.table) {
			return t, nil
		}
	}
	return exportTable{}, fmt.Errorf("%w: gcpcloud: billing export table %q is not project.dataset.table", domain.ErrInvalid, s)
}

// ExportQuery returns the query CostRows runs over table, with the
// partition filter on column (none when empty).
func ExportQuery(table, column string) string {
	q := "SELECT TO_JSON_STRING(t) FROM `" + table + "` AS t WHERE t.project.id = @project" +
		" AND t.usage_start_time < @end AND t.usage_end_time > @start"
	if column != "" {
		q += " AND " + column + " >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)"
	}
	return q
}

// CostRows implements collect.Costs over the Cloud Billing export to
// BigQuery (Config.BillingExportTable, the standard or the detailed
// table): the rows of project account whose usage overlaps window,
// each read as one JSON line (TO_JSON_STRING of the row) and mapped to
// FOCUS by the Google Cloud export reader of package focus, as an
// export file would be, with x_SourceFormat SourceBillingExport. Rows
// stream from the query's result pages through the reader to fn in
// pages of at most 1,000 rows, in the order BigQuery returns them: what
// is held at once is one result page and one page of rows.
//
// The query runs in Config.BillingQueryProject (default the table's
// project). When the table is partitioned by day or hour on ingestion
// time (_PARTITIONTIME, as exports are created) or on export_time, the
// query skips the partitions before the day before window.Start: a row
// is exported only once its usage has ended, so a row whose usage ends
// after window.Start has an export_time, and a partition, after it; late
// rows and corrections land in later partitions, which are read.
//
// No export table configured means no cost data: nil without calling
// fn. A malformed table name wraps domain.ErrInvalid, a table or dataset
// that does not exist domain.ErrNotFound and a denied one
// domain.ErrPermission, each naming the table. Every call (the table's
// metadata, the query, each further result page) runs under
// Config.CallTimeout. Rows the FOCUS rules reject are left out and
// logged; fn's error is returned as it is.
func (p *Provider) CostRows(ctx context.Context, account string, window collect.Window, fn func([]domain.CostRow) error) error {
	if p.cfg.BillingExportTable == "" {
		return nil
	}
	t, err := parseExportTable(p.cfg.BillingExportTable)
	if err != nil {
		return err
	}
	if account == "" {
		return fmt.Errorf("%w: gcpcloud: cost rows of an empty project ID", domain.ErrInvalid)
	}
	if !window.End.After(window.Start) {
		return nil
	}
	queryProject := p.cfg.BillingQueryProject
	if queryProject == "" {
		queryProject = t.project
	}
	c, err := p.bigQueryClient(ctx, queryProject)
	if err != nil {
		return err
	}
	column, err := p.partitionColumn(ctx, c, t)
	if err != nil {
		return err
	}
	q := c.Query(ExportQuery(t.String(), column))
	q.Parameters = []bigquery.QueryParameter{
		{Name: "project", Value: account},
		{Name: "start", Value: window.Start.UTC()},
		{Name: "end", Value: window.End.UTC()},
	}
	op := fmt.Sprintf("gcpcloud: query the billing export table %s for project %s", t, account)
	readCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r := &exportReader{p: p, ctx: readCtx, stop: stop, op: op}
	var first []bigquery.Value
	err = r.call(func() error {
		var err error
		if r.it, err = q.Read(readCtx); err != nil {
			return err
		}
		return r.it.Next(&first)
	})
	if errors.Is(err, iterator.Done) {
		return nil
	}
	if err != nil {
		return r.mapErr(err)
	}
	return p.mapExportRows(ctx, r, first, account, t, fn)
}

// mapExportRows streams the rows of r, first included, through the FOCUS
// reader to fn.
func (p *Provider) mapExportRows(ctx context.Context, r *exportReader, first []bigquery.Value, account string, t exportTable, fn func([]domain.CostRow) error) error {
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := r.writeLines(pw, first)
		pw.CloseWithError(err)
		written <- err
	}()
	name := fmt.Sprintf("bigquery:%s (project %s)", t, account)
	sum, err := focus.Read(ctx, focus.Input{Name: name, Open: func(context.Context) (io.ReadCloser, error) { return pr, nil }},
		focus.Options{BatchSize: costRowsPerPage}, func(batch []domain.CostRow) error {
			rows := slices.Clone(batch) // the reader reuses its batch
			for i := range rows {
				rows[i].XSourceFormat = SourceBillingExport
			}
			return fn(rows)
		})
	// Stop the writer if the reader stopped first: a page being fetched
	// is cancelled, a write fails.
	r.stop(errReaderDone)
	_ = pr.CloseWithError(io.ErrClosedPipe)
	if werr := <-written; werr != nil && !errors.Is(werr, io.ErrClosedPipe) && !errors.Is(werr, errReaderDone) {
		return werr // the cause of the reader's error
	}
	if err != nil {
		return err
	}
	if sum.Rejected > 0 {
		p.logger.WarnContext(ctx, "cost rows rejected by the FOCUS rules", "account_id", account, "table", t.String(),
			"rejected", sum.Rejected, "problems", fmt.Sprint(sum.Examples))
	}
	return nil
}

// exportReader reads the result of an export query, each call under the
// provider's call deadline: the row iterator keeps the context it was
// made with, so a call that runs too long cancels that context.
type exportReader struct {
	p    *Provider
	ctx  context.Context
	stop context.CancelCauseFunc
	op   string
	it   *bigquery.RowIterator
}

// The causes of a stopped read: the call deadline, and the FOCUS reader
// having stopped (at the end, on fn's error or on a row it cannot read).
var (
	errCallTimeout = fmt.Errorf("a call ran past the call timeout: %w", context.DeadlineExceeded)
	errReaderDone  = errors.New("the cost row reader stopped")
)

// call runs f, which makes one call, under the call deadline.
func (r *exportReader) call(f func() error) error {
	t := time.AfterFunc(r.p.cfg.CallTimeout, func() { r.stop(errCallTimeout) })
	defer t.Stop()
	return f()
}

// mapErr maps an error of the query or its pages, the deadline's
// included.
func (r *exportReader) mapErr(err error) error {
	if cause := context.Cause(r.ctx); errors.Is(cause, errCallTimeout) || errors.Is(cause, errReaderDone) {
		return fmt.Errorf("%s: %w", r.op, cause)
	}
	return mapErr(r.op, err)
}

// writeLines writes each row's JSON string as a line, first first.
func (r *exportReader) writeLines(w io.Writer, first []bigquery.Value) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	row := first
	for n := 1; ; n++ {
		var s string
		ok := len(row) == 1
		if ok {
			s, ok = row[0].(string)
		}
		if !ok {
			return fmt.Errorf("%s: %w: result row %d is %v, not one JSON string", r.op, domain.ErrInvalid, n, row)
		}
		if _, err := bw.WriteString(s); err != nil {
			return err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
		var err error
		if r.it.PageInfo().Remaining() > 0 {
			err = r.it.Next(&row)
		} else {
			// The next page is fetched: flush what the reader waits for.
			if err = bw.Flush(); err != nil {
				return err
			}
			err = r.call(func() error { return r.it.Next(&row) })
		}
		if errors.Is(err, iterator.Done) {
			return bw.Flush()
		}
		if err != nil {
			return r.mapErr(err)
		}
	}
}

// partitionColumn returns the partition column the query filters on:
// _PARTITIONTIME or t.export_time for a table partitioned by day or
// hour on ingestion time or on export_time, "" for any other table.
func (p *Provider) partitionColumn(ctx context.Context, c *bigquery.Client, t exportTable) (string, error) {
	callCtx, cancel := p.call(ctx)
	defer cancel()
	md, err := c.DatasetInProject(t.project, t.dataset).Table(t.table).Metadata(callCtx)
	if err != nil {
		return "", mapErr("gcpcloud: read the billing export table "+t.String(), err)
	}
	tp := md.TimePartitioning
	if tp == nil || (tp.Type != bigquery.DayPartitioningType && tp.Type != bigquery.HourPartitioningType) {
		return "", nil
	}
	switch tp.Field {
	case "":
		return "_PARTITIONTIME", nil
	case "export_time":
		return "t.export_time", nil
	}
	return "", nil
}

// bigQueryClient returns the BigQuery client, made on first use with
// jobs in project.
func (p *Provider) bigQueryClient(ctx context.Context, project string) (*bigquery.Client, error) {
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if p.bq == nil {
		c, err := bigquery.NewClient(ctx, project, p.options(p.cfg.BigQueryOptions)...)
		if err != nil {
			return nil, mapErr("gcpcloud: bigquery client", err)
		}
		p.bq = c
	}
	return p.bq, nil
}
