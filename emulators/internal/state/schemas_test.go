package state

import (
	"context"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSchemasSurviveExportAndImport: every revision comes back in order,
// and a topic limited to the first revision still refuses the second's
// messages (its range follows the new revision ids).
func TestSchemasSurviveExportAndImport(t *testing.T) {
	ctx := context.Background()
	a := newPubSub(t)
	sc := pb.NewSchemaServiceClient(a.srv.Conn())
	defs := []string{
		`{"type": "record", "name": "S", "fields": [{"name": "a", "type": "string"}]}`,
		`{"type": "record", "name": "S", "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]}`,
	}
	first, err := sc.CreateSchema(ctx, &pb.CreateSchemaRequest{Parent: "projects/p", SchemaId: "state", Schema: &pb.Schema{Type: pb.Schema_AVRO, Definition: defs[0]}})
	a.must(err)
	_, err = sc.CommitSchema(ctx, &pb.CommitSchemaRequest{Name: first.GetName(), Schema: &pb.Schema{Type: pb.Schema_AVRO, Definition: defs[1]}})
	a.must(err)
	settings := &pb.SchemaSettings{Schema: first.GetName(), Encoding: pb.Encoding_JSON, FirstRevisionId: first.GetRevisionId(), LastRevisionId: first.GetRevisionId()}
	_, err = a.pub.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/states", SchemaSettings: settings})
	a.must(err)

	dir := t.TempDir()
	a.must(ExportPubSub(ctx, a.srv, nil, dir))
	st, err := LoadPubSub(dir)
	a.must(err)
	b := newPubSub(t)
	a.must(st.Apply(ctx, b.srv, nil))

	revs, err := pb.NewSchemaServiceClient(b.srv.Conn()).ListSchemaRevisions(ctx, &pb.ListSchemaRevisionsRequest{Name: first.GetName(), View: pb.SchemaView_FULL})
	a.must(err)
	if len(revs.GetSchemas()) != 2 || revs.GetSchemas()[0].GetDefinition() != defs[0] || revs.GetSchemas()[1].GetDefinition() != defs[1] {
		t.Fatalf("revisions after import: %v", revs.GetSchemas())
	}
	topic, err := b.pub.GetTopic(ctx, &pb.GetTopicRequest{Topic: "projects/p/topics/states"})
	a.must(err)
	if got := topic.GetSchemaSettings().GetFirstRevisionId(); got != revs.GetSchemas()[0].GetRevisionId() {
		t.Errorf("first revision id %q, want the imported first revision %q", got, revs.GetSchemas()[0].GetRevisionId())
	}
	_, err = b.pub.Publish(ctx, &pb.PublishRequest{Topic: "projects/p/topics/states", Messages: []*pb.PubsubMessage{{Data: []byte(`{"a": "x", "b": "y"}`)}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a second-revision message on a topic limited to the first, after import: %v", err)
	}
}
