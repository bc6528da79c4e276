package bigtableserver

// bttest orders a row's column families by creation order (the order a
// table's families were created in, and, for families given together to
// CreateTable, Go's random map order); production orders them
// lexicographically, which decides which cells filters such as
// cells_per_row_limit and cells_per_row_offset keep, and the order cells
// come back in. bttest has no API for it, so this file renumbers the
// families' unexported order fields, of the table and of every row, under
// bttest's own locks (server.mu, then table.mu, then each row.mu, the order
// bttest takes them in), reached through internal/pinned.
//
// Pinned to cloud.google.com/go/bigtable v1.58.0. The layout check, run once
// at start-up and by TestBttestLayout, fails loudly when an upgrade changes
// the layout: Start returns its error. A row's type is only reachable from a
// live row (the table's btree holds them as btree.Item), so it is checked
// on the first row met, and renumbering fails with the same kind of error.

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"cloud.google.com/go/bigtable/bttest"
	"github.com/google/btree"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

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

var rowLayout = map[string]string{
	"row.mu":       "sync.Mutex",
	"row.families": "map[string]*bttest.family",
	"family.order": "uint64",
}

// pin starts the error when bttest's types differ from a layout.
const pin = "bttest internals changed (family order pinned to bigtable v1.58.0)"

var internals, layoutErr = pinned.Check(pin, layout, reflect.TypeFor[bttest.Server]())

var (
	rowOnce sync.Once
	rows    *pinned.Layout // the row fields, written once under rowOnce
	rowErr  error
)

// checkRow checks the layout of the row type behind item, once.
func checkRow(item btree.Item) error {
	rowOnce.Do(func() {
		t := reflect.TypeOf(item)
		if t.String() != "*bttest.row" {
			rowErr = fmt.Errorf("%s: rows are %v, want *bttest.row", pin, t)
			return
		}
		rows, rowErr = pinned.Check(pin, rowLayout, t.Elem())
	})
	return rowErr
}

func field[T any](base unsafe.Pointer, path string) *T {
	return pinned.Field[T](internals, base, path)
}

func rowField[T any](base unsafe.Pointer, path string) *T {
	return pinned.Field[T](rows, base, path)
}

// pointers returns the values of the map m, by key.
func pointers(m reflect.Value) map[string]unsafe.Pointer {
	out := make(map[string]unsafe.Pointer, m.Len())
	for it := m.MapRange(); it.Next(); {
		out[it.Key().String()] = it.Value().UnsafePointer()
	}
	return out
}

// sortFamilies gives the column families of table name (fully qualified)
// their lexicographic rank as order, in the table and in every row, so that
// rows list them as production does. A missing table is not an error.
func sortFamilies(bt *bttest.Server, name string) error {
	if layoutErr != nil {
		return layoutErr
	}
	server := *field[unsafe.Pointer](unsafe.Pointer(bt), "Server.s")
	mu := field[sync.Mutex](server, "server.mu")
	mu.Lock()
	tbl := pointers(internals.Map(server, "server.tables"))[name]
	mu.Unlock()
	if tbl == nil {
		return nil
	}
	tmu := field[sync.RWMutex](tbl, "table.mu")
	tmu.Lock()
	defer tmu.Unlock()
	famMap := internals.Map(tbl, "table.families")
	fams := pointers(famMap)
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	slices.Sort(names)
	rank := make(map[string]uint64, len(names))
	cfType := internals.Struct("columnFamily")
	for i, n := range names {
		rank[n] = uint64(i)
		if *field[uint64](fams[n], "columnFamily.order") == uint64(i) {
			continue
		}
		// Copy on write: bttest reads a family's order after releasing the
		// table lock (mutations hold the *columnFamily), so it is never
		// changed in place.
		cf := reflect.New(cfType)
		cf.Elem().Set(reflect.NewAt(cfType, fams[n]).Elem())
		*field[uint64](cf.UnsafePointer(), "columnFamily.order") = uint64(i)
		famMap.SetMapIndex(reflect.ValueOf(n), cf)
	}
	*field[uint64](tbl, "table.counter") = uint64(len(names))
	var err error
	(*field[*btree.BTree](tbl, "table.rows")).Ascend(func(item btree.Item) bool {
		if err = checkRow(item); err != nil {
			return false
		}
		row := reflect.ValueOf(item).UnsafePointer()
		rmu := rowField[sync.Mutex](row, "row.mu")
		rmu.Lock()
		for n, fam := range pointers(rows.Map(row, "row.families")) {
			if r, ok := rank[n]; ok {
				*rowField[uint64](fam, "family.order") = r
			}
		}
		rmu.Unlock()
		return true
	})
	return err
}
