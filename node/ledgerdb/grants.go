package ledgerdb

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/fxamacker/cbor/v2"
	"github.com/tillmesh/tillmesh/ledger"
)

// Grant records, kept by the till that owns a sale's refundable
// remainder (node/grants.go):
//
//	g/GS<sale>/<n>        a grant this till gave for one of its sales (JSON)
//	g/GK<card> 0 <n>      a grant this till gave on a card it owns (JSON)
//	g/O/<unix ms>/<key>   a refund this till made offline, for the offline limit (JSON)
//
// A grant is written (fsynced) before the owner answers, so a grant once
// given survives a crash of the owner and is never given twice.
const pGrant = 'g'

var (
	grantPrefix   = []byte{pGrant, 'G'}
	offlinePrefix = []byte{pGrant, 'O'}
)

// Grant is one grant an owner gave: Lines of Sale reserved for
// Requester's refund, or Amount of Card for its redemption, which will
// name Ref.
type Grant struct {
	Card      string              `json:"card,omitempty"`
	Amount    ledger.Money        `json:"amount,omitempty"`
	Ref       ledger.GrantRef     `json:"ref"`
	Sale      ledger.EventID      `json:"sale"`
	Requester ledger.TillID       `json:"requester"`
	Key       string              `json:"key"` // the asker's idempotency key: asking again returns this grant
	Lines     []ledger.RefundLine `json:"lines"`
	Made      int64               `json:"made"` // Unix ms by the owner's clock
	// Void marks a grant for a void of the whole sale: while it is held
	// no refund of the sale is granted (node/voids.go).
	Void bool `json:"void,omitempty"`
}

func grantKey(g Grant) []byte {
	if g.Card != "" {
		k := append(append(append([]byte(nil), grantPrefix...), 'K'), g.Card...)
		return binary.BigEndian.AppendUint64(append(k, 0), g.Ref.N)
	}
	k := append(append(append([]byte(nil), grantPrefix...), 'S'), g.Sale[:]...)
	return binary.BigEndian.AppendUint64(k, g.Ref.N)
}

// PutGrant stores a grant durably.
func (d *DB) PutGrant(g Grant) error {
	if g.Ref.N == 0 {
		return errors.New("ledgerdb: grant number 0")
	}
	if (g.Card == "") == g.Sale.IsZero() {
		return errors.New("ledgerdb: a grant names a sale or a card")
	}
	b, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode grant %s: %w", g.Ref, err)
	}
	defer d.syncDir()
	err = d.bdb.Update(func(txn *badger.Txn) error { return txn.Set(grantKey(g), b) })
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("store grant %s: %w", g.Ref, err)
	}
	return nil
}

// Grants returns every stored grant, by sale and number.
func (d *DB) Grants() ([]Grant, error) {
	var out []Grant
	err := d.scan(grantPrefix, func(k, v []byte) error {
		var g Grant
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("stored grant %x: %w", k, err)
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// OfflineRecord is a refund this till made without its owner's grant,
// written before the refund itself so the offline limit never undercounts.
type OfflineRecord struct {
	Key    string       `json:"key"` // the refund's idempotency key
	Amount ledger.Money `json:"amount"`
	At     int64        `json:"at"` // Unix ms
}

// PutOffline stores an offline spend record durably.
func (d *DB) PutOffline(r OfflineRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(append([]byte(nil), offlinePrefix...), uint64(r.At))
	k = append(k, r.Key...)
	defer d.syncDir()
	err = d.bdb.Update(func(txn *badger.Txn) error { return txn.Set(k, b) })
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	return err
}

// Offline returns the offline spend records made at or after since (Unix ms).
func (d *DB) Offline(since int64) ([]OfflineRecord, error) {
	var out []OfflineRecord
	err := d.scan(offlinePrefix, func(k, v []byte) error {
		if len(k) < 10 || int64(binary.BigEndian.Uint64(k[2:10])) < since {
			return nil
		}
		var r OfflineRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("stored offline spend %x: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (d *DB) scan(prefix []byte, f func(k, v []byte) error) error {
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := f(it.Item().KeyCopy(nil), v); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	return err
}

// Card movements are indexed by card, written with the event as the
// indexes of index.go are; the value holds the movements themselves
// (ledger.CardEntry), so a balance is one prefix scan, no event read:
//
//	g/C/<card> 0x00 <till>/<seq>   CBOR []ledger.CardEntry of that event
var cardPrefix = []byte{pGrant, 'C'}

func cardIdxKey(card string, till ledger.TillID, seq uint64) []byte {
	k := append(append(append([]byte(nil), cardPrefix...), card...), 0)
	k = append(k, till[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// cardRecords returns the card index records of an event.
func cardRecords(ev *ledger.Event) (keys, vals [][]byte) {
	for card, es := range ledger.CardEntries(ev) {
		b, err := cbor.Marshal(es)
		if err != nil {
			panic(fmt.Sprintf("ledgerdb: encode card entries: %v", err)) // plain structs always encode
		}
		keys, vals = append(keys, cardIdxKey(card, ev.Till, ev.Seq)), append(vals, b)
	}
	return keys, vals
}

// CardEntries returns the movements of a card in the applied events
// (those held above a gap are left out), in till and seq order.
func (d *DB) CardEntries(card string) ([]ledger.CardEntry, error) {
	heads := map[ledger.TillID]uint64{}
	d.mu.Lock()
	for _, t := range d.state.Tills() {
		heads[t], _, _ = d.state.Head(t)
	}
	d.mu.Unlock()
	var out []ledger.CardEntry
	prefix := append(append(append([]byte(nil), cardPrefix...), card...), 0)
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			if len(k) != 40 {
				return fmt.Errorf("card index key of %d bytes", len(k))
			}
			var till ledger.TillID
			copy(till[:], k)
			if binary.BigEndian.Uint64(k[32:]) > heads[till] {
				continue
			}
			err := it.Item().Value(func(v []byte) error {
				var es []ledger.CardEntry
				if err := cbor.Unmarshal(v, &es); err != nil {
					return fmt.Errorf("card index record of %s: %w", card, err)
				}
				out = append(out, es...)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrDBClosed) {
		return nil, ErrClosed
	}
	return out, err
}

// EachCard calls f with every card's movements in the applied events,
// card by card in key order.
func (d *DB) EachCard(f func(card string, es []ledger.CardEntry)) error {
	heads := map[ledger.TillID]uint64{}
	d.mu.Lock()
	for _, t := range d.state.Tills() {
		heads[t], _, _ = d.state.Head(t)
	}
	d.mu.Unlock()
	var card string
	var es []ledger.CardEntry
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: cardPrefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(cardPrefix):]
			if len(k) < 41 || k[len(k)-41] != 0 {
				return fmt.Errorf("card index key %x", k)
			}
			c := string(k[:len(k)-41])
			var till ledger.TillID
			copy(till[:], k[len(k)-40:])
			if binary.BigEndian.Uint64(k[len(k)-8:]) > heads[till] {
				continue
			}
			if c != card && len(es) > 0 {
				f(card, es)
				es = nil
			}
			card = c
			err := it.Item().Value(func(v []byte) error {
				var more []ledger.CardEntry
				if err := cbor.Unmarshal(v, &more); err != nil {
					return fmt.Errorf("card index record of %s: %w", c, err)
				}
				es = append(es, more...)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	if err == nil && len(es) > 0 {
		f(card, es)
	}
	return err
}
