package state

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"github.com/bsm/zetasketch"
	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/bigtableserver"
)

const aggTable = "projects/p/instances/i/tables/peaks"

func int64Aggregate(agg *btapb.Type_Aggregate) *btapb.Type {
	agg.InputType = &btapb.Type{Kind: &btapb.Type_Int64Type{Int64Type: &btapb.Type_Int64{}}}
	return &btapb.Type{Kind: &btapb.Type_AggregateType{AggregateType: agg}}
}

// aggregateServer is a server with table peaks of one family "f" of type vt.
func aggregateServer(t *testing.T, vt *btapb.Type) *bigtableserver.Server {
	a := newBigtable(t)
	_, err := btapb.NewBigtableTableAdminClient(a.Conn()).CreateTable(context.Background(), &btapb.CreateTableRequest{Parent: "projects/p/instances/i", TableId: "peaks",
		Table: &btapb.Table{ColumnFamilies: map[string]*btapb.ColumnFamily{"f": {ValueType: vt}}}})
	must(t, err)
	return a
}

func addToCells(t *testing.T, conn *grpc.ClientConn, values ...int64) {
	for _, v := range values {
		_, err := btpb.NewBigtableClient(conn).MutateRow(context.Background(), &btpb.MutateRowRequest{TableName: aggTable, RowKey: []byte("r"), Mutations: []*btpb.Mutation{{Mutation: &btpb.Mutation_AddToCell_{AddToCell: &btpb.Mutation_AddToCell{
			FamilyName: "f", ColumnQualifier: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("n")}},
			Timestamp: &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: 1000}},
			Input:     &btpb.Value{Kind: &btpb.Value_IntValue{IntValue: v}},
		}}}}})
		must(t, err)
	}
}

// exportAndImport exports a and imports it into a new server, returning its
// family "f" as GetTable sees it.
func exportAndImport(t *testing.T, a *bigtableserver.Server) (*bigtableserver.Server, *btapb.ColumnFamily) {
	ctx, dir := context.Background(), t.TempDir()
	must(t, ExportBigtable(ctx, a.Internals(), a.Conn(), dir))
	st, err := LoadBigtable(dir)
	must(t, err)
	b := newBigtable(t)
	must(t, st.Apply(ctx, b.Conn()))
	got, err := btapb.NewBigtableTableAdminClient(b.Conn()).GetTable(ctx, &btapb.GetTableRequest{Name: aggTable, View: btapb.Table_FULL})
	must(t, err)
	return b, got.GetColumnFamilies()["f"]
}

// onlyCell is the value of the table's one cell.
func onlyCell(t *testing.T, conn *grpc.ClientConn) []byte {
	stream, err := btpb.NewBigtableClient(conn).ReadRows(context.Background(), &btpb.ReadRowsRequest{TableName: aggTable})
	must(t, err)
	resp, err := stream.Recv()
	must(t, err)
	var value []byte
	cells := 0
	for _, c := range resp.GetChunks() {
		value = append(value, c.GetValue()...)
		if c.GetValueSize() == 0 {
			cells++
		}
	}
	if cells != 1 {
		t.Fatalf("%d cells, want one", cells)
	}
	return value
}

// TestAggregateFamiliesSurviveExportAndImport: the family's aggregate type
// comes back, and so does its cell; later AddToCells still aggregate.
func TestAggregateFamiliesSurviveExportAndImport(t *testing.T) {
	a := aggregateServer(t, int64Aggregate(&btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Max_{Max: &btapb.Type_Aggregate_Max{}}}))
	addToCells(t, a.Conn(), 7)
	b, family := exportAndImport(t, a)
	if family.GetValueType().GetAggregateType().GetMax() == nil {
		t.Fatalf("family after import: %v", family)
	}
	addToCells(t, b.Conn(), 3)
	if got := onlyCell(t, b.Conn()); len(got) != 8 || int64(binary.BigEndian.Uint64(got)) != 7 {
		t.Errorf("cell after import and an AddToCell of 3: %x, want 7", got)
	}
}

// TestHLLFamiliesSurviveExportAndImport: an HLL++ family and its sketch come
// back; AddToCells after the import add to the imported sketch.
func TestHLLFamiliesSurviveExportAndImport(t *testing.T) {
	hll := &btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_HllppUniqueCount{HllppUniqueCount: &btapb.Type_Aggregate_HyperLogLogPlusPlusUniqueCount{}}}
	a := aggregateServer(t, int64Aggregate(hll))
	for v := range int64(100) {
		addToCells(t, a.Conn(), v, v)
	}
	exported := onlyCell(t, a.Conn())
	b, family := exportAndImport(t, a)
	if family.GetValueType().GetAggregateType().GetHllppUniqueCount() == nil {
		t.Fatalf("family after import: %v", family)
	}
	if got := onlyCell(t, b.Conn()); string(got) != string(exported) {
		t.Fatalf("sketch after import differs from the exported one")
	}
	for v := int64(50); v < 150; v++ {
		addToCells(t, b.Conn(), v)
	}
	sketch := zetasketch.NewHLL(nil)
	must(t, sketch.UnmarshalBinary(onlyCell(t, b.Conn())))
	if n := sketch.Result(); math.Abs(float64(n-150)) > 2 || sketch.NumValues() != 300 {
		t.Errorf("after import and 100 more AddToCells: estimate %d (want about 150), num_values %d (want 300)", n, sketch.NumValues())
	}
}
