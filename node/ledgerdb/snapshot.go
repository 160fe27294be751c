package ledgerdb

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// pSnapshot keys hold opaque snapshots the node keeps beside the ledger:
//
//	s/<name>   bytes, replaced whole by each PutSnapshot
const pSnapshot = 's'

// ErrNoSnapshot means no snapshot is stored under a name.
var ErrNoSnapshot = errors.New("ledgerdb: no snapshot")

// maxSnapshot bounds a snapshot, so a runaway caller cannot fill the
// ledger's disk; a store's catalog and staff are far below it.
const maxSnapshot = 32 << 20

// PutSnapshot stores b under name, replacing what was there. Like every
// ledger write it is fsynced before it returns, so a power cut keeps
// either the old snapshot or the new one. The node keeps its inventory's
// catalog, staff, settings and certificates here (see node's doc).
func (d *DB) PutSnapshot(name string, b []byte) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("put snapshot: name %q must be 1 to 64 bytes", name)
	}
	if len(b) > maxSnapshot {
		return fmt.Errorf("put snapshot %s: %d bytes, at most %d", name, len(b), maxSnapshot)
	}
	err := d.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(append([]byte{pSnapshot}, name...), b)
	})
	if err != nil {
		return fmt.Errorf("put snapshot %s: %w", name, err)
	}
	return nil
}

// Snapshot returns the bytes stored under name, or ErrNoSnapshot.
func (d *DB) Snapshot(name string) ([]byte, error) {
	var out []byte
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(append([]byte{pSnapshot}, name...))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNoSnapshot
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", name, err)
	}
	return out, nil
}
