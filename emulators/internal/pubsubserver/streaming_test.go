package pubsubserver

import (
	"context"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// A stream's pulls and nacks go through the fidelity layer as a client's unary
// calls do: dead-lettering after the last attempt adds the source attributes.
func TestStreamingPullDeadLettersThroughTheFidelityLayer(t *testing.T) {
	_, conn := start(t)
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic, dead := "projects/p/topics/events", "projects/p/topics/dead"
	name, deadSub := "projects/p/subscriptions/stream", "projects/p/subscriptions/dead-reader"
	for _, tp := range []string{topic, dead} {
		mustOK(t, func() error { _, err := pub.CreateTopic(ctx, &pb.Topic{Name: tp}); return err })
	}
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: deadSub, Topic: dead, AckDeadlineSeconds: 10})
		return err
	})
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{
			Name: name, Topic: topic, AckDeadlineSeconds: 10,
			DeadLetterPolicy: &pb.DeadLetterPolicy{DeadLetterTopic: dead, MaxDeliveryAttempts: 5},
		})
		return err
	})
	publish(t, pub, topic)

	stream, err := sub.StreamingPull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.StreamingPullRequest{Subscription: name, StreamAckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for attempts < 5 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.GetReceivedMessages() {
			attempts++
			nack := &pb.StreamingPullRequest{ModifyDeadlineAckIds: []string{m.GetAckId()}, ModifyDeadlineSeconds: []int32{0}}
			if err := stream.Send(nack); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got *pb.PubsubMessage
	testserver.WaitFor(t, 10*time.Second, "the dead letter", func() bool {
		resp, err := sub.Pull(ctx, &pb.PullRequest{Subscription: deadSub, MaxMessages: 1, ReturnImmediately: true})
		if err == nil && len(resp.GetReceivedMessages()) > 0 {
			got = resp.GetReceivedMessages()[0].GetMessage()
		}
		return got != nil
	})
	if src := got.GetAttributes()["CloudPubSubDeadLetterSourceSubscription"]; src != "stream" {
		t.Fatalf("dead letter attributes %v: want the source subscription", got.GetAttributes())
	}
}
