package pubsubfidelity

// pstest keeps its state in unexported fields; the fixes here need to read
// and change it (a subscription's messages, their delivery counters, the
// detached flag, the ack timeout) under pstest's own mutex, the lock pstest
// holds whenever it touches them. As internal/pubsubadmin does, this file
// reaches them through internal/pinned: field offsets are checked once,
// maps are opened writable and new messages are made with reflect.New of
// the checked message struct.
//
// Pinned to cloud.google.com/go/pubsub/v2 v2.9.0. The layout check, run once
// at start-up and by TestPstestLayout, fails loudly (New returns its error)
// when an upgrade changes the layout.

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

// layout lists every field used here, as "type.field": its type.
var layout = map[string]string{
	"GServer.mu":              "sync.Mutex",
	"GServer.topics":          "map[string]*pstest.topic",
	"GServer.subs":            "map[string]*pstest.subscription",
	"topic.proto":             "*pubsubpb.Topic",
	"topic.subs":              "map[string]*pstest.subscription",
	"subscription.topic":      "*pstest.topic",
	"subscription.proto":      "*pubsubpb.Subscription",
	"subscription.ackTimeout": "time.Duration",
	"subscription.msgs":       "map[string]*pstest.message",
	"message.proto":           "*pubsubpb.ReceivedMessage",
	"message.publishTime":     "time.Time",
	"message.ackDeadline":     "time.Time",
	"message.deliveries":      "*int",
	"message.acks":            "*int",
	"message.streamIndex":     "int",
}

var internals, layoutErr = pinned.Check("pstest internals changed (fidelity fixes pinned to pstest v2.9.0)",
	layout, reflect.TypeFor[pstest.GServer]())

// field is a typed pointer to the field path of the struct at base.
func field[T any](base unsafe.Pointer, path string) *T { return pinned.Field[T](internals, base, path) }

// state is pstest's GServer as seen from here. Every method but lock must
// be called with the lock held.
type state struct{ g *pstest.GServer }

func (s state) mu() *sync.Mutex { return field[sync.Mutex](unsafe.Pointer(s.g), "GServer.mu") }

func (s state) lock() func() {
	mu := s.mu()
	mu.Lock()
	return mu.Unlock
}

func (s state) subscription(name string) *sub {
	v := internals.Map(unsafe.Pointer(s.g), "GServer.subs").MapIndex(reflect.ValueOf(name))
	if !v.IsValid() || v.IsNil() {
		return nil
	}
	return &sub{p: v.UnsafePointer()}
}

func (s state) topic(name string) *topic {
	v := internals.Map(unsafe.Pointer(s.g), "GServer.topics").MapIndex(reflect.ValueOf(name))
	if !v.IsValid() || v.IsNil() {
		return nil
	}
	return &topic{p: v.UnsafePointer()}
}

// subscriptions are all subscriptions, in no order.
func (s state) subscriptions() []*sub {
	m := internals.Map(unsafe.Pointer(s.g), "GServer.subs")
	out := make([]*sub, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		out = append(out, &sub{p: it.Value().UnsafePointer()})
	}
	return out
}

// topic is a *pstest.topic.
type topic struct{ p unsafe.Pointer }

func (t *topic) proto() *pb.Topic { return *field[*pb.Topic](t.p, "topic.proto") }

func (t *topic) subsMap() reflect.Value {
	return internals.Map(t.p, "topic.subs")
}

// subscriptions attached to the topic.
func (t *topic) subscriptions() []*sub {
	m := t.subsMap()
	out := make([]*sub, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		out = append(out, &sub{p: it.Value().UnsafePointer()})
	}
	return out
}

func (t *topic) detach(name string) { t.subsMap().SetMapIndex(reflect.ValueOf(name), reflect.Value{}) }

// sub is a *pstest.subscription.
type sub struct{ p unsafe.Pointer }

func (s *sub) proto() *pb.Subscription { return *field[*pb.Subscription](s.p, "subscription.proto") }

func (s *sub) topic() *topic {
	p := *field[unsafe.Pointer](s.p, "subscription.topic")
	if p == nil {
		return nil
	}
	return &topic{p: p}
}

func (s *sub) setAckTimeout(d time.Duration) {
	*field[time.Duration](s.p, "subscription.ackTimeout") = d
}

func (s *sub) msgsMap() reflect.Value { return internals.Map(s.p, "subscription.msgs") }

// messages are the subscription's unacknowledged messages by id.
func (s *sub) messages() map[string]*msg {
	m := s.msgsMap()
	out := make(map[string]*msg, m.Len())
	for it := m.MapRange(); it.Next(); {
		out[it.Key().String()] = &msg{p: it.Value().UnsafePointer()}
	}
	return out
}

func (s *sub) count() int { return s.msgsMap().Len() }

func (s *sub) has(id string) bool { return s.msgsMap().MapIndex(reflect.ValueOf(id)).IsValid() }

// remove drops a message from the subscription (as an ack does).
func (s *sub) remove(id string) { s.msgsMap().SetMapIndex(reflect.ValueOf(id), reflect.Value{}) }

// clear drops every message.
func (s *sub) clear() { s.msgsMap().Clear() }

// add puts a new, never delivered message into the subscription, counting
// its deliveries in deliveries and its acks in acks.
func (s *sub) add(pm *pb.PubsubMessage, published time.Time, deliveries, acks *int) {
	v := reflect.New(internals.Struct("message"))
	p := v.UnsafePointer()
	*field[*pb.ReceivedMessage](p, "message.proto") = &pb.ReceivedMessage{AckId: pm.GetMessageId(), Message: pm}
	*field[time.Time](p, "message.publishTime") = published
	*field[*int](p, "message.deliveries") = deliveries
	*field[*int](p, "message.acks") = acks
	*field[int](p, "message.streamIndex") = -1
	s.msgsMap().SetMapIndex(reflect.ValueOf(pm.GetMessageId()), v)
}

// msg is a *pstest.message.
type msg struct{ p unsafe.Pointer }

func (m *msg) proto() *pb.ReceivedMessage { return *field[*pb.ReceivedMessage](m.p, "message.proto") }
func (m *msg) publishTime() time.Time     { return *field[time.Time](m.p, "message.publishTime") }
func (m *msg) ackDeadline() *time.Time    { return field[time.Time](m.p, "message.ackDeadline") }
func (m *msg) deliveries() int {
	if d := *field[*int](m.p, "message.deliveries"); d != nil {
		return *d
	}
	return 0
}

func (m *msg) counters() (deliveries, acks *int) {
	return *field[*int](m.p, "message.deliveries"), *field[*int](m.p, "message.acks")
}

func (m *msg) ack() {
	if a := *field[*int](m.p, "message.acks"); a != nil {
		*a++
	}
}

// available reports whether the message may be delivered: not outstanding,
// or its ack deadline has passed.
func (m *msg) available(now time.Time) bool {
	d := m.ackDeadline()
	return d.IsZero() || now.After(*d)
}

// makeAvailable ends the message's current delivery (as a nack does).
func (m *msg) makeAvailable() {
	*m.ackDeadline() = time.Time{}
	if rm := m.proto(); rm != nil {
		rm.AckId = ""
	}
}
