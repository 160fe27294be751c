package ledgerdb

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
)

// Customer keys: the keys that seal customers' personal fields in the
// CRDT (crdt/customer_seal.go), kept here and never in the CRDT, so that
// deleting them when a customer is erased leaves the sealed fields in the
// DAG's blocks unreadable (crypto-shredding; docs/SECURITY.md).
//
//	y<customer>/<key id, 8 bytes>   the 32-byte key
//
// A customer number never contains '/', so y<customer>/ is a prefix of
// exactly that customer's keys. Badger keeps a deleted key's bytes in
// its tables and value log until compaction rewrites them.
const pCustomerKey = 'y'

// CustomerKeyLen is the length of a stored customer key.
const CustomerKeyLen = 32

func customerKeyPrefix(customer string) []byte {
	k := make([]byte, 0, 2+len(customer)+8)
	k = append(k, pCustomerKey)
	k = append(k, customer...)
	return append(k, '/')
}

// PutCustomerKey stores a customer's key durably; storing one already
// held is a no-op.
func (d *DB) PutCustomerKey(customer string, id [8]byte, key []byte) error {
	if err := ledger.CheckCustomer(customer); err != nil {
		return fmt.Errorf("store customer key: %w", err)
	}
	if len(key) != CustomerKeyLen {
		return fmt.Errorf("store customer %s key: %d bytes, want %d", customer, len(key), CustomerKeyLen)
	}
	k := append(customerKeyPrefix(customer), id[:]...)
	defer d.syncDir()
	err := d.bdb.Update(func(txn *badger.Txn) error { return txn.Set(k, append([]byte(nil), key...)) })
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("store customer %s key: %w", customer, err)
	}
	return nil
}

// CustomerKeys returns the keys held for a customer, by ID.
func (d *DB) CustomerKeys(customer string) (map[[8]byte][]byte, error) {
	if err := ledger.CheckCustomer(customer); err != nil {
		return nil, fmt.Errorf("customer keys: %w", err)
	}
	p := customerKeyPrefix(customer)
	out := map[[8]byte][]byte{}
	err := d.scan(p, func(k, v []byte) error {
		if len(k) != len(p)+8 || len(v) != CustomerKeyLen {
			return nil // not ours to read: skip, never fail the customer
		}
		out[[8]byte(k[len(p):])] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("customer %s keys: %w", customer, err)
	}
	return out, nil
}

// DeleteCustomerKeys deletes every key held for a customer; it reports
// how many there were.
func (d *DB) DeleteCustomerKeys(customer string) (int, error) {
	if err := ledger.CheckCustomer(customer); err != nil {
		return 0, fmt.Errorf("delete customer keys: %w", err)
	}
	p := customerKeyPrefix(customer)
	n := 0
	err := d.bdb.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		var keys [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if errors.Is(err, badger.ErrDBClosed) {
		return 0, ErrClosed
	}
	if err != nil {
		return 0, fmt.Errorf("delete customer %s keys: %w", customer, err)
	}
	if n > 0 {
		d.syncDir()
	}
	return n, nil
}

// CustomerKey returns one key of a customer, or false.
func (d *DB) CustomerKey(customer string, id [8]byte) ([]byte, bool, error) {
	if err := ledger.CheckCustomer(customer); err != nil {
		return nil, false, fmt.Errorf("customer key: %w", err)
	}
	var out []byte
	err := d.bdb.View(func(txn *badger.Txn) error {
		it, err := txn.Get(append(customerKeyPrefix(customer), id[:]...))
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, false, nil
	case errors.Is(err, badger.ErrDBClosed):
		return nil, false, ErrClosed
	case err != nil:
		return nil, false, fmt.Errorf("customer %s key: %w", customer, err)
	case len(out) != CustomerKeyLen:
		return nil, false, nil
	}
	return out, true, nil
}
