package bigtableaggregate

import (
	"encoding/binary"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// aggregator folds one AddToCell or MergeToCell into a cell's state, the
// bytes a read returns. current is nil when the cell has no value yet.
type aggregator interface {
	fold(current []byte, m *btpb.Mutation) ([]byte, error)
}

// aggregatorOf is the layer's aggregator for a family of type t, nil for
// those bttest merges right itself (Sum) and for plain families.
func aggregatorOf(t *btapb.Type) aggregator {
	agg := t.GetAggregateType()
	switch {
	case agg.GetMin() != nil:
		return extreme{keepSmaller: true}
	case agg.GetMax() != nil:
		return extreme{}
	case agg.GetHllppUniqueCount() != nil:
		return uniqueCount{int64Input: agg.GetInputType().GetInt64Type() != nil}
	}
	return nil
}

// extreme is an int64 Min or Max family: the state is the smallest or
// largest input, 8-byte big-endian as production reads return it.
type extreme struct{ keepSmaller bool }

func (e extreme) fold(current []byte, m *btpb.Mutation) ([]byte, error) {
	value, err := int64Input(m)
	if err != nil {
		return nil, err
	}
	if len(current) == 8 {
		old := int64(binary.BigEndian.Uint64(current))
		if e.keepSmaller && old < value || !e.keepSmaller && old > value {
			value = old
		}
	}
	return binary.BigEndian.AppendUint64(nil, uint64(value)), nil
}

// int64Input is an AddToCell's int_value or a MergeToCell's 8-byte
// big-endian state.
func int64Input(m *btpb.Mutation) (int64, error) {
	if a := m.GetAddToCell(); a != nil {
		if _, isInt := a.GetInput().GetKind().(*btpb.Value_IntValue); !isInt {
			return 0, status.Error(codes.InvalidArgument, "AddToCell into an int64 aggregate needs an int_value input")
		}
		return a.GetInput().GetIntValue(), nil
	}
	raw := m.GetMergeToCell().GetInput().GetRawValue()
	if len(raw) != 8 {
		return 0, status.Errorf(codes.InvalidArgument, "MergeToCell into an int64 aggregate needs 8 bytes, got %d", len(raw))
	}
	return int64(binary.BigEndian.Uint64(raw)), nil
}

// target is where an AddToCell or MergeToCell writes; ok is false for any
// other mutation.
func target(m *btpb.Mutation) (family string, column []byte, ts int64, ok bool) {
	if a := m.GetAddToCell(); a != nil {
		return a.GetFamilyName(), a.GetColumnQualifier().GetRawValue(), a.GetTimestamp().GetRawTimestampMicros(), true
	}
	if mg := m.GetMergeToCell(); mg != nil {
		return mg.GetFamilyName(), mg.GetColumnQualifier().GetRawValue(), mg.GetTimestamp().GetRawTimestampMicros(), true
	}
	return "", nil, 0, false
}

// mergeState is the MergeToCell that stores state as the cell's value:
// bttest keeps the newest MergeToCell input in every family but Sum.
func mergeState(family string, column []byte, ts int64, state []byte) *btpb.Mutation {
	return &btpb.Mutation{Mutation: &btpb.Mutation_MergeToCell_{MergeToCell: &btpb.Mutation_MergeToCell{
		FamilyName: family, ColumnQualifier: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: column}},
		Timestamp: &btpb.Value{Kind: &btpb.Value_RawTimestampMicros{RawTimestampMicros: ts}},
		Input:     &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: state}},
	}}}
}
