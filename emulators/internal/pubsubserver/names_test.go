package pubsubserver

import (
	"context"
	"strings"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Invalid names, as Google's python-pubsub samples use them
// (projects/p/subscriptions/123: an id must start with a letter).
const (
	badTopic    = "projects/p/topics/123"
	badSub      = "projects/p/subscriptions/123"
	badSnapshot = "projects/p/snapshots/123"
	badSchema   = "projects/p/schemas/123"
	badProject  = "p"
)

// validAvro is a definition the schema checks accept, so only the name is
// wrong in the requests below.
var validAvro = &pb.Schema{Type: pb.Schema_AVRO, Definition: `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`}

// invalidRequests has, for every method of the Publisher, Subscriber and
// SchemaService services, a request naming an invalid resource.
var invalidRequests = map[string]proto.Message{
	"CreateTopic":            &pb.Topic{Name: badTopic},
	"UpdateTopic":            &pb.UpdateTopicRequest{Topic: &pb.Topic{Name: badTopic}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}},
	"Publish":                &pb.PublishRequest{Topic: badTopic, Messages: []*pb.PubsubMessage{{Data: []byte("x")}}},
	"GetTopic":               &pb.GetTopicRequest{Topic: badTopic},
	"ListTopics":             &pb.ListTopicsRequest{Project: badProject},
	"ListTopicSubscriptions": &pb.ListTopicSubscriptionsRequest{Topic: badTopic},
	"ListTopicSnapshots":     &pb.ListTopicSnapshotsRequest{Topic: badTopic},
	"DeleteTopic":            &pb.DeleteTopicRequest{Topic: badTopic},
	"DetachSubscription":     &pb.DetachSubscriptionRequest{Subscription: badSub},
	"CreateSubscription":     &pb.Subscription{Name: badSub, Topic: "projects/p/topics/valid"},
	"GetSubscription":        &pb.GetSubscriptionRequest{Subscription: badSub},
	"UpdateSubscription":     &pb.UpdateSubscriptionRequest{Subscription: &pb.Subscription{Name: badSub}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}},
	"ListSubscriptions":      &pb.ListSubscriptionsRequest{Project: badProject},
	"DeleteSubscription":     &pb.DeleteSubscriptionRequest{Subscription: badSub},
	"ModifyAckDeadline":      &pb.ModifyAckDeadlineRequest{Subscription: badSub, AckIds: []string{"1:1"}, AckDeadlineSeconds: 10},
	"Acknowledge":            &pb.AcknowledgeRequest{Subscription: badSub, AckIds: []string{"1:1"}},
	"Pull":                   &pb.PullRequest{Subscription: badSub, MaxMessages: 1, ReturnImmediately: true},
	"StreamingPull":          &pb.StreamingPullRequest{Subscription: badSub, StreamAckDeadlineSeconds: 10},
	"ModifyPushConfig":       &pb.ModifyPushConfigRequest{Subscription: badSub, PushConfig: &pb.PushConfig{}},
	"GetSnapshot":            &pb.GetSnapshotRequest{Snapshot: badSnapshot},
	"ListSnapshots":          &pb.ListSnapshotsRequest{Project: badProject},
	"CreateSnapshot":         &pb.CreateSnapshotRequest{Name: badSnapshot, Subscription: "projects/p/subscriptions/valid"},
	"UpdateSnapshot":         &pb.UpdateSnapshotRequest{Snapshot: &pb.Snapshot{Name: badSnapshot}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}},
	"DeleteSnapshot":         &pb.DeleteSnapshotRequest{Snapshot: badSnapshot},
	"Seek":                   &pb.SeekRequest{Subscription: badSub, Target: &pb.SeekRequest_Snapshot{Snapshot: "projects/p/snapshots/valid"}},

	"CreateSchema":         &pb.CreateSchemaRequest{Parent: "projects/p", SchemaId: "123", Schema: validAvro},
	"GetSchema":            &pb.GetSchemaRequest{Name: badSchema},
	"ListSchemas":          &pb.ListSchemasRequest{Parent: badProject},
	"ListSchemaRevisions":  &pb.ListSchemaRevisionsRequest{Name: badSchema},
	"CommitSchema":         &pb.CommitSchemaRequest{Name: badSchema, Schema: validAvro},
	"RollbackSchema":       &pb.RollbackSchemaRequest{Name: badSchema, RevisionId: "abc"},
	"DeleteSchemaRevision": &pb.DeleteSchemaRevisionRequest{Name: badSchema + "@abc"},
	"DeleteSchema":         &pb.DeleteSchemaRequest{Name: badSchema},
	"ValidateSchema":       &pb.ValidateSchemaRequest{Parent: badProject, Schema: validAvro},
	"ValidateMessage":      &pb.ValidateMessageRequest{Parent: "projects/p", SchemaSpec: &pb.ValidateMessageRequest_Name{Name: badSchema}, Message: []byte(`{"a":"x"}`), Encoding: pb.Encoding_JSON},
}

