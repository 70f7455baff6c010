package focus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// parquetRecords reads a Parquet file row group by row group. Every
// top-level field is one column: a leaf's value as text (timestamps in
// RFC 3339, decimals exactly), a map or list as JSON text.
type parquetRecords struct {
	name    string
	f       *parquet.File
	cols    []string
	leafTop []int // top-level column of each leaf
	leaves  []leafInfo
	nested  []bool // top-level column holds a map or list
	rg      int
	rows    parquet.Rows
	buf     []parquet.Row
	pos, n  int
	row     int64
	rec     []string
	parts   [][]parquet.Value // values per top-level column of the current row
}

type leafInfo struct {
	path []string
	// container is the length of the path prefix naming the leaf's
	// column; elemDef is the definition level at which an element of
	// that column's repeated node exists (0 when not repeated).
	container, elemDef int
	kind               parquet.Kind
	decimal            bool
	scale              int
	unit               time.Duration // timestamps: the unit of the stored integer
	date               bool
}

func leafOf(path []string, t parquet.Type) leafInfo {
	li := leafInfo{path: path, kind: t.Kind()}
	if lt := t.LogicalType(); lt != nil {
		switch v := lt.Value.(type) {
		case *format.DecimalType:
			li.decimal, li.scale = true, int(v.Scale)
		case *format.TimestampType:
			switch v.Unit.Value.(type) {
			case *format.MilliSeconds:
				li.unit = time.Millisecond
			case *format.NanoSeconds:
				li.unit = time.Nanosecond
			default:
				li.unit = time.Microsecond
			}
		case *format.DateType:
			li.date = true
		}
	}
	if ct := t.ConvertedType(); ct != nil && li.unit == 0 && !li.decimal && !li.date {
		switch *ct {
		case deprecated.TimestampMillis:
			li.unit = time.Millisecond
		case deprecated.TimestampMicros:
			li.unit = time.Microsecond
		case deprecated.Date:
			li.date = true
		}
	}
	return li
}

// openParquet copies the stream to a temporary file (Parquet is read
// from its footer) and opens it.
func openParquet(ctx context.Context, name string, r io.Reader, opts Options) (records, func(), error) {
	tmp, err := os.CreateTemp(opts.SpoolDir, "cloudtrim-parquet-*")
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: spool parquet: %w", name, err)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	size, err := io.Copy(tmp, r)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	f, err := parquet.OpenFile(tmp, size)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("read %s: %w: not a readable Parquet file: %v", name, domain.ErrInvalid, err)
	}
	p := &parquetRecords{name: name, f: f}
	top := map[string]int{}
	for _, path := range f.Schema().Columns() {
		leaf, _ := f.Schema().Lookup(path...)
		li := leafOf(path, leaf.Node.Type())
		col, elemDef, nested := containerOf(f.Schema(), path)
		li.container, li.elemDef = len(col), elemDef
		p.leaves = append(p.leaves, li)
		name := strings.Join(col, ".")
		i, ok := top[name]
		if !ok {
			i = len(p.cols)
			top[name] = i
			p.cols = append(p.cols, name)
			p.nested = append(p.nested, false)
		}
		if nested {
			p.nested[i] = true
		}
		p.leafTop = append(p.leafTop, i)
	}
	p.rec = make([]string, len(p.cols))
	p.parts = make([][]parquet.Value, len(p.cols))
	p.buf = make([]parquet.Row, 256)
	return p, cleanup, nil
}

// containerOf names the column a leaf belongs to. Nested structs are
// flattened to dotted names, as BigQuery's export and the JSON reader
// name them ("service.description"); a repeated node (a LIST or MAP, or
// a repeated field) ends the name and its values become one JSON column
// ("labels", "project.labels", "credits"). It returns the column's path,
// the definition level at which an element of the repeated node exists,
// and whether the column is repeated.
func containerOf(schema *parquet.Schema, path []string) ([]string, int, bool) {
	var node parquet.Node = schema
	def := 0
	for i, name := range path {
		var next parquet.Node
		for _, f := range node.Fields() {
			if f.Name() == name {
				next = f
				break
			}
		}
		if next == nil {
			return path, 0, false
		}
		if next.Optional() || next.Repeated() {
			def++
		}
		if next.Repeated() {
			switch {
			case i == 0:
				return path[:1], def, true
			case isListNode(name):
				// LIST and MAP groups hold a repeated "list"/"key_value"
				// child: the column is the group itself.
				return path[:i], def, true
			default:
				return path[:i+1], def, true
			}
		}
		node = next
	}
	return path, 0, false
}

func isListNode(name string) bool {
	switch name {
	case "list", "key_value", "bag", "array", "map":
		return true
	}
	return false
}

func (p *parquetRecords) header() []string  { return p.cols }
func (p *parquetRecords) container() string { return ContainerParquet }

