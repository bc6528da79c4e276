package bttestx

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/bigtable/bttest"

	"github.com/etl-pipeline/emulators/internal/pinned"
	"github.com/etl-pipeline/emulators/internal/pinned/pinnedtest"
	"github.com/etl-pipeline/emulators/internal/testserver"
)

// TestLayout fails when an upgrade of bttest changes a field reached
// here, rows included (Open's probe checks them).
func TestLayout(t *testing.T) {
	if layoutErr != nil {
		t.Fatal(layoutErr)
	}
	srv := open(t)
	if rows == nil || srv == nil {
		t.Fatal("the row layout was not checked")
	}
}

func TestChangedLayoutIsRefusedNamingTheVersion(t *testing.T) {
	changed := map[string]string{"table.rows": "*btree.BTreeG[*bttest.row]"}
	_, err := pinned.Check(pin(), changed, reflectTypeOfServer())
	pinnedtest.WantRefused(t, err, Module+" "+Version, "cannot run", "table.rows")
}

func TestTheProbeLeavesNoTable(t *testing.T) {
	srv := open(t)
	for _, name := range srv.TableNames() {
		if strings.HasPrefix(name, probeInstance) {
			t.Errorf("probe table %s left behind", name)
		}
	}
}

func open(t *testing.T) *Server {
	t.Helper()
	bt, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bt.Close)
	srv, err := Open(context.Background(), bt, testserver.Dial(t, bt.Addr))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}
