package pubsubadmin

// pstest has no API that reports a subscription's backlog without pulling,
// which would change delivery state; its unacknowledged messages are read
// through internal/pstestx, under pstest's server lock.

import (
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// pstest drops messages not delivered within this long (its retentionDuration).
const retention = 10 * time.Minute

// subscriptionState is what the admin API reports of a subscription.
type subscriptionState struct {
	name, topic, pushEndpoint string
	backlog                   int
}

// readSubscriptions returns every subscription with its backlog: messages
// not yet acknowledged, leaving out those pstest will dead-letter or drop
// at its next tick (it checks every 10 ms).
func readSubscriptions(srv *pstestx.Server) []subscriptionState {
	defer srv.Lock()()
	now := time.Now()
	var out []subscriptionState
	for _, sub := range srv.Subscriptions() {
		proto := sub.Proto()
		out = append(out, subscriptionState{
			name:         proto.GetName(),
			topic:        proto.GetTopic(),
			pushEndpoint: proto.GetPushConfig().GetPushEndpoint(),
			backlog:      backlog(sub.Messages(), proto.GetDeadLetterPolicy(), now),
		})
	}
	return out
}

func backlog(msgs map[string]*pstestx.Message, dl *pb.DeadLetterPolicy, now time.Time) int {
	n := 0
	for _, m := range msgs {
		if !m.Available(now) {
			n++ // outstanding: delivered, neither acked nor expired
			continue
		}
		published := m.Proto().GetMessage().GetPublishTime().AsTime()
		if (dl != nil && int32(m.Deliveries()) >= dl.GetMaxDeliveryAttempts()) || now.Sub(published) > retention {
			continue // dead-lettered or dropped at pstest's next tick
		}
		n++
	}
	return n
}
