package pubsubschema

import (
	"context"
	"fmt"
	"strings"
	"sync"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The attributes production adds to a message of a topic with a schema.
const (
	AttrName     = "googclient_schemaname"
	AttrRevision = "googclient_schemarevisionid"
	AttrEncoding = "googclient_schemaencoding"
)

// Layer checks schemas and messages on their way into the server.
type Layer struct {
	topics  Topics
	schemas Schemas

	mu     sync.Mutex
	codecs map[string]Codec // by "name@revision": revisions never change
}

// Topics reads a topic's schema settings (pstest's GServer: its public
// Publisher handler, called directly).
type Topics interface {
	GetTopic(context.Context, *pb.GetTopicRequest) (*pb.Topic, error)
}

// Schemas reads schemas and their revisions (pstest's GServer).
type Schemas interface {
	GetSchema(context.Context, *pb.GetSchemaRequest) (*pb.Schema, error)
	ListSchemaRevisions(context.Context, *pb.ListSchemaRevisionsRequest) (*pb.ListSchemaRevisionsResponse, error)
}

// New returns a layer reading topics and schemas from the server's handlers.
func New(topics Topics, schemas Schemas) *Layer {
	return &Layer{topics: topics, schemas: schemas, codecs: map[string]Codec{}}
}

// Unary is the layer's gRPC interceptor.
func (l *Layer) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	switch r := req.(type) {
	case *pb.CreateSchemaRequest:
		if err := checkDefinition(r.GetSchema()); err != nil {
			return nil, err
		}
		// pstest would add a revision to an existing schema.
		name := r.GetParent() + "/schemas/" + r.GetSchemaId()
		if _, err := l.schemas.GetSchema(ctx, &pb.GetSchemaRequest{Name: name}); err == nil {
			return nil, status.Errorf(codes.AlreadyExists, "Schema %s already exists.", name)
		}
	case *pb.CommitSchemaRequest:
		if err := checkDefinition(r.GetSchema()); err != nil {
			return nil, err
		}
	case *pb.ValidateSchemaRequest:
		if err := checkDefinition(r.GetSchema()); err != nil {
			return nil, err
		}
		return &pb.ValidateSchemaResponse{}, nil
	case *pb.ValidateMessageRequest:
		return l.validateMessage(ctx, r)
	case *pb.Topic: // CreateTopic
		if err := l.checkSettings(ctx, r.GetSchemaSettings()); err != nil {
			return nil, err
		}
	case *pb.UpdateTopicRequest:
		if err := l.checkSettings(ctx, r.GetTopic().GetSchemaSettings()); err != nil {
			return nil, err
		}
	case *pb.PublishRequest:
		if err := l.checkPublish(ctx, r); err != nil {
			return nil, err
		}
	}
	return handler(ctx, req)
}

func checkDefinition(s *pb.Schema) error {
	if _, err := Compile(s); err != nil {
		return status.Errorf(codes.InvalidArgument, "Invalid schema definition: %v", err)
	}
	return nil
}

// checkSettings refuses a topic whose schema does not exist.
func (l *Layer) checkSettings(ctx context.Context, s *pb.SchemaSettings) error {
	if s.GetSchema() == "" {
		return nil
	}
	if _, err := l.schemas.GetSchema(ctx, &pb.GetSchemaRequest{Name: s.GetSchema()}); err != nil {
		return status.Errorf(codes.NotFound, "Schema %s does not exist.", s.GetSchema())
	}
	return nil
}

func (l *Layer) validateMessage(ctx context.Context, r *pb.ValidateMessageRequest) (*pb.ValidateMessageResponse, error) {
	var schema *pb.Schema
	switch spec := r.GetSchemaSpec().(type) {
	case *pb.ValidateMessageRequest_Name:
		got, err := l.schemas.GetSchema(ctx, &pb.GetSchemaRequest{Name: spec.Name})
		if err != nil {
			return nil, err
		}
		schema = got
	case *pb.ValidateMessageRequest_Schema:
		if err := checkDefinition(spec.Schema); err != nil {
			return nil, err
		}
		schema = spec.Schema
	default:
		return nil, status.Error(codes.InvalidArgument, "name or schema is required")
	}
	codec, err := l.codec(schema)
	if err != nil {
		return nil, err
	}
	if err := codec.Check(r.GetMessage(), r.GetEncoding()); err != nil {
		return nil, refusal(schema, r.GetEncoding(), err)
	}
	return &pb.ValidateMessageResponse{}, nil
}

