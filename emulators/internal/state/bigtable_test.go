package state

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/etl-pipeline/emulators/internal/bigtableserver"
)

func newBigtable(t *testing.T) *bigtableserver.Server {
	srv, err := bigtableserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const tableA = "projects/p/instances/i/tables/events"

func populateBigtable(t *testing.T, srv *bigtableserver.Server) {
	ctx := context.Background()
	admin := btapb.NewBigtableTableAdminClient(srv.Conn())
	union := &btapb.GcRule{Rule: &btapb.GcRule_Union_{Union: &btapb.GcRule_Union{Rules: []*btapb.GcRule{
		{Rule: &btapb.GcRule_MaxNumVersions{MaxNumVersions: 3}},
		{Rule: &btapb.GcRule_MaxAge{MaxAge: durationpb.New(365 * 24 * time.Hour)}},
	}}}}
	_, err := admin.CreateTable(ctx, &btapb.CreateTableRequest{Parent: "projects/p/instances/i", TableId: "events", Table: &btapb.Table{
		ColumnFamilies: map[string]*btapb.ColumnFamily{"cf": {GcRule: union}, "counts": {GcRule: &btapb.GcRule{Rule: &btapb.GcRule_MaxNumVersions{MaxNumVersions: 1}}}},
	}})
	must(t, err)
	_, err = admin.CreateTable(ctx, &btapb.CreateTableRequest{Parent: "projects/other/instances/j", TableId: "empty", Table: &btapb.Table{
		ColumnFamilies: map[string]*btapb.ColumnFamily{"f": {}},
	}})
	must(t, err)
	data := btpb.NewBigtableClient(srv.Conn())
	set := func(key string, family, column string, ts int64, value []byte) {
		_, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: tableA, RowKey: []byte(key), Mutations: []*btpb.Mutation{
			{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: family, ColumnQualifier: []byte(column), TimestampMicros: ts, Value: value}}},
		}})
		must(t, err)
	}
	set("svc#1", "cf", "json", 1_000_000, []byte(`{"a":1}`))
	set("svc#1", "cf", "json", 2_000_000, []byte(`{"a":2}`)) // a second version
	set("svc#1", "cf", "", 3_000, []byte("empty qualifier"))
	set("svc#1", "counts", "n", 5_000, []byte{0, 0, 0, 0, 0, 0, 0, 42}) // a binary counter
	set("svc#2\x00\xff", "cf", "\xfe", 7_000, []byte(""))               // binary key and qualifier, empty value
	// Server timestamps too.
	set("svc#3", "cf", "now", -1, []byte("server time"))
	_, err = data.ReadModifyWriteRow(ctx, &btpb.ReadModifyWriteRowRequest{TableName: tableA, RowKey: []byte("svc#3"), Rules: []*btpb.ReadModifyWriteRule{
		{FamilyName: "counts", ColumnQualifier: []byte("n"), Rule: &btpb.ReadModifyWriteRule_IncrementAmount{IncrementAmount: 5}},
	}})
	must(t, err)
}

func TestBigtableRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := newBigtable(t)
	populateBigtable(t, a)
	dir1 := t.TempDir()
	must(t, ExportBigtable(ctx, a.Internals(), a.Conn(), dir1))

	st, err := LoadBigtable(dir1)
	must(t, err)
	if len(st.Tables) != 2 || len(st.Rows[tableA]) != 3 || st.CellCount() != 7 {
		t.Fatalf("loaded %d tables, %d rows of events, %d cells; want 2, 3, 7", len(st.Tables), len(st.Rows[tableA]), st.CellCount())
	}
	b := newBigtable(t)
	must(t, st.Apply(ctx, b.Conn()))
	dir2 := t.TempDir()
	must(t, ExportBigtable(ctx, b.Internals(), b.Conn(), dir2))
	one, two := readDir(t, dir1), readDir(t, dir2)
	if len(one) != 3 {
		t.Errorf("files %v", one)
	}
	for name, content := range one {
		if two[name] != content {
			t.Errorf("%s differs after import:\n%s\n---\n%s", name, content, two[name])
		}
	}
	// Readable as written: text as text, binary in base64.
	rows := one["rows/p/i/events.jsonl"]
	for _, want := range []string{`"key":"svc#1"`, `"column":"json","timestamp_micros":2000000,"value":"{\"a\":2}"`, `"value_b64":"AAAAAAAAACo="`, `"key_b64":"c3ZjIzIA/w=="`, `"column":"","timestamp_micros":3000`} {
		if !strings.Contains(rows, want) {
			t.Errorf("rows file lacks %s:\n%s", want, rows)
		}
	}
	// Importing over existing tables is refused.
	if err := st.Apply(ctx, b.Conn()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second import: %v", err)
	}
}

func TestBigtableImportRefusesBadDirectories(t *testing.T) {
	a := newBigtable(t)
	populateBigtable(t, a)
	good := t.TempDir()
	must(t, ExportBigtable(context.Background(), a.Internals(), a.Conn(), good))
	cases := []struct {
		name, file, old, new, want string
		resign                     bool
	}{
		{"pubsub export", ManifestFile, `"bigtable"`, `"pubsub"`, "an export of the pubsub emulator, not of bigtable", false},
		{"version", ManifestFile, `"version": 1`, `"version": 0`, "format version 0", false},
		{"changed cell", "rows/p/i/events.jsonl", `{\"a\":2}`, `{\"a\":3}`, "rows/p/i/events.jsonl is corrupt", false},
		{"unknown family", "rows/p/i/events.jsonl", `"family":"counts"`, `"family":"nope"`, `family "nope" is not one of table`, true},
		{"key twice", "rows/p/i/events.jsonl", `"key":"svc#3"`, `"key":"svc#3","key_b64":"AA=="`, "key and key_b64 both set", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.CopyFS(dir, os.DirFS(good)))
			path := filepath.Join(dir, filepath.FromSlash(c.file))
			data, err := os.ReadFile(path)
			must(t, err)
			changed := strings.Replace(string(data), c.old, c.new, 1)
			if changed == string(data) {
				t.Fatalf("%q not in %s", c.old, c.file)
			}
			must(t, os.WriteFile(path, []byte(changed), 0o644))
			if c.resign {
				m, _ := readManifest(dir)
				w := &writer{dir: dir, manifest: *m}
				var recs []any
				for _, l := range strings.Split(strings.TrimSuffix(changed, "\n"), "\n") {
					recs = append(recs, json.RawMessage(l))
				}
				must(t, w.lines(c.file, recs))
				must(t, w.finish())
			}
			if _, err := LoadBigtable(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
