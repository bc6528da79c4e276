package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/etl-pipeline/emulators/internal/bttestx"
)

// Bigtable files.
const (
	tablesFile = "tables.jsonl"
	rowsDir    = "rows"
	// applyBatch rows go in one MutateRows call on import.
	applyBatch = 500
)

// tableRecord is a line of tables.jsonl: the table as GetTable (FULL view)
// returns it, column families with their GC rules.
type tableRecord = json.RawMessage

// rowRecord is a line of rows/<project>/<instance>/<table>.jsonl. Bytes are
// written as text when they are valid UTF-8 without control characters
// ("key", "column", "value"), else in base64 ("key_b64", ...).
type rowRecord struct {
	Key    *string      `json:"key,omitempty"`
	KeyB64 []byte       `json:"key_b64,omitempty"`
	Cells  []cellRecord `json:"cells"`
}

type cellRecord struct {
	Family          string  `json:"family"`
	Column          *string `json:"column,omitempty"`
	ColumnB64       []byte  `json:"column_b64,omitempty"`
	TimestampMicros int64   `json:"timestamp_micros"`
	Value           *string `json:"value,omitempty"`
	ValueB64        []byte  `json:"value_b64,omitempty"`
}

// text returns b as a string if it is valid UTF-8 without control
// characters other than tab and newlines, else nil and b (for base64).
func text(b []byte) (*string, []byte) {
	printable := utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
	})
	if printable {
		s := string(b)
		return &s, nil
	}
	if b == nil {
		b = []byte{}
	}
	return nil, b
}

// bytesOf is the inverse of text; an error if both or neither are set.
func bytesOf(what string, s *string, b []byte) ([]byte, error) {
	switch {
	case s != nil && b != nil:
		return nil, fmt.Errorf("%s and %s_b64 both set", what, what)
	case s != nil:
		return []byte(*s), nil
	case b != nil:
		return b, nil
	}
	return nil, fmt.Errorf("%s (or %s_b64) missing", what, what)
}

// rowsFile is the file of table "projects/P/instances/I/tables/T".
func rowsFile(table string) string {
	project, instance, id := splitTable(table)
	return rowsDir + "/" + project + "/" + instance + "/" + id + ".jsonl"
}

// splitTable splits "projects/P/instances/I/tables/T"; id is "" if the
// name is not of that form.
func splitTable(name string) (project, instance, id string) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "instances" || parts[4] != "tables" || parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", ""
	}
	return parts[1], parts[3], parts[5]
}

// ExportBigtable writes every table of bt to dir, read over conn (the
// server's in-process connection) through the Bigtable APIs: GetTable for
// column families and GC rules, ReadRows for every cell of every row.
// Tables are read one after another; writes meanwhile may or may not be
// included (no snapshot across tables, as with any Bigtable export).
func ExportBigtable(ctx context.Context, bt *bttestx.Server, conn *grpc.ClientConn, dir string) error {
	// bttest has no instance admin, so ListTables cannot enumerate
	// instances: the names come from its table map.
	names := bt.TableNames()
	w, err := newWriter(dir, "bigtable", rowsDir)
	if err != nil {
		return err
	}
	admin := btapb.NewBigtableTableAdminClient(conn)
	var tables []any
	for _, name := range names {
		if _, _, id := splitTable(name); id == "" {
			continue
		}
		t, err := admin.GetTable(ctx, &btapb.GetTableRequest{Name: name, View: btapb.Table_FULL})
		if status.Code(err) == codes.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("export table %s: %w", name, err)
		}
		line, err := pjson(t)
		if err != nil {
			return err
		}
		tables = append(tables, line)
		rows, err := readRows(ctx, btpb.NewBigtableClient(conn), name)
		if err != nil {
			return fmt.Errorf("export rows of %s: %w", name, err)
		}
		if err := w.lines(rowsFile(name), rows); err != nil {
			return err
		}
	}
	if err := w.lines(tablesFile, tables); err != nil {
		return err
	}
	return w.finish()
}

// readRows reads every cell of every row of table, in key order, merging
// ReadRows' chunks (a value split over chunks is joined; a reset drops the
// row's chunks so far).
func readRows(ctx context.Context, client btpb.BigtableClient, table string) ([]any, error) {
	stream, err := client.ReadRows(ctx, &btpb.ReadRowsRequest{TableName: table})
	if err != nil {
		return nil, err
	}
	var rows []any
	var row *rowRecord
	var family string
	var column []byte
	var cell *cellRecord
	var value []byte
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for _, ch := range resp.GetChunks() {
			if row == nil && len(ch.GetRowKey()) > 0 { // a row's first chunk (bttest repeats the key)
				row = &rowRecord{}
				row.Key, row.KeyB64 = text(ch.GetRowKey())
			}
			if row == nil {
				return nil, fmt.Errorf("chunk without a row key")
			}
			if ch.GetResetRow() {
				row, cell = nil, nil
				continue
			}
			if ch.GetFamilyName() != nil {
				family = ch.GetFamilyName().GetValue()
			}
			if ch.GetQualifier() != nil {
				column = ch.GetQualifier().GetValue()
			}
			if cell == nil {
				cell = &cellRecord{Family: family, TimestampMicros: ch.GetTimestampMicros()}
				cell.Column, cell.ColumnB64 = text(column)
				value = nil
			}
			value = append(value, ch.GetValue()...)
			if ch.GetValueSize() == 0 { // the cell's last chunk
				cell.Value, cell.ValueB64 = text(value)
				row.Cells = append(row.Cells, *cell)
				cell = nil
			}
			if ch.GetCommitRow() {
				rows = append(rows, *row)
				row = nil
			}
		}
	}
	return rows, nil
}

