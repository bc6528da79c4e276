// Package pubsubschema gives the Pub/Sub emulator production's schema
// checks, which pstest lacks (its ValidateSchema and ValidateMessage only
// refuse an empty definition, googleapis/google-cloud-go#3820): Avro and
// Protocol Buffer definitions are compiled by real parsers (linkedin/goavro,
// bufbuild/protocompile), messages are checked in JSON or binary encoding,
// a publish to a topic with schema settings is refused when a message
// matches none of the allowed revisions, and accepted messages carry the
// googclient_schema* attributes production adds.
//
// It works as a gRPC interceptor through the public API only: schemas,
// revisions and topics are read with pstest's own exported handlers.
package pubsubschema

import (
	"context"
	"errors"
	"fmt"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/bufbuild/protocompile"
	"github.com/linkedin/goavro/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Codec checks messages against one schema revision.
type Codec interface {
	// Check reports why data is not a message of the schema in enc.
	Check(data []byte, enc pb.Encoding) error
}

// Compile parses a schema definition as production does for its type.
func Compile(s *pb.Schema) (Codec, error) {
	if s.GetDefinition() == "" {
		return nil, errors.New("schema definition cannot be empty")
	}
	switch s.GetType() {
	case pb.Schema_AVRO:
		codec, err := goavro.NewCodec(s.GetDefinition())
		if err != nil {
			return nil, err
		}
		return avroCodec{codec}, nil
	case pb.Schema_PROTOCOL_BUFFER:
		return compileProto(s.GetDefinition())
	}
	return nil, fmt.Errorf("schema type must be AVRO or PROTOCOL_BUFFER, got %s", s.GetType())
}

type avroCodec struct{ codec *goavro.Codec }

func (a avroCodec) Check(data []byte, enc pb.Encoding) error {
	var rest []byte
	var err error
	if enc == pb.Encoding_BINARY {
		_, rest, err = a.codec.NativeFromBinary(data)
	} else {
		_, rest, err = a.codec.NativeFromTextual(data)
	}
	if err != nil {
		return err
	}
	if len(trimSpace(rest, enc)) > 0 {
		return errors.New("Too much data to parse for schema.")
	}
	return nil
}

// trimSpace drops the whitespace JSON may end with.
func trimSpace(b []byte, enc pb.Encoding) []byte {
	if enc == pb.Encoding_BINARY {
		return b
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

type protoCodec struct {
	message protoreflect.MessageDescriptor
}

// compileProto compiles a .proto text (standard imports available); its
// first message type is the schema's, as production takes it.
func compileProto(definition string) (Codec, error) {
	const file = "schema.proto"
	compiler := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{file: definition}),
	})}
	files, err := compiler.Compile(context.Background(), file)
	if err != nil {
		return nil, err
	}
	messages := files[0].Messages()
	if messages.Len() == 0 {
		return nil, errors.New("the definition declares no message type")
	}
	return protoCodec{messages.Get(0)}, nil
}

func (p protoCodec) Check(data []byte, enc pb.Encoding) error {
	msg := dynamicpb.NewMessage(p.message)
	if enc == pb.Encoding_BINARY {
		return proto.UnmarshalOptions{}.Unmarshal(data, msg)
	}
	return protojson.Unmarshal(data, msg)
}
