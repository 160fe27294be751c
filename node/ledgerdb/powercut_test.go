package ledgerdb_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// TestOpenAfterPowerCutDuringStart: a power cut right after Badger's open
// created its new logs (issue 21, finding 1) leaves them at 0 bytes; the
// ledger opens on the first attempt with every sale, and verify passes.
func TestOpenAfterPowerCutDuringStart(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	key := ledgertest.Key(1)
	for i := range 30 {
		if _, _, err := db.Append(t.Context(), key, ledgertest.Sale3(), "k"+string(rune('a'+i)), now+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	emptied, err := badgeropen.LeaveCutAtOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	if v := db.Vector()[ledger.TillOf(key)]; v != 30 {
		t.Errorf("after a cut during start-up (emptied %v): vector %d, want 30", emptied, v)
	}
	if _, _, err := db.Append(t.Context(), key, ledgertest.Sale3(), "after", now+99); err != nil {
		t.Errorf("append after the repair: %v", err)
	}
	db.Close()
	if _, err := badgeropen.LeaveCutAtOpen(dir); err != nil {
		t.Fatal(err)
	}
	rep, err := ledgerdb.Verify(dir, quiet())
	if err != nil {
		t.Fatalf("verify after a second cut: %v", err)
	}
	if !rep.OK() {
		t.Errorf("verify: %+v", rep)
	}
}
