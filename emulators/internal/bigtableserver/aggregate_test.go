package bigtableserver

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

func int64Aggregate(agg *btapb.Type_Aggregate) *btapb.ColumnFamily {
	agg.InputType = &btapb.Type{Kind: &btapb.Type_Int64Type{Int64Type: &btapb.Type_Int64{}}}
	return &btapb.ColumnFamily{ValueType: &btapb.Type{Kind: &btapb.Type_AggregateType{AggregateType: agg}}}
}

func addToCell(family string, ts, v int64) *btpb.Mutation {
	return &btpb.Mutation{Mutation: &btpb.Mutation_AddToCell_{AddToCell: &btpb.Mutation_AddToCell{
		FamilyName: family, ColumnQualifier: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("n")}},
		Timestamp: &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: ts}},
		Input:     &btpb.Value{Kind: &btpb.Value_IntValue{IntValue: v}},
	}}}
}

// TestMinMaxAndSumAggregateFamilies: AddToCell and MergeToCell into Min,
// Max and Sum families, from concurrent unary and streaming mutations, read
// back as production encodes them (8-byte big-endian int64), one cell per
// timestamp.
func TestMinMaxAndSumAggregateFamilies(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Ready()
	conn := testserver.Dial(t, srv.Addr())
	ctx, table := context.Background(), "projects/p/instances/i/tables/agg"
	_, err = btapb.NewBigtableTableAdminClient(conn).CreateTable(ctx, &btapb.CreateTableRequest{
		Parent: "projects/p/instances/i", TableId: "agg", Table: &btapb.Table{ColumnFamilies: map[string]*btapb.ColumnFamily{
			"lo":  int64Aggregate(&btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Min_{Min: &btapb.Type_Aggregate_Min{}}}),
			"hi":  int64Aggregate(&btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Max_{Max: &btapb.Type_Aggregate_Max{}}}),
			"sum": int64Aggregate(&btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Sum_{Sum: &btapb.Type_Aggregate_Sum{}}}),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data := btpb.NewBigtableClient(conn)
	values := []int64{5, -3, 12, 7, -3, 40, 0, 9}
	var wg sync.WaitGroup
	for i, v := range values {
		wg.Go(func() {
			muts := []*btpb.Mutation{addToCell("lo", 1000, v), addToCell("hi", 1000, v), addToCell("sum", 1000, v)}
			if i%2 == 0 {
				if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("r"), Mutations: muts}); err != nil {
					t.Error(err)
				}
			} else {
				stream, serr := data.MutateRows(ctx, &btpb.MutateRowsRequest{TableName: table, Entries: []*btpb.MutateRowsRequest_Entry{{RowKey: []byte("r"), Mutations: muts}}})
				if serr == nil {
					for _, serr = stream.Recv(); serr == nil; _, serr = stream.Recv() {
					}
					if errors.Is(serr, io.EOF) {
						serr = nil
					}
				}
				if serr != nil {
					t.Error(serr)
				}
			}
		})
	}
	wg.Wait()
	merge := &btpb.Mutation{Mutation: &btpb.Mutation_MergeToCell_{MergeToCell: &btpb.Mutation_MergeToCell{
		FamilyName: "hi", ColumnQualifier: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("n")}},
		Timestamp: &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: 1000}},
		Input:     &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: binary.BigEndian.AppendUint64(nil, 20)}},
	}}}
	if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("r"), Mutations: []*btpb.Mutation{merge, addToCell("lo", 2000, 100)}}); err != nil {
		t.Fatal(err)
	}
	got := readCells(t, data, table)
	want := map[string]int64{"hi@1000": 40, "lo@1000": -3, "lo@2000": 100, "sum@1000": 67}
	if len(got) != len(want) {
		t.Fatalf("cells %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("cell %s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

// readCells reads row "r" as family@timestamp -> int64.
func readCells(t *testing.T, data btpb.BigtableClient, table string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	family := ""
	for _, c := range testserver.ReadChunks(t, data, &btpb.ReadRowsRequest{TableName: table}) {
		if c.GetFamilyName() != nil {
			family = c.GetFamilyName().GetValue()
		}
		ts := c.GetTimestampMicros()
		if len(c.GetValue()) != 8 {
			t.Fatalf("cell %s@%d holds %d bytes, want 8", family, ts, len(c.GetValue()))
		}
		out[family+"@"+strconv.FormatInt(ts, 10)] = int64(binary.BigEndian.Uint64(c.GetValue()))
	}
	return out
}
