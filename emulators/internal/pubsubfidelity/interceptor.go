package pubsubfidelity

import (
	"context"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	publisher  = "/google.pubsub.v1.Publisher/"
	subscriber = "/google.pubsub.v1.Subscriber/"
)

// Unary is the layer as a gRPC unary interceptor: it serves some methods
// itself, checks the requests of others before pstest (the handler) sees
// them and fixes up their responses.
func (l *Layer) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	switch r := req.(type) {
	// Served here.
	case *pb.PublishRequest:
		return l.Publish(r)
	case *pb.SeekRequest:
		return l.Seek(r)
	case *pb.CreateSnapshotRequest:
		return l.CreateSnapshot(r)
	case *pb.GetSnapshotRequest:
		return l.GetSnapshot(r)
	case *pb.UpdateSnapshotRequest:
		return l.UpdateSnapshot(r)
	case *pb.DeleteSnapshotRequest:
		return l.DeleteSnapshot(r)
	case *pb.ListSnapshotsRequest:
		return l.ListSnapshots(r)
	case *pb.ListTopicSnapshotsRequest:
		return l.ListTopicSnapshots(r)
	case *pb.DetachSubscriptionRequest:
		return l.Detach(r)

	// Checked, then pstest.
	case *pb.Topic:
		if info.FullMethod == publisher+"CreateTopic" {
			return l.showing(h(ctx, req))
		}
	case *pb.GetTopicRequest:
		return l.showing(h(ctx, req))
	case *pb.ListTopicsRequest:
		return l.showing(h(ctx, req))
	case *pb.UpdateTopicRequest:
		if len(r.GetUpdateMask().GetPaths()) == 0 {
			return nil, status.Error(codes.InvalidArgument, "The update_mask in the UpdateTopicRequest must be set, and must be non-empty.")
		}
		if err := checkUpdatePaths("Topic", r.GetUpdateMask().GetPaths(), topicPaths); err != nil {
			return nil, err
		}
		fallibleFirst(r.GetUpdateMask().GetPaths())
		for _, p := range r.GetUpdateMask().GetPaths() {
			if strings.HasPrefix(p, "schema_settings.") && r.GetTopic().GetSchemaSettings() == nil {
				return nil, status.Errorf(codes.InvalidArgument, "update_mask names %s but the topic has no schema_settings", p)
			}
		}
		return l.showing(h(ctx, req))
	case *pb.DeleteTopicRequest:
		l.releaseDeadLetterTopic(r.GetTopic())
	case *pb.ListTopicSubscriptionsRequest:
		resp, err := h(ctx, req)
		return l.attachedOnly(r.GetTopic(), resp, err)
	case *pb.Subscription:
		if info.FullMethod == subscriber+"CreateSubscription" {
			return l.createSubscription(ctx, r, h)
		}
	case *pb.UpdateSubscriptionRequest:
		return l.updateSubscription(ctx, r, h)
	case *pb.GetSubscriptionRequest:
		return l.showing(h(ctx, req))
	case *pb.ListSubscriptionsRequest:
		return l.showing(h(ctx, req))
	case *pb.DeleteSubscriptionRequest:
		resp, err := h(ctx, req)
		if err == nil {
			unlock := l.st.Lock()
			delete(l.policies, r.GetSubscription())
			delete(l.parked, r.GetSubscription())
			unlock()
		}
		return resp, err
	case *pb.PullRequest:
		if err := l.beforePull(r); err != nil {
			return nil, err
		}
		resp, err := h(ctx, req)
		if out, ok := resp.(*pb.PullResponse); ok && err == nil {
			l.own(out)
		}
		return resp, err
	case *pb.AcknowledgeRequest:
	case *pb.ModifyAckDeadlineRequest:
		if d := r.GetAckDeadlineSeconds(); d < 0 || d > 600 {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid ack deadline given: %d; must be between 0 and 600 seconds", d)
		}
		resp, err := h(ctx, req)
		if err == nil { // a nack may have made a message due for dead-lettering
			l.deadLetterNow(r.GetSubscription())
		}
		return resp, err
	case *pb.ModifyPushConfigRequest:
	}
	return h(ctx, req)
}

// createSubscription validates as production does (an omitted ack deadline
// is 10 s; 0-600 else INVALID_ARGUMENT, the Java emulator's bounds) and
// keeps the real dead-letter policy.
func (l *Layer) createSubscription(ctx context.Context, r *pb.Subscription, h grpc.UnaryHandler) (any, error) {
	switch d := r.GetAckDeadlineSeconds(); {
	case d == 0:
		r.AckDeadlineSeconds = 10
	case d < 0 || d > 600:
		return nil, status.Error(codes.InvalidArgument, "ack_deadline_secs out of bounds")
	}
	real, err := hidePolicy(r.GetDeadLetterPolicy())
	if err != nil {
		return nil, err
	}
	resp, err := h(ctx, r)
	if err != nil {
		return nil, err
	}
	defer l.st.Lock()()
	if real != nil {
		l.policies[r.GetName()] = real
	} else {
		delete(l.policies, r.GetName())
	}
	return l.showSubscription(resp.(*pb.Subscription)), nil
}

