package pubsubserver

import (
	"context"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

const (
	// pullWait is how long a Pull that may wait (ReturnImmediately false)
	// waits on an empty subscription before it answers with no messages:
	// pstest's own bound.
	pullWait = 500 * time.Millisecond
	// minPullPoll and maxPullPoll bound how often such a Pull looks again:
	// the interval doubles while nothing arrives, as a stream's polls do
	// (internal/streampull).
	minPullPoll = time.Millisecond
	maxPullPoll = 10 * time.Millisecond
)

// subscriber is pstest's Subscriber service plus ModifyPushConfig, which
// pstest does not implement, a notification on every change to a
// subscription so push delivery follows it at once, and a Pull that answers
// as soon as messages arrive.
type subscriber struct {
	*pstest.GServer
	changed func()
	// wait is how long a Pull may wait for messages (pullWait; tests set
	// their own).
	wait time.Duration
}

// Pull answers as production does: at once when the subscription has
// messages, else (unless ReturnImmediately) as soon as some arrive, or with
// none after s.wait. pstest's own Pull on an empty subscription sleeps
// 500 ms blind and only then looks again, so every message published
// meanwhile waited up to half a second (the worker's latency tail: bursts of
// ~500 ms whenever a pull found the subscription momentarily empty).
func (s *subscriber) Pull(ctx context.Context, req *pb.PullRequest) (*pb.PullResponse, error) {
	if req.GetReturnImmediately() {
		return s.GServer.Pull(ctx, req)
	}
	now := proto.Clone(req).(*pb.PullRequest)
	now.ReturnImmediately = true
	deadline := time.Now().Add(s.wait)
	poll := minPullPoll
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		resp, err := s.GServer.Pull(ctx, now)
		left := time.Until(deadline)
		if err != nil || len(resp.GetReceivedMessages()) > 0 || left <= 0 {
			return resp, err
		}
		timer.Reset(min(poll, left))
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-timer.C:
		}
		poll = min(2*poll, maxPullPoll)
	}
}

// ModifyPushConfig sets or clears (empty config: pull) the push endpoint.
func (s *subscriber) ModifyPushConfig(ctx context.Context, req *pb.ModifyPushConfigRequest) (*emptypb.Empty, error) {
	if req.GetSubscription() == "" {
		return nil, status.Error(codes.InvalidArgument, "missing subscription")
	}
	cfg := req.GetPushConfig()
	if cfg == nil {
		cfg = &pb.PushConfig{}
	}
	if cfg.GetPushEndpoint() != "" && cfg.Wrapper == nil {
		cfg.Wrapper = &pb.PushConfig_PubsubWrapper_{PubsubWrapper: &pb.PushConfig_PubsubWrapper{}}
	}
	_, err := s.UpdateSubscription(ctx, &pb.UpdateSubscriptionRequest{
		Subscription: &pb.Subscription{Name: req.GetSubscription(), PushConfig: cfg},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}},
	})
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// CreateSubscription creates the subscription and tells push delivery.
func (s *subscriber) CreateSubscription(ctx context.Context, req *pb.Subscription) (*pb.Subscription, error) {
	sub, err := s.GServer.CreateSubscription(ctx, req)
	s.changed()
	return sub, err
}

// UpdateSubscription updates the subscription and tells push delivery.
func (s *subscriber) UpdateSubscription(ctx context.Context, req *pb.UpdateSubscriptionRequest) (*pb.Subscription, error) {
	sub, err := s.GServer.UpdateSubscription(ctx, req)
	s.changed()
	return sub, err
}

// DeleteSubscription deletes the subscription and tells push delivery.
func (s *subscriber) DeleteSubscription(ctx context.Context, req *pb.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	empty, err := s.GServer.DeleteSubscription(ctx, req)
	s.changed()
	return empty, err
}
