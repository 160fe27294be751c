package ledgerdb

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/tillmesh/tillmesh/ledger"
)

// The ledger's indexes on disk, so that the in-memory ledger.State keeps
// no event (ledger.Index), and the checkpoint of that State:
//
//	b/<sale id>                 till + seq of the sale event
//	r/<sale id>/<till>/<seq>    a refund or void of that sale (no value)
//	k/state                     ledger.State.Checkpoint of the chains and folds
//	m/index                     index format version; absent before issue 17
//	n/<till>/<number>           seq of the till's receipt number (ledger.ReceiptNo)
//	o/<till>/<seq>              receipt number of the event at seq
//
// Receipt number records (n/, o/) are written when an event is applied,
// since an event's number depends on the chain below it: in the append's
// transaction for the till's own events (the number is known before),
// in Insert's batch for a peer's events that extend its chain (an event
// held above a gap: in a batch once it is applied), and again for every
// event Open applies above the checkpoint (tail replay) and when Refuse
// rebuilds the state. A checkpoint is stored only after the records of
// the events it covers; a start after a crash in between applies those
// events again and writes their records. Records above what the State
// applied (a revocation moved the events aside) are ignored by the State.
//
// Index records are written in the same transaction as the event they
// point at, for every event stored under e/ (chained or held above a
// gap): a lookup finds exactly the stored events, and State ignores those
// above its chain heads. A ledger written before the indexes existed is
// indexed once when it opens (migrate).
const (
	pSaleIdx   = 'b'
	pSettleIdx = 'r'
	pMeta      = 'm'
	pNumberSeq = 'n'
	pSeqNumber = 'o'
)

var (
	keyCheckpoint = []byte("k/state")
	keyIndexVer   = []byte("m/index")
)

const indexVersion = "1"

func saleIdxKey(id ledger.EventID) []byte { return append([]byte{pSaleIdx}, id[:]...) }

func settleIdxKey(sale ledger.EventID, till ledger.TillID, seq uint64) []byte {
	k := make([]byte, 0, 1+32+32+8)
	k = append(k, pSettleIdx)
	k = append(k, sale[:]...)
	k = append(k, till[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func tillSeq(till ledger.TillID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), till[:]...), seq)
}

// indexRecords returns the index records an event stored under e/ needs.
func indexRecords(ev *ledger.Event) (keys, vals [][]byte) {
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		ck, cv := customerRecords(ev, b) // customers.go
		return append([][]byte{saleIdxKey(ev.ID())}, ck...), append([][]byte{tillSeq(ev.Till, ev.Seq)}, cv...)
	case *ledger.Refund:
		keys, vals = cardRecords(ev) // a refund paid out as store credit: grants.go
		return append(keys, settleIdxKey(b.Sale, ev.Till, ev.Seq)), append(vals, []byte{})
	case *ledger.Void:
		return [][]byte{settleIdxKey(b.Sale, ev.Till, ev.Seq)}, [][]byte{{}}
	case *ledger.CardMove:
		return cardRecords(ev) // grants.go
	case *ledger.Return:
		// A return paid out as store credit (no ledger before this
		// record holds one: the till gave returns only cash or card).
		return cardRecords(ev)
	}
	return nil, nil
}

// receiptRecords returns the n/ and o/ records of a till's receipt n at seq.
func receiptRecords(till ledger.TillID, n, seq uint64) (keys, vals [][]byte) {
	return [][]byte{eventKey(pNumberSeq, till, n), eventKey(pSeqNumber, till, seq)},
		[][]byte{binary.BigEndian.AppendUint64(nil, seq), binary.BigEndian.AppendUint64(nil, n)}
}

