package pubsubfidelity

import (
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// A deleted topic's subscriptions are not listed under its name, nor under
// a new topic of that name (production: "an entirely new topic with none of
// the old configuration or subscriptions").
func TestSubscriptionsOfADeletedTopicAreNotItsAnyMore(t *testing.T) {
	f := newFixture(t)
	topic := f.topic("gone")
	f.subscription(&pb.Subscription{Name: subName("orphan"), Topic: topic, AckDeadlineSeconds: 60})
	if _, err := f.pub.DeleteTopic(ctx(), &pb.DeleteTopicRequest{Topic: topic}); err != nil {
		t.Fatal(err)
	}
	listed := func(when string) {
		got, err := f.pub.ListTopicSubscriptions(ctx(), &pb.ListTopicSubscriptionsRequest{Topic: topic})
		if err != nil || len(got.GetSubscriptions()) != 0 {
			t.Errorf("topic %s: %v, %v; want no subscription", when, got.GetSubscriptions(), err)
		}
	}
	listed("deleted")
	f.topic("gone")
	listed("created again")
}
