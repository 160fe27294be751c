package ledgerdb_test

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// TestOpenAfterCrashWithBiggerMemtables opens a ledger that a till of an
// earlier release (8 MB memtables) left with 3-4 MB of events only in its
// write-ahead log, as a power cut leaves it. Badger replays that log into
// an arena of the configured memtable size and exits the process when it
// does not fit; BadgerOptions must size the memtables for it.
func TestOpenAfterCrashWithBiggerMemtables(t *testing.T) {
	dir := t.TempDir()
	old := badger.DefaultOptions(dir).WithMemTableSize(8 << 20).WithNumMemtables(2).WithValueLogFileSize(64 << 20).WithLogger(nil)
	bdb, err := badger.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	till := ledgertest.NewTill(store, 1, 1)
	const n = 12_000
	var bytes int
	wb := bdb.NewWriteBatch()
	for i := range n {
		ev := till.MustNext(ledgertest.Sale3(), now+int64(i))
		k := append([]byte{'e'}, ev.Till[:]...)
		k = binary.BigEndian.AppendUint64(k, ev.Seq)
		if err := wb.Set(k, ev.Bytes()); err != nil {
			t.Fatal(err)
		}
		bytes += len(ev.Bytes())
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if bytes < 3<<20 {
		t.Fatalf("wrote %d bytes; the test needs more than a small memtable holds", bytes)
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil { // the files as a power cut leaves them
		t.Fatal(err)
	}
	bdb.Close()
	if mems, _ := os.ReadDir(crashed); !hasMem(mems) {
		t.Fatal("no write-ahead log in the crash image")
	}

	db := open(t, crashed)
	if v := db.Vector(); v[ledger.TillOf(till.Key)] != n {
		t.Fatalf("after the crash: vector %v, want %d events", v, n)
	}
	db.Close()
	// The clean close flushed the big memtables: the next open is small.
	if got := ledgerdb.MemTableSizeFor(crashed, 1<<20); got != 1<<20 {
		t.Errorf("after a clean close: memtable size %d, want %d", got, 1<<20)
	}
	db = open(t, crashed)
	defer db.Close()
	if v := db.Vector(); v[ledger.TillOf(till.Key)] != n {
		t.Fatalf("after reopening: vector %v, want %d events", v, n)
	}
}

func hasMem(es []os.DirEntry) bool {
	for _, e := range es {
		if len(e.Name()) > 4 && e.Name()[len(e.Name())-4:] == ".mem" {
			return true
		}
	}
	return false
}