// putNumbers writes the receipt records of applied events (numbers[i] is
// applied[i]'s, 0 for none).
func putNumbers(w setter, applied []*ledger.Event, numbers []uint64) error {
	for i, ev := range applied {
		if i >= len(numbers) || numbers[i] == 0 {
			continue
		}
		keys, vals := receiptRecords(ev.Till, numbers[i], ev.Seq)
		for j := range keys {
			if err := w.Set(keys[j], vals[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// setter is what both a transaction and a write batch can do.
type setter interface {
	Set(k, v []byte) error
}

// putEvent stores an event under e/ with its index records.
func putEvent(w setter, ev *ledger.Event) error {
	if err := w.Set(eventKey(pEvent, ev.Till, ev.Seq), ev.Bytes()); err != nil {
		return err
	}
	keys, vals := indexRecords(ev)
	for i := range keys {
		if err := w.Set(keys[i], vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// index is the ledger.Index the DB's State reads: events stored under e/,
// found through the records above.
type index struct{ bdb *badger.DB }

// EventID implements ledger.Index: the hash of the stored bytes.
func (x index) EventID(t ledger.TillID, seq uint64) (id ledger.EventID, ok bool, err error) {
	err = x.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(eventKey(pEvent, t, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			id, ok = sha256.Sum256(v), true
			return nil
		})
	})
	return id, ok, err
}

// ReceiptNumber implements ledger.ReceiptIndex.
func (x index) ReceiptNumber(t ledger.TillID, seq uint64) (uint64, bool, error) {
	return x.uint64At(eventKey(pSeqNumber, t, seq))
}

// ReceiptSeq implements ledger.ReceiptIndex.
func (x index) ReceiptSeq(t ledger.TillID, n uint64) (uint64, bool, error) {
	return x.uint64At(eventKey(pNumberSeq, t, n))
}

func (x index) uint64At(k []byte) (v uint64, ok bool, err error) {
	err = x.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) != 8 {
				return fmt.Errorf("receipt index record of %d bytes", len(b))
			}
			v, ok = binary.BigEndian.Uint64(b), true
			return nil
		})
	})
	return v, ok, err
}

// Sale implements ledger.Index.
func (x index) Sale(id ledger.EventID) (ev *ledger.Event, ok bool, err error) {
	err = x.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(saleIdxKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(v) != 40 {
			return fmt.Errorf("sale index record of %d bytes", len(v))
		}
		var till ledger.TillID
		copy(till[:], v)
		ev, err = getIfStored(txn, till, binary.BigEndian.Uint64(v[32:]))
		ok = ev != nil && ev.ID() == id
		return err
	})
	return ev, ok, err
}

// Settlements implements ledger.Index.
func (x index) Settlements(sale ledger.EventID) ([]*ledger.Event, error) {
	var out []*ledger.Event
	err := x.bdb.View(func(txn *badger.Txn) error {
		prefix := append([]byte{pSettleIdx}, sale[:]...)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != 1+32+32+8 {
				return fmt.Errorf("refund index key of %d bytes", len(k))
			}
			var till ledger.TillID
			copy(till[:], k[33:65])
			ev, err := getIfStored(txn, till, binary.BigEndian.Uint64(k[65:]))
			if err != nil {
				return err
			}
			if ev != nil && settles(ev, sale) {
				out = append(out, ev)
			}
		}
		return nil
	})
	return out, err
}

// settles reports whether ev is a refund or void of sale: the position a
// record points at can hold another event after a damaged one was moved
// aside and a peer's copy stored.
func settles(ev *ledger.Event, sale ledger.EventID) bool {
	switch b := ev.Body.(type) {
	case *ledger.Refund:
		return b.Sale == sale
	case *ledger.Void:
		return b.Sale == sale
	}
	return false
}

// getIfStored returns the event stored under e/ for (till, seq), or nil
// if there is none (moved aside as damaged).
func getIfStored(txn *badger.Txn, till ledger.TillID, seq uint64) (*ledger.Event, error) {
	item, err := txn.Get(eventKey(pEvent, till, seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ev *ledger.Event
	err = item.Value(func(v []byte) error {
		var err error
		ev, err = ledger.Decode(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("event %s/%d: %w", till.Short(), seq, err)
	}
	return ev, nil
}

// migrate indexes a ledger written before the indexes existed: every
// event under e/ gets its records, then the version is written. Records
// are derived from the events alone, so a migration cut short by a crash
// runs again from the start at the next open with the same result.
func (d *DB) migrate() error {
	var ver []byte
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyIndexVer)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ver, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return err
	}
	switch string(ver) {
	case indexVersion:
		return nil
	case "":
	default:
		return fmt.Errorf("ledger index version %q: written by a newer release", ver)
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
					return nil // load moves it aside
				}
				keys, vals := indexRecords(ev)
				for i := range keys {
					if err := wb.Set(keys[i], vals[i]); err != nil {
						return err
					}
				}
				n++
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index the ledger: %w", err)
	}
	if err := wb.Set(keyIndexVer, []byte(indexVersion)); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("index the ledger: %w", err)
	}
	d.log.Info("indexed the ledger for refunds and checkpoints", "events", n)
	return nil
}
