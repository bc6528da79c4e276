package pstestx

import (
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"cloud.google.com/go/pubsub/v2/pstest"
)

// Server is pstest's GServer as seen through the checked layout.
type Server struct {
	g  *pstest.GServer
	mu *sync.Mutex
}

// Open gives access to g's internals; it fails, naming pstest's version,
// if the linked pstest does not have the layout reached here.
func Open(g *pstest.GServer) (*Server, error) {
	if layoutErr != nil {
		return nil, layoutErr
	}
	return &Server{g: g, mu: field[sync.Mutex](unsafe.Pointer(g), "GServer.mu")}, nil
}

// Lock takes pstest's server lock and returns its unlock.
func (s *Server) Lock() (unlock func()) {
	s.mu.Lock()
	return s.mu.Unlock
}

// held panics if the server lock is free: an accessor was called outside
// Lock. (It cannot tell which goroutine holds it.)
func (s *Server) held() {
	if s.mu.TryLock() {
		s.mu.Unlock()
		panic("pstestx: pstest's state reached without its server lock")
	}
}

// Subscription is the subscription named name, nil if there is none.
func (s *Server) Subscription(name string) *Subscription {
	s.held()
	v := mapAt(unsafe.Pointer(s.g), "GServer.subs").MapIndex(reflect.ValueOf(name))
	if !v.IsValid() || v.IsNil() {
		return nil
	}
	return &Subscription{p: v.UnsafePointer()}
}

// Topic is the topic named name, nil if there is none.
func (s *Server) Topic(name string) *Topic {
	s.held()
	v := mapAt(unsafe.Pointer(s.g), "GServer.topics").MapIndex(reflect.ValueOf(name))
	if !v.IsValid() || v.IsNil() {
		return nil
	}
	return &Topic{p: v.UnsafePointer()}
}

// Subscriptions are every subscription, in no order.
func (s *Server) Subscriptions() []*Subscription {
	s.held()
	return subscriptions(mapAt(unsafe.Pointer(s.g), "GServer.subs"))
}

// TopicNames and SubscriptionNames are every topic's and subscription's
// name (across projects), sorted.
func (s *Server) TopicNames() []string {
	s.held()
	return keys(mapAt(unsafe.Pointer(s.g), "GServer.topics"))
}

func (s *Server) SubscriptionNames() []string {
	s.held()
	return keys(mapAt(unsafe.Pointer(s.g), "GServer.subs"))
}

func keys(m reflect.Value) []string {
	out := make([]string, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		out = append(out, it.Key().String())
	}
	slices.Sort(out)
	return out
}

func subscriptions(m reflect.Value) []*Subscription {
	out := make([]*Subscription, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		out = append(out, &Subscription{p: it.Value().UnsafePointer()})
	}
	return out
}
