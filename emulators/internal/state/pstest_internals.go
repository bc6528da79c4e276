package state

// pstest has no API to list every project's topics and subscriptions (its
// List calls take one project). resourceNames reads the names from its
// unexported maps (reflect + unsafe, under GServer.mu), read-only, as
// internal/pubsubadmin does; everything else goes through the API and the
// fidelity layer (internal/pubsubfidelity, which holds the backlogs beyond
// pstest's window and gives message ids).
//
// Pinned to cloud.google.com/go/pubsub/v2 v2.9.0: checkLayout fails (and
// export refuses to run) if an upgrade changes these fields.

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"cloud.google.com/go/pubsub/v2/pstest"
)

var pstestLayout = map[string]string{
	"GServer.mu":     "sync.Mutex",
	"GServer.topics": "map[string]*pstest.topic",
	"GServer.subs":   "map[string]*pstest.subscription",
}

var pstestLayoutErr = checkPstestLayout()

func checkPstestLayout() error {
	g := reflect.TypeFor[pstest.GServer]()
	for path, want := range pstestLayout {
		_, name, _ := strings.Cut(path, ".")
		f, ok := g.FieldByName(name)
		if !ok || f.Type.String() != want {
			return fmt.Errorf("pstest internals changed (state export pinned to pstest v2.9.0): %s", path)
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

// resourceNames lists every topic and subscription pstest holds, in one
// read under its lock, sorted.
func resourceNames(g *pstest.GServer) (topics, subs []string, err error) {
	if pstestLayoutErr != nil {
		return nil, nil, pstestLayoutErr
	}
	server, unlock := lockServer(g)
	defer unlock()
	for it := server.FieldByName("topics").MapRange(); it.Next(); {
		topics = append(topics, it.Key().String())
	}
	for it := server.FieldByName("subs").MapRange(); it.Next(); {
		subs = append(subs, it.Key().String())
	}
	slices.Sort(topics)
	slices.Sort(subs)
	return topics, subs, nil
}
