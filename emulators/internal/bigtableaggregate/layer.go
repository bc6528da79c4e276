// Package bigtableaggregate gives the Bigtable emulator production's Min and
// Max aggregate column families. bttest accepts them but merges AddToCell
// and MergeToCell into such a cell by keeping the newest input (it
// implements Sum only); production keeps the smallest or largest int64.
//
// The layer works through the public API only: it reads each table's
// family types with GetTable, and before bttest applies a mutation request
// it rewrites every AddToCell/MergeToCell into a Min or Max family so that
// its input already is the aggregate of the cell's current value (read with
// ReadRows) and the new one, which bttest's keep-the-newest merge then
// stores. Requests that touch Min/Max families are applied one at a time,
// so the read and the write cannot interleave with another such request.
// Sum (bttest's own) and every other mutation pass through untouched.
package bigtableaggregate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type kind int

const (
	other kind = iota
	minimum
	maximum
)

// Layer rewrites Min/Max aggregate mutations; Use must be given the
// server's in-process connection before calls arrive.
type Layer struct {
	conn  atomic.Pointer[grpc.ClientConn]
	apply sync.Mutex // held while a request touching Min/Max families is read, rewritten and applied

	mu    sync.Mutex
	kinds map[string]map[string]kind // by table, then family; dropped when the table changes
}

// New returns a layer without a connection yet.
func New() *Layer { return &Layer{kinds: map[string]map[string]kind{}} }

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
	delete(l.kinds, table)
	l.mu.Unlock()
}

// familyKinds are the table's Min and Max families (GetTable, cached).
func (l *Layer) familyKinds(ctx context.Context, table string) (map[string]kind, error) {
	l.mu.Lock()
	kinds, ok := l.kinds[table]
	l.mu.Unlock()
	if ok {
		return kinds, nil
	}
	conn := l.conn.Load()
	if conn == nil {
		return nil, errors.New("bigtableaggregate: no connection")
	}
	t, err := btapb.NewBigtableTableAdminClient(conn).GetTable(ctx, &btapb.GetTableRequest{Name: table, View: btapb.Table_SCHEMA_VIEW})
	if err != nil {
		return nil, err
	}
	kinds = map[string]kind{}
	for name, cf := range t.GetColumnFamilies() {
		agg := cf.GetValueType().GetAggregateType()
		switch {
		case agg.GetMin() != nil:
			kinds[name] = minimum
		case agg.GetMax() != nil:
			kinds[name] = maximum
		}
	}
	l.mu.Lock()
	l.kinds[table] = kinds
	l.mu.Unlock()
	return kinds, nil
}

// rewrite turns the Min/Max aggregate mutations of rows into AddToCells of
// the aggregated value; it returns with the apply lock held (unlock
// releases it) when there were any, else with nothing held. Errors about
// the table are left to bttest to report.
func (l *Layer) rewrite(ctx context.Context, table string, rows []rowMutations) (func(), error) {
	if !touchesAggregates(rows) {
		return func() {}, nil
	}
	kinds, err := l.familyKinds(ctx, table)
	if err != nil || len(kinds) == 0 {
		return func() {}, nil
	}
	l.apply.Lock()
	pending := map[cellKey]int64{} // values this request has already aggregated
	for _, row := range rows {
		for _, m := range row.mutations {
			if err := l.rewriteOne(ctx, table, row.key, m, kinds, pending); err != nil {
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

func (l *Layer) rewriteOne(ctx context.Context, table string, row []byte, m *btpb.Mutation, kinds map[string]kind, pending map[cellKey]int64) error {
	family, column, ts, input, ok := aggregateInput(m)
	if !ok || kinds[family] == other {
		return nil
	}
	value, err := input()
	if err != nil {
		return err
	}
	key := cellKey{string(row), family, string(column), ts}
	current, found := pending[key]
	if !found {
		if current, found, err = l.read(ctx, table, row, family, column, ts); err != nil {
			return err
		}
	}
	if found && (kinds[family] == minimum && current < value || kinds[family] == maximum && current > value) {
		value = current
	}
	pending[key] = value
	m.Mutation = &btpb.Mutation_AddToCell_{AddToCell: &btpb.Mutation_AddToCell{
		FamilyName: family, ColumnQualifier: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: column}},
		Timestamp: &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: ts}},
		Input:     &btpb.Value{Kind: &btpb.Value_IntValue{IntValue: value}},
	}}
	return nil
}

// aggregateInput is what an AddToCell or MergeToCell writes where: the
// input as an int64 (MergeToCell's raw bytes are its 8-byte big-endian
// encoding, as production's reads return).
func aggregateInput(m *btpb.Mutation) (family string, column []byte, ts int64, input func() (int64, error), ok bool) {
	if a := m.GetAddToCell(); a != nil {
		return a.GetFamilyName(), a.GetColumnQualifier().GetRawValue(), a.GetTimestamp().GetRawTimestampMicros(), func() (int64, error) {
			if _, isInt := a.GetInput().GetKind().(*btpb.Value_IntValue); !isInt {
				return 0, status.Error(codes.InvalidArgument, "AddToCell into an int64 aggregate needs an int_value input")
			}
			return a.GetInput().GetIntValue(), nil
		}, true
	}
	if mg := m.GetMergeToCell(); mg != nil {
		return mg.GetFamilyName(), mg.GetColumnQualifier().GetRawValue(), mg.GetTimestamp().GetRawTimestampMicros(), func() (int64, error) {
			raw := mg.GetInput().GetRawValue()
			if len(raw) != 8 {
				return 0, status.Errorf(codes.InvalidArgument, "MergeToCell into an int64 aggregate needs 8 bytes, got %d", len(raw))
			}
			return int64(binary.BigEndian.Uint64(raw)), nil
		}, true
	}
	return "", nil, 0, nil, false
}

// read is the cell's current value at exactly ts, if it has one.
func (l *Layer) read(ctx context.Context, table string, row []byte, family string, column []byte, ts int64) (int64, bool, error) {
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
		return 0, false, err
	}
	var value []byte
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, false, fmt.Errorf("reading the aggregate cell: %w", err)
		}
		for _, c := range resp.GetChunks() {
			value = append(value, c.GetValue()...)
		}
	}
	if len(value) != 8 {
		return 0, false, nil
	}
	return int64(binary.BigEndian.Uint64(value)), true, nil
}
