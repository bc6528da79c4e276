package streampull

// pstest runs one goroutine per subscription that, every 10 ms, takes the
// server lock and walks every message of the subscription (expiring leases,
// dropping old messages, then offering messages to pstest's own streams).
// With backlogs that costs a quarter of a core while nothing happens. Once
// StreamingPull is served here, pstest has no streams left to feed: what
// the tick still does (expiring leases, dead-lettering, dropping messages
// past retention) its Pull does too, on the messages it is about to serve.
// So park stops those goroutines: the loop returns when it receives from the
// subscription's done channel, so park sends it one value. The channel stays
// open for pstest's stop to close on DeleteSubscription and Close (closing it
// ourselves would make that a double close). Nothing is written to pstest's
// fields; the done channels are read from GServer.subs under GServer.mu.
//
// The fields are unexported; internal/pinned checks where they are and
// reaches them. Pinned to cloud.google.com/go/pubsub/v2 v2.9.0: the layout
// checks, run once and by TestPstestLayout, turn parking and ordered
// batches off if an upgrade changes the layout. A subscription created
// other than through the Subscriber is parked at the next
// CreateSubscription through it.

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"
	"unsafe"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

var layout = map[string]string{
	"GServer.mu":        "sync.Mutex",
	"GServer.subs":      "map[string]*pstest.subscription",
	"subscription.done": "chan struct {}",
}

// pin starts the error when pstest's types differ from a layout.
const pin = "pstest internals changed (streampull pinned to pstest v2.9.0)"

var internals, layoutErr = pinned.Check(pin, layout, reflect.TypeFor[pstest.GServer]())

// parker stops pstest's per-subscription delivery goroutines.
type parker struct {
	g      *pstest.GServer
	mu     sync.Mutex             // serialises park
	parked map[chan struct{}]bool // done channels of parked subscriptions
}

// park stops the delivery goroutine of every subscription not yet parked
// and returns how many it stopped.
func (p *parker) park() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	server := unsafe.Pointer(p.g)
	mu := pinned.Field[sync.Mutex](internals, server, "GServer.mu")
	mu.Lock()
	var todo []chan struct{}
	live := map[chan struct{}]bool{} // forgets deleted subscriptions
	for it := internals.Map(server, "GServer.subs").MapRange(); it.Next(); {
		done := *pinned.Field[chan struct{}](internals, it.Value().UnsafePointer(), "subscription.done")
		live[done] = true
		if !p.parked[done] {
			todo = append(todo, done)
		}
	}
	mu.Unlock() // the loop may be waiting for it inside its tick
	p.parked = live
	n := 0
	for _, done := range todo {
		if stop(done) {
			n++
		}
	}
	return n
}

// stop hands the loop its stop signal; false if nothing took it within a
// second, or pstest closed the channel meanwhile (subscription deleted).
func stop(done chan struct{}) (ok bool) {
	defer func() {
		if recover() != nil { // send on a channel pstest's stop closed
			ok = false
		}
	}()
	select {
	case done <- struct{}{}:
		return true
	case <-time.After(time.Second):
		return false
	}
}

// CreateSubscription creates the subscription through the wrapped service
// and, when parking, stops pstest's delivery goroutine for it.
func (s *Subscriber) CreateSubscription(ctx context.Context, req *pb.Subscription) (*pb.Subscription, error) {
	sub, err := s.SubscriberServer.CreateSubscription(ctx, req)
	if s.parker != nil {
		s.parker.park()
	}
	return sub, err
}

// Ordered delivery. pstest's pull offers one message per ordering key: the
// earliest unacknowledged one, and none while it is outstanding. Production
// delivers a key's messages in batches, in order, one batch outstanding per
// key. extendOrdered adds to each head that Pull just delivered (through the
// path that filters, counts attempts and dead-letters) the messages that
// follow it under the same key, in publish order, leasing them as pstest's
// pull does: delivery count + 1, delivery attempt (with a dead-letter
// policy), ack id "<message id>:<count>", ack deadline. A key's batch stops
// before a message that is outstanding or due for dead-lettering: that one
// becomes a head later and goes through Pull.

