package ledgerdb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// pSnapshot keys hold snapshot records the node keeps beside the ledger,
// by set and record ID:
//
//	s/<set>/<id>   bytes
const pSnapshot = 's'

// maxSnapshotRecord bounds one snapshot record, so a runaway caller cannot
// fill the ledger's disk; a product or a staff member is a few hundred
// bytes.
const maxSnapshotRecord = 1 << 20

func snapshotKey(set, id string) []byte {
	return append([]byte{pSnapshot}, set+"/"+id...)
}

// UpdateSnapshot writes records of the snapshot set: put adds or replaces,
// del removes. Like every ledger write it is fsynced before it returns,
// in one transaction if it fits (Badger splits a very large update into
// several, each synced; every record is whole either way). The node keeps
// its inventory's catalog, staff, settings and certificates here, where a
// power cut cannot take them (see node's doc).
func (d *DB) UpdateSnapshot(set string, put map[string][]byte, del []string) error {
	if set == "" || strings.Contains(set, "/") || len(set) > 64 {
		return fmt.Errorf("update snapshot: set %q must be 1 to 64 bytes without a slash", set)
	}
	for id, b := range put {
		if id == "" || len(b) > maxSnapshotRecord {
			return fmt.Errorf("update snapshot %s: record %q: empty ID or over %d bytes", set, id, maxSnapshotRecord)
		}
	}
	txn := d.bdb.NewTransaction(true)
	defer func() { txn.Discard() }()
	apply := func(set func() error) error {
		err := set()
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return err
			}
			txn = d.bdb.NewTransaction(true)
			err = set()
		}
		return err
	}
	for id, b := range put {
		if err := apply(func() error { return txn.Set(snapshotKey(set, id), b) }); err != nil {
			return fmt.Errorf("update snapshot %s: %w", set, err)
		}
	}
	for _, id := range del {
		if err := apply(func() error { return txn.Delete(snapshotKey(set, id)) }); err != nil {
			return fmt.Errorf("update snapshot %s: %w", set, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("update snapshot %s: %w", set, err)
	}
	d.syncDir()
	return nil
}

// Snapshot returns every record of a snapshot set, by ID; an empty map if
// there is none.
func (d *DB) Snapshot(set string) (map[string][]byte, error) {
	out := map[string][]byte{}
	prefix := snapshotKey(set, "")
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out[string(it.Item().Key()[len(prefix):])] = v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", set, err)
	}
	return out, nil
}