func (p *parquetRecords) next() ([]string, int64, error) {
	for p.pos >= p.n {
		if p.rows == nil {
			groups := p.f.RowGroups()
			if p.rg >= len(groups) {
				return nil, 0, io.EOF
			}
			p.rows = groups[p.rg].Rows()
		}
		n, err := p.rows.ReadRows(p.buf)
		p.pos, p.n = 0, n
		if errors.Is(err, io.EOF) {
			p.rows.Close()
			p.rows = nil
			p.rg++
			if n == 0 {
				continue
			}
		} else if err != nil {
			return nil, 0, fmt.Errorf("%w: row group %d: %v", domain.ErrInvalid, p.rg, err)
		}
	}
	row := p.buf[p.pos]
	p.pos++
	p.row++
	for i := range p.parts {
		p.parts[i] = p.parts[i][:0]
	}
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(p.leafTop) {
			continue
		}
		t := p.leafTop[c]
		p.parts[t] = append(p.parts[t], v)
	}
	for i := range p.rec {
		if p.nested[i] {
			p.rec[i] = p.nestedText(p.parts[i])
			continue
		}
		p.rec[i] = ""
		if len(p.parts[i]) == 1 {
			p.rec[i] = p.text(p.parts[i][0])
		}
	}
	return p.rec, p.row, nil
}

// text renders one leaf value.
func (p *parquetRecords) text(v parquet.Value) string {
	if v.IsNull() {
		return ""
	}
	li := p.leaves[v.Column()]
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32, parquet.Int64:
		n := v.Int64()
		if v.Kind() == parquet.Int32 {
			n = int64(v.Int32())
		}
		switch {
		case li.decimal:
			return decimalText(big.NewInt(n), li.scale)
		case li.unit != 0:
			return time.Unix(0, 0).Add(time.Duration(n) * li.unit).UTC().Format(time.RFC3339Nano)
		case li.date:
			return time.Unix(n*86400, 0).UTC().Format(time.DateOnly)
		}
		return strconv.FormatInt(n, 10)
	case parquet.Int96:
		// Impala/Hive timestamps: nanoseconds of the day, then the Julian day.
		i := v.Int96()
		nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
		days := int64(i[2]) - 2440588
		return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano)
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := v.ByteArray()
		if li.decimal {
			return decimalText(signed(b), li.scale)
		}
		return string(b)
	}
	return v.String()
}

// signed reads a big-endian two's complement integer.
func signed(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return n
}

func decimalText(n *big.Int, scale int) string {
	s := n.String()
	if scale <= 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) <= scale {
		s = "0" + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// nestedText renders a repeated column as JSON: a MAP (or a list of
// {key, value} structs written as a map) as an object; a list of structs
// as a list of objects, one per element; a list of scalars as a list.
func (p *parquetRecords) nestedText(vals []parquet.Value) string {
	type field struct {
		name string
		vals []parquet.Value
	}
	var fields []field
	index := map[string]int{}
	for _, v := range vals {
		li := p.leaves[v.Column()]
		if v.DefinitionLevel() < li.elemDef {
			continue // the list is empty or null
		}
		name := elementField(li.path[li.container:])
		i, ok := index[name]
		if !ok {
			i = len(fields)
			index[name] = i
			fields = append(fields, field{name: name})
		}
		fields[i].vals = append(fields[i].vals, v)
	}
	if len(fields) == 0 {
		return ""
	}
	text := func(v parquet.Value) any {
		if v.IsNull() {
			return nil
		}
		li := p.leaves[v.Column()]
		if li.kind == parquet.ByteArray && !li.decimal {
			return p.text(v)
		}
		return json.RawMessage(p.text(v))
	}
	n := len(fields[0].vals)
	for _, f := range fields[1:] {
		n = min(n, len(f.vals))
	}
	var out any
	switch {
	case len(fields) == 1 && fields[0].name == "":
		list := make([]any, n)
		for j := range n {
			list[j] = text(fields[0].vals[j])
		}
		out = list
	default:
		list := make([]map[string]any, n)
		for j := range n {
			obj := make(map[string]any, len(fields))
			for _, f := range fields {
				obj[f.name] = text(f.vals[j])
			}
			list[j] = obj
		}
		out = list
		if _, isMap := index["key"]; isMap && len(fields) == 2 {
			if _, ok := index["value"]; ok && p.isMapColumn(fields[0].vals[0]) {
				obj := make(map[string]any, n)
				for _, e := range list {
					if k, ok := e["key"].(string); ok {
						obj[k] = e["value"]
					}
				}
				out = obj
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return ""
	}
	return string(b)
}

// isMapColumn reports whether v's leaf lies in a Parquet MAP (a
// repeated "key_value" group) rather than a list of structs.
func (p *parquetRecords) isMapColumn(v parquet.Value) bool {
	li := p.leaves[v.Column()]
	return li.container < len(li.path) && li.path[li.container] == "key_value"
}

// elementField names a leaf inside an element: the path below the
// repeated node and its list wrappers ("key", "amount", "" for a list of
// scalars).
func elementField(rest []string) string {
	for len(rest) > 0 && (isListNode(rest[0]) || rest[0] == "element" || rest[0] == "item") {
		rest = rest[1:]
	}
	return strings.Join(rest, ".")
}