// Every method validates the names it is given before it looks anything
// up: INVALID_ARGUMENT "Invalid [KIND] name", as production and Google's
// emulator answer, never NOT_FOUND. The methods come from the services'
// descriptors, so a method added to the API without a case here fails.
func TestEveryMethodValidatesNames(t *testing.T) {
	_, conn := start(t)
	for _, desc := range []grpc.ServiceDesc{pb.Publisher_ServiceDesc, pb.Subscriber_ServiceDesc, pb.SchemaService_ServiceDesc} {
		var methods []string
		for _, m := range desc.Methods {
			methods = append(methods, m.MethodName)
		}
		for _, s := range desc.Streams {
			methods = append(methods, s.StreamName)
		}
		for _, method := range methods {
			t.Run(method, func(t *testing.T) {
				req, ok := invalidRequests[method]
				if !ok {
					t.Fatalf("no invalid request for %s", method)
				}
				err := call(conn, "/"+desc.ServiceName+"/"+method, req)
				if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "Invalid [") {
					t.Errorf("%s with an invalid name: %v, want INVALID_ARGUMENT Invalid [...] name", method, err)
				}
			})
		}
	}
}

// A request whose name is invalid and which also names a missing schema is
// refused for its name (the schema checks run after the name check).
func TestInvalidNamesBeforeMissingSchemas(t *testing.T) {
	_, conn := start(t)
	missing := &pb.SchemaSettings{Schema: "projects/p/schemas/missing", Encoding: pb.Encoding_JSON}
	cases := map[string]proto.Message{
		"/google.pubsub.v1.Publisher/CreateTopic": &pb.Topic{Name: badTopic, SchemaSettings: missing},
		"/google.pubsub.v1.Publisher/UpdateTopic": &pb.UpdateTopicRequest{
			Topic: &pb.Topic{Name: badTopic, SchemaSettings: missing}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"schema_settings"}},
		},
		"/google.pubsub.v1.SchemaService/ValidateMessage": &pb.ValidateMessageRequest{
			Parent: badProject, SchemaSpec: &pb.ValidateMessageRequest_Name{Name: "projects/p/schemas/missing"}, Message: []byte("{}"),
		},
	}
	for method, req := range cases {
		if err := call(conn, method, req); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "Invalid [") {
			t.Errorf("%s: %v, want INVALID_ARGUMENT Invalid [...] name", method, err)
		}
	}
}

// call makes one call of method, streaming (first request, first
// response) for StreamingPull.
func call(conn *grpc.ClientConn, method string, req proto.Message) error {
	ctx := context.Background()
	if !strings.HasSuffix(method, "/StreamingPull") {
		return conn.Invoke(ctx, method, req, new(emptypb.Empty) /* only the status matters */)
	}
	stream, err := pb.NewSubscriberClient(conn).StreamingPull(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(req.(*pb.StreamingPullRequest)); err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}
