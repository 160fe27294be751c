package hq

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Badger key layout. Seqs and cursors are big-endian so keys sort in order.
//
//	s/<store>                 store record (JSON)
//	f/<store>                 highest fencing token
//	c/<store>/<till>          certificate (CBOR)
//	h/<store>/<till>          head: seq, event ID, flagged
//	e/<store>/<till>/<seq>    event bytes
//	i/<event id>              store, till, seq of the event
//	x/<store>/<till>/<seq>/<id> evidence (JSON)
//	k/<store>                 last contact (JSON)
//	g/<cursor>                downlink change (JSON)
//	u/<name>                  user (JSON)
//	G                         change cursor floor, set by a restore (big-endian)
const (
	bStore    = 's'
	bFence    = 'f'
	bCert     = 'c'
	bHead     = 'h'
	bEvent    = 'e'
	bIndex    = 'i'
	bEvidence = 'x'
	bContact  = 'k'
	bChange   = 'g'
	bUser     = 'u'
	bCatalog  = 'p' // a store's catalog as its relay sent it
	bFloor    = 'G' // the next change's cursor is above this (see RestoreBadgerFile)
)

func bkey(p byte, parts ...[]byte) []byte {
	k := []byte{p}
	for _, x := range parts {
		k = append(k, x...)
	}
	return k
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Badger is the embedded storage: one Badger database in a directory,
// with synced writes (an acknowledged upload survives power loss).
type Badger struct {
	db       *badger.DB
	stopDirs func()

	mu     sync.Mutex // serialises change cursors and fence raises
	cursor uint64
}

// OpenBadger opens or creates HQ's embedded storage in dir.
func OpenBadger(dir string, log *slog.Logger) (*Badger, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open hq storage %s: %w", dir, err)
	}
	o := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithMemTableSize(32 << 20).
		WithBlockCacheSize(64 << 20).
		WithIndexCacheSize(32 << 20).
		WithNumCompactors(2).
		WithLogger(badgerLog{log})
	// badgeropen repairs the empty logs a power cut during an earlier
	// open leaves (dgraph-io/badger issue 2207).
	db, rep, err := badgeropen.Open(o)
	for _, r := range rep {
		log.Warn("hq storage: repaired a file a power cut left", "file", r.String())
	}
	if err != nil {
		return nil, fmt.Errorf("open hq storage %s: %w", dir, err)
	}
	// Badger creates memtable logs and flushed tables without syncing the
	// directory; check for them in the background.
	b := &Badger{db: db, stopDirs: badgeropen.NewDirSyncer(dir).Start(100*time.Millisecond,
		func(err error) { log.Warn("hq storage directory", "err", err) })}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{bChange}, Reverse: true})
		defer it.Close()
		it.Seek([]byte{bChange, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		if it.Valid() {
			b.cursor = binary.BigEndian.Uint64(it.Item().Key()[1:])
		}
		item, err := txn.Get([]byte{bFloor})
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("change cursor floor: %d bytes, want 8", len(v))
			}
			b.cursor = max(b.cursor, binary.BigEndian.Uint64(v))
			return nil
		})
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open hq storage %s: %w", dir, err)
	}
	return b, nil
}

type badgerLog struct{ l *slog.Logger }

func (b badgerLog) Errorf(f string, a ...any)   { b.l.Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLog) Warningf(f string, a ...any) { b.l.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLog) Infof(string, ...any)        {}
func (b badgerLog) Debugf(string, ...any)       {}

// Close closes the database.
func (b *Badger) Close() error {
	b.stopDirs()
	return b.db.Close()
}

func getJSON(txn *badger.Txn, k []byte, v any) error {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func setJSON(txn *badger.Txn, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(k, b)
}

// scan calls f with each key and value under prefix, from start if given.
func (b *Badger) scan(prefix, start []byte, f func(k, v []byte) error) error {
	return b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		if start == nil {
			start = prefix
		}
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := f(item.Key(), v); err != nil {
				return err
			}
		}
		return nil
	})
}

var errStop = errors.New("stop")

