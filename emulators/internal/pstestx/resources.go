package pstestx

import (
	"reflect"
	"time"
	"unsafe"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// Topic is a pstest topic. Two Topics are equal (==, as map keys) when
// they are the same topic: a topic deleted and created again is another.
type Topic struct{ p unsafe.Pointer }

// Proto is the topic's resource.
func (t Topic) Proto() *pb.Topic { return *field[*pb.Topic](t.p, "topic.proto") }

// Subscriptions are those attached to the topic, in no order.
func (t Topic) Subscriptions() []*Subscription { return subscriptions(mapAt(t.p, "topic.subs")) }

// Detach removes the subscription named name from the topic's list, so
// publishes no longer reach it.
func (t Topic) Detach(name string) {
	mapAt(t.p, "topic.subs").SetMapIndex(reflect.ValueOf(name), reflect.Value{})
}

// Subscription is a pstest subscription; equal when the same one.
type Subscription struct{ p unsafe.Pointer }

// Proto is the subscription's resource.
func (s Subscription) Proto() *pb.Subscription {
	return *field[*pb.Subscription](s.p, "subscription.proto")
}

// Topic is the topic the subscription is attached to, nil if none.
func (s Subscription) Topic() *Topic {
	p := *field[unsafe.Pointer](s.p, "subscription.topic")
	if p == nil {
		return nil
	}
	return &Topic{p: p}
}

// ForgetDeadLetterTopic drops pstest's link from the subscription to its
// dead-letter topic, which makes pstest refuse to delete that topic
// (FailedPrecondition); production deletes it. The subscription's
// dead-letter policy, and the name in it, stay as they were.
func (s Subscription) ForgetDeadLetterTopic() {
	*field[unsafe.Pointer](s.p, "subscription.deadLetterTopic") = nil
}

// SetAckTimeout sets the ack deadline pstest gives the subscription's
// deliveries.
func (s Subscription) SetAckTimeout(d time.Duration) {
	*field[time.Duration](s.p, "subscription.ackTimeout") = d
}

// Done is the channel pstest's per-subscription delivery loop stops on
// (it receives one value, or pstest closes it when the subscription goes).
func (s Subscription) Done() chan struct{} {
	return *field[chan struct{}](s.p, "subscription.done")
}

func (s Subscription) msgs() reflect.Value { return mapAt(s.p, "subscription.msgs") }

// Messages are the subscription's unacknowledged messages, by message id.
func (s Subscription) Messages() map[string]*Message {
	m := s.msgs()
	out := make(map[string]*Message, m.Len())
	for it := m.MapRange(); it.Next(); {
		out[it.Key().String()] = &Message{p: it.Value().UnsafePointer()}
	}
	return out
}

// Message is the unacknowledged message id, nil if none.
func (s Subscription) Message(id string) *Message {
	v := s.msgs().MapIndex(reflect.ValueOf(id))
	if !v.IsValid() || v.IsNil() {
		return nil
	}
	return &Message{p: v.UnsafePointer()}
}

// Count is how many unacknowledged messages the subscription holds.
func (s Subscription) Count() int { return s.msgs().Len() }

// Has reports whether message id is unacknowledged on the subscription.
func (s Subscription) Has(id string) bool { return s.msgs().MapIndex(reflect.ValueOf(id)).IsValid() }

// Remove drops a message from the subscription, as an ack does.
func (s Subscription) Remove(id string) { s.msgs().SetMapIndex(reflect.ValueOf(id), reflect.Value{}) }

// Clear drops every message.
func (s Subscription) Clear() { s.msgs().Clear() }

// Add puts a new, never delivered message into the subscription, counting
// its deliveries in deliveries and its acks in acks.
func (s Subscription) Add(pm *pb.PubsubMessage, published time.Time, deliveries, acks *int) {
	v := reflect.New(internals.Struct("message"))
	p := v.UnsafePointer()
	*field[*pb.ReceivedMessage](p, "message.proto") = &pb.ReceivedMessage{AckId: pm.GetMessageId(), Message: pm}
	*field[time.Time](p, "message.publishTime") = published
	*field[*int](p, "message.deliveries") = deliveries
	*field[*int](p, "message.acks") = acks
	*field[int](p, "message.streamIndex") = -1
	s.msgs().SetMapIndex(reflect.ValueOf(pm.GetMessageId()), v)
}

// Message is a message of a subscription, as pstest holds it.
type Message struct{ p unsafe.Pointer }

// Proto is the delivery: the message, its current ack id and attempt.
func (m Message) Proto() *pb.ReceivedMessage {
	return *field[*pb.ReceivedMessage](m.p, "message.proto")
}

// PublishTime is when the message was published.
func (m Message) PublishTime() time.Time { return *field[time.Time](m.p, "message.publishTime") }

// AckDeadline is when the current delivery's lease ends; zero if the
// message is not outstanding.
func (m Message) AckDeadline() time.Time { return *field[time.Time](m.p, "message.ackDeadline") }

// SetAckDeadline sets when the lease ends; zero makes the message
// available (as a nack does).
func (m Message) SetAckDeadline(t time.Time) { *field[time.Time](m.p, "message.ackDeadline") = t }

// Deliveries is how many times the message was delivered.
func (m Message) Deliveries() int {
	if d := *field[*int](m.p, "message.deliveries"); d != nil {
		return *d
	}
	return 0
}

// SetDeliveries sets the delivery count (shared with whatever shares the
// message's counter).
func (m Message) SetDeliveries(n int) {
	d := field[*int](m.p, "message.deliveries")
	if *d == nil {
		*d = new(int)
	}
	**d = n
}

// Counters are the message's delivery and ack counters (may be nil).
func (m Message) Counters() (deliveries, acks *int) {
	return *field[*int](m.p, "message.deliveries"), *field[*int](m.p, "message.acks")
}

// CountAck counts one acknowledgement.
func (m Message) CountAck() {
	if a := *field[*int](m.p, "message.acks"); a != nil {
		*a++
	}
}

// Available reports whether the message may be delivered: not
// outstanding, or its ack deadline has passed.
func (m Message) Available(now time.Time) bool {
	d := m.AckDeadline()
	return d.IsZero() || now.After(d)
}

// MakeAvailable ends the message's current delivery, as a nack does.
func (m Message) MakeAvailable() {
	m.SetAckDeadline(time.Time{})
	if rm := m.Proto(); rm != nil {
		rm.AckId = ""
	}
}
