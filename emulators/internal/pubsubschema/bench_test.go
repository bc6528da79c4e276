package pubsubschema

import (
	"context"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
)

// BenchmarkPublishCheck is what the layer adds to a Publish of 100 messages
// (the handler itself does nothing here): a topic without a schema, and one
// with an Avro schema in JSON encoding.
func BenchmarkPublishCheck(b *testing.B) {
	fake := pstest.NewServer()
	b.Cleanup(func() { fake.Close() })
	ctx, g := context.Background(), &fake.GServer
	if _, err := g.CreateSchema(ctx, &pb.CreateSchemaRequest{Parent: "projects/p", SchemaId: "state", Schema: &pb.Schema{Type: pb.Schema_AVRO, Definition: avroState}}); err != nil {
		b.Fatal(err)
	}
	for name, settings := range map[string]*pb.SchemaSettings{"plain": nil, "avro": {Schema: "projects/p/schemas/state", Encoding: pb.Encoding_JSON}} {
		topic := "projects/p/topics/" + name
		if _, err := g.CreateTopic(ctx, &pb.Topic{Name: topic, SchemaSettings: settings}); err != nil {
			b.Fatal(err)
		}
		l := New(g, g)
		noop := func(context.Context, any) (any, error) { return &pb.PublishResponse{}, nil }
		req := &pb.PublishRequest{Topic: topic}
		for range 100 {
			req.Messages = append(req.Messages, &pb.PubsubMessage{Data: []byte(`{"name": "Alaska", "post_abbr": "AK"}`)})
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := l.Unary(ctx, req, &grpc.UnaryServerInfo{}, noop); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
