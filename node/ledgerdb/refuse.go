package ledgerdb

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/tillmesh/tillmesh/ledger"
)

// pRefused keys v/<till>/<seq>: an event of a revoked till above its
// revocation's AfterSeq, moved out of the chain by Refuse and kept as
// evidence of what the revocation refused. Its index records (index.go)
// stay: every lookup reads the event at e/<till>/<seq>, which is gone.
const pRefused = 'v'

// Refuse puts a revocation into effect in the ledger: the till's events
// above after, chained or held, move out of its chain into v/<till>/<seq>,
// the state (and so every fold: reports, stock) is rebuilt without them,
// and from then on Insert drops that till's events above after. It
// returns how many events it moved; calling it again moves nothing more.
// Called again with a later after (a revocation re-issued), it moves the
// events it had set aside up to the new seq back into the chain.
//
// Never call it for this till's own chain: an event moved aside would
// free its seq for a second, different event.
func (d *DB) Refuse(till ledger.TillID, after uint64) (moved int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	if d.refused == nil {
		d.refused = map[ledger.TillID]uint64{}
	}
	d.refused[till] = after
	wb := d.bdb.NewWriteBatch()
	defer wb.Cancel()
	restored := 0
	err = d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventKey(pEvent, till, 0)[:33], PrefetchValues: true})
		defer it.Close()
		for it.Seek(eventKey(pEvent, till, after+1)); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			seq := binary.BigEndian.Uint64(k[33:])
			if err := wb.Set(eventKey(pRefused, till, seq), v); err != nil {
				return err
			}
			if err := wb.Delete(k); err != nil {
				return err
			}
			moved++
		}
		// A revocation re-issued with a later AfterSeq gives back what an
		// earlier one had moved aside, up to the new seq.
		back := txn.NewIterator(badger.IteratorOptions{Prefix: eventKey(pRefused, till, 0)[:33], PrefetchValues: true})
		defer back.Close()
		for back.Rewind(); back.Valid(); back.Next() {
			k := back.Item().KeyCopy(nil)
			seq := binary.BigEndian.Uint64(k[33:])
			if seq > after {
				break
			}
			v, err := back.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := wb.Set(eventKey(pEvent, till, seq), v); err != nil {
				return err
			}
			if err := wb.Delete(k); err != nil {
				return err
			}
			restored++
		}
		return nil
	})
	if err == nil && moved+restored > 0 {
		err = wb.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("refuse events of till %s after seq %d: %w", till.Short(), after, err)
	}
	if moved+restored == 0 {
		return 0, nil
	}
	d.syncDir()
	// Rebuild the state from the chains as they now are: the pure state
	// has no way to take an event back out, and a revocation is rare.
	// The stored checkpoint covers the refused events: replay every event
	// into a new State and store its checkpoint. Until that is stored, the
	// old one no longer matches the chain (its head for this till is gone
	// from e/), so a start in between replays every event too.
	d.state = ledger.NewStateWith(d.cfg.Store, d.idx)
	d.replayed = 0
	if err := d.load(nil); err != nil {
		return moved, fmt.Errorf("refuse events of till %s: reload the ledger: %w", till.Short(), err)
	}
	d.checkpoint()
	return moved, nil
}

// Refused returns how many of a till's events Refuse has moved aside.
func (d *DB) Refused(till ledger.TillID) (int, error) {
	n := 0
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventKey(pRefused, till, 0)[:33]})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// dropRefused removes from list (one till's events) those above the
// till's refusal, counting them in res. The caller holds d.mu.
func (d *DB) dropRefused(till ledger.TillID, list []*ledger.Event, res *InsertResult) []*ledger.Event {
	after, ok := d.refused[till]
	if !ok {
		return list
	}
	out := list[:0]
	for _, ev := range list {
		if ev.Seq > after {
			res.Refused++
			continue
		}
		out = append(out, ev)
	}
	return out
}
