package pubsubfidelity

import (
	"maps"
	"slices"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// A refused update changes nothing, whatever the order of its paths.
func TestRefusedUpdatesChangeNothing(t *testing.T) {
	f := newFixture(t)
	topic := topicName("upd")
	if _, err := f.pub.CreateTopic(ctx(), &pb.Topic{Name: topic, Labels: map[string]string{"env": "a"}}); err != nil {
		t.Fatal(err)
	}
	sub := f.subscription(&pb.Subscription{Name: subName("upd"), Topic: topic, AckDeadlineSeconds: 300, Labels: map[string]string{"env": "a"}})
	for _, paths := range [][]string{{"labels", "no_such_field"}, {"labels", "message_retention_duration"}} {
		_, err := f.pub.UpdateTopic(ctx(), &pb.UpdateTopicRequest{
			Topic:      &pb.Topic{Name: topic, MessageRetentionDuration: durationpb.New(1)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
		})
		wantCode(t, err, codes.InvalidArgument, "")
		got, _ := f.pub.GetTopic(ctx(), &pb.GetTopicRequest{Topic: topic})
		if !maps.Equal(got.GetLabels(), map[string]string{"env": "a"}) {
			t.Errorf("topic update %v refused, yet labels now %v", paths, got.GetLabels())
		}
	}
	for _, paths := range [][]string{{"labels", "ack_deadline_seconds", "no_such_field"}, {"labels", "message_retention_duration"}} {
		_, err := f.sub.UpdateSubscription(ctx(), &pb.UpdateSubscriptionRequest{
			Subscription: &pb.Subscription{Name: sub.GetName(), AckDeadlineSeconds: 500, MessageRetentionDuration: durationpb.New(1)},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: paths},
		})
		wantCode(t, err, codes.InvalidArgument, "")
		got, _ := f.sub.GetSubscription(ctx(), &pb.GetSubscriptionRequest{Subscription: sub.GetName()})
		if !maps.Equal(got.GetLabels(), map[string]string{"env": "a"}) || got.GetAckDeadlineSeconds() != 300 {
			t.Errorf("subscription update %v refused, yet labels %v, deadline %d", paths, got.GetLabels(), got.GetAckDeadlineSeconds())
		}
	}
}

func TestFallibleFirstKeepsEachGroupsOrder(t *testing.T) {
	paths := []string{"labels", "filter", "push_config", "ack_deadline_seconds"}
	fallibleFirst(paths)
	if want := []string{"filter", "ack_deadline_seconds", "labels", "push_config"}; !slices.Equal(paths, want) {
		t.Errorf("got %v, want %v", paths, want)
	}
}
