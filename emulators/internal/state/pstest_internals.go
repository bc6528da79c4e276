package state

// pstest has no API to list every project's topics and subscriptions with
// their unacknowledged messages in one consistent read, to publish a
// message with a given id, or to put a message in one subscription of a
// topic and not another. This file does those through its unexported
// fields (reflect + unsafe, under GServer.mu, the lock pstest holds when it
// touches them), as internal/pubsubadmin and internal/streampull do:
//
//   - snapshot reads GServer.topics, GServer.subs (proto, msgs) and nextID;
//   - setNextID writes GServer.nextID, so that the next Publish gets the
//     exported message's id;
//   - dropFrom deletes a message from a subscription's msgs map (it was
//     acknowledged there before the export).
//
// Pinned to cloud.google.com/go/pubsub/v2 v2.9.0: checkLayout fails (and
// export and import refuse to run) if an upgrade changes these fields.

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/protobuf/proto"
)

var pstestLayout = map[string]string{
	"GServer.mu":         "sync.Mutex",
	"GServer.topics":     "map[string]*pstest.topic",
	"GServer.subs":       "map[string]*pstest.subscription",
	"GServer.nextID":     "int",
	"topic.proto":        "*pubsubpb.Topic",
	"subscription.proto": "*pubsubpb.Subscription",
	"subscription.msgs":  "map[string]*pstest.message",
	"message.proto":      "*pubsubpb.ReceivedMessage",
}

var pstestLayoutErr = checkPstestLayout()

func checkPstestLayout() error {
	g := reflect.TypeFor[pstest.GServer]()
	types := map[string]reflect.Type{"GServer": g}
	if f, ok := g.FieldByName("topics"); ok && f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Pointer {
		types["topic"] = f.Type.Elem().Elem()
	}
	if f, ok := g.FieldByName("subs"); ok && f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Pointer {
		types["subscription"] = f.Type.Elem().Elem()
		if m, ok := types["subscription"].FieldByName("msgs"); ok && m.Type.Kind() == reflect.Map && m.Type.Elem().Kind() == reflect.Pointer {
			types["message"] = m.Type.Elem().Elem()
		}
	}
	for path, want := range pstestLayout {
		typ, name, _ := strings.Cut(path, ".")
		t := types[typ]
		if t == nil {
			return fmt.Errorf("pstest internals changed (state export/import pinned to pstest v2.9.0): no %s", typ)
		}
		f, ok := t.FieldByName(name)
		if !ok || f.Type.String() != want {
			return fmt.Errorf("pstest internals changed (state export/import pinned to pstest v2.9.0): %s", path)
		}
	}
	return nil
}

func fieldPtr[T any](v reflect.Value, name string) *T {
	return (*T)(unsafe.Pointer(v.FieldByName(name).UnsafeAddr()))
}

func lockServer(g *pstest.GServer) (reflect.Value, func()) {
	server := reflect.ValueOf(g).Elem()
	mu := fieldPtr[sync.Mutex](server, "mu")
	mu.Lock()
	return server, mu.Unlock
}

// pubsubSnapshot is the server's state at one instant (copies).
type pubsubSnapshot struct {
	topics  []*pb.Topic
	subs    []*pb.Subscription
	backlog map[string][]*pb.PubsubMessage // by subscription name
	nextID  int
}

func snapshot(g *pstest.GServer) (*pubsubSnapshot, error) {
	if pstestLayoutErr != nil {
		return nil, pstestLayoutErr
	}
	server, unlock := lockServer(g)
	defer unlock()
	s := &pubsubSnapshot{backlog: map[string][]*pb.PubsubMessage{}, nextID: *fieldPtr[int](server, "nextID")}
	for it := server.FieldByName("topics").MapRange(); it.Next(); {
		s.topics = append(s.topics, proto.Clone(*fieldPtr[*pb.Topic](it.Value().Elem(), "proto")).(*pb.Topic))
	}
	for it := server.FieldByName("subs").MapRange(); it.Next(); {
		sub := it.Value().Elem()
		sp := proto.Clone(*fieldPtr[*pb.Subscription](sub, "proto")).(*pb.Subscription)
		s.subs = append(s.subs, sp)
		for mt := sub.FieldByName("msgs").MapRange(); mt.Next(); {
			rm := *fieldPtr[*pb.ReceivedMessage](mt.Value().Elem(), "proto")
			s.backlog[sp.GetName()] = append(s.backlog[sp.GetName()], proto.Clone(rm.GetMessage()).(*pb.PubsubMessage))
		}
	}
	return s, nil
}

// nextID reads GServer.nextID.
func nextID(g *pstest.GServer) int {
	server, unlock := lockServer(g)
	defer unlock()
	return *fieldPtr[int](server, "nextID")
}

// setNextID writes GServer.nextID.
func setNextID(g *pstest.GServer, n int) {
	server, unlock := lockServer(g)
	defer unlock()
	*fieldPtr[int](server, "nextID") = n
}

// dropFrom removes message id from the subscriptions named in subs.
func dropFrom(g *pstest.GServer, id string, subs []string) {
	server, unlock := lockServer(g)
	defer unlock()
	all := server.FieldByName("subs")
	for _, name := range subs {
		sub := all.MapIndex(reflect.ValueOf(name))
		if !sub.IsValid() || sub.IsNil() {
			continue
		}
		msgs := sub.Elem().FieldByName("msgs")
		writable := reflect.NewAt(msgs.Type(), unsafe.Pointer(msgs.UnsafeAddr())).Elem()
		writable.SetMapIndex(reflect.ValueOf(id), reflect.Value{})
	}
}