// updateSubscription does what createSubscription does for the fields in
// the mask, and applies a new ack deadline to deliveries too (pstest only
// records it).
func (l *Layer) updateSubscription(ctx context.Context, r *pb.UpdateSubscriptionRequest, h grpc.UnaryHandler) (any, error) {
	if len(r.GetUpdateMask().GetPaths()) == 0 { // pstest dereferences it
		return nil, status.Error(codes.InvalidArgument, "The update_mask in the UpdateSubscriptionRequest must be set, and must be non-empty.")
	}
	if err := checkUpdatePaths("Subscription", r.GetUpdateMask().GetPaths(), subscriptionPaths); err != nil {
		return nil, err
	}
	fallibleFirst(r.GetUpdateMask().GetPaths())
	var real *pb.DeadLetterPolicy
	policy, deadline := false, false
	for _, path := range r.GetUpdateMask().GetPaths() {
		switch path {
		case "dead_letter_policy":
			var err error
			if real, err = hidePolicy(r.GetSubscription().GetDeadLetterPolicy()); err != nil {
				return nil, err
			}
			policy = true
		case "ack_deadline_seconds":
			switch d := r.GetSubscription().GetAckDeadlineSeconds(); {
			case d == 0:
				r.Subscription.AckDeadlineSeconds = 10
			case d < 0 || d > 600:
				return nil, status.Error(codes.InvalidArgument, "ack_deadline_secs out of bounds")
			}
			deadline = true
		}
	}
	resp, err := h(ctx, r)
	if err != nil {
		return nil, err
	}
	defer l.st.Lock()()
	name := r.GetSubscription().GetName()
	if policy {
		if real != nil {
			l.policies[name] = real
		} else {
			delete(l.policies, name)
		}
	}
	if s := l.st.Subscription(name); s != nil && deadline {
		s.SetAckTimeout(time.Duration(s.Proto().GetAckDeadlineSeconds()) * time.Second)
	}
	return l.showSubscription(resp.(*pb.Subscription)), nil
}

// showing turns a response carrying pstest's own topic or subscription
// protos, which pstest returns and gRPC marshals after pstest's lock is
// released (a race with a concurrent update), into copies made under the
// lock, subscriptions with their real dead-letter policies.
func (l *Layer) showing(resp any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	defer l.st.Lock()()
	switch r := resp.(type) {
	case *pb.Subscription:
		return l.showSubscription(r), nil
	case *pb.Topic, *pb.ListTopicsResponse:
		return proto.Clone(r.(proto.Message)), nil
	case *pb.ListSubscriptionsResponse:
		out := proto.Clone(r).(*pb.ListSubscriptionsResponse)
		for i, s := range r.GetSubscriptions() {
			out.Subscriptions[i] = l.showSubscription(s)
		}
		return out, nil
	}
	return resp, nil
}

// attachedOnly leaves detached subscriptions out of a topic's list (pstest
// lists every subscription naming the topic). A page may come out shorter.
func (l *Layer) attachedOnly(topic string, resp any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	r := resp.(*pb.ListTopicSubscriptionsResponse)
	out := &pb.ListTopicSubscriptionsResponse{NextPageToken: r.GetNextPageToken()}
	defer l.st.Lock()()
	for _, name := range r.GetSubscriptions() {
		// A subscription outlives its deleted topic (its topic is then
		// "_deleted-topic_"); it is no longer one of the name's, even
		// once a topic of that name is created again.
		if s := l.st.Subscription(name); s == nil || !s.Proto().GetDetached() && s.Proto().GetTopic() == topic {
			out.Subscriptions = append(out.Subscriptions, name)
		}
	}
	return out, nil
}

// beforePull refuses pulls from detached subscriptions and dead-letters
// what is due, so that no message is delivered past its max attempts.
func (l *Layer) beforePull(r *pb.PullRequest) error {
	defer l.st.Lock()()
	s := l.st.Subscription(r.GetSubscription())
	if s == nil {
		return nil // pstest answers NOT_FOUND
	}
	if s.Proto().GetDetached() {
		return status.Error(codes.FailedPrecondition, "Subscription is detached")
	}
	now := l.now()
	l.deadLetterDue(r.GetSubscription(), s, now)
	l.refill(s, now)
	return nil
}

func (l *Layer) deadLetterNow(name string) {
	defer l.st.Lock()()
	if s := l.st.Subscription(name); s != nil {
		l.deadLetterDue(name, s, l.now())
	}
}

// Detach serves DetachSubscription: the subscription stays (detached:
// true, its messages dropped, pulls refused) but leaves its topic, which no
// longer lists it nor delivers to it.
func (l *Layer) Detach(r *pb.DetachSubscriptionRequest) (*pb.DetachSubscriptionResponse, error) {
	defer l.st.Lock()()
	s := l.st.Subscription(r.GetSubscription())
	if s == nil {
		return nil, status.Error(codes.NotFound, "Subscription does not exist")
	}
	s.Proto().Detached = true
	if t := s.Topic(); t != nil {
		t.Detach(r.GetSubscription())
	}
	s.Clear()
	delete(l.parked, r.GetSubscription())
	return &pb.DetachSubscriptionResponse{}, nil
}

// own gives a pull response its own ReceivedMessages, copied under pstest's lock: pstest hands
// out the *ReceivedMessage it keeps and rewrites it (ack id, delivery attempt) at the next
// delivery, which a concurrent pull may make while gRPC still marshals this response
// ("size mismatch" found by the chaos driver).
func (l *Layer) own(resp *pb.PullResponse) {
	defer l.st.Lock()()
	for i, rm := range resp.GetReceivedMessages() {
		resp.ReceivedMessages[i] = &pb.ReceivedMessage{
			AckId:           rm.GetAckId(),
			Message:         rm.GetMessage(),
			DeliveryAttempt: rm.GetDeliveryAttempt(),
		}
	}
}