// checkPublish validates every message of a publish to a topic with schema
// settings against the revisions they allow, newest first, and adds the
// attributes naming the revision that matched. One message that matches
// none refuses the whole request, as production does.
func (l *Layer) checkPublish(ctx context.Context, r *pb.PublishRequest) error {
	topic, err := l.topics.GetTopic(ctx, &pb.GetTopicRequest{Topic: r.GetTopic()})
	if err != nil {
		return nil // the server's own handler answers for a missing topic
	}
	settings := topic.GetSchemaSettings()
	if settings.GetSchema() == "" {
		return nil
	}
	revisions, err := l.revisions(ctx, settings)
	if err != nil {
		return err
	}
	encoding := settings.GetEncoding()
	for _, m := range r.GetMessages() {
		matched, err := l.firstMatch(revisions, m.GetData(), encoding)
		if err != nil {
			return err
		}
		if m.Attributes == nil {
			m.Attributes = map[string]string{}
		}
		m.Attributes[AttrName] = settings.GetSchema()
		m.Attributes[AttrRevision] = matched.GetRevisionId()
		m.Attributes[AttrEncoding] = encodingName(encoding)
	}
	return nil
}

func (l *Layer) firstMatch(revisions []*pb.Schema, data []byte, enc pb.Encoding) (*pb.Schema, error) {
	var last error
	for _, s := range revisions {
		codec, err := l.codec(s)
		if err != nil {
			last = err
			continue
		}
		if last = codec.Check(data, enc); last == nil {
			return s, nil
		}
	}
	return nil, refusal(revisions[len(revisions)-1], enc, last)
}

// revisions are the schema's revisions the settings allow, newest first.
func (l *Layer) revisions(ctx context.Context, settings *pb.SchemaSettings) ([]*pb.Schema, error) {
	name := settings.GetSchema()
	resp, err := l.schemas.ListSchemaRevisions(ctx, &pb.ListSchemaRevisionsRequest{Name: name, View: pb.SchemaView_FULL})
	if err != nil || len(resp.GetSchemas()) == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "The schema %s of topic settings no longer exists.", name)
	}
	all := resp.GetSchemas() // oldest first
	first, last := 0, len(all)-1
	for i, s := range all {
		if s.GetRevisionId() == settings.GetFirstRevisionId() {
			first = i
		}
		if s.GetRevisionId() == settings.GetLastRevisionId() {
			last = i
		}
	}
	var out []*pb.Schema
	for i := last; i >= first; i-- {
		out = append(out, all[i])
	}
	if len(out) == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "No revision of schema %s lies between the topic's first and last revision.", name)
	}
	return out, nil
}

func (l *Layer) codec(s *pb.Schema) (Codec, error) {
	key := s.GetName() + "@" + s.GetRevisionId()
	cacheable := s.GetName() != "" && s.GetRevisionId() != ""
	l.mu.Lock()
	c, ok := l.codecs[key]
	l.mu.Unlock()
	if ok && cacheable {
		return c, nil
	}
	c, err := Compile(s)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid schema definition: %v", err)
	}
	if cacheable {
		l.mu.Lock()
		l.codecs[key] = c
		l.mu.Unlock()
	}
	return c, nil
}

// refusal is production's answer to a message that fails its schema:
// INVALID_ARGUMENT with an ErrorInfo naming the kind of message and the
// last revision checked.
func refusal(s *pb.Schema, enc pb.Encoding, cause error) error {
	kind := "AVRO"
	if s.GetType() == pb.Schema_PROTOCOL_BUFFER {
		kind = "PROTO"
	}
	st := status.New(codes.InvalidArgument, "Invalid data in message: Message failed schema validation.")
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: fmt.Sprintf("INVALID_%s_%s_MESSAGE", encodingName(enc), kind),
		Domain: "pubsub.googleapis.com",
		Metadata: map[string]string{
			"message": "Message failed schema validation",
			"revisionInfo": fmt.Sprintf("Could not validate message with any schema revision for schema: %s, last checked revision: revision_id=%s failed with status: %s",
				s.GetName(), s.GetRevisionId(), strings.TrimSpace(fmt.Sprint(cause))),
		},
	})
	if err != nil {
		return st.Err()
	}
	return withInfo.Err()
}

// encodingName is the attribute's value: JSON or BINARY (an unspecified
// encoding is taken as JSON here).
func encodingName(e pb.Encoding) string {
	if e == pb.Encoding_BINARY {
		return "BINARY"
	}
	return "JSON"
}
