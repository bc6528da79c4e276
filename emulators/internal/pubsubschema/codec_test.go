package pubsubschema

import (
	"strings"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/linkedin/goavro/v2"
	"google.golang.org/protobuf/encoding/protowire"
)

const avroState = `{"type": "record", "name": "State", "fields": [
  {"name": "name", "type": "string"}, {"name": "post_abbr", "type": "string"}]}`

const protoState = `syntax = "proto3";
message ProvinceMessage {
  string name = 1;
  string post_abbr = 2;
}`

func mustCompile(t *testing.T, typ pb.Schema_Type, def string) Codec {
	t.Helper()
	c, err := Compile(&pb.Schema{Type: typ, Definition: def})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAvroMessagesAreCheckedInBothEncodings(t *testing.T) {
	c := mustCompile(t, pb.Schema_AVRO, avroState)
	codec, _ := goavro.NewCodec(avroState)
	binary, _ := codec.BinaryFromNative(nil, map[string]any{"name": "Alaska", "post_abbr": "AK"})
	cases := []struct {
		data string
		enc  pb.Encoding
		ok   bool
	}{
		{`{"name": "Alaska", "post_abbr": "AK"}`, pb.Encoding_JSON, true},
		{`{"name": "Alaska", "post_abbr": "AK"}  `, pb.Encoding_JSON, true},
		{`{"name": "Alaska"}`, pb.Encoding_JSON, false},
		{`{"name": 1, "post_abbr": "AK"}`, pb.Encoding_JSON, false},
		{`not json`, pb.Encoding_JSON, false},
		{string(binary), pb.Encoding_BINARY, true},
		{string(binary) + "x", pb.Encoding_BINARY, false},
		{string(binary[:3]), pb.Encoding_BINARY, false},
	}
	for _, tc := range cases {
		if err := c.Check([]byte(tc.data), tc.enc); (err == nil) != tc.ok {
			t.Errorf("%q in %s: error %v, want ok=%v", tc.data, tc.enc, err, tc.ok)
		}
	}
}

func TestProtoMessagesAreCheckedInBothEncodings(t *testing.T) {
	c := mustCompile(t, pb.Schema_PROTOCOL_BUFFER, protoState)
	binary := protowire.AppendTag(nil, 1, protowire.BytesType)
	binary = protowire.AppendString(binary, "Ontario")
	cases := []struct {
		data []byte
		enc  pb.Encoding
		ok   bool
	}{
		{[]byte(`{"name": "Ontario", "post_abbr": "ON"}`), pb.Encoding_JSON, true},
		{[]byte(`{"name": "Ontario", "capital": "Toronto"}`), pb.Encoding_JSON, false},
		{[]byte(`{"name": 5}`), pb.Encoding_JSON, false},
		{binary, pb.Encoding_BINARY, true},
		{binary[:len(binary)-2], pb.Encoding_BINARY, false}, // cut short
		{[]byte{0xff}, pb.Encoding_BINARY, false},
	}
	for _, tc := range cases {
		if err := c.Check(tc.data, tc.enc); (err == nil) != tc.ok {
			t.Errorf("%q in %s: error %v, want ok=%v", tc.data, tc.enc, err, tc.ok)
		}
	}
}

func TestBadDefinitionsAreRefusedWithTheParsersReason(t *testing.T) {
	cases := map[string]*pb.Schema{
		"empty":          {Type: pb.Schema_AVRO},
		"avro not json":  {Type: pb.Schema_AVRO, Definition: "{"},
		"avro bad type":  {Type: pb.Schema_AVRO, Definition: `{"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]}`},
		"proto syntax":   {Type: pb.Schema_PROTOCOL_BUFFER, Definition: "message {"},
		"proto no types": {Type: pb.Schema_PROTOCOL_BUFFER, Definition: `syntax = "proto3";`},
		"no type":        {Definition: avroState},
	}
	for name, s := range cases {
		if _, err := Compile(s); err == nil || strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: compiled, or no reason given: %v", name, err)
		}
	}
}
