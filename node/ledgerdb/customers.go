package ledgerdb

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
)

// The customer index: every sale that names a customer, found from the
// customer's number, so that any till shows a customer's purchase history
// from its own ledger, offline.
//
//	u/<customer>/<till>/<seq>    a sale naming the customer (no value)
//	m/customers                  present once every stored event is indexed
//
// ('c' is taken by certificates.) A customer number never contains '/',
// so u<customer>/ is a prefix of exactly that customer's records. Records
// are written in the transaction that stores the sale (indexRecords), like
// the other indexes; a ledger opened for the first time by a release that
// has this index (it may hold sales naming customers that a newer till
// sent) is indexed once, and m/customers marks that done. Records point
// at a chain position: a lookup reads the event stored there and keeps it
// only if it is a sale naming that customer.
const pCustomerIdx = 'u'

var keyCustomerIdx = []byte("m/customers")

func customerIdxPrefix(customer string) []byte {
	k := make([]byte, 0, 2+len(customer))
	k = append(k, pCustomerIdx)
	k = append(k, customer...)
	return append(k, '/')
}

func customerIdxKey(customer string, till ledger.TillID, seq uint64) []byte {
	k := customerIdxPrefix(customer)
	k = append(k, till[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// customerRecords returns the customer index record a sale needs, if any.
func customerRecords(ev *ledger.Event, s *ledger.Sale) (keys, vals [][]byte) {
	if s.Customer == "" || ledger.CheckCustomer(s.Customer) != nil {
		return nil, nil
	}
	return [][]byte{customerIdxKey(s.Customer, ev.Till, ev.Seq)}, [][]byte{{}}
}

// CustomerSales returns the sales stored here that name customer, oldest
// first by HLC time, at most limit of the newest (limit <= 0: all). A
// sale refused by revocation or moved aside as damaged is left out.
func (d *DB) CustomerSales(customer string, limit int) ([]*ledger.Event, error) {
	if err := ledger.CheckCustomer(customer); err != nil {
		return nil, fmt.Errorf("customer sales: %w", err)
	}
	var out []*ledger.Event
	prefix := customerIdxPrefix(customer)
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefix)+32+8 {
				return fmt.Errorf("customer index key of %d bytes", len(k))
			}
			var till ledger.TillID
			copy(till[:], k[len(prefix):])
			ev, err := getIfStored(txn, till, binary.BigEndian.Uint64(k[len(prefix)+32:]))
			if err != nil {
				return err
			}
			if ev == nil {
				continue
			}
			if s, ok := ev.Body.(*ledger.Sale); ok && s.Customer == customer {
				out = append(out, ev)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("customer %s sales: %w", customer, err)
	}
	sortByTime(out)
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func sortByTime(evs []*ledger.Event) {
	for i := 1; i < len(evs); i++ { // insertion sort: histories are short
		for j := i; j > 0 && evs[j].Time.Before(evs[j-1].Time); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

// indexCustomers writes the customer records of every stored event once,
// for a ledger written before this index existed. Records derive from the
// events alone, so a run cut short runs again with the same result.
func (d *DB) indexCustomers() error {
	err := d.bdb.View(func(txn *badger.Txn) error {
		_, err := txn.Get(keyCustomerIdx)
		return err
	})
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, badger.ErrKeyNotFound):
		return fmt.Errorf("read customer index mark: %w", err)
	}
	wb := d.bdb.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pEvent}, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error {
				ev, err := ledger.Decode(v)
				if err != nil {
					return nil // open moves it aside
				}
				s, ok := ev.Body.(*ledger.Sale)
				if !ok {
					return nil
				}
				keys, vals := customerRecords(ev, s)
				for i := range keys {
					if err := wb.Set(keys[i], vals[i]); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index the ledger by customer: %w", err)
	}
	if err := wb.Set(keyCustomerIdx, []byte("1")); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("index the ledger by customer: %w", err)
	}
	if n > 0 {
		d.log.Info("indexed the ledger by customer", "sales", n)
	}
	return nil
}
