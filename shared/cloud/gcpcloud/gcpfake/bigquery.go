package gcpfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/option"
)

// Partitioning is how a billing export table is partitioned, which
// decides the partition filters a query may use.
type Partitioning int

// The partitionings of billing export tables.
const (
	// PartitionNone is an unpartitioned table.
	PartitionNone Partitioning = iota
	// PartitionIngestionTime is daily partitioning by load time, the
	// _PARTITIONTIME pseudo-column: the day of a row's export_time.
	PartitionIngestionTime
	// PartitionExportTime is daily partitioning on the export_time
	// column.
	PartitionExportTime
)

// DefaultPageRows is how many rows a query result page holds unless the
// request asks for fewer.
const DefaultPageRows = 1000

// ExportRow is one row of a billing export table as BigQuery's
// TO_JSON_STRING writes it: nested records as objects, repeated fields
// as arrays, timestamps as RFC 3339 strings in UTC.
type ExportRow = map[string]any

// A BillingSource produces the rows of a table that may belong to
// project (it may hand on others; the fake filters). Its error is
// answered as an internal error.
type BillingSource func(ctx context.Context, project string, fn func(ExportRow) error) error

// StaticRows returns a BillingSource serving rows.
func StaticRows(rows ...ExportRow) BillingSource {
	return func(_ context.Context, _ string, fn func(ExportRow) error) error {
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// BigQuery is a BigQuery v2 REST server (httptest) serving what the Go
// client's Query(...).Read(ctx) calls on its fast path, and the table
// metadata: tables.get, jobs.query (always answered complete, with the
// first page of rows) and jobs.getQueryResults (maxResults and
// pageToken or startIndex). It evaluates one query shape only, the
// provider's:
//
//	SELECT TO_JSON_STRING(t) FROM `p.d.t` AS t
//	WHERE t.project.id = @project AND t.usage_start_time < @end AND t.usage_end_time > @start
//	[AND _PARTITIONTIME >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)
//	 | AND t.export_time >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)]
//
// with named parameters (project STRING, start and end TIMESTAMP), and
// answers one STRING column; any other query is refused with 400
// invalidQuery, and _PARTITIONTIME on a table not partitioned by
// ingestion time with 400 as BigQuery does. An unknown dataset or table
// is 404 notFound in Google's error shape; a denied project (of the job
// or of the table) 403 accessDenied. It serves no tabledata.list, jobs
// insert or Storage Read API: a client that would use them fails. Safe
// for concurrent use.
type BigQuery struct {
	srv *httptest.Server

	mu       sync.Mutex
	tables   map[string]*bqTable // "project.dataset.table"
	datasets map[string]bool     // "project.dataset"
	denied   map[string]bool
	pageRows int
	jobs     map[string]*bqJob
	requests []string
	queries  []string
}

type bqTable struct {
	part   Partitioning
	source BillingSource
}

// bqJob is a finished query: its result rows, one JSON string each.
type bqJob struct {
	project string
	rows    []string
}

// NewBigQuery starts a BigQuery fake with no table; Close stops it.
func NewBigQuery() *BigQuery {
	b := &BigQuery{tables: map[string]*bqTable{}, datasets: map[string]bool{}, denied: map[string]bool{},
		pageRows: DefaultPageRows, jobs: map[string]*bqJob{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	return b
}

// ClientOptions point a BigQuery client at the fake.
func (b *BigQuery) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(b.srv.URL + "/bigquery/v2/"), option.WithoutAuthentication(),
		option.WithHTTPClient(b.srv.Client())}
}

// Close stops the server.
func (b *BigQuery) Close() { b.srv.Close() }

// AddTable adds the table "project.dataset.table", partitioned as part,
// whose rows come from src.
func (b *BigQuery) AddTable(table string, part Partitioning, src BillingSource) error {
	parts := strings.Split(table, ".")
	if len(parts) < 3 {
		return fmt.Errorf("gcpfake: table %q is not project.dataset.table", table)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tables[table] = &bqTable{part: part, source: src}
	b.datasets[strings.Join(parts[:len(parts)-1], ".")] = true
	return nil
}

// Deny answers 403 to requests of jobs in project and to queries of its
// tables.
func (b *BigQuery) Deny(project string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.denied[project] = true
}

// SetPageRows caps the rows of a result page below what requests ask.
func (b *BigQuery) SetPageRows(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pageRows = max(1, n)
}

// Requests returns every request received, as "METHOD path?query".
func (b *BigQuery) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Queries returns the text of every query received, in order.
func (b *BigQuery) Queries() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.queries...)
}

// bqPath splits /bigquery/v2/projects/{p}/{rest...}.
var bqPath = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/(.+)$`)

func (b *BigQuery) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.requests = append(b.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	b.mu.Unlock()
	m := bqPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeGoogleError(w, http.StatusBadRequest, "invalid", "", "the fake does not serve "+r.Method+" "+r.URL.Path)
		return
	}
	project, rest := m[1], strings.Split(m[2], "/")
	if b.isDenied(project) {
		writeGoogleError(w, http.StatusForbidden, "accessDenied", "", "Access Denied: Project "+project+": User does not have permission to use project "+project)
		return
	}
	switch {
	case r.Method == http.MethodGet && len(rest) == 4 && rest[0] == "datasets" && rest[2] == "tables":
		b.getTable(w, project, rest[1], rest[3])
	case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "queries":
		b.query(w, r, project)
	case r.Method == http.MethodGet && len(rest) == 2 && rest[0] == "queries":
		b.results(w, r, project, rest[1])
	default:
		writeGoogleError(w, http.StatusBadRequest, "invalid", "", "the fake does not serve "+r.Method+" "+r.URL.Path)
	}
}

func (b *BigQuery) isDenied(project string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.denied[project]
}

// table finds a table, answering 404 (dataset or table) or 403 for a
// denied project.
func (b *BigQuery) table(w http.ResponseWriter, project, dataset, table string) (*bqTable, bool) {
	if b.isDenied(project) {
		writeGoogleError(w, http.StatusForbidden, "accessDenied", "", "Access Denied: Table "+project+":"+dataset+"."+table+": User does not have permission to query table "+project+":"+dataset+"."+table)
		return nil, false
	}
	b.mu.Lock()
	t := b.tables[project+"."+dataset+"."+table]
	ds := b.datasets[project+"."+dataset]
	b.mu.Unlock()
	switch {
	case !ds:
		writeGoogleError(w, http.StatusNotFound, "notFound", "", "Not found: Dataset "+project+":"+dataset+" was not found in location US")
		return nil, false
	case t == nil:
		writeGoogleError(w, http.StatusNotFound, "notFound", "", "Not found: Table "+project+":"+dataset+"."+table+" was not found in location US")
		return nil, false
	}
	return t, true
}

// stringSchema is the schema of every result: TO_JSON_STRING's column.
var stringSchema = &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "f0_", Type: "STRING", Mode: "NULLABLE"}}}

func (b *BigQuery) getTable(w http.ResponseWriter, project, dataset, table string) {
	t, ok := b.table(w, project, dataset, table)
	if !ok {
		return
	}
	out := &bq.Table{Kind: "bigquery#table", Id: project + ":" + dataset + "." + table, Type: "TABLE",
		TableReference: &bq.TableReference{ProjectId: project, DatasetId: dataset, TableId: table}, Location: "US"}
	switch t.part {
	case PartitionIngestionTime:
		out.TimePartitioning = &bq.TimePartitioning{Type: "DAY"}
	case PartitionExportTime:
		out.TimePartitioning = &bq.TimePartitioning{Type: "DAY", Field: "export_time"}
	}
	writeBigQueryJSON(w, out)
}

// exportQuery is the one query shape the fake evaluates, whitespace
// collapsed.
var exportQuery = regexp.MustCompile("^SELECT TO_JSON_STRING\\(t\\) FROM `([^`]+)` AS t WHERE t\\.project\\.id = @project " +
	"AND t\\.usage_start_time < @end AND t\\.usage_end_time > @start" +
	"(?: AND (_PARTITIONTIME|t\\.export_time) >= TIMESTAMP_SUB\\(@start, INTERVAL 1 DAY\\))?$")

// paramTime reads a TIMESTAMP parameter as the Go client writes it.
func paramTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (b *BigQuery) query(w http.ResponseWriter, r *http.Request, project string) {
	var req bq.QueryRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeGoogleError(w, http.StatusBadRequest, "invalid", "", "the request is not a QueryRequest: "+err.Error())
		return
	}
	b.mu.Lock()
	b.queries = append(b.queries, req.Query)
	b.mu.Unlock()
	if req.UseLegacySql == nil || *req.UseLegacySql {
		writeGoogleError(w, http.StatusBadRequest, "invalidQuery", "", "the fake evaluates GoogleSQL only (useLegacySql false)")
		return
	}
	m := exportQuery.FindStringSubmatch(strings.Join(strings.Fields(req.Query), " "))
	if m == nil {
		writeGoogleError(w, http.StatusBadRequest, "invalidQuery", "", "the fake does not evaluate the query: "+req.Query)
		return
	}
	params := map[string]string{}
	types := map[string]string{}
	for _, p := range req.QueryParameters {
		if p == nil || p.ParameterType == nil || p.ParameterValue == nil {
			continue
		}
		params[p.Name], types[p.Name] = p.ParameterValue.Value, p.ParameterType.Type
	}
	for name, typ := range map[string]string{"project": "STRING", "start": "TIMESTAMP", "end": "TIMESTAMP"} {
		if types[name] != typ {
			writeGoogleError(w, http.StatusBadRequest, "invalidQuery", "", fmt.Sprintf("Query parameter '%s' of type %s not found", name, typ))
			return
		}
	}
	start, ok1 := paramTime(params["start"])
	end, ok2 := paramTime(params["end"])
	if !ok1 || !ok2 {
		writeGoogleError(w, http.StatusBadRequest, "invalidQuery", "", "Invalid timestamp: start "+params["start"]+", end "+params["end"])
		return
	}
	parts := strings.Split(m[1], ".")
	if len(parts) < 3 {
		writeGoogleError(w, http.StatusBadRequest, "invalidQuery", "", "Table name \""+m[1]+"\" missing dataset while no default dataset is set in the request")
		return
	}
	tproject, dataset, tname := strings.Join(parts[:len(parts)-2], "."), parts[len(parts)-2], parts[len(parts)-1]
	t, ok := b.table(w, tproject, dataset, tname)
	if !ok {
		return
	}
	prune := m[2]
	if prune == "_PARTITIONTIME" && t.part != PartitionIngestionTime {
		writeGoogleError(w, http.StatusBadRequest, "invalidQuery", "", "Unrecognized name: _PARTITIONTIME")
		return
	}
	from := start.Add(-24 * time.Hour)
	job := &bqJob{project: project}
	err := t.source(r.Context(), params["project"], func(row ExportRow) error {
		if !rowMatches(row, params["project"], start, end, prune, from) {
			return nil
		}
		s, err := json.Marshal(row)
		if err != nil {
			return fmt.Errorf("row of %s: %w", m[1], err)
		}
		job.rows = append(job.rows, string(s))
		return nil
	})
	if err != nil {
		writeGoogleError(w, http.StatusInternalServerError, "internalError", "", err.Error())
		return
	}
	b.mu.Lock()
	id := "job_fake_" + strconv.Itoa(len(b.jobs)+1)
	b.jobs[id] = job
	pageRows := b.pageRows
	b.mu.Unlock()
	n := pageRows
	if req.MaxResults > 0 {
		n = min(n, int(req.MaxResults))
	}
	rows, next := resultPage(job.rows, 0, n)
	writeBigQueryJSON(w, &bq.QueryResponse{Kind: "bigquery#queryResponse", JobComplete: true, Schema: stringSchema,
		JobReference: &bq.JobReference{ProjectId: project, JobId: id, Location: "US"}, Location: "US",
		TotalRows: uint64(len(job.rows)), Rows: rows, PageToken: next})
}

// rowMatches evaluates the query's WHERE clause on a row: a field that
// is missing or not of its type is NULL, and NULL matches nothing.
func rowMatches(row ExportRow, project string, start, end time.Time, prune string, from time.Time) bool {
	p, _ := row["project"].(map[string]any)
	id, _ := p["id"].(string)
	us, ok1 := rowTime(row, "usage_start_time")
	ue, ok2 := rowTime(row, "usage_end_time")
	if id != project || !ok1 || !ok2 || !us.Before(end) || !ue.After(start) {
		return false
	}
	if prune == "" {
		return true
	}
	et, ok := rowTime(row, "export_time")
	if !ok {
		return false
	}
	if prune == "_PARTITIONTIME" {
		et = et.Truncate(24 * time.Hour)
	}
	return !et.Before(from)
}

func rowTime(row ExportRow, field string) (time.Time, bool) {
	s, _ := row[field].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err == nil
}

// resultPage returns the rows [from, from+n) and the token of the next page.
func resultPage(all []string, from, n int) ([]*bq.TableRow, string) {
	to := min(from+n, len(all))
	rows := make([]*bq.TableRow, 0, to-from)
	for _, s := range all[from:to] {
		rows = append(rows, &bq.TableRow{F: []*bq.TableCell{{V: s}}})
	}
	if to >= len(all) {
		return rows, ""
	}
	return rows, "rows-" + strconv.Itoa(to)
}

func (b *BigQuery) results(w http.ResponseWriter, r *http.Request, project, id string) {
	b.mu.Lock()
	job := b.jobs[id]
	pageRows := b.pageRows
	b.mu.Unlock()
	if job == nil || job.project != project {
		writeGoogleError(w, http.StatusNotFound, "notFound", "", "Not found: Job "+project+":US."+id)
		return
	}
	q := r.URL.Query()
	n := pageRows
	if v := q.Get("maxResults"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "maxResults "+v+" is not a number of rows")
			return
		}
		n = min(n, k)
	}
	from := 0
	switch tok, idx := q.Get("pageToken"), q.Get("startIndex"); {
	case tok != "":
		k, err := strconv.Atoi(strings.TrimPrefix(tok, "rows-"))
		if err != nil || !strings.HasPrefix(tok, "rows-") || k <= 0 || k > len(job.rows) {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "pageToken "+tok+" is not a token of job "+id)
			return
		}
		from = k
	case idx != "":
		k, err := strconv.Atoi(idx)
		if err != nil || k < 0 || k > len(job.rows) {
			writeGoogleError(w, http.StatusBadRequest, "invalid", "", "startIndex "+idx+" is out of range")
			return
		}
		from = k
	}
	rows, next := resultPage(job.rows, from, n)
	if n == 0 {
		rows, next = nil, ""
	}
	writeBigQueryJSON(w, &bq.GetQueryResultsResponse{Kind: "bigquery#getQueryResultsResponse", JobComplete: true, Schema: stringSchema,
		JobReference: &bq.JobReference{ProjectId: project, JobId: id, Location: "US"},
		TotalRows:    uint64(len(job.rows)), Rows: rows, PageToken: next})
}

func writeBigQueryJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeGoogleError(w, http.StatusInternalServerError, "internalError", "", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}
