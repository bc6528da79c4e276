package bigtableaggregate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"github.com/bsm/zetasketch"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sketches written by zetasketch-py 0.1.3 (a port of ZetaSketch checked
// byte for byte against Google's Java library), precision 15/20.
const (
	// the longs i*7919-50000 for i in [0, 100)
	golden100Longs = "08701064180220088207e6011064180f201432dd01e442ea0ac828b626f0729d41df61900dff569f67ccb701fa528771cfbf01a178c68d01dc0bde1a8cdc02bd3fb62fd39e018a56208414afcc01bebb01d6c4018d0c9936e61d99129b8e01d2539c3d8048dc6e8182029807a73494308f50b63afdac02d18501f0a2018d1ec0b7019f208529b1d201e222921de633048f7fcc3785ba01df1492328c32bf3872dd7e8a17a6078f33dc67ca76f6e501da1bbbad018b53d45d9b8e01e312f039decf018c1ad804992ae803e304bc11a11cf323ea4b8e6e8962f929e521a5089551b50ef46a960a8fb901f5bf6ec0880280843e"
	// the bytes "x": a sketch of another value type
	goldenBytesX = "087010011802200b82070b1001180f20143203e8d402"
)

// The same longs for i in [0, 3000) and [0, 10000): SHA-256 of the sketch.
var goldenSHA256 = map[int64]string{
	3000:  "17e71bc965b3926b279a90f3e636b0ae1e9abe8ec4959cf7c917616d1c05aeed",
	10000: "ad165530bbcc595f5b4357a9bebbb063488c16519320cefc2c47f005a3fb1ce1",
}

var int64HLL = uniqueCount{int64Input: true}

func addInt(v int64) *btpb.Mutation {
	return &btpb.Mutation{Mutation: &btpb.Mutation_AddToCell_{AddToCell: &btpb.Mutation_AddToCell{
		FamilyName: "u", Input: &btpb.Value{Kind: &btpb.Value_IntValue{IntValue: v}},
	}}}
}

func mergeRaw(raw []byte) *btpb.Mutation { return mergeState("u", nil, 0, raw) }

// foldAll folds muts into an empty cell, failing the test on any error.
func foldAll(t *testing.T, agg aggregator, state []byte, muts ...*btpb.Mutation) []byte {
	t.Helper()
	for _, m := range muts {
		var err error
		if state, err = agg.fold(state, m); err != nil {
			t.Fatal(err)
		}
	}
	return state
}

func decode(t *testing.T, state []byte) *zetasketch.HLL {
	t.Helper()
	h := zetasketch.NewHLL(nil)
	if err := h.UnmarshalBinary(state); err != nil {
		t.Fatalf("the state is no ZetaSketch HLL++ sketch: %v", err)
	}
	return h
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAddToCellWritesZetaSketchsBytes: AddToCells of int64s, one at a time
// (each reads and rewrites the stored sketch), give byte for byte the
// sketch ZetaSketch writes for those longs.
func TestAddToCellWritesZetaSketchsBytes(t *testing.T) {
	var state []byte
	for i := range int64(10000) {
		state = foldAll(t, int64HLL, state, addInt(i*7919-50000))
		switch i + 1 {
		case 100:
			if want := mustHex(t, golden100Longs); !bytes.Equal(state, want) {
				t.Errorf("state after 100 AddToCells:\n got %x\nwant %x", state, want)
			}
		case 3000, 10000:
			if got := fmt.Sprintf("%x", sha256.Sum256(state)); got != goldenSHA256[i+1] {
				t.Errorf("sha256 of the state after %d AddToCells: %s, want %s", i+1, got, goldenSHA256[i+1])
			}
		}
	}
}

// TestTheEstimateIsWithinHLLsError: n distinct inputs, each added twice, in
// random order; the estimate is within 3 standard errors of n (1.04/sqrt(m)
// at precision 15) and the sketch counts every input.
func TestTheEstimateIsWithinHLLsError(t *testing.T) {
	for _, n := range []int{1, 10, 1000, 4000} {
		r := rand.New(rand.NewPCG(uint64(n), 7))
		values := make([]int64, 0, 2*n)
		for i := range n {
			v := r.Int64() ^ int64(i)
			values = append(values, v, v)
		}
		r.Shuffle(len(values), func(i, j int) { values[i], values[j] = values[j], values[i] })
		var state []byte
		for _, v := range values {
			state = foldAll(t, int64HLL, state, addInt(v))
		}
		h := decode(t, state)
		tolerance := 3 * 1.04 / math.Sqrt(1<<Precision) * float64(n)
		if got := h.Result(); math.Abs(float64(got-int64(n))) > math.Max(tolerance, 1) {
			t.Errorf("n=%d: estimate %d, want within %.0f", n, got, tolerance)
		}
		if h.NumValues() != int64(2*n) {
			t.Errorf("n=%d: num_values %d, want %d", n, h.NumValues(), 2*n)
		}
	}
}

// TestMergeToCellIsAUnionInEitherOrder: merging sketches of two overlapping
// sets estimates the size of their union, whichever is merged first.
func TestMergeToCellIsAUnionInEitherOrder(t *testing.T) {
	sketchOf := func(from, to int64) []byte {
		var state []byte
		for v := from; v < to; v++ {
			state = foldAll(t, int64HLL, state, addInt(v))
		}
		return state
	}
	a, b := sketchOf(0, 1500), sketchOf(1000, 2500)
	ab := decode(t, foldAll(t, int64HLL, nil, mergeRaw(a), mergeRaw(b))).Result()
	ba := decode(t, foldAll(t, int64HLL, nil, mergeRaw(b), mergeRaw(a))).Result()
	if ab != ba {
		t.Errorf("merge order changes the estimate: %d then %d", ab, ba)
	}
	if math.Abs(float64(ab-2500)) > 3*1.04/math.Sqrt(1<<Precision)*2500 {
		t.Errorf("estimate of the union %d, want about 2500", ab)
	}
	// an AddToCell into a merged cell still counts
	more := decode(t, foldAll(t, int64HLL, mustHex(t, golden100Longs), mergeRaw(a), addInt(-1))).Result()
	if math.Abs(float64(more-1601)) > 3*1.04/math.Sqrt(1<<Precision)*1601 {
		t.Errorf("estimate after merge and add %d, want about 1601", more)
	}
}

// TestWrongInputsAreRefused: each input production's type checks refuse is
// refused with InvalidArgument (a cell that holds no sketch:
// FailedPrecondition), and nothing is folded.
func TestWrongInputsAreRefused(t *testing.T) {
	rawAdd := &btpb.Mutation{Mutation: &btpb.Mutation_AddToCell_{AddToCell: &btpb.Mutation_AddToCell{
		FamilyName: "u", Input: &btpb.Value{Kind: &btpb.Value_RawValue{RawValue: []byte("x")}},
	}}}
	intMerge := &btpb.Mutation{Mutation: &btpb.Mutation_MergeToCell_{MergeToCell: &btpb.Mutation_MergeToCell{
		FamilyName: "u", Input: &btpb.Value{Kind: &btpb.Value_IntValue{IntValue: 3}},
	}}}
	cases := []struct {
		name    string
		agg     aggregator
		current []byte
		m       *btpb.Mutation
		want    codes.Code
	}{
		{"AddToCell of bytes", int64HLL, nil, rawAdd, codes.InvalidArgument},
		{"AddToCell into a family of bytes input", uniqueCount{}, nil, addInt(1), codes.InvalidArgument},
		{"MergeToCell of an int", int64HLL, nil, intMerge, codes.InvalidArgument},
		{"MergeToCell of bytes that are no sketch", int64HLL, nil, mergeRaw([]byte("not a sketch")), codes.InvalidArgument},
		{"MergeToCell of nothing", int64HLL, nil, mergeRaw(nil), codes.InvalidArgument},
		{"MergeToCell of a sketch of bytes", int64HLL, nil, mergeRaw(mustHex(t, goldenBytesX)), codes.InvalidArgument},
		{"a cell that holds no sketch", int64HLL, []byte{0, 0, 0, 0, 0, 0, 0, 7}, addInt(1), codes.FailedPrecondition},
	}
	for _, c := range cases {
		state, err := c.agg.fold(c.current, c.m)
		if status.Code(err) != c.want || state != nil {
			t.Errorf("%s: state %x, error %v; want %v", c.name, state, err, c.want)
		}
	}
	// the same sketch of bytes merges into a family of bytes input
	if _, err := (uniqueCount{}).fold(nil, mergeRaw(mustHex(t, goldenBytesX))); err != nil {
		t.Errorf("a sketch of bytes into a bytes family: %v", err)
	}
}

func TestAggregatorOfEachFamilyType(t *testing.T) {
	typ := func(in *btapb.Type, agg *btapb.Type_Aggregate) *btapb.Type {
		agg.InputType = in
		return &btapb.Type{Kind: &btapb.Type_AggregateType{AggregateType: agg}}
	}
	int64T := &btapb.Type{Kind: &btapb.Type_Int64Type{Int64Type: &btapb.Type_Int64{}}}
	bytesT := &btapb.Type{Kind: &btapb.Type_BytesType{BytesType: &btapb.Type_Bytes{}}}
	hll := func() *btapb.Type_Aggregate {
		return &btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_HllppUniqueCount{HllppUniqueCount: &btapb.Type_Aggregate_HyperLogLogPlusPlusUniqueCount{}}}
	}
	cases := []struct {
		t    *btapb.Type
		want aggregator
	}{
		{nil, nil},
		{typ(int64T, &btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Sum_{Sum: &btapb.Type_Aggregate_Sum{}}}), nil},
		{typ(int64T, &btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Min_{Min: &btapb.Type_Aggregate_Min{}}}), extreme{keepSmaller: true}},
		{typ(int64T, &btapb.Type_Aggregate{Aggregator: &btapb.Type_Aggregate_Max_{Max: &btapb.Type_Aggregate_Max{}}}), extreme{}},
		{typ(int64T, hll()), uniqueCount{int64Input: true}},
		{typ(bytesT, hll()), uniqueCount{}},
	}
	for i, c := range cases {
		if got := aggregatorOf(c.t); got != c.want {
			t.Errorf("case %d: %#v, want %#v", i, got, c.want)
		}
	}
}
