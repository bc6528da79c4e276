// Package bigtableaggregate gives the Bigtable emulator production's Min,
// Max and HyperLogLog++ (HyperLogLogPlusPlusUniqueCount) aggregate column
// families. bttest accepts them but merges AddToCell and MergeToCell into
// such a cell by keeping the newest input (it implements Sum only);
// production keeps the smallest or largest int64, or a ZetaSketch HLL++
// sketch of every input.
//
// The layer works through the public API only: it reads each table's
// family types with GetTable, and before bttest applies a mutation request
// it rewrites every AddToCell/MergeToCell into such a family into a
// MergeToCell of the cell's new state, folded from its current value (read
// with ReadRows) and the input, which bttest's keep-the-newest merge then
// stores. Requests that touch these families are applied one at a time, so
// the read and the write cannot interleave with another such request. Sum
// (bttest's own) and every other mutation pass through untouched.
package bigtableaggregate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
)

// Layer rewrites Min, Max and HLL++ aggregate mutations; Use must be given the
// server's in-process connection before calls arrive.
type Layer struct {
	conn  atomic.Pointer[grpc.ClientConn]
	apply sync.Mutex // held while a request touching the layer's families is read, rewritten and applied

	mu          sync.Mutex
	aggregators map[string]map[string]aggregator // by table, then family; dropped when the table changes
}

// New returns a layer without a connection yet.
func New() *Layer { return &Layer{aggregators: map[string]map[string]aggregator{}} }

// Use sets the connection the layer reads tables and cells through.
func (l *Layer) Use(conn *grpc.ClientConn) { l.conn.Store(conn) }

// ServerOptions install the layer's interceptors.
func (l *Layer) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(l.unary), grpc.ChainStreamInterceptor(l.stream)}
}

func (l *Layer) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	switch r := req.(type) {
	case *btapb.CreateTableRequest, *btapb.ModifyColumnFamiliesRequest, *btapb.DeleteTableRequest:
		resp, err := h(ctx, req)
		l.forget(tableOf(r))
		return resp, err
	case *btpb.MutateRowRequest:
		unlock, err := l.rewrite(ctx, r.GetTableName(), []rowMutations{{r.GetRowKey(), r.GetMutations()}})
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	return h(ctx, req)
}

// stream rewrites the one request of a MutateRows call before its handler
// applies it, holding the apply lock until the handler returns.
func (l *Layer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if info.FullMethod != "/google.bigtable.v2.Bigtable/MutateRows" {
		return h(srv, ss)
	}
	w := &rewritingStream{ServerStream: ss, l: l}
	defer w.release()
	return h(srv, w)
}

type rewritingStream struct {
	grpc.ServerStream
	l      *Layer
	unlock func()
}

func (w *rewritingStream) RecvMsg(m any) error {
	if err := w.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	r, ok := m.(*btpb.MutateRowsRequest)
	if !ok || w.unlock != nil {
		return nil
	}
	rows := make([]rowMutations, len(r.GetEntries()))
	for i, e := range r.GetEntries() {
		rows[i] = rowMutations{e.GetRowKey(), e.GetMutations()}
	}
	unlock, err := w.l.rewrite(w.Context(), r.GetTableName(), rows)
	w.unlock = unlock
	return err
}

func (w *rewritingStream) release() {
	if w.unlock != nil {
		w.unlock()
	}
}

type rowMutations struct {
	key       []byte
	mutations []*btpb.Mutation
}

func tableOf(req any) string {
	switch r := req.(type) {
	case *btapb.CreateTableRequest:
		return r.GetParent() + "/tables/" + r.GetTableId()
	case *btapb.ModifyColumnFamiliesRequest:
		return r.GetName()
	case *btapb.DeleteTableRequest:
		return r.GetName()
	}
	return ""
}

func (l *Layer) forget(table string) {
	l.mu.Lock()
	delete(l.aggregators, table)
	l.mu.Unlock()
}

