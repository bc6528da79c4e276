package pubsubadmin

// pstest has no API that reports a subscription's backlog without pulling,
// which would change delivery state. It keeps each subscription's
// unacknowledged messages in unexported fields (GServer.subs →
// subscription.msgs), so this file reads them with reflect, under
// GServer.mu: the lock pstest holds whenever it touches them. reflect allows
// Len and String on unexported fields but not Interface or Lock, so the
// mutex and the exported-type values are reached through unsafe.Pointer of
// the field's address.
//
// Pinned to cloud.google.com/go/pubsub/v2 v2.9.0. checkLayout, run once and
// by TestPstestLayout, fails loudly when an upgrade changes the layout.

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
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

var layoutErr = checkLayout()

// checkLayout compares pstest's types with layout.
func checkLayout() error {
	gserver := reflect.TypeFor[pstest.GServer]()
	sub := valueType(fieldType(gserver, "subs"))
	types := map[string]reflect.Type{"GServer": gserver, "subscription": sub, "message": valueType(fieldType(sub, "msgs"))}
	for path, want := range layout {
		typ, name, _ := strings.Cut(path, ".")
		if got := fieldType(types[typ], name); got == nil || got.String() != want {
			return fmt.Errorf("pstest internals changed (admin API pinned to pstest v2.9.0): %s is %v, want %s", path, got, want)
		}
	}
	return nil
}

// valueType is V of map[K]*V; nil for any other type.
func valueType(t reflect.Type) reflect.Type {
	if t == nil || t.Kind() != reflect.Map || t.Elem().Kind() != reflect.Pointer {
		return nil
	}
	return t.Elem().Elem()
}

// fieldType is the type of t's field name; nil if t is not a struct with it.
func fieldType(t reflect.Type, name string) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	f, ok := t.FieldByName(name)
	if !ok {
		return nil
	}
	return f.Type
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
	server := reflect.ValueOf(g).Elem()
	mu := (*sync.Mutex)(unsafe.Pointer(server.FieldByName("mu").UnsafeAddr()))
	mu.Lock()
	defer mu.Unlock()
	now := time.Now()
	var out []subscriptionState
	for it := server.FieldByName("subs").MapRange(); it.Next(); {
		sub := it.Value().Elem()
		proto := exported[*pb.Subscription](sub.FieldByName("proto"))
		out = append(out, subscriptionState{
			name:         proto.GetName(),
			topic:        proto.GetTopic(),
			pushEndpoint: proto.GetPushConfig().GetPushEndpoint(),
			backlog:      backlog(sub.FieldByName("msgs"), proto.GetDeadLetterPolicy(), now),
		})
	}
	return out, nil
}

func backlog(msgs reflect.Value, dl *pb.DeadLetterPolicy, now time.Time) int {
	n := 0
	for it := msgs.MapRange(); it.Next(); {
		m := it.Value().Elem()
		deadline := exported[time.Time](m.FieldByName("ackDeadline"))
		if !deadline.IsZero() && !now.After(deadline) {
			n++ // outstanding: delivered, neither acked nor expired
			continue
		}
		deliveries := *exported[*int](m.FieldByName("deliveries"))
		published := exported[*pb.ReceivedMessage](m.FieldByName("proto")).GetMessage().GetPublishTime().AsTime()
		if (dl != nil && int32(deliveries) >= dl.GetMaxDeliveryAttempts()) || now.Sub(published) > retention {
			continue // dead-lettered or dropped at pstest's next tick
		}
		n++
	}
	return n
}

// exported reads an addressable unexported field of type T.
func exported[T any](v reflect.Value) T {
	return *(*T)(unsafe.Pointer(v.UnsafeAddr()))
}
