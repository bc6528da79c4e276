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
// pstest's fields are reached through internal/pstestx, under its server
// lock; Wrap takes the opened server, so a pstest of another layout stops
// the emulator at start instead of turning parking off. A subscription
// created other than through the Subscriber is parked at the next
// CreateSubscription through it.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/etl-pipeline/emulators/internal/pstestx"
)

// parker stops pstest's per-subscription delivery goroutines.
type parker struct {
	srv    *pstestx.Server
	mu     sync.Mutex             // serialises park
	parked map[chan struct{}]bool // done channels of parked subscriptions
}

// park stops the delivery goroutine of every subscription not yet parked
// and returns how many it stopped.
func (p *parker) park() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	unlock := p.srv.Lock()
	var todo []chan struct{}
	live := map[chan struct{}]bool{} // forgets deleted subscriptions
	for _, sub := range p.srv.Subscriptions() {
		done := sub.Done()
		live[done] = true
		if !p.parked[done] {
			todo = append(todo, done)
		}
	}
	unlock() // the loop may be waiting for it inside its tick
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

// extendOrdered returns up to max messages following heads under their
// ordering keys, leased for deadline, in publish order per key.
func extendOrdered(srv *pstestx.Server, subName string, heads []*pb.ReceivedMessage, max int, deadline time.Duration) []*pb.ReceivedMessage {
	if max <= 0 || len(heads) == 0 {
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
	defer srv.Lock()()
	sub := srv.Subscription(subName)
	if sub == nil {
		return nil
	}
	policy := sub.Proto().GetDeadLetterPolicy()
	byKey := map[string][]*pstestx.Message{}
	for _, m := range sub.Messages() {
		if k := m.Proto().GetMessage().GetOrderingKey(); headOf[k] != "" {
			byKey[k] = append(byKey[k], m)
		}
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
		out = append(out, following(entries, headOf[k], policy, max-len(out), now.Add(deadline))...)
	}
	return out
}

// following leases, in publish order, up to max of a key's messages that
// come after its head, stopping before one that is outstanding or due for
// dead-lettering.
func following(entries []*pstestx.Message, head string, policy *pb.DeadLetterPolicy, max int, until time.Time) []*pb.ReceivedMessage {
	sort.Slice(entries, func(i, j int) bool {
		pi, pj := entries[i].PublishTime(), entries[j].PublishTime()
		if !pi.Equal(pj) {
			return pi.Before(pj)
		}
		return entries[i].Proto().GetMessage().GetMessageId() < entries[j].Proto().GetMessage().GetMessageId()
	})
	i := 0
	for i < len(entries) && entries[i].Proto().GetMessage().GetMessageId() != head {
		i++
	}
	var out []*pb.ReceivedMessage
	for i++; i < len(entries) && len(out) < max; i++ {
		m := entries[i]
		if !m.AckDeadline().IsZero() { // outstanding
			break
		}
		n := m.Deliveries()
		if policy != nil && int32(n) >= policy.GetMaxDeliveryAttempts() {
			break // Pull dead-letters it when it is the head
		}
		m.SetDeliveries(n + 1)
		rm := m.Proto()
		if policy != nil {
			rm.DeliveryAttempt = int32(n + 1)
		}
		rm.AckId = fmt.Sprintf("%s:%d", rm.GetMessage().GetMessageId(), n+1)
		m.SetAckDeadline(until)
		out = append(out, rm)
	}
	return out
}
