package bigtableserver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

var chaosDuration = flag.Duration("chaos.duration", 2*time.Second, "how long TestRandomRPCsKeepTheEmulatorServing runs")

// chaos drives random admin and data RPCs with odd values at one server;
// a recovered panic shows as codes.Internal and fails the test.
type chaos struct {
	admin btapb.BigtableTableAdminClient
	data  btpb.BigtableClient

	testserver.Tally
}

// drain receives from a stream until it ends; io.EOF, the normal end, is nil.
func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func odd[T any](r *rand.Rand, vals ...T) T { return vals[r.IntN(len(vals))] }

func randFilter(r *rand.Rand, depth int) *btpb.RowFilter {
	if depth > 2 {
		return &btpb.RowFilter{Filter: &btpb.RowFilter_PassAllFilter{PassAllFilter: true}}
	}
	switch r.IntN(10) {
	case 0:
		return &btpb.RowFilter{Filter: &btpb.RowFilter_CellsPerRowLimitFilter{CellsPerRowLimitFilter: odd[int32](r, -1, 0, 1, 2, 100)}}
	case 1:
		return &btpb.RowFilter{Filter: &btpb.RowFilter_CellsPerRowOffsetFilter{CellsPerRowOffsetFilter: odd[int32](r, -1, 0, 1, 3)}}
	case 2:
		return &btpb.RowFilter{Filter: &btpb.RowFilter_FamilyNameRegexFilter{FamilyNameRegexFilter: odd(r, "f.*", "(", "", "[")}}
	case 3:
		return &btpb.RowFilter{Filter: &btpb.RowFilter_ColumnQualifierRegexFilter{ColumnQualifierRegexFilter: []byte(odd(r, "c", "\\", "*"))}}
	case 4:
		var fs []*btpb.RowFilter
		for range r.IntN(4) {
			fs = append(fs, randFilter(r, depth+1))
		}
		return &btpb.RowFilter{Filter: &btpb.RowFilter_Chain_{Chain: &btpb.RowFilter_Chain{Filters: fs}}}
	case 5:
		var fs []*btpb.RowFilter
		for range r.IntN(4) {
			fs = append(fs, randFilter(r, depth+1))
		}
		return &btpb.RowFilter{Filter: &btpb.RowFilter_Interleave_{Interleave: &btpb.RowFilter_Interleave{Filters: fs}}}
	case 6:
		c := &btpb.RowFilter_Condition{}
		if r.IntN(2) == 0 {
			c.PredicateFilter = randFilter(r, depth+1)
		}
		if r.IntN(2) == 0 {
			c.TrueFilter = randFilter(r, depth+1)
		}
		return &btpb.RowFilter{Filter: &btpb.RowFilter_Condition_{Condition: c}}
	case 7:
		return &btpb.RowFilter{Filter: &btpb.RowFilter_ValueRangeFilter{ValueRangeFilter: &btpb.ValueRange{}}}
	case 8:
		return &btpb.RowFilter{Filter: &btpb.RowFilter_TimestampRangeFilter{TimestampRangeFilter: &btpb.TimestampRange{StartTimestampMicros: odd[int64](r, -5, 0, 1000), EndTimestampMicros: odd[int64](r, -1, 0, 10)}}}
	default:
		return &btpb.RowFilter{}
	}
}

