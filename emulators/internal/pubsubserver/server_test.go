package pubsubserver

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/etl-pipeline/emulators/internal/push"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

// start runs a server on a free loopback port with a 1 s resync, so that a
// change seen within a few hundred milliseconds can only come from the hook.
func start(t *testing.T) (*Server, *grpc.ClientConn) {
	t.Helper()
	return startResyncing(t, time.Second)
}

// startResyncing is start with the dispatcher's periodic resync every `resync`.
func startResyncing(t *testing.T, resync time.Duration) (*Server, *grpc.ClientConn) {
	t.Helper()
	srv, err := Start("127.0.0.1:0", push.Config{
		PollInterval:   5 * time.Millisecond,
		ResyncInterval: resync,
		Logf:           t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Ready(); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, testserver.Dial(t, srv.Addr(), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(32<<20)))
}

func TestModifyPushConfigTurnsPullIntoPushAndBack(t *testing.T) {
	// The resync comes only after a minute: within the waits below (seconds on a loaded
	// machine), a change can only come from ModifyPushConfig's own hook.
	_, conn := startResyncing(t, time.Minute)
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	ctx := context.Background()
	var pushed atomic.Int32
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { pushed.Add(1) }))
	defer ep.Close()

	topic, name := "projects/p/topics/topic-t", "projects/p/subscriptions/sub-s"
	mustOK(t, func() error { _, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic}); return err })
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: 10})
		return err
	})
	mustOK(t, func() error {
		_, err := sub.ModifyPushConfig(ctx, &pb.ModifyPushConfigRequest{Subscription: name, PushConfig: &pb.PushConfig{PushEndpoint: ep.URL}})
		return err
	})
	got, err := sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
	if err != nil || got.GetPushConfig().GetPushEndpoint() != ep.URL || got.GetPushConfig().GetPubsubWrapper() == nil {
		t.Fatalf("push config after ModifyPushConfig: %v, %v", got.GetPushConfig(), err)
	}
	publish(t, pub, topic)
	testserver.WaitFor(t, 10*time.Second, "a push delivery", func() bool { return pushed.Load() == 1 })

	mustOK(t, func() error {
		_, err := sub.ModifyPushConfig(ctx, &pb.ModifyPushConfigRequest{Subscription: name, PushConfig: &pb.PushConfig{}})
		return err
	})
	time.Sleep(time.Second) // the hook stops the push worker asynchronously; nothing observes it
	publish(t, pub, topic)
	resp, err := sub.Pull(ctx, &pb.PullRequest{Subscription: name, MaxMessages: 10})
	// Only the message published after push went off ("2"): the pushed one ("1") was acked by
	// its endpoint's answer, even when push went off while that answer was on the way (the
	// endpoint counts before it answers).
	if err != nil || len(resp.GetReceivedMessages()) != 1 || resp.GetReceivedMessages()[0].GetMessage().GetMessageId() != "2" {
		t.Fatalf("pull after turning push off: %v, %v", resp, err)
	}
	if pushed.Load() != 1 {
		t.Errorf("%d pushes, want 1", pushed.Load())
	}
}

// Detaching drops a subscription's messages, so unlike turning push off it
// does not wait for the answer of a delivery in flight.
func TestDetachingAPushSubscriptionCancelsItsDeliveryInFlight(t *testing.T) {
	// DetachSubscription has no hook: the periodic resync sees it.
	_, conn := startResyncing(t, 50*time.Millisecond)
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	ctx := context.Background()
	var cancelled atomic.Bool
	ended := make(chan struct{})
	ep := testserver.NewPushEndpoint(t, func(_ *testserver.PushRequest, req *http.Request) int {
		select {
		case <-req.Context().Done():
			cancelled.Store(true)
		case <-ended: // let the endpoint close
		}
		return http.StatusOK
	})
	t.Cleanup(func() { close(ended) })

	topic, name := "projects/p/topics/topic-d", "projects/p/subscriptions/sub-d"
	mustOK(t, func() error { _, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic}); return err })
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: 10, PushConfig: &pb.PushConfig{PushEndpoint: ep.PushURL()}})
		return err
	})
	publish(t, pub, topic)
	testserver.WaitFor(t, 10*time.Second, "the delivery held", func() bool { return len(ep.Requests()) == 1 })
	mustOK(t, func() error {
		_, err := pub.DetachSubscription(ctx, &pb.DetachSubscriptionRequest{Subscription: name})
		return err
	})
	testserver.WaitFor(t, 5*time.Second, "the held delivery cancelled", cancelled.Load)
}

func TestAcceptsMessagesLargerThanGRPCsDefaultLimit(t *testing.T) {
	_, conn := start(t)
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	ctx := context.Background()
	topic, name := "projects/p/topics/big", "projects/p/subscriptions/big"
	mustOK(t, func() error { _, err := pub.CreateTopic(ctx, &pb.Topic{Name: topic}); return err })
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: name, Topic: topic, AckDeadlineSeconds: 10})
		return err
	})
	data := bytes.Repeat([]byte("x"), 9<<20) // Pub/Sub allows 10 MB
	mustOK(t, func() error {
		_, err := pub.Publish(ctx, &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: data}}})
		return err
	})
	resp, err := sub.Pull(ctx, &pb.PullRequest{Subscription: name, MaxMessages: 1})
	if err != nil || len(resp.GetReceivedMessages()) != 1 || len(resp.GetReceivedMessages()[0].GetMessage().GetData()) != len(data) {
		t.Fatalf("pulling a 9 MiB message: %v", err)
	}
}

func TestCloseEndsOpenStreamsAndStopsServing(t *testing.T) {
	srv, conn := start(t)
	ctx := context.Background()
	pub, sub := pb.NewPublisherClient(conn), pb.NewSubscriberClient(conn)
	mustOK(t, func() error { _, err := pub.CreateTopic(ctx, &pb.Topic{Name: "projects/p/topics/topic-t"}); return err })
	mustOK(t, func() error {
		_, err := sub.CreateSubscription(ctx, &pb.Subscription{Name: "projects/p/subscriptions/sub-s", Topic: "projects/p/topics/topic-t", AckDeadlineSeconds: 10})
		return err
	})
	// An open streaming pull would keep a graceful stop waiting forever.
	stream, err := sub.StreamingPull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, func() error {
		return stream.Send(&pb.StreamingPullRequest{Subscription: "projects/p/subscriptions/sub-s", StreamAckDeadlineSeconds: 10})
	})

	t0 := time.Now()
	srv.Close()
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("still answering after Close")
	}
}

func publish(t *testing.T, pub pb.PublisherClient, topic string) {
	t.Helper()
	mustOK(t, func() error {
		_, err := pub.Publish(context.Background(), &pb.PublishRequest{Topic: topic, Messages: []*pb.PubsubMessage{{Data: []byte("e")}}})
		return err
	})
}

func mustOK(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}
