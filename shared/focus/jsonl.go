package focus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// jsonRecords reads JSON lines (one object per line, as BigQuery exports
// write them). Nested objects become dotted columns ("service.description");
// arrays stay JSON text ("labels", "credits"). The header is the union
// of the columns of the first jsonHeadLines lines and the columns the
// formats know, so a column a format needs is found even when the first
// lines leave it out.
type jsonRecords struct {
	name  string
	sc    *bufio.Scanner
	cols  []string
	index map[string]int
	line  int64
	buf   [][]byte // lines read ahead to build the header
	rec   []string
}

const jsonHeadLines = 1000

func newJSONLines(name string, r io.Reader) (*jsonRecords, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	j := &jsonRecords{name: name, sc: sc, index: map[string]int{}}
	seen := map[string]bool{}
	for len(j.buf) < jsonHeadLines && sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		j.buf = append(j.buf, line)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		obj, err := decodeObject(line)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w: line %d: %v", name, domain.ErrInvalid, len(j.buf), err)
		}
		flatten("", obj, func(k, _ string) { seen[k] = true })
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	// A Google Cloud export: add the columns its mapper reads, which
	// BigQuery leaves out of a line when they are null.
	if seen["usage_start_time"] && (seen["service.description"] || seen["sku.description"] || seen["sku.id"]) {
		for _, k := range gcpJSONColumns {
			seen[k] = true
		}
	}
	for k := range seen {
		j.cols = append(j.cols, k)
	}
	sort.Strings(j.cols)
	for i, k := range j.cols {
		j.index[k] = i
	}
	j.rec = make([]string, len(j.cols))
	return j, nil
}

func (j *jsonRecords) header() []string  { return j.cols }
func (j *jsonRecords) container() string { return ContainerJSONLines }

func (j *jsonRecords) next() ([]string, int64, error) {
	for {
		var line []byte
		switch {
		case len(j.buf) > 0:
			line, j.buf = j.buf[0], j.buf[1:]
		case j.sc.Scan():
			line = j.sc.Bytes()
		default:
			if err := j.sc.Err(); err != nil {
				return nil, 0, fmt.Errorf("line %d: %w", j.line+1, err)
			}
			return nil, 0, io.EOF
		}
		j.line++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		obj, err := decodeObject(line)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: line %d: %v", domain.ErrInvalid, j.line, err)
		}
		for i := range j.rec {
			j.rec[i] = ""
		}
		var unknown string
		flatten("", obj, func(k, v string) {
			if i, ok := j.index[k]; ok {
				j.rec[i] = v
			} else if unknown == "" {
				unknown = k
			}
		})
		_ = unknown // columns no format reads and the first lines lacked are ignored
		return j.rec, j.line, nil
	}
}

func decodeObject(line []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	return obj, nil
}

// flatten calls fn with the dotted name and text of every scalar or
// array in obj.
func flatten(prefix string, obj map[string]any, fn func(k, v string)) {
	for k, v := range obj {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			flatten(name, t, fn)
		case []any:
			b, _ := json.Marshal(t)
			fn(name, string(b))
		case nil:
			fn(name, "")
		case string:
			fn(name, t)
		case json.Number:
			fn(name, t.String())
		case bool:
			fn(name, strconv.FormatBool(t))
		default:
			b, _ := json.Marshal(t)
			fn(name, string(b))
		}
	}
}