// familyAggregators are the aggregators of the table's families the layer
// folds (GetTable, cached).
func (l *Layer) familyAggregators(ctx context.Context, table string) (map[string]aggregator, error) {
	l.mu.Lock()
	aggs, ok := l.aggregators[table]
	l.mu.Unlock()
	if ok {
		return aggs, nil
	}
	conn := l.conn.Load()
	if conn == nil {
		return nil, errors.New("bigtableaggregate: no connection")
	}
	t, err := btapb.NewBigtableTableAdminClient(conn).GetTable(ctx, &btapb.GetTableRequest{Name: table, View: btapb.Table_SCHEMA_VIEW})
	if err != nil {
		return nil, err
	}
	aggs = map[string]aggregator{}
	for name, cf := range t.GetColumnFamilies() {
		if agg := aggregatorOf(cf.GetValueType()); agg != nil {
			aggs[name] = agg
		}
	}
	l.mu.Lock()
	l.aggregators[table] = aggs
	l.mu.Unlock()
	return aggs, nil
}

// rewrite turns the aggregate mutations of rows into the layer's families
// into MergeToCells of the folded state; it returns with the apply lock
// held (unlock releases it) when there were any, else with nothing held.
// Errors about the table are left to bttest to report.
func (l *Layer) rewrite(ctx context.Context, table string, rows []rowMutations) (func(), error) {
	if !touchesAggregates(rows) {
		return func() {}, nil
	}
	aggs, err := l.familyAggregators(ctx, table)
	if err != nil || len(aggs) == 0 {
		return func() {}, nil
	}
	l.apply.Lock()
	pending := map[cellKey][]byte{} // states this request has already folded
	for _, row := range rows {
		for _, m := range row.mutations {
			if err := l.rewriteOne(ctx, table, row.key, m, aggs, pending); err != nil {
				l.apply.Unlock()
				return nil, err
			}
		}
	}
	return l.apply.Unlock, nil
}

func touchesAggregates(rows []rowMutations) bool {
	for _, row := range rows {
		for _, m := range row.mutations {
			if m.GetAddToCell() != nil || m.GetMergeToCell() != nil {
				return true
			}
		}
	}
	return false
}

type cellKey struct {
	row, family, column string
	ts                  int64
}

func (l *Layer) rewriteOne(ctx context.Context, table string, row []byte, m *btpb.Mutation, aggs map[string]aggregator, pending map[cellKey][]byte) error {
	family, column, ts, ok := target(m)
	agg := aggs[family]
	if !ok || agg == nil {
		return nil
	}
	key := cellKey{string(row), family, string(column), ts}
	current, found := pending[key]
	if !found {
		var err error
		if current, err = l.read(ctx, table, row, family, column, ts); err != nil {
			return err
		}
	}
	state, err := agg.fold(current, m)
	if err != nil {
		return err
	}
	pending[key] = state
	m.Mutation = mergeState(family, column, ts, state).Mutation
	return nil
}

// read is the cell's current value at exactly ts, nil if it has none.
func (l *Layer) read(ctx context.Context, table string, row []byte, family string, column []byte, ts int64) ([]byte, error) {
	filter := &btpb.RowFilter{Filter: &btpb.RowFilter_Chain_{Chain: &btpb.RowFilter_Chain{Filters: []*btpb.RowFilter{
		{Filter: &btpb.RowFilter_FamilyNameRegexFilter{FamilyNameRegexFilter: "^" + family + "$"}},
		{Filter: &btpb.RowFilter_ColumnRangeFilter{ColumnRangeFilter: &btpb.ColumnRange{
			FamilyName:     family,
			StartQualifier: &btpb.ColumnRange_StartQualifierClosed{StartQualifierClosed: column},
			EndQualifier:   &btpb.ColumnRange_EndQualifierClosed{EndQualifierClosed: column},
		}}},
		{Filter: &btpb.RowFilter_TimestampRangeFilter{TimestampRangeFilter: &btpb.TimestampRange{StartTimestampMicros: ts, EndTimestampMicros: ts + 1}}},
	}}}}
	stream, err := btpb.NewBigtableClient(l.conn.Load()).ReadRows(ctx, &btpb.ReadRowsRequest{
		TableName: table, Rows: &btpb.RowSet{RowKeys: [][]byte{row}}, Filter: filter,
	})
	if err != nil {
		return nil, err
	}
	var value []byte
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("reading the aggregate cell: %w", err)
		}
		for _, c := range resp.GetChunks() {
			value = append(value, c.GetValue()...)
		}
	}
	return value, nil
}
