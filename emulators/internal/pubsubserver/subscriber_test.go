package pubsubserver

import (
	"context"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etl-pipeline/emulators/internal/testserver"
)

// waiting is a subscriber over a fresh pstest whose Pull may wait `wait`,
// with a topic and a subscription to it; their names.
func waiting(t *testing.T, wait time.Duration) (*subscriber, *pstest.Server, string, string) {
	t.Helper()
	fake, _ := testserver.Pstest(t)
	topic, name := "projects/p/topics/t", "projects/p/subscriptions/s"
	ctx := context.Background()
	mustOK(t, func() error { _, err := fake.GServer.CreateTopic(ctx, &pb.Topic{Name: topic}); return err })
	mustOK(t, func() error {
		_, err := fake.GServer.CreateSubscription(ctx, &pb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: 10})
		return err
	})
	return &subscriber{GServer: &fake.GServer, changed: func() {}, wait: wait}, fake, topic, name
}

func TestAPullThatMayWaitAnswersWithAMessagePublishedWhileItWaits(t *testing.T) {
	// With an hour to wait, only an answer on arrival ends the pull within the test's limit
	// (pstest's own Pull sleeps its wait through before it looks again).
	sub, fake, topic, name := waiting(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type pulled struct {
		resp *pb.PullResponse
		err  error
	}
	done := make(chan pulled, 1)
	go func() {
		resp, err := sub.Pull(ctx, &pb.PullRequest{Subscription: name, MaxMessages: 10})
		done <- pulled{resp, err}
	}()
	time.Sleep(50 * time.Millisecond) // most likely the pull is waiting by now; either way it must answer
	fake.Publish(topic, []byte("e"), nil)
	got := <-done
	if got.err != nil || len(got.resp.GetReceivedMessages()) != 1 {
		t.Fatalf("pull while a message is published: %v, %v", got.resp, got.err)
	}
}

func TestAPullThatMayWaitAnswersEmptyOnceItsWaitHasPassed(t *testing.T) {
	sub, _, _, name := waiting(t, 20*time.Millisecond)
	resp, err := sub.Pull(context.Background(), &pb.PullRequest{Subscription: name, MaxMessages: 10})
	if err != nil || len(resp.GetReceivedMessages()) != 0 {
		t.Fatalf("pull of an empty subscription: %v, %v", resp, err)
	}
}

func TestAPullThatMayWaitEndsWithTheCallersContext(t *testing.T) {
	sub, _, _, name := waiting(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := sub.Pull(ctx, &pb.PullRequest{Subscription: name, MaxMessages: 10})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("pull past the caller's deadline: %v, want DEADLINE_EXCEEDED", err)
	}
}

func TestAPullThatMustNotWaitAnswersAtOnce(t *testing.T) {
	sub, fake, topic, name := waiting(t, time.Hour)
	resp, err := sub.Pull(context.Background(), &pb.PullRequest{Subscription: name, MaxMessages: 10, ReturnImmediately: true})
	if err != nil || len(resp.GetReceivedMessages()) != 0 {
		t.Fatalf("immediate pull of an empty subscription: %v, %v", resp, err)
	}
	fake.Publish(topic, []byte("e"), nil)
	resp, err = sub.Pull(context.Background(), &pb.PullRequest{Subscription: name, MaxMessages: 10})
	if err != nil || len(resp.GetReceivedMessages()) != 1 {
		t.Fatalf("pull of a subscription holding a message: %v, %v", resp, err)
	}
}
