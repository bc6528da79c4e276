package push

import (
	"strconv"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// Defaults of the Pub/Sub API for a retry policy whose bounds are unset, and
// for a dead-letter policy whose max_delivery_attempts is 0.
const (
	apiMinBackoff         = 10 * time.Second
	apiMaxBackoff         = 600 * time.Second
	apiMaxDeliveryAttempt = 5
	defaultAckDeadline    = 10 * time.Second
)

// backoff returns how long to wait before redelivering a message that has
// failed failures times (failures >= 1): min·2^(failures-1), capped at max.
// The subscription's retry policy gives min and max; without one the
// emulator-wide fallback applies (production would redeliver at once and let
// push flow control slow down, which a test harness does not want).
func backoff(sub *pb.Subscription, failures int, fallbackMin, fallbackMax time.Duration) time.Duration {
	lo, hi := fallbackMin, fallbackMax
	if rp := sub.GetRetryPolicy(); rp != nil {
		lo, hi = apiMinBackoff, apiMaxBackoff
		if rp.GetMinimumBackoff() != nil {
			lo = rp.GetMinimumBackoff().AsDuration()
		}
		if rp.GetMaximumBackoff() != nil {
			hi = rp.GetMaximumBackoff().AsDuration()
		}
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// ackDeadline is the subscription's acknowledgement deadline, which is also
// how long a push endpoint has to answer.
func ackDeadline(sub *pb.Subscription) time.Duration {
	if s := sub.GetAckDeadlineSeconds(); s > 0 {
		return time.Duration(s) * time.Second
	}
	return defaultAckDeadline
}

// maxDeliveryAttempts returns the dead-letter threshold, or 0 when the
// subscription has no dead-letter policy.
func maxDeliveryAttempts(sub *pb.Subscription) int {
	dlp := sub.GetDeadLetterPolicy()
	if dlp.GetDeadLetterTopic() == "" {
		return 0
	}
	if n := int(dlp.GetMaxDeliveryAttempts()); n > 0 {
		return n
	}
	return apiMaxDeliveryAttempt
}

// deadLetter builds the message Pub/Sub forwards to a dead-letter topic: the
// original data, attributes and ordering key, plus the CloudPubSubDeadLetter*
// attributes production adds.
func deadLetter(sub string, m *pb.PubsubMessage, attempts int) *pb.PubsubMessage {
	attrs := make(map[string]string, len(m.GetAttributes())+4)
	for k, v := range m.GetAttributes() {
		attrs[k] = v
	}
	project, id := splitName(sub)
	attrs["CloudPubSubDeadLetterSourceDeliveryCount"] = strconv.Itoa(attempts)
	attrs["CloudPubSubDeadLetterSourceSubscription"] = id
	attrs["CloudPubSubDeadLetterSourceSubscriptionProject"] = project
	attrs["CloudPubSubDeadLetterSourceTopicPublishTime"] = formatTime(m.GetPublishTime().AsTime())
	return &pb.PubsubMessage{Data: m.GetData(), Attributes: attrs, OrderingKey: m.GetOrderingKey()}
}

// splitName splits "projects/P/subscriptions/S" into P and S.
func splitName(name string) (project, id string) {
	parts := strings.Split(name, "/")
	if len(parts) == 4 {
		return parts[1], parts[3]
	}
	return "", name
}

// DeadLetterMessage is the message forwarded to a dead-letter topic after
// attempts deliveries from subscription sub (for pull subscriptions, used by
// internal/pubsubfidelity).
func DeadLetterMessage(sub string, m *pb.PubsubMessage, attempts int) *pb.PubsubMessage {
	return deadLetter(sub, m, attempts)
}