var orderedLayout = map[string]string{
	"GServer.mu":          "sync.Mutex",
	"GServer.subs":        "map[string]*pstest.subscription",
	"subscription.proto":  "*pubsubpb.Subscription",
	"subscription.msgs":   "map[string]*pstest.message",
	"message.proto":       "*pubsubpb.ReceivedMessage",
	"message.publishTime": "time.Time",
	"message.ackDeadline": "time.Time",
	"message.deliveries":  "*int",
}

var ordered, orderedLayoutErr = pinned.Check(pin, orderedLayout, reflect.TypeFor[pstest.GServer]())

// extendOrdered returns up to max messages following heads under their
// ordering keys, leased for deadline, in publish order per key.
func extendOrdered(g *pstest.GServer, subName string, heads []*pb.ReceivedMessage, max int, deadline time.Duration) []*pb.ReceivedMessage {
	if max <= 0 || len(heads) == 0 || layoutErr != nil || orderedLayoutErr != nil {
		return nil
	}
	headOf := map[string]string{} // ordering key → head's message id
	for _, h := range heads {
		if k := h.GetMessage().GetOrderingKey(); k != "" {
			headOf[k] = h.GetMessage().GetMessageId()
		}
	}
	if len(headOf) == 0 {
		return nil
	}
	server := unsafe.Pointer(g)
	mu := pinned.Field[sync.Mutex](ordered, server, "GServer.mu")
	mu.Lock()
	defer mu.Unlock()
	subv := ordered.Map(server, "GServer.subs").MapIndex(reflect.ValueOf(subName))
	if !subv.IsValid() || subv.IsNil() {
		return nil
	}
	sub := subv.UnsafePointer()
	policy := (*pinned.Field[*pb.Subscription](ordered, sub, "subscription.proto")).GetDeadLetterPolicy()

	type entry struct {
		proto       *pb.ReceivedMessage
		published   time.Time
		ackDeadline *time.Time
		deliveries  *int
	}
	byKey := map[string][]entry{}
	for it := ordered.Map(sub, "subscription.msgs").MapRange(); it.Next(); {
		m := it.Value().UnsafePointer()
		rm := *pinned.Field[*pb.ReceivedMessage](ordered, m, "message.proto")
		k := rm.GetMessage().GetOrderingKey()
		if _, ok := headOf[k]; !ok {
			continue
		}
		byKey[k] = append(byKey[k], entry{rm, *pinned.Field[time.Time](ordered, m, "message.publishTime"),
			pinned.Field[time.Time](ordered, m, "message.ackDeadline"), *pinned.Field[*int](ordered, m, "message.deliveries")})
	}
	now := time.Now()
	var out []*pb.ReceivedMessage
	for _, h := range heads { // keys in the order Pull returned them
		k := h.GetMessage().GetOrderingKey()
		entries := byKey[k]
		if headOf[k] != h.GetMessage().GetMessageId() || len(entries) == 0 {
			continue
		}
		delete(byKey, k)
		sort.Slice(entries, func(i, j int) bool {
			if !entries[i].published.Equal(entries[j].published) {
				return entries[i].published.Before(entries[j].published)
			}
			return entries[i].proto.GetMessage().GetMessageId() < entries[j].proto.GetMessage().GetMessageId()
		})
		i := 0
		for i < len(entries) && entries[i].proto.GetMessage().GetMessageId() != headOf[k] {
			i++
		}
		for i++; i < len(entries) && len(out) < max; i++ {
			e := entries[i]
			if !e.ackDeadline.IsZero() { // outstanding
				break
			}
			if policy != nil && e.deliveries != nil && int32(*e.deliveries) >= policy.GetMaxDeliveryAttempts() {
				break // Pull dead-letters it when it is the head
			}
			*e.deliveries++
			if policy != nil {
				e.proto.DeliveryAttempt = int32(*e.deliveries)
			}
			e.proto.AckId = fmt.Sprintf("%s:%d", e.proto.GetMessage().GetMessageId(), *e.deliveries)
			*e.ackDeadline = now.Add(deadline)
			out = append(out, e.proto)
		}
	}
	return out
}
