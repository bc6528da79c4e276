package pinned

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etl-pipeline/emulators/internal/pinned/pinnedtest"
)

// A dependency's internals, in miniature.
type server struct {
	mu      sync.Mutex
	name    string
	started time.Time
	subs    map[string]*sub
	embedded
}

type embedded struct{ hidden int }

type sub struct {
	topic *topic
	done  chan struct{}
	msgs  map[string]*msg
}

type topic struct{ name string }

type msg struct {
	n    int
	acks *int
}

const pin = "internals changed (pinned to test v1.0.0)"

var full = map[string]string{
	"server.mu":   "sync.Mutex",
	"server.name": "string",
	"server.subs": "map[string]*pinned.sub",
	"sub.topic":   "*pinned.topic",
	"sub.done":    "chan struct {}",
	"sub.msgs":    "map[string]*pinned.msg",
	"topic.name":  "string",
	"msg.n":       "int",
	"msg.acks":    "*int",
}

// with is full with changes; an empty type deletes the field.
func with(changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range full {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout map[string]string
		roots  []reflect.Type
		errs   []string // each in the error; none: no error
	}{
		{name: "matches", layout: full},
		{name: "root only", layout: map[string]string{"server.name": "string"}},
		{
			name:   "wrong type",
			layout: with(map[string]string{"server.name": "int"}),
			errs:   []string{pin + ": server.name is string, want int"},
		},
		{
			name:   "missing field",
			layout: with(map[string]string{"msg.deliveries": "*int"}),
			errs:   []string{"msg.deliveries is missing, want *int"},
		},
		{
			name:   "every problem named",
			layout: with(map[string]string{"server.name": "int", "topic.name": "[]byte"}),
			errs:   []string{"server.name is string, want int", "topic.name is string, want []byte"},
		},
		{
			name:   "struct not reached",
			layout: with(map[string]string{"sub.msgs": ""}),
			errs:   []string{"msg.acks: no struct msg reached", "msg.n: no struct msg reached"},
		},
		{
			name:   "struct behind a changed field not reached",
			layout: with(map[string]string{"server.subs": "map[string]*pinned.subscription"}),
			errs:   []string{"server.subs is map[string]*pinned.sub, want map[string]*pinned.subscription", "sub.msgs: no struct sub reached"},
		},
		{
			name:   "promoted field",
			layout: map[string]string{"server.hidden": "int"},
			errs:   []string{"server.hidden is promoted from an embedded struct"},
		},
		{
			name:   "other packages' structs not reached",
			layout: map[string]string{"server.started": "time.Time", "Time.wall": "uint64"},
			errs:   []string{"Time.wall: no struct Time reached"},
		},
		{
			name:   "second root",
			layout: map[string]string{"msg.n": "int"},
			roots:  []reflect.Type{reflect.TypeFor[server](), reflect.TypeFor[msg]()},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roots := tc.roots
			if roots == nil {
				roots = []reflect.Type{reflect.TypeFor[server]()}
			}
			l, err := Check(pin, tc.layout, roots...)
			if len(tc.errs) == 0 {
				if err != nil || l == nil {
					t.Fatalf("Check: %v, %v; want a layout", l, err)
				}
				return
			}
			if err == nil || l != nil {
				t.Fatalf("Check: %v, %v; want an error", l, err)
			}
			if !strings.HasPrefix(err.Error(), pin+": ") {
				t.Errorf("error %q does not start with %q", err, pin)
			}
			pinnedtest.WantRefused(t, err, tc.errs...)
		})
	}
}

func TestOffsets(t *testing.T) {
	l, err := Check(pin, full, reflect.TypeFor[server]())
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]reflect.StructField{
		"server.name": fieldOf[server]("name"),
		"msg.acks":    fieldOf[msg]("acks"),
	} {
		var got uintptr
		switch path {
		case "server.name":
			got = OffsetOf[string](l, path)
		case "msg.acks":
			got = OffsetOf[*int](l, path)
		}
		if got != want.Offset {
			t.Errorf("OffsetOf(%s) = %d, want %d", path, got, want.Offset)
		}
	}
	off, typ := l.MapOffset("sub.msgs")
	if f := fieldOf[sub]("msgs"); off != f.Offset || typ != f.Type {
		t.Errorf("MapOffset(sub.msgs) = %d %v, want %d %v", off, typ, f.Offset, f.Type)
	}
	if got := l.Struct("msg"); got != reflect.TypeFor[msg]() {
		t.Errorf("Struct(msg) = %v", got)
	}
}

func fieldOf[T any](name string) reflect.StructField {
	f, _ := reflect.TypeFor[T]().FieldByName(name)
	return f
}

func TestMisuse(t *testing.T) {
	l, err := Check(pin, full, reflect.TypeFor[server]())
	if err != nil {
		t.Fatal(err)
	}
	for name, use := range map[string]func(){
		"path not in the layout":  func() { OffsetOf[int](l, "server.hidden") },
		"wrong type":              func() { OffsetOf[int](l, "server.name") },
		"another pointer type":    func() { OffsetOf[*string](l, "msg.acks") },
		"Map of a non-map":        func() { l.MapOffset("server.name") },
		"Map of an unknown field": func() { l.MapOffset("server.topics") },
		"struct not reached":      func() { l.Struct("Time") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			use()
		})
	}
}

func TestVersionOfALinkedModule(t *testing.T) {
	// Test binaries list no dependencies: the version comes from the path
	// of a function's source file, here testing's (no module: unknown).
	if got := Version("example.com/none", t.Run); got != "an unknown version" {
		t.Errorf("Version of a module not linked = %q", got)
	}
}