func (c *chaos) step(ctx context.Context, r *rand.Rand) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	tableID := fmt.Sprintf("tab-%d", r.IntN(3))
	table := parent + "/tables/" + odd(r, tableID, tableID, tableID, "", "x/y")
	fam := fmt.Sprintf("f%d", r.IntN(4))
	key := []byte(odd(r, "a", "b", "c", ""))
	var err error
	op := ""
	switch r.IntN(14) {
	case 0:
		op = "CreateTable"
		fams := map[string]*btapb.ColumnFamily{}
		for range r.IntN(4) {
			cf := &btapb.ColumnFamily{}
			if r.IntN(2) == 0 {
				cf.GcRule = odd(r, &btapb.GcRule{Rule: &btapb.GcRule_MaxNumVersions{MaxNumVersions: odd[int32](r, -1, 0, 2)}},
					&btapb.GcRule{Rule: &btapb.GcRule_MaxAge{MaxAge: durationpb.New(odd(r, -time.Second, time.Millisecond, time.Hour))}},
					&btapb.GcRule{Rule: &btapb.GcRule_Union_{Union: &btapb.GcRule_Union{}}}, &btapb.GcRule{})
			}
			fams[fmt.Sprintf("f%d", r.IntN(4))] = cf
		}
		_, err = c.admin.CreateTable(ctx, &btapb.CreateTableRequest{Parent: odd(r, parent, ""), TableId: odd(r, tableID, tableID, ""), Table: odd(r, nil, &btapb.Table{ColumnFamilies: fams})})
	case 1:
		op = "DeleteTable"
		_, err = c.admin.DeleteTable(ctx, &btapb.DeleteTableRequest{Name: table})
	case 2:
		op = "ModifyColumnFamilies"
		m := &btapb.ModifyColumnFamiliesRequest_Modification{Id: fam}
		switch r.IntN(4) {
		case 0:
			m.Mod = &btapb.ModifyColumnFamiliesRequest_Modification_Create{Create: &btapb.ColumnFamily{}}
		case 1:
			m.Mod = &btapb.ModifyColumnFamiliesRequest_Modification_Drop{Drop: true}
		case 2:
			m.Mod = &btapb.ModifyColumnFamiliesRequest_Modification_Update{Update: &btapb.ColumnFamily{}}
			m.UpdateMask = odd(r, nil, &fieldmaskpb.FieldMask{Paths: []string{odd(r, "gc_rule", "value_type", "bogus")}})
		}
		_, err = c.admin.ModifyColumnFamilies(ctx, &btapb.ModifyColumnFamiliesRequest{Name: table, Modifications: []*btapb.ModifyColumnFamiliesRequest_Modification{m}})
	case 3, 4, 5:
		op = "MutateRow"
		var ms []*btpb.Mutation
		for range r.IntN(4) {
			switch r.IntN(4) {
			case 0:
				ms = append(ms, &btpb.Mutation{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: fam, ColumnQualifier: []byte(odd(r, "c", "")), TimestampMicros: odd[int64](r, -1, 0, 1000, 1<<62), Value: []byte(odd(r, "v", "", "12345678"))}}})
			case 1:
				ms = append(ms, &btpb.Mutation{Mutation: &btpb.Mutation_DeleteFromColumn_{DeleteFromColumn: &btpb.Mutation_DeleteFromColumn{FamilyName: fam, ColumnQualifier: []byte("c"), TimeRange: odd(r, nil, &btpb.TimestampRange{StartTimestampMicros: 10, EndTimestampMicros: 5})}}})
			case 2:
				ms = append(ms, &btpb.Mutation{Mutation: &btpb.Mutation_DeleteFromFamily_{DeleteFromFamily: &btpb.Mutation_DeleteFromFamily{FamilyName: fam}}})
			default:
				ms = append(ms, &btpb.Mutation{Mutation: &btpb.Mutation_DeleteFromRow_{DeleteFromRow: &btpb.Mutation_DeleteFromRow{}}}, &btpb.Mutation{})
			}
		}
		_, err = c.data.MutateRow(ctx, &btpb.MutateRowRequest{TableName: table, RowKey: key, Mutations: ms})
	case 6, 7:
		op = "ReadRows"
		req := &btpb.ReadRowsRequest{TableName: table, RowsLimit: odd[int64](r, 0, 1, -1)}
		if r.IntN(4) > 0 {
			req.Filter = randFilter(r, 0)
		}
		if r.IntN(3) == 0 {
			req.Rows = &btpb.RowSet{RowRanges: []*btpb.RowRange{{StartKey: &btpb.RowRange_StartKeyClosed{StartKeyClosed: []byte("b")}, EndKey: &btpb.RowRange_EndKeyOpen{EndKeyOpen: []byte(odd(r, "a", "c", ""))}}}}
		}
		var stream btpb.Bigtable_ReadRowsClient
		if stream, err = c.data.ReadRows(ctx, req); err == nil {
			err = drain(stream.Recv)
		}
	case 8:
		op = "CheckAndMutateRow"
		set := &btpb.Mutation{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: fam, ColumnQualifier: []byte("c"), TimestampMicros: -1, Value: []byte("x")}}}
		_, err = c.data.CheckAndMutateRow(ctx, &btpb.CheckAndMutateRowRequest{TableName: table, RowKey: key,
			PredicateFilter: odd(r, nil, randFilter(r, 0)), TrueMutations: odd(r, nil, []*btpb.Mutation{set}), FalseMutations: odd(r, nil, []*btpb.Mutation{set})})
	case 9:
		op = "ReadModifyWriteRow"
		rule := &btpb.ReadModifyWriteRule{FamilyName: fam, ColumnQualifier: []byte("c")}
		if r.IntN(2) == 0 {
			rule.Rule = &btpb.ReadModifyWriteRule_IncrementAmount{IncrementAmount: odd[int64](r, 1, -1, 1<<62)}
		} else if r.IntN(2) == 0 {
			rule.Rule = &btpb.ReadModifyWriteRule_AppendValue{AppendValue: []byte("z")}
		}
		_, err = c.data.ReadModifyWriteRow(ctx, &btpb.ReadModifyWriteRowRequest{TableName: table, RowKey: key, Rules: odd(r, nil, []*btpb.ReadModifyWriteRule{rule})})
	case 10:
		op = "MutateRows"
		var stream btpb.Bigtable_MutateRowsClient
		if stream, err = c.data.MutateRows(ctx, &btpb.MutateRowsRequest{TableName: table, Entries: []*btpb.MutateRowsRequest_Entry{{RowKey: key}, {RowKey: []byte("d"), Mutations: []*btpb.Mutation{{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: fam, TimestampMicros: -1}}}}}}}); err == nil {
			err = drain(stream.Recv)
		}
	case 11:
		op = "DropRowRange"
		req := &btapb.DropRowRangeRequest{Name: table}
		if r.IntN(2) == 0 {
			req.Target = &btapb.DropRowRangeRequest_RowKeyPrefix{RowKeyPrefix: key}
		} else if r.IntN(2) == 0 {
			req.Target = &btapb.DropRowRangeRequest_DeleteAllDataFromTable{DeleteAllDataFromTable: true}
		}
		_, err = c.admin.DropRowRange(ctx, req)
	case 12:
		op = "SampleRowKeys"
		var stream btpb.Bigtable_SampleRowKeysClient
		if stream, err = c.data.SampleRowKeys(ctx, &btpb.SampleRowKeysRequest{TableName: table}); err == nil {
			err = drain(stream.Recv)
		}
	default:
		op = "GetTable/ListTables"
		if r.IntN(2) == 0 {
			_, err = c.admin.GetTable(ctx, &btapb.GetTableRequest{Name: table, View: odd(r, btapb.Table_FULL, btapb.Table_SCHEMA_VIEW, btapb.Table_VIEW_UNSPECIFIED)})
		} else {
			_, err = c.admin.ListTables(ctx, &btapb.ListTablesRequest{Parent: odd(r, parent, "")})
		}
	}
	c.Record(op, err)
}

// TestRandomRPCsKeepTheEmulatorServing runs four concurrent random drivers
// for -chaos.duration (2 s by default), against our server or, by hand,
// the one at $CHAOS_BIGTABLE_TARGET.
func TestRandomRPCsKeepTheEmulatorServing(t *testing.T) {
	var conn *grpc.ClientConn
	if target := os.Getenv("CHAOS_BIGTABLE_TARGET"); target != "" {
		conn = testserver.Dial(t, target) // by hand, against another emulator (e.g. cbtemulator)
	} else {
		srv, err := Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		srv.Ready()
		conn = srv.Conn()
	}
	c := &chaos{admin: btapb.NewBigtableTableAdminClient(conn), data: btpb.NewBigtableClient(conn)}
	testserver.Hammer(*chaosDuration, 4, func(r *rand.Rand) { c.step(context.Background(), r) })
	if _, err := tables(conn, 5*time.Second); err != nil {
		t.Fatalf("the emulator stopped answering: %v", err)
	}
	if internal := c.Internal(); len(internal) > 0 {
		t.Fatalf("%d calls failed with INTERNAL (a recovered panic): %q", len(internal), internal)
	}
	t.Logf("calls: %v", c.Calls())
}