// BigtableState is a loaded, validated Bigtable export.
type BigtableState struct {
	Dir    string
	Tables []*btapb.Table
	Rows   map[string][]Row // by table name
}

// Row is a row to import.
type Row struct {
	Key   []byte
	Cells []Cell
}

// Cell is one cell version.
type Cell struct {
	Family          string
	Column          []byte
	TimestampMicros int64
	Value           []byte
}

// CellCount is the number of cells to import.
func (st *BigtableState) CellCount() int {
	n := 0
	for _, rows := range st.Rows {
		for _, r := range rows {
			n += len(r.Cells)
		}
	}
	return n
}

// LoadBigtable reads and validates the export in dir: manifest, checksums,
// every record, and that each cell's family is one of its table's.
// Nothing is applied.
func LoadBigtable(dir string) (*BigtableState, error) {
	r, err := open(dir, "bigtable")
	if err != nil {
		return nil, err
	}
	st := &BigtableState{Dir: dir, Rows: map[string][]Row{}}
	err = each(r, tablesFile, false, func(_ int, raw *tableRecord) error {
		t := &btapb.Table{}
		if err := protojson.Unmarshal(*raw, t); err != nil {
			return err
		}
		if _, _, id := splitTable(t.GetName()); id == "" {
			return fmt.Errorf("bad table name %q", t.GetName())
		}
		if _, dup := st.Rows[t.GetName()]; dup {
			return fmt.Errorf("table %s twice", t.GetName())
		}
		st.Rows[t.GetName()] = nil
		st.Tables = append(st.Tables, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range st.Tables {
		var rows []Row
		err := each(r, rowsFile(t.GetName()), false, func(_ int, rec *rowRecord) error {
			key, err := bytesOf("key", rec.Key, rec.KeyB64)
			if err != nil {
				return err
			}
			if len(key) == 0 {
				return fmt.Errorf("empty row key")
			}
			row := Row{Key: key}
			for _, c := range rec.Cells {
				if _, ok := t.GetColumnFamilies()[c.Family]; !ok {
					return fmt.Errorf("row %q: family %q is not one of table %s", key, c.Family, t.GetName())
				}
				column, err := bytesOf("column", c.Column, c.ColumnB64)
				if err != nil {
					return fmt.Errorf("row %q: %w", key, err)
				}
				value, err := bytesOf("value", c.Value, c.ValueB64)
				if err != nil {
					return fmt.Errorf("row %q: %w", key, err)
				}
				if c.TimestampMicros < 0 {
					return fmt.Errorf("row %q: negative timestamp %d", key, c.TimestampMicros)
				}
				row.Cells = append(row.Cells, Cell{c.Family, column, c.TimestampMicros, value})
			}
			if len(row.Cells) == 0 {
				return fmt.Errorf("row %q has no cells", key)
			}
			rows = append(rows, row)
			return nil
		})
		if err != nil {
			return nil, err
		}
		st.Rows[t.GetName()] = rows
	}
	return st, nil
}

// Apply creates the tables over conn (with their column families and GC
// rules; a table that exists already is an error, so that nothing is
// merged into it) and writes every cell with its timestamp.
func (st *BigtableState) Apply(ctx context.Context, conn *grpc.ClientConn) error {
	admin := btapb.NewBigtableTableAdminClient(conn)
	for _, t := range st.Tables {
		project, instance, id := splitTable(t.GetName())
		_, err := admin.CreateTable(ctx, &btapb.CreateTableRequest{
			Parent:  "projects/" + project + "/instances/" + instance,
			TableId: id,
			Table:   &btapb.Table{ColumnFamilies: t.GetColumnFamilies(), Granularity: t.GetGranularity()},
		})
		if err != nil {
			return fmt.Errorf("import %s: table %s: %w", st.Dir, t.GetName(), err)
		}
	}
	data := btpb.NewBigtableClient(conn)
	for _, t := range st.Tables {
		rows := st.Rows[t.GetName()]
		for start := 0; start < len(rows); start += applyBatch {
			req := &btpb.MutateRowsRequest{TableName: t.GetName()}
			for _, r := range rows[start:min(start+applyBatch, len(rows))] {
				e := &btpb.MutateRowsRequest_Entry{RowKey: r.Key}
				for _, c := range r.Cells {
					e.Mutations = append(e.Mutations, &btpb.Mutation{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{
						FamilyName: c.Family, ColumnQualifier: c.Column, TimestampMicros: c.TimestampMicros, Value: c.Value,
					}}})
				}
				req.Entries = append(req.Entries, e)
			}
			stream, err := data.MutateRows(ctx, req)
			if err != nil {
				return fmt.Errorf("import %s: rows of %s: %w", st.Dir, t.GetName(), err)
			}
			for {
				resp, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return fmt.Errorf("import %s: rows of %s: %w", st.Dir, t.GetName(), err)
				}
				for _, e := range resp.GetEntries() {
					if e.GetStatus().GetCode() != 0 {
						return fmt.Errorf("import %s: row %q of %s: %s", st.Dir, req.Entries[e.GetIndex()].GetRowKey(), t.GetName(), e.GetStatus().GetMessage())
					}
				}
			}
		}
	}
	return nil
}
