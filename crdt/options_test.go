package crdt

import (
	"fmt"
	"os"
	"testing"

	"github.com/dgraph-io/badger/v4"
	badger4 "github.com/ipfs/go-ds-badger4"
)

// TestBadgerOptionsReplayABiggerLog opens an inventory store that the
// previous release (4 MB memtables) left after a power cut, with 2 MB of
// writes only in its write-ahead log. Badger replays the log into an arena
// of the configured memtable size and exits the process when it does not
// fit; BadgerOptions must size it.
func TestBadgerOptionsReplayABiggerLog(t *testing.T) {
	dir := t.TempDir()
	old := badger.DefaultOptions(dir).WithMemTableSize(4 << 20).WithNumMemtables(2).WithValueThreshold(4 << 10).WithValueLogFileSize(64 << 20).WithLogger(nil)
	db, err := badger.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	wb := db.NewWriteBatch()
	for i := range 8000 {
		if err := wb.Set(fmt.Appendf(nil, "/k/%06d", i), make([]byte, 250)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ds, err := badger4.NewDatastore(crashed, BadgerOptions(crashed))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	n := 0
	err = ds.DB.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("/k/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil || n != 8000 {
		t.Fatalf("after the crash: %d of 8000 keys (%v)", n, err)
	}
}
