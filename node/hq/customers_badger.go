package hq

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// The chain's customers in the embedded storage (customers.go says what
// they are):
//
//	C<number>        customer record (JSON): winning edits, or erased
//	D<cursor>        number of the customer changed at that cursor
//
// A record keeps the cursor of its last change; changing it again moves
// its D entry, so D holds one entry per customer and no personal data.
// Cursors are at least the Unix microseconds of the change, so a storage
// restored from an older backup never hands out a cursor a relay has
// already passed.
const (
	bCustomer       = 'C'
	bCustomerCursor = 'D'
)

// customerStorage is what HQ needs of its storage for customers. The
// embedded Badger storage and PostgreSQL implement it.
type customerStorage interface {
	// UpdateCustomer reads a record (nil if none), lets f decide the new
	// one, and stores it with a new cursor if f says it changed.
	UpdateCustomer(ctx context.Context, number string, nowMicro uint64, f func(old *hqapi.CustomerRecord) (*hqapi.CustomerRecord, bool, error)) (bool, error)
	// CustomersAfter returns up to limit records changed after cursor,
	// in cursor order.
	CustomersAfter(ctx context.Context, after uint64, limit int) ([]hqapi.CustomerRecord, error)
	// CustomerRecords calls f with every record, by number.
	CustomerRecords(ctx context.Context, f func(hqapi.CustomerRecord) bool) error
}

var _ customerStorage = (*Badger)(nil)

// UpdateCustomer implements customerStorage.
func (b *Badger) UpdateCustomer(_ context.Context, number string, nowMicro uint64, f func(*hqapi.CustomerRecord) (*hqapi.CustomerRecord, bool, error)) (bool, error) {
	for {
		changed := false
		err := b.db.Update(func(txn *badger.Txn) error {
			key := bkey(bCustomer, []byte(number))
			var old *hqapi.CustomerRecord
			switch item, err := txn.Get(key); {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				old = new(hqapi.CustomerRecord)
				if err := item.Value(func(v []byte) error { return json.Unmarshal(v, old) }); err != nil {
					return fmt.Errorf("customer %s record: %w", number, err)
				}
			}
			rec, ch, err := f(old)
			if err != nil || !ch {
				return err
			}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{bCustomerCursor}, Reverse: true})
			it.Seek([]byte{bCustomerCursor, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			var last uint64
			if it.Valid() {
				last = binary.BigEndian.Uint64(it.Item().Key()[1:])
			}
			it.Close()
			if old != nil && old.Cursor > 0 {
				if err := txn.Delete(bkey(bCustomerCursor, be64(old.Cursor))); err != nil {
					return err
				}
			}
			rec.Number, rec.Cursor = number, max(last+1, nowMicro)
			v, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			// WithDiscard: Badger drops the record's older versions
			// at compaction and a backup (db.Backup streams every
			// version it still holds) stops at this one, so the
			// personal data an erasure replaced is in no later backup.
			if err := txn.SetEntry(badger.NewEntry(key, v).WithDiscard()); err != nil {
				return err
			}
			changed = true
			return txn.Set(bkey(bCustomerCursor, be64(rec.Cursor)), []byte(number))
		})
		if errors.Is(err, badger.ErrConflict) {
			continue // another update took the cursor: read again
		}
		if err != nil {
			return false, fmt.Errorf("update customer %s: %w", number, err)
		}
		return changed, nil
	}
}

// CustomersAfter implements customerStorage.
func (b *Badger) CustomersAfter(_ context.Context, after uint64, limit int) ([]hqapi.CustomerRecord, error) {
	var out []hqapi.CustomerRecord
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{bCustomerCursor}, PrefetchValues: true})
		defer it.Close()
		for it.Seek(bkey(bCustomerCursor, be64(after+1))); it.Valid() && len(out) < limit; it.Next() {
			number, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			item, err := txn.Get(bkey(bCustomer, number))
			if err != nil {
				return fmt.Errorf("customer %s at cursor: %w", number, err)
			}
			var rec hqapi.CustomerRecord
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("customer %s record: %w", number, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// CustomerRecords implements customerStorage.
func (b *Badger) CustomerRecords(_ context.Context, f func(hqapi.CustomerRecord) bool) error {
	return b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{bCustomer}, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec hqapi.CustomerRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("customer record %q: %w", it.Item().Key(), err)
			}
			if !f(rec) {
				return nil
			}
		}
		return nil
	})
}
