package state

import (
	"context"
	"encoding/binary"
	"testing"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
)

// TestAggregateFamiliesSurviveExportAndImport: the family's aggregate type
// comes back, and so does its cell; later AddToCells still aggregate.
func TestAggregateFamiliesSurviveExportAndImport(t *testing.T) {
	ctx := context.Background()
	a := newBigtable(t)
	int64Max := &btapb.Type{Kind: &btapb.Type_AggregateType{AggregateType: &btapb.Type_Aggregate{
		InputType:  &btapb.Type{Kind: &btapb.Type_Int64Type{Int64Type: &btapb.Type_Int64{}}},
		Aggregator: &btapb.Type_Aggregate_Max_{Max: &btapb.Type_Aggregate_Max{}},
	}}}
	_, err := btapb.NewBigtableTableAdminClient(a.Conn()).CreateTable(ctx, &btapb.CreateTableRequest{Parent: "projects/p/instances/i", TableId: "peaks",
		Table: &btapb.Table{ColumnFamilies: map[string]*btapb.ColumnFamily{"high": {ValueType: int64Max}}}})
	must(t, err)
	table := "projects/p/instances/i/tables/peaks"
	add := func(conn btpb.BigtableClient, v int64) {
		_, err := conn.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("r"), Mutations: []*btpb.Mutation{{Mutation: &btpb.Mutation_AddToCell_{AddToCell: &btpb.Mutation_AddToCell{
			FamilyName: "high", ColumnQualifier: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("n")}},
			Timestamp: &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: 1000}},
			Input:     &btpb.Value{Kind: &btpb.Value_IntValue{IntValue: v}},
		}}}}})
		must(t, err)
	}
	add(btpb.NewBigtableClient(a.Conn()), 7)
	dir := t.TempDir()
	must(t, ExportBigtable(ctx, a.Internals(), a.Conn(), dir))
	st, err := LoadBigtable(dir)
	must(t, err)
	b := newBigtable(t)
	must(t, st.Apply(ctx, b.Conn()))
	got, err := btapb.NewBigtableTableAdminClient(b.Conn()).GetTable(ctx, &btapb.GetTableRequest{Name: table, View: btapb.Table_FULL})
	must(t, err)
	if got.GetColumnFamilies()["high"].GetValueType().GetAggregateType().GetMax() == nil {
		t.Fatalf("family after import: %v", got.GetColumnFamilies()["high"])
	}
	data := btpb.NewBigtableClient(b.Conn())
	add(data, 3)
	stream, err := data.ReadRows(ctx, &btpb.ReadRowsRequest{TableName: table})
	must(t, err)
	resp, err := stream.Recv()
	must(t, err)
	if chunks := resp.GetChunks(); len(chunks) != 1 || int64(binary.BigEndian.Uint64(chunks[0].GetValue())) != 7 {
		t.Errorf("cells after import and an AddToCell of 3: %v, want one cell of 7", chunks)
	}
}
