package bigtableaggregate

import (
	"cmp"
	"slices"

	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"github.com/bsm/zetasketch"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// The sketch an HLL++ family keeps: ZetaSketch's, the format of BigQuery's
// and Bigtable SQL's HLL_COUNT functions.
const (
	// Precision and SparsePrecision are ZetaSketch's defaults (BigQuery's
	// HLL_COUNT.INIT default); production does not publish the ones its
	// families use.
	Precision       = 15
	SparsePrecision = 20
	// valueTypeField is AggregatorStateProto.value_type; uint64ValueType is
	// DefaultOpsType.UINT64, what ZetaSketch records for a sketch of longs.
	valueTypeField  = 4
	uint64ValueType = 8
)

// uniqueCount is an HyperLogLogPlusPlusUniqueCount family. AddToCell hashes
// its int64 input as ZetaSketch hashes a long (Fingerprint2011 of the
// 8 little-endian bytes); MergeToCell merges a serialized sketch.
type uniqueCount struct{ int64Input bool }

func (u uniqueCount) fold(current []byte, m *btpb.Mutation) ([]byte, error) {
	sketch := zetasketch.NewHLL(&zetasketch.HLLConfig{Precision: Precision, SparsePrecision: SparsePrecision})
	if current != nil {
		if err := sketch.UnmarshalBinary(current); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "the aggregate cell holds no HLL++ sketch: %v", err)
		}
	}
	if a := m.GetAddToCell(); a != nil {
		if !u.int64Input {
			return nil, status.Error(codes.InvalidArgument, "AddToCell needs an aggregate family of int64 input type")
		}
		if _, isInt := a.GetInput().GetKind().(*btpb.Value_IntValue); !isInt {
			return nil, status.Error(codes.InvalidArgument, "AddToCell into an int64 HLL++ aggregate needs an int_value input")
		}
		sketch.Add(zetasketch.Uint64Value(uint64(a.GetInput().GetIntValue())))
	} else {
		other, err := u.sketchInput(m.GetMergeToCell())
		if err != nil {
			return nil, err
		}
		if err := sketch.Merge(other); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "MergeToCell: %v", err)
		}
	}
	raw, err := sketch.MarshalBinary()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "serializing the HLL++ sketch: %v", err)
	}
	return u.canonical(raw)
}

// sketchInput is a MergeToCell's serialized sketch, refused unless it is an
// HLL++ sketch whose value type (when recorded) is the family's.
func (u uniqueCount) sketchInput(mg *btpb.Mutation_MergeToCell) (*zetasketch.HLL, error) {
	raw, isRaw := mg.GetInput().GetKind().(*btpb.Value_RawValue)
	if !isRaw {
		return nil, status.Error(codes.InvalidArgument, "MergeToCell into an HLL++ aggregate needs a serialized sketch as raw_value")
	}
	other := zetasketch.NewHLL(nil)
	if err := other.UnmarshalBinary(raw.RawValue); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "MergeToCell into an HLL++ aggregate: not an HLL++ sketch: %v", err)
	}
	if vt, ok := valueType(raw.RawValue); ok && u.int64Input && vt != uint64ValueType {
		return nil, status.Errorf(codes.InvalidArgument, "MergeToCell: a sketch of value type %d cannot merge into an int64 HLL++ aggregate", vt)
	}
	return other, nil
}

type field struct {
	num protowire.Number
	raw []byte
}

// canonical re-encodes the serialized AggregatorStateProto the way
// ZetaSketch's Java library writes it: top-level fields in field-number
// order, with value_type UINT64 for an int64 family. The Go port writes the
// extension first and no value type.
func (u uniqueCount) canonical(raw []byte) ([]byte, error) {
	fields, err := topLevelFields(raw)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "re-encoding the HLL++ sketch: %v", err)
	}
	if u.int64Input {
		fields = slices.DeleteFunc(fields, func(f field) bool { return f.num == valueTypeField })
		vt := protowire.AppendVarint(protowire.AppendTag(nil, valueTypeField, protowire.VarintType), uint64ValueType)
		fields = append(fields, field{valueTypeField, vt})
	}
	slices.SortStableFunc(fields, func(a, b field) int { return cmp.Compare(a.num, b.num) })
	out := make([]byte, 0, len(raw)+2)
	for _, f := range fields {
		out = append(out, f.raw...)
	}
	return out, nil
}

func topLevelFields(raw []byte) ([]field, error) {
	var fields []field
	for len(raw) > 0 {
		num, _, n := protowire.ConsumeField(raw)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		fields = append(fields, field{num, raw[:n]})
		raw = raw[n:]
	}
	return fields, nil
}

// valueType is a serialized sketch's value_type, if it records one.
func valueType(raw []byte) (uint64, bool) {
	fields, err := topLevelFields(raw)
	if err != nil {
		return 0, false
	}
	for _, f := range fields {
		if f.num != valueTypeField {
			continue
		}
		_, typ, n := protowire.ConsumeTag(f.raw)
		if typ != protowire.VarintType {
			return 0, false
		}
		v, m := protowire.ConsumeVarint(f.raw[n:])
		return v, m > 0
	}
	return 0, false
}
