package state

// pstest has no API to list every project's topics and subscriptions (its
// List calls take one project). resourceNames reads the names from its
// unexported maps (through internal/pinned, under GServer.mu), read-only, as
// internal/pubsubadmin does; everything else goes through the API and the
// fidelity layer (internal/pubsubfidelity, which holds the backlogs beyond
// pstest's window and gives message ids).
//
// Pinned to cloud.google.com/go/pubsub/v2 v2.9.0: the layout check fails (and
// export refuses to run) if an upgrade changes these fields.

import (
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

var pstestLayout = map[string]string{
	"GServer.mu":     "sync.Mutex",
	"GServer.topics": "map[string]*pstest.topic",
	"GServer.subs":   "map[string]*pstest.subscription",
}

var pstestInternals, pstestLayoutErr = pinned.Check("pstest internals changed (state export pinned to pstest v2.9.0)",
	pstestLayout, reflect.TypeFor[pstest.GServer]())

// resourceNames lists every topic and subscription pstest holds, in one
// read under its lock, sorted.
func resourceNames(g *pstest.GServer) (topics, subs []string, err error) {
	if pstestLayoutErr != nil {
		return nil, nil, pstestLayoutErr
	}
	server := unsafe.Pointer(g)
	mu := pinned.Field[sync.Mutex](pstestInternals, server, "GServer.mu")
	mu.Lock()
	defer mu.Unlock()
	for it := pstestInternals.Map(server, "GServer.topics").MapRange(); it.Next(); {
		topics = append(topics, it.Key().String())
	}
	for it := pstestInternals.Map(server, "GServer.subs").MapRange(); it.Next(); {
		subs = append(subs, it.Key().String())
	}
	slices.Sort(topics)
	slices.Sort(subs)
	return topics, subs, nil
}
