package bigtableaggregate

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

const table = "projects/p/instances/i/tables/visits"

// newServer is bttest behind the layer with a table of one HLL++ family
// "u" of int64 input.
func newServer(t *testing.T) *grpc.ClientConn {
	t.Helper()
	layer := New()
	srv, err := bttest.NewServer("127.0.0.1:0", layer.ServerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	conn := testserver.Dial(t, srv.Addr)
	layer.Use(conn)
	hll := &btapb.Type{Kind: &btapb.Type_AggregateType{AggregateType: &btapb.Type_Aggregate{
		InputType:  &btapb.Type{Kind: &btapb.Type_Int64Type{Int64Type: &btapb.Type_Int64{}}},
		Aggregator: &btapb.Type_Aggregate_HllppUniqueCount{HllppUniqueCount: &btapb.Type_Aggregate_HyperLogLogPlusPlusUniqueCount{}},
	}}}
	_, err = btapb.NewBigtableTableAdminClient(conn).CreateTable(context.Background(), &btapb.CreateTableRequest{
		Parent: "projects/p/instances/i", TableId: "visits",
		Table: &btapb.Table{ColumnFamilies: map[string]*btapb.ColumnFamily{"u": {ValueType: hll}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func at(m *btpb.Mutation, ts int64) *btpb.Mutation {
	if a := m.GetAddToCell(); a != nil {
		a.ColumnQualifier = &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("n")}}
		a.Timestamp = &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: ts}}
	}
	if mg := m.GetMergeToCell(); mg != nil {
		mg.ColumnQualifier = &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("n")}}
		mg.Timestamp = &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: ts}}
	}
	return m
}

// cells are the values of row r's cells, newest first.
func cells(t *testing.T, conn *grpc.ClientConn) [][]byte {
	t.Helper()
	var values [][]byte
	var value []byte
	for _, c := range testserver.ReadChunks(t, btpb.NewBigtableClient(conn), &btpb.ReadRowsRequest{TableName: table}) {
		value = append(value, c.GetValue()...)
		if c.GetValueSize() == 0 {
			values, value = append(values, value), nil
		}
	}
	return values
}

// TestHLLFamilyThroughTheServer: AddToCells over MutateRow and MutateRows
// (several into one cell in one request) and a MergeToCell end in one cell
// per timestamp whose value is a sketch of every input; a refused mutation
// fails its request and changes nothing.
func TestHLLFamilyThroughTheServer(t *testing.T) {
	ctx, conn := context.Background(), newServer(t)
	data := btpb.NewBigtableClient(conn)
	for v := range int64(300) {
		if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("r"), Mutations: []*btpb.Mutation{at(addInt(v%200), 1000)}}); err != nil {
			t.Fatal(err)
		}
	}
	batch := []*btpb.Mutation{at(addInt(500), 1000), at(addInt(501), 1000), at(addInt(7), 2000)}
	stream, err := data.MutateRows(ctx, &btpb.MutateRowsRequest{TableName: table, Entries: []*btpb.MutateRowsRequest_Entry{{RowKey: []byte("r"), Mutations: batch}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, err = stream.Recv(); err == nil; _, err = stream.Recv() {
	}
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	other := foldAll(t, int64HLL, nil, addInt(1000), addInt(1001), addInt(0))
	if _, err := data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("r"), Mutations: []*btpb.Mutation{at(mergeRaw(other), 1000)}}); err != nil {
		t.Fatal(err)
	}
	before := cells(t, conn)
	bad := at(mergeRaw([]byte("garbage")), 1000)
	_, err = data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: []byte("r"), Mutations: []*btpb.Mutation{at(addInt(9999), 1000), bad}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("MergeToCell of garbage: %v, want InvalidArgument", err)
	}
	got := cells(t, conn)
	if len(got) != 2 || string(got[1]) != string(before[1]) {
		t.Fatalf("cells after a refused request changed or are not one per timestamp: %d cells", len(got))
	}
	if n := decode(t, got[0]).Result(); n != 1 {
		t.Errorf("estimate at ts 2000: %d, want 1", n)
	}
	h := decode(t, got[1])
	if n := h.Result(); math.Abs(float64(n-204)) > 2 {
		t.Errorf("estimate at ts 1000: %d, want 204 (200 + 500, 501, 1000, 1001)", n)
	}
	if h.NumValues() != 305 {
		t.Errorf("num_values at ts 1000: %d, want 305", h.NumValues())
	}
}
