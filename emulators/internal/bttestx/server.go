package bttestx

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	btapb "cloud.google.com/go/bigtable/admin/apiv2/adminpb"
	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"cloud.google.com/go/bigtable/bttest"
	"github.com/google/btree"
	"google.golang.org/grpc"

	"github.com/etl-pipeline/emulators/internal/pinned"
)

// Server is bttest's Server as seen through the checked layouts.
type Server struct{ s unsafe.Pointer } // *bttest.server

var (
	probeOnce sync.Once
	probeErr  error
)

// Open gives access to bt's internals. conn reaches bt's APIs (an
// in-process connection): the first Open writes a row into a probe table
// there to check the row layout, then deletes the table. It fails, naming
// bttest's version, if any layout differs.
func Open(ctx context.Context, bt *bttest.Server, conn grpc.ClientConnInterface) (*Server, error) {
	if layoutErr != nil {
		return nil, layoutErr
	}
	s := &Server{s: *field[unsafe.Pointer](internals, unsafe.Pointer(bt), "Server.s")}
	if s.s == nil {
		return nil, fmt.Errorf("%s: Server.s is nil", pin())
	}
	probeOnce.Do(func() { probeErr = s.probe(ctx, conn) })
	if probeErr != nil {
		return nil, probeErr
	}
	return s, nil
}

// probeTable is where Open's probe row goes; no client uses this project.
const (
	probeInstance = "projects/-bttestx-probe/instances/i"
	probeTable    = probeInstance + "/tables/t"
)

func (s *Server) probe(ctx context.Context, conn grpc.ClientConnInterface) error {
	admin := btapb.NewBigtableTableAdminClient(conn)
	if _, err := admin.CreateTable(ctx, &btapb.CreateTableRequest{Parent: probeInstance, TableId: "t",
		Table: &btapb.Table{ColumnFamilies: map[string]*btapb.ColumnFamily{"f": {}}}}); err != nil {
		return fmt.Errorf("bttestx probe: %w", err)
	}
	defer admin.DeleteTable(ctx, &btapb.DeleteTableRequest{Name: probeTable}) //nolint:errcheck
	if _, err := btpb.NewBigtableClient(conn).MutateRow(ctx, &btpb.MutateRowRequest{TableName: probeTable, RowKey: []byte("r"),
		Mutations: []*btpb.Mutation{{Mutation: &btpb.Mutation_SetCell_{SetCell: &btpb.Mutation_SetCell{FamilyName: "f", Value: []byte("v")}}}}}); err != nil {
		return fmt.Errorf("bttestx probe: %w", err)
	}
	var item btree.Item
	s.table(probeTable, func(tbl unsafe.Pointer) {
		(*field[*btree.BTree](internals, tbl, "table.rows")).Ascend(func(i btree.Item) bool { item = i; return false })
	})
	if item == nil {
		return fmt.Errorf("%s: the probe row is not in table.rows", pin())
	}
	t := reflect.TypeOf(item)
	if t.String() != "*bttest.row" {
		return fmt.Errorf("%s: rows are %v, want *bttest.row", pin(), t)
	}
	l, err := pinned.Check(pin(), rowLayout, t.Elem())
	rows = l
	return err
}

// TableNames are every table's name (every project and instance), sorted.
func (s *Server) TableNames() []string {
	mu := field[sync.Mutex](internals, s.s, "server.mu")
	mu.Lock()
	names := make([]string, 0)
	for _, k := range mapAt(internals, s.s, "server.tables").MapKeys() {
		names = append(names, k.String())
	}
	mu.Unlock()
	slices.Sort(names)
	return names
}

// table runs f with table name (fully qualified) under its write lock; not
// at all if there is no such table.
func (s *Server) table(name string, f func(tbl unsafe.Pointer)) {
	mu := field[sync.Mutex](internals, s.s, "server.mu")
	mu.Lock()
	tbl := pointers(mapAt(internals, s.s, "server.tables"))[name]
	mu.Unlock()
	if tbl == nil {
		return
	}
	tmu := field[sync.RWMutex](internals, tbl, "table.mu")
	tmu.Lock()
	defer tmu.Unlock()
	f(tbl)
}

// OrderFamilies numbers the column families of table name (fully
// qualified) in the order cmp sorts their names, in the table and in every
// row, which is the order bttest lists them in. A missing table is left.
func (s *Server) OrderFamilies(name string, cmp func(a, b string) int) {
	s.table(name, func(tbl unsafe.Pointer) {
		famMap := mapAt(internals, tbl, "table.families")
		fams := pointers(famMap)
		names := make([]string, 0, len(fams))
		for n := range fams {
			names = append(names, n)
		}
		slices.SortFunc(names, cmp)
		rank := make(map[string]uint64, len(names))
		cfType := internals.Struct("columnFamily")
		for i, n := range names {
			rank[n] = uint64(i)
			if *field[uint64](internals, fams[n], "columnFamily.order") == uint64(i) {
				continue
			}
			// Copy on write: bttest reads a family's order after releasing
			// the table lock (mutations hold the *columnFamily), so it is
			// never changed in place.
			cf := reflect.New(cfType)
			cf.Elem().Set(reflect.NewAt(cfType, fams[n]).Elem())
			*field[uint64](internals, cf.UnsafePointer(), "columnFamily.order") = uint64(i)
			famMap.SetMapIndex(reflect.ValueOf(n), cf)
		}
		*field[uint64](internals, tbl, "table.counter") = uint64(len(names))
		(*field[*btree.BTree](internals, tbl, "table.rows")).Ascend(func(item btree.Item) bool {
			renumberRow(reflect.ValueOf(item).UnsafePointer(), rank)
			return true
		})
	})
}

func renumberRow(row unsafe.Pointer, rank map[string]uint64) {
	mu := field[sync.Mutex](rows, row, "row.mu")
	mu.Lock()
	defer mu.Unlock()
	for n, fam := range pointers(mapAt(rows, row, "row.families")) {
		if r, ok := rank[n]; ok {
			*field[uint64](rows, fam, "family.order") = r
		}
	}
}
