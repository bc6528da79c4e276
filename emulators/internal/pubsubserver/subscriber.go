package pubsubserver

import (
	"context"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// subscriber is pstest's Subscriber service plus ModifyPushConfig, which
// pstest does not implement, and a notification on every change to a
// subscription so push delivery follows it at once.
type subscriber struct {
	*pstest.GServer
	changed func()
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
