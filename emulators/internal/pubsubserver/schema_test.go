package pubsubserver

import (
	"context"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/pubsubschema"
)

const (
	avroV1 = `{"type": "record", "name": "State", "fields": [{"name": "name", "type": "string"}]}`
	avroV2 = `{"type": "record", "name": "State", "fields": [{"name": "name", "type": "string"}, {"name": "abbr", "type": "string"}]}`
)

// schemaTopic creates schema s (revisions avroV1 then avroV2) and a topic
// using it in JSON encoding between the revisions given ("": open ended).
func schemaTopic(t *testing.T, ctx context.Context, sc pb.SchemaServiceClient, pub pb.PublisherClient, first, last func(r1, r2 string) string) (topic, r1, r2 string) {
	t.Helper()
	s1, err := sc.CreateSchema(ctx, &pb.CreateSchemaRequest{Parent: "projects/p", SchemaId: "state", Schema: &pb.Schema{Type: pb.Schema_AVRO, Definition: avroV1}})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := sc.CommitSchema(ctx, &pb.CommitSchemaRequest{Name: s1.GetName(), Schema: &pb.Schema{Type: pb.Schema_AVRO, Definition: avroV2}})
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 = s1.GetRevisionId(), s2.GetRevisionId()
	topic = "projects/p/topics/states"
	settings := &pb.SchemaSettings{Schema: s1.GetName(), Encoding: pb.Encoding_JSON, FirstRevisionId: first(r1, r2), LastRevisionId: last(r1, r2)}
	if _, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic, SchemaSettings: settings}); err != nil {
		t.Fatal(err)
	}
	return topic, r1, r2
}

func none(string, string) string    { return "" }
func revision1(r1, _ string) string { return r1 }

func TestPublishIsCheckedAgainstTheTopicsRevisionsAndTaggedWithTheOneThatMatched(t *testing.T) {
	_, conn := start(t)
	ctx := context.Background()
	pub, sub, sc := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn), pb.NewSchemaServiceClient(conn)
	topic, r1, r2 := schemaTopic(t, ctx, sc, pub, none, none)
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/states-sub", Topic: topic, AckDeadlineSeconds: 10})
		return err
	})
	for data, revision := range map[string]string{`{"name": "Alaska", "abbr": "AK"}`: r2, `{"name": "Alaska"}`: r1} {
		if _, err := pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: []byte(data)}}}); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		resp, err := sub.Pull(ctx, &pb.PullRequest{Subscription: "projects/p/subscriptions/states-sub", MaxMessages: 1})
		if err != nil || len(resp.GetReceivedMessages()) != 1 {
			t.Fatalf("pull: %v %v", resp, err)
		}
		rm := resp.GetReceivedMessages()[0]
		want := map[string]string{pubsubschema.AttrName: "projects/p/schemas/state", pubsubschema.AttrRevision: revision, pubsubschema.AttrEncoding: "JSON"}
		for k, v := range want {
			if got := rm.GetMessage().GetAttributes()[k]; got != v {
				t.Errorf("%s: attribute %s = %q, want %q", data, k, got, v)
			}
		}
		_, _ = sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: "projects/p/subscriptions/states-sub", AckIds: []string{rm.GetAckId()}})
	}

	good, bad := &pb.PubsubMessage{Data: []byte(`{"name": "Ohio"}`)}, &pb.PubsubMessage{Data: []byte(`{"nom": "Ohio"}`)}
	_, err := pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{good, bad}})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != "Invalid data in message: Message failed schema validation." {
		t.Fatalf("publish of a bad message: %v", err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.GetReason() != "INVALID_JSON_AVRO_MESSAGE" || info.GetDomain() != "pubsub.googleapis.com" {
		t.Errorf("error details %v", st.Details())
	}
	resp, _ := sub.Pull(ctx, &pb.PullRequest{Subscription: "projects/p/subscriptions/states-sub", MaxMessages: 10, ReturnImmediately: true})
	if n := len(resp.GetReceivedMessages()); n != 0 {
		t.Errorf("a refused batch delivered %d messages", n)
	}
}

func TestARevisionRangeLimitsWhatIsAccepted(t *testing.T) {
	_, conn := start(t)
	ctx := context.Background()
	pub, sc := pb.NewPublisherClient(conn), pb.NewSchemaServiceClient(conn)
	topic, _, _ := schemaTopic(t, ctx, sc, pub, revision1, revision1)
	_, err := pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: []byte(`{"name": "Alaska", "abbr": "AK"}`)}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a message of revision 2 on a topic limited to revision 1: %v", err)
	}
}

func TestSchemaServiceValidatesDefinitionsAndMessages(t *testing.T) {
	_, conn := start(t)
	ctx := context.Background()
	sc, pub := pb.NewSchemaServiceClient(conn), pb.NewPublisherClient(conn)
	bad := &pb.Schema{Type: pb.Schema_AVRO, Definition: `{"type": "record"}`}
	good := &pb.Schema{Type: pb.Schema_AVRO, Definition: avroV1}
	if _, err := sc.ValidateSchema(ctx, &pb.ValidateSchemaRequest{Parent: "projects/p", Schema: bad}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ValidateSchema of a bad definition: %v", err)
	}
	if _, err := sc.CreateSchema(ctx, &pb.CreateSchemaRequest{Parent: "projects/p", SchemaId: "bad", Schema: bad}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CreateSchema of a bad definition: %v", err)
	}
	for i, want := range []codes.Code{codes.OK, codes.AlreadyExists} {
		_, err := sc.CreateSchema(ctx, &pb.CreateSchemaRequest{Parent: "projects/p", SchemaId: "twice", Schema: good})
		if status.Code(err) != want {
			t.Errorf("CreateSchema #%d of one id: %v, want %s", i+1, err, want)
		}
	}
	if _, err := sc.ValidateSchema(ctx, &pb.ValidateSchemaRequest{Parent: "projects/p", Schema: good}); err != nil {
		t.Errorf("ValidateSchema of a good definition: %v", err)
	}
	check := func(msg string) error {
		_, err := sc.ValidateMessage(ctx, &pb.ValidateMessageRequest{Parent: "projects/p", SchemaSpec: &pb.ValidateMessageRequest_Schema{Schema: good}, Message: []byte(msg), Encoding: pb.Encoding_JSON})
		return err
	}
	if err := check(`{"name": "x"}`); err != nil {
		t.Errorf("ValidateMessage of a matching message: %v", err)
	}
	if err := check(`{"name": 1}`); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ValidateMessage of a message that does not match: %v", err)
	}
	if _, err := pub.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/tee", SchemaSettings: &pb.SchemaSettings{Schema: "projects/p/schemas/missing"}}); status.Code(err) != codes.NotFound {
		t.Errorf("a topic with a missing schema: %v", err)
	}
}
