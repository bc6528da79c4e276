package seed

import (
	"context"
	"strings"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

const withSchema = valid + `
[[pubsub.schemas]]
name = "state-{stage}"
type = "avro"
definition = '{"type": "record", "name": "S", "fields": [{"name": "a", "type": "string"}]}'

[[pubsub.topics]]
name = "states-{stage}"
schema = { name = "state-{stage}", encoding = "binary" }
`

func TestSchemasAndTopicSchemaSettingsAreReadAndApplied(t *testing.T) {
	s := mustParse(t, withSchema, "etl.toml")
	r := s.Resources("dev", "proj")
	if len(r.Schemas) != 1 || r.Schemas[0].Name != "state-dev" || !strings.Contains(r.Schemas[0].Definition, `"name": "S"`) {
		t.Fatalf("schemas %+v", r.Schemas)
	}
	if got := r.TopicSchemas["states-dev"]; got != (TopicSchema{"state-dev", "binary"}) || len(r.TopicSchemas) != 1 {
		t.Fatalf("topic schemas %+v", r.TopicSchemas)
	}
	fake := pstest.NewServer()
	t.Cleanup(func() { fake.Close() })
	conn, ctx := testserver.Dial(t, fake.Addr), context.Background()
	if err := s.ApplyPubSub(ctx, conn, "proj"); err != nil {
		t.Fatal(err)
	}
	topic, err := pb.NewPublisherClient(conn).GetTopic(ctx, &pb.GetTopicRequest{Topic: "projects/proj/topics/states-test"})
	if err != nil {
		t.Fatal(err)
	}
	if st := topic.GetSchemaSettings(); st.GetSchema() != "projects/proj/schemas/state-test" || st.GetEncoding() != pb.Encoding_BINARY {
		t.Errorf("schema settings %v", st)
	}
	schema, err := pb.NewSchemaServiceClient(conn).GetSchema(ctx, &pb.GetSchemaRequest{Name: "projects/proj/schemas/state-test"})
	if err != nil || schema.GetType() != pb.Schema_AVRO {
		t.Errorf("schema %v, %v", schema, err)
	}
}

func TestBadSchemaDeclarationsNameTheLine(t *testing.T) {
	cases := map[string]struct{ old, new, want string }{
		"type":     {`type = "avro"`, `type = "json"`, `pubsub.schemas[0] "state-{stage}": type must be "avro" or "protocol_buffer", got "json"`},
		"no text":  {`definition = '{"type"`, `definition = ' ' #`, `pubsub.schemas[0] "state-{stage}": definition is required`},
		"unknown":  {`name = "state-{stage}", encoding`, `name = "nope", encoding`, `pubsub.topics[2] "states-{stage}": schema.name "nope" is not declared in [[pubsub.schemas]]`},
		"encoding": {`encoding = "binary"`, `encoding = "xml"`, `pubsub.topics[2] "states-{stage}": schema.encoding must be "json" or "binary", got "xml"`},
	}
	for name, c := range cases {
		_, err := Parse([]byte(strings.Replace(withSchema, c.old, c.new, 1)), "etl.toml")
		if err == nil || !strings.HasSuffix(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "etl.toml:") {
			t.Errorf("%s: %v, want ...%s", name, err, c.want)
		}
	}
}
