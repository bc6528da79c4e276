package pubsubadmin

// pstest has no API that reports a subscription's backlog without pulling,
// which would change delivery state. It keeps each subscription's
// unacknowledged messages in unexported fields (GServer.subs →
// subscription.msgs), so this file reads them through internal/pinned
// (reflect and unsafe at checked offsets), under GServer.mu: the lock
// pstest holds whenever it touches them.
//
// Pinned to cloud.google.com/go/pubsub/v2 v2.9.0. The layout check, run once
// and by TestPstestLayout, fails loudly when an upgrade changes the layout.

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

// pstest drops messages not delivered within this long (its retentionDuration).
const retention = 10 * time.Minute

// layout lists the fields read here, as "type.field": the field's type.
var layout = map[string]string{
	"GServer.mu":          "sync.Mutex",
	"GServer.subs":        "map[string]*pstest.subscription",
	"subscription.proto":  "*pubsubpb.Subscription",
	"subscription.msgs":   "map[string]*pstest.message",
	"message.proto":       "*pubsubpb.ReceivedMessage",
	"message.ackDeadline": "time.Time",
	"message.deliveries":  "*int",
}

var internals, layoutErr = checkLayout()

// pin starts the error when pstest's types differ from layout.
const pin = "pstest internals changed (admin API pinned to pstest v2.9.0)"

// checkLayout compares pstest's types with layout.
func checkLayout() (*pinned.Layout, error) {
	return pinned.Check(pin, layout, reflect.TypeFor[pstest.GServer]())
}

// subscriptionState is what the admin API reports of a subscription.
type subscriptionState struct {
	name, topic, pushEndpoint string
	backlog                   int
}

// readSubscriptions returns every subscription with its backlog: messages
// not yet acknowledged, leaving out those pstest will dead-letter or drop
// at its next tick (it checks every 10 ms).
func readSubscriptions(g *pstest.GServer) ([]subscriptionState, error) {
	if layoutErr != nil {
		return nil, layoutErr
	}
	server := unsafe.Pointer(g)
	mu := pinned.Field[sync.Mutex](internals, server, "GServer.mu")
	mu.Lock()
	defer mu.Unlock()
	now := time.Now()
	var out []subscriptionState
	for it := internals.Map(server, "GServer.subs").MapRange(); it.Next(); {
		sub := it.Value().UnsafePointer()
		proto := *pinned.Field[*pb.Subscription](internals, sub, "subscription.proto")
		out = append(out, subscriptionState{
			name:         proto.GetName(),
			topic:        proto.GetTopic(),
			pushEndpoint: proto.GetPushConfig().GetPushEndpoint(),
			backlog:      backlog(internals.Map(sub, "subscription.msgs"), proto.GetDeadLetterPolicy(), now),
		})
	}
	return out, nil
}

func backlog(msgs reflect.Value, dl *pb.DeadLetterPolicy, now time.Time) int {
	n := 0
	for it := msgs.MapRange(); it.Next(); {
		m := it.Value().UnsafePointer()
		deadline := *pinned.Field[time.Time](internals, m, "message.ackDeadline")
		if !deadline.IsZero() && !now.After(deadline) {
			n++ // outstanding: delivered, neither acked nor expired
			continue
		}
		deliveries := **pinned.Field[*int](internals, m, "message.deliveries")
		published := (*pinned.Field[*pb.ReceivedMessage](internals, m, "message.proto")).GetMessage().GetPublishTime().AsTime()
		if (dl != nil && int32(deliveries) >= dl.GetMaxDeliveryAttempts()) || now.Sub(published) > retention {
			continue // dead-lettered or dropped at pstest's next tick
		}
		n++
	}
	return n
}
