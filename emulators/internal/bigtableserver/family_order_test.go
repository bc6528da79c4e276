package bigtableserver

import (
	"context"
	"slices"
	"testing"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// rawCodec keeps a response's bytes, to see the order of map entries on the wire.
type rawCodec struct{}

func (rawCodec) Name() string                  { return "proto" }
func (rawCodec) Marshal(v any) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}

// wireFamilies lists the keys of Table.column_families (field 3) in wire order.
func wireFamilies(t *testing.T, b []byte) []string {
	var keys []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if num == 3 {
			entry, _ := protowire.ConsumeBytes(b)
			_, _, m := protowire.ConsumeTag(entry)
			key, _ := protowire.ConsumeString(entry[m:])
			keys = append(keys, key)
		}
		b = b[n:]
	}
	return keys
}

func TestColumnFamiliesInLexicographicOrder(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Ready()
	ctx := context.Background()
	admin := btapb.NewBigtableTableAdminClient(srv.Conn())
	data := btpb.NewBigtableClient(srv.Conn())
	table := parent + "/tables/mobile-time-series"
	// Created one at a time, as Google's filters sample does: creation
	// order is stats_summary, then cell_plan.
	if _, err := admin.CreateTable(ctx, &btapb.CreateTableRequest{Parent: parent, TableId: "mobile-time-series",
		Table: &btapb.Table{ColumnFamilies: map[string]*btapb.ColumnFamily{"stats_summary": {}}}}); err != nil {
		t.Fatal(err)
	}
	set := func(fam, col, val string) *btpb.Mutation {
		return &btpb.Mutation{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: fam, ColumnQualifier: []byte(col), TimestampMicros: 1000, Value: []byte(val)}}}
	}
	// A row written before cell_plan exists must be renumbered too.
	if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("phone#1"),
		Mutations: []*btpb.Mutation{set("stats_summary", "connected_cell", "1"), set("stats_summary", "os_build", "PQ2A")}}); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"cell_plan", "zz_last", "aa_first"} {
		if _, err := admin.ModifyColumnFamilies(ctx, &btapb.ModifyColumnFamiliesRequest{Name: table,
			Modifications: []*btapb.ModifyColumnFamiliesRequest_Modification{{Id: fam, Mod: &btapb.ModifyColumnFamiliesRequest_Modification_Create{Create: &btapb.ColumnFamily{}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("phone#1"),
		Mutations: []*btpb.Mutation{set("cell_plan", "data_plan_05gb", "true"), set("zz_last", "z", "z"), set("aa_first", "a", "a")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("phone#2"),
		Mutations: []*btpb.Mutation{set("stats_summary", "os_build", "X"), set("cell_plan", "data_plan_10gb", "true")}}); err != nil {
		t.Fatal(err)
	}

	read := func(filter *btpb.RowFilter) map[string][]string {
		out := map[string][]string{}
		var key string
		for _, c := range testserver.ReadChunks(t, data, &btpb.ReadRowsRequest{TableName: table, Filter: filter}) {
			if len(c.GetRowKey()) > 0 {
				key = string(c.GetRowKey())
			}
			out[key] = append(out[key], c.GetFamilyName().GetValue()+":"+string(c.GetQualifier().GetValue()))
		}
		return out
	}
	all := read(nil)
	if want := []string{"aa_first:a", "cell_plan:data_plan_05gb", "stats_summary:connected_cell", "stats_summary:os_build", "zz_last:z"}; !slices.Equal(all["phone#1"], want) {
		t.Errorf("phone#1 cells %v, want %v", all["phone#1"], want)
	}
	limited := read(&btpb.RowFilter{Filter: &btpb.RowFilter_CellsPerRowLimitFilter{CellsPerRowLimitFilter: 2}})
	if want := []string{"cell_plan:data_plan_10gb", "stats_summary:os_build"}; !slices.Equal(limited["phone#2"], want) {
		t.Errorf("first 2 cells of phone#2: %v, want %v", limited["phone#2"], want)
	}
	offset := read(&btpb.RowFilter{Filter: &btpb.RowFilter_CellsPerRowOffsetFilter{CellsPerRowOffsetFilter: 3}})
	if want := []string{"stats_summary:os_build", "zz_last:z"}; !slices.Equal(offset["phone#1"], want) {
		t.Errorf("phone#1 after 3 cells: %v, want %v", offset["phone#1"], want)
	}

	var raw []byte
	if err := srv.Conn().Invoke(ctx, "/google.bigtable.admin.v2.BigtableTableAdmin/GetTable",
		&btapb.GetTableRequest{Name: table, View: btapb.Table_FULL}, &raw, grpc.ForceCodec(rawCodec{})); err != nil {
		t.Fatal(err)
	}
	if got, want := wireFamilies(t, raw), []string{"aa_first", "cell_plan", "stats_summary", "zz_last"}; !slices.Equal(got, want) {
		t.Errorf("GetTable column_families on the wire: %v, want %v", got, want)
	}
}
