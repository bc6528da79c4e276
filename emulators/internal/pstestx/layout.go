// Package pstestx is the one way into pstest's unexported state
// (cloud.google.com/go/pubsub/v2/pstest): the fidelity layer, streaming
// pull, the admin API and state export read and change it only through the
// typed accessors here.
//
// The fields are reached at offsets that internal/pinned checks against
// the layout below, once, when the program starts. If the linked pstest
// has another layout, Open fails with an error naming its version, and the
// emulator refuses to start: nothing is turned off quietly. The version is
// read from the build information, not typed in; TestLayout fails when an
// upgrade changes a field used here.
//
// One rule for the lock: GServer.mu guards everything reached here, as it
// does inside pstest. Server.Lock takes it; every other accessor must be
// called while it is held (lookups on Server check that and panic
// otherwise), and nothing reached may be used after the unlock.
package pstestx

import (
	"fmt"
	"reflect"
	"unsafe"

	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

// Module is the Go module whose internals this package reaches.
const Module = "cloud.google.com/go/pubsub/v2"

// layout lists every field reached, as "type.field": its type.
var layout = map[string]string{
	"GServer.mu":                   "sync.Mutex",
	"GServer.topics":               "map[string]*pstest.topic",
	"GServer.subs":                 "map[string]*pstest.subscription",
	"topic.proto":                  "*pubsubpb.Topic",
	"topic.subs":                   "map[string]*pstest.subscription",
	"subscription.topic":           "*pstest.topic",
	"subscription.deadLetterTopic": "*pstest.topic",
	"subscription.proto":           "*pubsubpb.Subscription",
	"subscription.ackTimeout":      "time.Duration",
	"subscription.msgs":            "map[string]*pstest.message",
	"subscription.done":            "chan struct {}",
	"message.proto":                "*pubsubpb.ReceivedMessage",
	"message.publishTime":          "time.Time",
	"message.ackDeadline":          "time.Time",
	"message.deliveries":           "*int",
	"message.acks":                 "*int",
	"message.streamIndex":          "int",
}

// Version is the version of pstest's module linked into this program.
var Version = pinned.Version(Module, pstest.NewServer)

var internals, layoutErr = check(layout)

func check(want map[string]string) (*pinned.Layout, error) {
	pin := fmt.Sprintf("pstest internals changed in %s %s, the emulator cannot run with it", Module, Version)
	return pinned.Check(pin, want, reflect.TypeFor[pstest.GServer]())
}

// Err is nil if the linked pstest has the layout this package reaches, or
// says which fields differ, naming the version.
func Err() error { return layoutErr }

// field is a typed pointer to the field path of the struct at base.
func field[T any](base unsafe.Pointer, path string) *T {
	return (*T)(unsafe.Add(base, pinned.OffsetOf[T](internals, path)))
}

// mapAt is the map field path of the struct at base, readable and writable
// through reflect (its key and value types are unexported).
func mapAt(base unsafe.Pointer, path string) reflect.Value {
	off, typ := internals.MapOffset(path)
	return reflect.NewAt(typ, unsafe.Add(base, off)).Elem()
}
