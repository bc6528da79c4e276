// Package bttestx is the one way into bttest's unexported state
// (cloud.google.com/go/bigtable/bttest): the Bigtable emulator's column
// family order and state export reach it only through this package.
//
// The fields are reached at offsets that internal/pinned checks against
// the layouts below. Open checks them all, rows included (a row's type is
// only reachable from a live row, so Open writes one into a probe table and
// deletes it), and fails with an error naming bttest's version, read from
// the build information: the emulator then refuses to start. TestLayout
// fails when an upgrade changes a field used here.
//
// One rule for the locks: bttest's own, in bttest's order (server.mu, then
// a table's mu, then each row's mu), each taken and released inside one
// method here; callers hold none of them.
package bttestx

import (
	"fmt"
	"reflect"
	"unsafe"

	"cloud.google.com/go/bigtable/bttest"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

// Module is the Go module whose internals this package reaches.
const Module = "cloud.google.com/go/bigtable"

var layout = map[string]string{
	"Server.s":           "*bttest.server",
	"server.mu":          "sync.Mutex",
	"server.tables":      "map[string]*bttest.table",
	"table.mu":           "sync.RWMutex",
	"table.counter":      "uint64",
	"table.families":     "map[string]*bttest.columnFamily",
	"table.rows":         "*btree.BTree",
	"columnFamily.order": "uint64",
}

// rowLayout is checked against the type of a live row (Open's probe).
var rowLayout = map[string]string{
	"row.mu":       "sync.Mutex",
	"row.families": "map[string]*bttest.family",
	"family.order": "uint64",
}

// Version is the version of bttest's module linked into this program.
var Version = pinned.Version(Module, bttest.NewServer)

func pin() string {
	return fmt.Sprintf("bttest internals changed in %s %s, the emulator cannot run with it", Module, Version)
}

var internals, layoutErr = pinned.Check(pin(), layout, reflectTypeOfServer())

// rows is the row layout, set once by the first Open's probe.
var rows *pinned.Layout

func field[T any](l *pinned.Layout, base unsafe.Pointer, path string) *T {
	return (*T)(unsafe.Add(base, pinned.OffsetOf[T](l, path)))
}

// mapAt is the map field path of the struct at base, readable and writable
// through reflect (its key and value types are unexported).
func mapAt(l *pinned.Layout, base unsafe.Pointer, path string) reflect.Value {
	off, typ := l.MapOffset(path)
	return reflect.NewAt(typ, unsafe.Add(base, off)).Elem()
}

// pointers are the values of the map m, by key.
func pointers(m reflect.Value) map[string]unsafe.Pointer {
	out := make(map[string]unsafe.Pointer, m.Len())
	for it := m.MapRange(); it.Next(); {
		out[it.Key().String()] = it.Value().UnsafePointer()
	}
	return out
}

func reflectTypeOfServer() reflect.Type { return reflect.TypeFor[bttest.Server]() }
