package pubsubfidelity

import (
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/etl-pipeline/emulators/internal/push"
)

// hidePolicy validates the dead-letter policy a client asked for, and
// returns it as production would store it (max_delivery_attempts 0 means 5)
// while changing the request's copy, the one pstest keeps, to a threshold
// pstest never reaches. nil in, nil out.
func hidePolicy(p *pb.DeadLetterPolicy) (*pb.DeadLetterPolicy, error) {
	if p == nil {
		return nil, nil
	}
	if p.GetDeadLetterTopic() == "" {
		return nil, status.Error(codes.InvalidArgument, "Invalid dead letter topic: dead letter topic must be set")
	}
	if err := checkName("topics", p.GetDeadLetterTopic()); err != nil {
		return nil, err
	}
	real := proto.Clone(p).(*pb.DeadLetterPolicy)
	if real.MaxDeliveryAttempts == 0 {
		real.MaxDeliveryAttempts = defaultMaxAttempts
	}
	if real.MaxDeliveryAttempts < 5 || real.MaxDeliveryAttempts > 100 {
		return nil, status.Errorf(codes.InvalidArgument, "max_delivery_attempts must be between 5 and 100, got %d", real.MaxDeliveryAttempts)
	}
	p.MaxDeliveryAttempts = hiddenMaxAttempts
	return real, nil
}

// showSubscription returns a copy of s, as stored by pstest, with the real
// dead-letter policy. Must be called with the lock held.
func (l *Layer) showSubscription(s *pb.Subscription) *pb.Subscription {
	if s == nil {
		return nil
	}
	out := proto.Clone(s).(*pb.Subscription)
	if real := l.policies[s.GetName()]; real != nil && out.DeadLetterPolicy != nil {
		out.DeadLetterPolicy = proto.Clone(real).(*pb.DeadLetterPolicy)
	}
	return out
}

// releaseDeadLetterTopic lets topic be deleted while subscriptions name it
// as their dead-letter topic, as production does (pstest refuses with
// FailedPrecondition; Google's samples delete it so). Their policies keep
// the name: messages due for dead-lettering stay on the subscription while
// no topic has it (deadLetterDue) and go to a topic created again under it.
func (l *Layer) releaseDeadLetterTopic(topic string) {
	defer l.st.Lock()()
	for _, s := range l.st.Subscriptions() {
		if s.Proto().GetDeadLetterPolicy().GetDeadLetterTopic() == topic {
			s.ForgetDeadLetterTopic()
		}
	}
}

// deadLetterDue forwards the messages of subscription name that are not
// outstanding and have used up their delivery attempts to its dead-letter
// topic, with the CloudPubSubDeadLetterSource* attributes, and removes them
// from the subscription. Must be called with the lock held.
func (l *Layer) deadLetterDue(name string, s *sub, now time.Time) {
	real := l.policies[name]
	if real == nil || s.Proto().GetDeadLetterPolicy() == nil {
		return
	}
	dlt := l.st.Topic(real.GetDeadLetterTopic())
	if dlt == nil {
		return // production keeps the message; so do we
	}
	var out []*pb.PubsubMessage
	for id, m := range s.Messages() {
		n := m.Deliveries()
		if n < int(real.GetMaxDeliveryAttempts()) || !m.Available(now) {
			continue
		}
		rm := m.Proto()
		if rm == nil || rm.GetMessage() == nil {
			continue
		}
		out = append(out, push.DeadLetterMessage(name, rm.GetMessage(), n))
		m.CountAck()
		s.Remove(id)
	}
	if len(out) > 0 {
		l.publishLocked(dlt, out, now)
	}
}
