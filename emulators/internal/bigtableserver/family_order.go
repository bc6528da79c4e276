package bigtableserver

import (
	"context"
	"strings"
	"sync/atomic"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"

	"github.com/etl-pipeline/emulators/internal/bttestx"
)

// familyOrder keeps column families in lexicographic order, as production
// lists them: after CreateTable and ModifyColumnFamilies it renumbers them
// (bttestx OrderFamilies), and tables are sent with their column_families map
// sorted by name (deterministicCodec), not in Go's random map order.
type familyOrder struct {
	bt atomic.Pointer[bttestx.Server]
}

func (f *familyOrder) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(f.unary), grpc.ChainStreamInterceptor(cellWindowInterceptor),
		grpc.ForceServerCodec(deterministicCodec{}),
	}
}

func (f *familyOrder) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if r, ok := req.(*btpb.CheckAndMutateRowRequest); ok {
		if err := checkFilter(r.GetPredicateFilter()); err != nil {
			return nil, err
		}
	}
	resp, err := h(ctx, req)
	if err != nil {
		return resp, err
	}
	var table string
	switch r := req.(type) {
	case *btapb.CreateTableRequest:
		table = r.GetParent() + "/tables/" + r.GetTableId()
	case *btapb.ModifyColumnFamiliesRequest:
		table = r.GetName()
	default:
		return resp, nil
	}
	if bt := f.bt.Load(); bt != nil {
		bt.OrderFamilies(table, strings.Compare)
	}
	return resp, nil
}

// deterministicCodec is gRPC's proto codec with map entries sorted by key.
type deterministicCodec struct{}

func (deterministicCodec) Name() string { return "proto" }

func (deterministicCodec) Marshal(v any) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(v.(proto.Message))
}

func (deterministicCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}

var _ encoding.Codec = deterministicCodec{}