func (b *Badger) PutStore(_ context.Context, s StoreRecord) error {
	return b.db.Update(func(txn *badger.Txn) error {
		var have StoreRecord
		err := getJSON(txn, bkey(bStore, s.ID[:]), &have)
		switch {
		case err == nil && !bytes.Equal(have.CA, s.CA):
			return fmt.Errorf("%w: store %s", ErrStoreExists, s.ID)
		case err == nil:
			s.Created = have.Created
		case !errors.Is(err, ErrNotFound):
			return err
		}
		return setJSON(txn, bkey(bStore, s.ID[:]), s)
	})
}

func (b *Badger) Stores(context.Context) ([]StoreRecord, error) {
	var out []StoreRecord
	err := b.scan([]byte{bStore}, nil, func(_, v []byte) error {
		var s StoreRecord
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func (b *Badger) PutCertificate(_ context.Context, c *ledger.Certificate) error {
	raw, err := c.Encode()
	if err != nil {
		return err
	}
	return b.db.Update(func(txn *badger.Txn) error { return txn.Set(bkey(bCert, c.Store[:], c.Till[:]), raw) })
}

func (b *Badger) Certificates(_ context.Context, store ledger.StoreID) ([]*ledger.Certificate, error) {
	var out []*ledger.Certificate
	err := b.scan(bkey(bCert, store[:]), nil, func(_, v []byte) error {
		c, err := ledger.DecodeCertificate(v)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func (b *Badger) RaiseFence(_ context.Context, store ledger.StoreID, token uint64) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var high uint64
	err := b.db.Update(func(txn *badger.Txn) error {
		var err error
		if high, err = getU64(txn, bkey(bFence, store[:])); err != nil {
			return err
		}
		if token < high {
			return ErrStaleFence
		}
		if token == high {
			return nil
		}
		high = token
		return txn.Set(bkey(bFence, store[:]), be64(token))
	})
	return high, err
}

func (b *Badger) Fence(_ context.Context, store ledger.StoreID) (uint64, error) {
	var high uint64
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		high, err = getU64(txn, bkey(bFence, store[:]))
		return err
	})
	return high, err
}

func getU64(txn *badger.Txn, k []byte) (uint64, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("counter %x: %d bytes", k, len(b))
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err
}

func encodeHead(h Head) []byte {
	v := be64(h.Seq)
	v = append(v, h.ID[:]...)
	if h.Flagged {
		return append(v, 1)
	}
	return append(v, 0)
}

func decodeHead(v []byte) (Head, error) {
	if len(v) != 8+32+1 {
		return Head{}, fmt.Errorf("head record of %d bytes", len(v))
	}
	var h Head
	h.Seq = binary.BigEndian.Uint64(v)
	copy(h.ID[:], v[8:40])
	h.Flagged = v[40] == 1
	return h, nil
}

func getHead(txn *badger.Txn, store ledger.StoreID, till ledger.TillID) (Head, error) {
	item, err := txn.Get(bkey(bHead, store[:], till[:]))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, err
	}
	var h Head
	err = item.Value(func(v []byte) error {
		var err error
		h, err = decodeHead(v)
		return err
	})
	return h, err
}

func (b *Badger) Heads(_ context.Context, store ledger.StoreID) (map[ledger.TillID]Head, error) {
	out := map[ledger.TillID]Head{}
	err := b.scan(bkey(bHead, store[:]), nil, func(k, v []byte) error {
		h, err := decodeHead(v)
		if err != nil {
			return err
		}
		var t ledger.TillID
		copy(t[:], k[17:])
		out[t] = h
		return nil
	})
	return out, err
}

// bigBatch is the size above which Append writes the events in several
// Badger commits before moving the heads (one transaction is limited to a
// fraction of the memtable).
const bigBatch = 1 << 20

func (b *Badger) Append(_ context.Context, store ledger.StoreID, evs []*ledger.Event, heads []HeadUpdate, roll *Rollup) error {
	size := 0
	for _, ev := range evs {
		size += len(ev.Bytes()) + 128
	}
	put := func(set func(k, v []byte) error) error {
		for _, ev := range evs {
			id := ev.ID()
			loc := bkey(0, store[:], ev.Till[:], be64(ev.Seq))[1:]
			if err := set(bkey(bEvent, loc), ev.Bytes()); err != nil {
				return err
			}
			if err := set(bkey(bIndex, id[:]), loc); err != nil {
				return err
			}
		}
		return nil
	}
	if size > bigBatch {
		// Events above a head are invisible (Range and Count go by the
		// heads), so writing them first and moving the heads last keeps
		// the append atomic for readers; a failed head move leaves
		// unreachable records that a retry overwrites with the same bytes.
		wb := b.db.NewWriteBatch()
		defer wb.Cancel()
		if err := put(wb.Set); err != nil {
			return err
		}
		if err := wb.Flush(); err != nil {
			return err
		}
	}
	err := b.db.Update(func(txn *badger.Txn) error {
		for _, u := range heads {
			h, err := getHead(txn, store, u.Till)
			if err != nil {
				return err
			}
			if h.Seq != u.From {
				return fmt.Errorf("%w: till %s at %d, want %d", ErrHeadMoved, u.Till.Short(), h.Seq, u.From)
			}
			h.Seq, h.ID = u.To, u.ID
			if err := txn.Set(bkey(bHead, store[:], u.Till[:]), encodeHead(h)); err != nil {
				return err
			}
		}
		if roll != nil {
			if err := badgerPutRollup(txn, store, roll); err != nil {
				return err
			}
		}
		if size > bigBatch {
			return nil
		}
		return put(txn.Set)
	})
	if errors.Is(err, badger.ErrConflict) {
		return fmt.Errorf("%w: %v", ErrHeadMoved, err)
	}
	return err
}

func (b *Badger) IDs(_ context.Context, store ledger.StoreID, till ledger.TillID, from, to uint64) ([]ledger.EventID, error) {
	var out []ledger.EventID
	prefix := bkey(bEvent, store[:], till[:])
	err := b.scan(prefix, bkey(bEvent, store[:], till[:], be64(from)), func(k, v []byte) error {
		if binary.BigEndian.Uint64(k[len(prefix):]) > to {
			return errStop
		}
		out = append(out, ledger.EventID(sha256.Sum256(v)))
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

func (b *Badger) Event(_ context.Context, id ledger.EventID) ([]byte, error) {
	var raw []byte
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(bkey(bIndex, id[:]))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		loc, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		item, err = txn.Get(bkey(bEvent, loc))
		if err != nil {
			return fmt.Errorf("event %s: index without event: %w", id, err)
		}
		raw, err = item.ValueCopy(nil)
		return err
	})
	return raw, err
}

func (b *Badger) Range(ctx context.Context, store ledger.StoreID, f func(raw []byte) error) error {
	heads, err := b.Heads(ctx, store)
	if err != nil {
		return err
	}
	return b.scan(bkey(bEvent, store[:]), nil, func(k, v []byte) error {
		var t ledger.TillID
		copy(t[:], k[17:49])
		if binary.BigEndian.Uint64(k[49:]) > heads[t].Seq {
			return nil // written by an append whose heads did not move
		}
		return f(v)
	})
}

// Count is the sum of the heads: chains at HQ are gapless from seq 1.
func (b *Badger) Count(ctx context.Context, store ledger.StoreID) (uint64, error) {
	heads, err := b.Heads(ctx, store)
	var n uint64
	for _, h := range heads {
		n += h.Seq
	}
	return n, err
}

func (b *Badger) PutEvidence(_ context.Context, e Evidence) error {
	return b.db.Update(func(txn *badger.Txn) error {
		if err := setJSON(txn, bkey(bEvidence, e.Store[:], e.Till[:], be64(e.Seq), e.Got[:]), e); err != nil {
			return err
		}
		h, err := getHead(txn, e.Store, e.Till)
		if err != nil {
			return err
		}
		h.Flagged = true
		return txn.Set(bkey(bHead, e.Store[:], e.Till[:]), encodeHead(h))
	})
}

func (b *Badger) Evidence(_ context.Context, store ledger.StoreID) ([]Evidence, error) {
	var out []Evidence
	err := b.scan(bkey(bEvidence, store[:]), nil, func(_, v []byte) error {
		var e Evidence
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func (b *Badger) SetContact(_ context.Context, store ledger.StoreID, c Contact) error {
	return b.db.Update(func(txn *badger.Txn) error { return setJSON(txn, bkey(bContact, store[:]), c) })
}

func (b *Badger) Contacts(context.Context) (map[ledger.StoreID]Contact, error) {
	out := map[ledger.StoreID]Contact{}
	err := b.scan([]byte{bContact}, nil, func(k, v []byte) error {
		var c Contact
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		var s ledger.StoreID
		copy(s[:], k[1:])
		out[s] = c
		return nil
	})
	return out, err
}

func (b *Badger) PutStoreCatalog(_ context.Context, store ledger.StoreID, c hqapi.StoreCatalog) error {
	return b.db.Update(func(txn *badger.Txn) error { return setJSON(txn, bkey(bCatalog, store[:]), c) })
}

func (b *Badger) StoreCatalog(_ context.Context, store ledger.StoreID) (hqapi.StoreCatalog, error) {
	var c hqapi.StoreCatalog
	err := b.db.View(func(txn *badger.Txn) error { return getJSON(txn, bkey(bCatalog, store[:]), &c) })
	return c, err
}

// StoreCatalogs reads every store's catalog in one read transaction
// (a read transaction waits for the commits in flight: one per store
// made a dashboard query wait behind the uploads 300 times).
func (b *Badger) StoreCatalogs(_ context.Context) (map[ledger.StoreID]hqapi.StoreCatalog, error) {
	out := map[ledger.StoreID]hqapi.StoreCatalog{}
	err := b.scan([]byte{bCatalog}, nil, func(k, v []byte) error {
		var id ledger.StoreID
		if len(k) != 1+len(id) {
			return fmt.Errorf("store catalog key of %d bytes", len(k))
		}
		copy(id[:], k[1:])
		var c hqapi.StoreCatalog
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("catalog of store %s: %w", id, err)
		}
		out[id] = c
		return nil
	})
	return out, err
}

func (b *Badger) AddChange(_ context.Context, c hqapi.Change) (hqapi.Change, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c.Cursor = b.cursor + 1
	err := b.db.Update(func(txn *badger.Txn) error { return setJSON(txn, bkey(bChange, be64(c.Cursor)), c) })
	if err != nil {
		return c, err
	}
	b.cursor = c.Cursor
	return c, nil
}

func (b *Badger) changes(after uint64, limit int, keep func(hqapi.Change) bool) ([]hqapi.Change, error) {
	var out []hqapi.Change
	err := b.scan([]byte{bChange}, bkey(bChange, be64(after+1)), func(_, v []byte) error {
		var c hqapi.Change
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		if keep(c) {
			out = append(out, c)
		}
		if len(out) >= limit {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

func (b *Badger) Changes(_ context.Context, store ledger.StoreID, after uint64, limit int) ([]hqapi.Change, error) {
	return b.changes(after, limit, func(c hqapi.Change) bool { return c.Store == nil || *c.Store == store })
}

func (b *Badger) AllChanges(_ context.Context, after uint64, limit int) ([]hqapi.Change, error) {
	return b.changes(after, limit, func(hqapi.Change) bool { return true })
}

func (b *Badger) PutUser(_ context.Context, u User) error {
	return b.db.Update(func(txn *badger.Txn) error { return setJSON(txn, bkey(bUser, []byte(u.Name)), u) })
}

func (b *Badger) User(_ context.Context, name string) (User, error) {
	var u User
	err := b.db.View(func(txn *badger.Txn) error { return getJSON(txn, bkey(bUser, []byte(name)), &u) })
	return u, err
}

func (b *Badger) Users(context.Context) ([]User, error) {
	var out []User
	err := b.scan([]byte{bUser}, nil, func(_, v []byte) error {
		var u User
		if err := json.Unmarshal(v, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}
