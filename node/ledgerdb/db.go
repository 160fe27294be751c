package ledgerdb

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
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
)

// maxAhead is how far ahead of our wall clock (ms) a peer's event time may
// be and still push our clock forward; beyond it the peer's clock is wrong.
const maxAhead = 2 * 60 * 1000

// Sentinel errors.
var (
	ErrDiskFull         = errors.New("ledgerdb: disk almost full: refusing new events")
	ErrOwnChainDamaged  = errors.New("ledgerdb: this till's own chain is damaged: fetch it from peers before selling")
	ErrClosed           = errors.New("ledgerdb: closed")
	ErrIdempotencyReuse = errors.New("ledgerdb: idempotency key reused for a different request")
)

// Config configures a DB. The zero value is not usable: Dir and Store are
// required; DefaultConfig fills the rest.
type Config struct {
	Dir   string
	Store ledger.StoreID
	// MinFree is the free-disk watermark: below it Append refuses with
	// ErrDiskFull instead of writing (a full disk kills Badger with SIGBUS).
	MinFree uint64
	// Ballast is the size of a file kept to be deleted when the disk
	// fills, so Badger can reopen. Zero keeps none.
	Ballast uint64
	// FullCheck makes Open read, check and apply every stored event, as
	// before checkpoints existed, instead of restoring the checkpoint and
	// checking the events above it. Damage below the checkpoint is
	// otherwise found by Verify (tillmesh ledger verify) or when the
	// record is read.
	FullCheck bool
	// CheckpointEvery is how many applied events pass before the DB
	// stores its State's checkpoint again (also at Close): at most about
	// this many events are applied again at the next start.
	CheckpointEvery int
	Logger          *slog.Logger
}

// DefaultConfig returns a config for a till's ledger in dir.
func DefaultConfig(dir string, store ledger.StoreID) Config {
	return Config{Dir: dir, Store: store, MinFree: 64 << 20, Ballast: 16 << 20, CheckpointEvery: 10_000, Logger: slog.Default()}
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("ledgerdb: no directory")
	case c.Logger == nil:
		return errors.New("ledgerdb: no logger")
	case c.CheckpointEvery < 1:
		return fmt.Errorf("ledgerdb: checkpoint every %d events", c.CheckpointEvery)
	}
	return nil
}

// Key layout. Seqs are big-endian so keys sort in chain order.
//
//	e/<till>/<seq>        event bytes (chained, or held above a gap)
//	x/<till>/<seq>/<id>   a conflicting event: equivocation evidence
//	q/<till>/<seq>        a damaged record moved aside on open
//	i/<idempotency key>   till + seq of the event the key made
//	c/<till>              a till's certificate (certs.go)
//	s/<name>              a snapshot the node keeps beside the ledger (snapshot.go)
//	b/, r/, k/, m/, n/, o/  indexes and the State's checkpoint (index.go)
//	v/<till>/<seq>        an event a revocation refused (refuse.go)
//	g/                    grants this till gave as a sale's owner, offline spends (grants.go)
//	y<customer>/<id>      keys sealing a customer's fields in the CRDT (custkeys.go)
const (
	pEvent      = 'e'
	pEvidence   = 'x'
	pQuarantine = 'q'
	pIdem       = 'i'
)

func eventKey(p byte, t ledger.TillID, seq uint64) []byte {
	k := make([]byte, 0, 1+32+8)
	k = append(k, p)
	k = append(k, t[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func idemKey(till ledger.TillID, key string) []byte {
	k := append([]byte{pIdem}, till[:]...)
	return append(k, key...)
}

// Problem is something wrong found in storage.
type Problem struct {
	Till   ledger.TillID
	Seq    uint64
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("till %s seq %d: %s", p.Till.Short(), p.Seq, p.Reason)
}

// DB is a till's durable ledger: every event it holds, its own and its
// peers', in Badger, with a ledger.State kept in step in memory. It is safe
// for concurrent use; appends are serialised.
type DB struct {
	cfg Config
	log *slog.Logger
	bdb *badger.DB
	// dirs fsyncs the directory after Badger created or removed a file
	// (a new memtable log, a flushed table), before a write is
	// acknowledged and in the background (see badgeropen.DirSyncer).
	dirs     *badgeropen.DirSyncer
	stopDirs func()

	mu       sync.Mutex
	state    *ledger.State
	idx      index
	problems []Problem
	damaged  map[ledger.TillID]bool   // tills with quarantined records
	refused  map[ledger.TillID]uint64 // revoked till -> last seq kept (refuse.go)
	closed   bool
	// sinceCheckpoint counts events applied since the stored checkpoint.
	sinceCheckpoint int
	// broken is set when an event was stored but the State could not
	// apply it (its index could not be read): until a restart applies it
	// from disk, nothing more is written.
	broken error
	// replayed is how many stored events Open applied (the tail above
	// the checkpoint, or every event without one).
	replayed int
}

// Open opens or creates the ledger in cfg.Dir, checks every chain and
// rebuilds the state. A damaged record is moved aside (see Problems)
// instead of failing the open.
func Open(cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", cfg.Dir, err)
	}
	if free, err := freeBytes(cfg.Dir); err == nil && free < 16<<20 && releaseBallast(cfg.Dir) {
		cfg.Logger.Warn("disk almost full: deleted the ballast file so the ledger can open", "dir", cfg.Dir, "free", free)
	}
	bdb, err := openBadger(cfg.Dir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if cfg.Ballast > 0 {
		if err := ensureBallast(cfg.Dir, cfg.Ballast, cfg.MinFree); err != nil {
			cfg.Logger.Warn("no ballast file", "err", err)
		}
	}
	d := &DB{cfg: cfg, log: cfg.Logger, bdb: bdb, idx: index{bdb}, damaged: map[ledger.TillID]bool{},
		dirs: badgeropen.NewDirSyncer(cfg.Dir)}
	if err := d.open(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open ledger %s: %w", cfg.Dir, err)
	}
	d.syncDir()
	d.stopDirs = d.dirs.Start(dirCheckEvery, func(err error) { d.log.Error("ledger directory", "err", err) })
	return d, nil
}

// open indexes a ledger of the previous release, restores the State from
// its checkpoint and applies the events above it (every event if there is
// no usable checkpoint), then stores a checkpoint if it applied any.
func (d *DB) open() error {
	if err := d.migrate(); err != nil {
		return err
	}
	if err := d.indexCustomers(); err != nil { // customers.go
		return err
	}
	var from ledger.Vector
	if !d.cfg.FullCheck {
		from = d.restore()
	}
	if d.state == nil {
		d.state = ledger.NewStateWith(d.cfg.Store, d.idx)
	}
	if err := d.load(from); err != nil {
		return err
	}
	if d.replayed > 0 || from == nil {
		d.checkpoint()
	}
	return nil
}

// restore sets the State from the stored checkpoint and returns the
// vector it covers, or nil if there is none fit to use: it must decode,
// and the event stored at each chain's head must be the head it names.
func (d *DB) restore() ledger.Vector {
	var b []byte
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyCheckpoint)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err = item.ValueCopy(nil)
		return err
	})
	if err != nil || b == nil {
		if err != nil {
			d.log.Warn("ledger checkpoint unreadable: applying every event", "err", err)
		}
		return nil
	}
	st, err := ledger.RestoreState(d.cfg.Store, b, d.idx)
	if err != nil {
		d.log.Warn("ledger checkpoint unusable: applying every event", "err", err)
		return nil
	}
	v := st.Vector()
	for till, seq := range v {
		_, head, _ := st.Head(till)
		id, ok, err := d.idx.EventID(till, seq)
		if err != nil || !ok || id != head {
			d.log.Warn("ledger checkpoint does not match the stored chain: applying every event",
				"till", till.Short(), "seq", seq, "err", err)
			return nil
		}
	}
	d.state = st
	return v
}

// checkpoint stores the State's checkpoint. A failure is logged: the
// events are stored, and the next start applies more of them.
func (d *DB) checkpoint() {
	b, _, err := d.state.Checkpoint()
	if err == nil {
		err = d.bdb.Update(func(txn *badger.Txn) error { return txn.Set(keyCheckpoint, b) })
	}
	if err != nil {
		d.log.Error("store the ledger checkpoint", "err", err)
		return
	}
	d.sinceCheckpoint = 0
}

// applied counts events applied since the checkpoint and stores a new one
// every Config.CheckpointEvery.
func (d *DB) applied(n int) {
	d.sinceCheckpoint += n
	if d.sinceCheckpoint >= d.cfg.CheckpointEvery {
		d.checkpoint()
	}
}

// Replayed returns how many stored events Open applied: the events above
// the checkpoint, or every event when there was none to use.
func (d *DB) Replayed() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replayed
}

// load reads the stored events above from (every event if from is nil),
// checks each till's chain, quarantines damaged records and applies the
// rest to the state.
func (d *DB) load(from ledger.Vector) error {
	// Records come in key order: by till, then seq. Where a Prev does not
	// match the event before, the event whose own signature fails is
	// damaged; the newest event of a linked run must verify too, since its
	// signature vouches for every earlier byte. Each record is checked
	// against the next one of its till and applied as soon as its fate is
	// known, so opening holds one record in memory, not the ledger.
	var bad []Problem
	var applyErr error
	var held *pendingRecord // the previous record of the current till
	// Receipt records of the applied events, written in batches.
	var numbered []*ledger.Event
	var numbers []uint64
	var numErr error
	flushNumbers := func() {
		if numErr == nil && len(numbered) > 0 {
			numErr = d.putNumbers(numbered, numbers)
		}
		numbered, numbers = numbered[:0], numbers[:0]
	}
	settle := func(next *ledger.Event) {
		if held == nil {
			return
		}
		a := held
		var nextDrop string
		if next != nil && next.Till == a.ev.Till && next.Seq == a.ev.Seq+1 && next.Prev != a.ev.ID() {
			if err := a.ev.Verify(); err != nil {
				a.drop = err.Error()
			}
			if err := next.Verify(); err != nil {
				nextDrop = err.Error()
			}
		}
		last := next == nil || next.Till != a.ev.Till || next.Seq != a.ev.Seq+1 || next.Prev != a.ev.ID()
		if last && a.drop == "" {
			if err := a.ev.Verify(); err != nil {
				a.drop = err.Error()
			}
		}
		if a.drop != "" {
			bad = append(bad, Problem{Till: a.ev.Till, Seq: a.ev.Seq, Reason: a.drop})
		} else if res, err := d.state.Apply(a.ev); err != nil {
			if errors.Is(err, ledger.ErrIndex) {
				applyErr = err
			}
			d.log.Warn("stored event does not fit its chain", "till", a.ev.Till.Short(), "seq", a.ev.Seq, "err", err)
		} else {
			d.replayed += len(res.Applied)
			for i, ev := range res.Applied {
				if res.Numbers[i] > 0 {
					numbered, numbers = append(numbered, ev), append(numbers, res.Numbers[i])
				}
			}
			if len(numbered) >= 4096 {
				flushNumbers()
			}
		}
		held = nil
		if next != nil {
			held = &pendingRecord{ev: next, drop: nextDrop}
		}
	}
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pEvent}, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			item := it.Item()
			k := item.Key()
			var till ledger.TillID
			copy(till[:], k[1:33])
			seq := binary.BigEndian.Uint64(k[33:])
			if seq <= from[till] {
				// Covered by the checkpoint: on to the till's first
				// event above it, or the next till's first event.
				it.Seek(eventKey(pEvent, till, from[till]+1))
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			it.Next()
			ev, err := ledger.Decode(v)
			if err == nil && (ev.Till != till || ev.Seq != seq) {
				err = fmt.Errorf("record is event %s/%d", ev.Till.Short(), ev.Seq)
			}
			if err != nil {
				bad = append(bad, Problem{Till: till, Seq: seq, Reason: err.Error()})
				continue
			}
			if held == nil {
				held = &pendingRecord{ev: ev}
				continue
			}
			settle(ev)
		}
		settle(nil)
		return nil
	})
	if err != nil {
		return err
	}
	if applyErr != nil {
		return applyErr
	}
	if flushNumbers(); numErr != nil {
		return numErr
	}
	for _, p := range bad {
		if err := d.quarantine(p); err != nil {
			return err
		}
	}
	return nil
}

// pendingRecord is a stored event load has read but not yet applied:
// whether it is damaged depends on the next record of its till.
type pendingRecord struct {
	ev   *ledger.Event
	drop string // why it is damaged; "" if not (yet) found so
}

func (d *DB) quarantine(p Problem) error {
	d.problems = append(d.problems, p)
	d.damaged[p.Till] = true
	d.log.Error("damaged ledger record moved aside", "till", p.Till.Short(), "seq", p.Seq, "reason", p.Reason)
	defer d.syncDir()
	return d.bdb.Update(func(txn *badger.Txn) error {
		k := eventKey(pEvent, p.Till, p.Seq)
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := txn.Set(eventKey(pQuarantine, p.Till, p.Seq), v); err != nil {
			return err
		}
		return txn.Delete(k)
	})
}

// Close closes the store.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.stopDirs()
	if d.sinceCheckpoint > 0 && d.broken == nil {
		d.checkpoint()
	}
	return d.bdb.Close()
}

// dirCheckEvery is how often the background check looks for files Badger
// created on its own (a table flushed from a memtable).
const dirCheckEvery = 100 * time.Millisecond

// syncDir fsyncs the ledger's directory if Badger created or removed a
// file since the last time. A failure is logged, not returned: the write
// itself is synced, and the next check tries again.
func (d *DB) syncDir() {
	if err := d.dirs.Sync(); err != nil {
		d.log.Error("ledger directory", "err", err)
	}
}

// Problems returns what Open found wrong and moved aside.
func (d *DB) Problems() []Problem {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Problem(nil), d.problems...)
}

// View runs f with the state under the lock. f must not keep references
// into the state or call DB methods.
func (d *DB) View(f func(*ledger.State)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.state)
}

// Vector returns the version vector.
func (d *DB) Vector() ledger.Vector {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state.Vector()
}

// Append makes, signs and durably stores the till's next event. It returns
// once the event is on disk (fsynced). The event and its idempotency key
// are written in one transaction: a request retried with the same key gets
// the original event back and existing=true, and nothing new is written.
// CheckLocal's rules apply. now is Unix milliseconds.
func (d *DB) Append(ctx context.Context, key ed25519.PrivateKey, body ledger.Body, idem string, now int64) (ev *ledger.Event, existing bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	till := ledger.TillOf(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, false, ErrClosed
	}
	if d.broken != nil {
		return nil, false, d.broken
	}
	if idem != "" {
		if ev, err := d.byIdem(till, idem); err != nil || ev != nil {
			if ev != nil && ev.Kind() != body.Kind() {
				return nil, false, fmt.Errorf("%w: key %q made a %s", ErrIdempotencyReuse, idem, ev.Kind())
			}
			return ev, ev != nil, err
		}
	}
	if d.damaged[till] {
		return nil, false, ErrOwnChainDamaged
	}
	if n, _ := d.state.Held(till); n > 0 {
		return nil, false, ErrOwnChainDamaged
	}
	free, err := freeBytes(d.cfg.Dir)
	if err != nil {
		return nil, false, err
	}
	if free < d.cfg.MinFree {
		return nil, false, fmt.Errorf("%w: %d MB free, need %d MB", ErrDiskFull, free>>20, d.cfg.MinFree>>20)
	}
	seq, prev, _ := d.state.Head(till)
	ev = &ledger.Event{Store: d.cfg.Store, Seq: seq + 1, Prev: prev, Time: d.state.NextTime(till, now, maxAhead), Body: body, Key: idem}
	ev.Till = till
	if err := d.state.CheckLocal(ev); err != nil {
		return nil, false, err
	}
	if err := ev.Sign(key); err != nil {
		return nil, false, err
	}
	number := d.state.NextReceipt(till, body.Kind())
	err = d.bdb.Update(func(txn *badger.Txn) error {
		if err := putEvent(txn, ev); err != nil {
			return err
		}
		if err := putNumbers(txn, []*ledger.Event{ev}, []uint64{number}); err != nil {
			return err
		}
		if idem != "" {
			return txn.Set(idemKey(till, idem), binary.BigEndian.AppendUint64(nil, ev.Seq))
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("append %s: %w", ev.Kind(), err)
	}
	if res, err := d.state.Apply(ev); err != nil {
		if !errors.Is(err, ledger.ErrIndex) {
			panic(fmt.Sprintf("ledgerdb: own event does not apply after write: %v", err)) // broken invariant
		}
		// Stored and durable, but the State could not read what it
		// needed: a restart applies it from disk. Writing more before
		// that would sign a second event for this seq.
		d.broken = fmt.Errorf("ledgerdb: event %d stored but not applied, restart the till: %w", ev.Seq, err)
		return nil, false, d.broken
	} else if len(res.Numbers) != 1 || res.Numbers[0] != number {
		panic(fmt.Sprintf("ledgerdb: own event took receipt number %v, written as %d", res.Numbers, number)) // broken invariant
	}
	d.syncDir() // the event may be the first in a new memtable log
	d.applied(1)
	return ev, false, nil
}

// ByIdempotencyKey returns the event a till's idempotency key made, or
// nil if it made none.
func (d *DB) ByIdempotencyKey(till ledger.TillID, key string) (*ledger.Event, error) {
	if key == "" {
		return nil, nil
	}
	return d.byIdem(till, key)
}

// byIdem returns the event an idempotency key made, or nil.
func (d *DB) byIdem(till ledger.TillID, idem string) (*ledger.Event, error) {
	var ev *ledger.Event
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(idemKey(till, idem))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil || len(v) != 8 {
			return fmt.Errorf("idempotency record %q: %d bytes, %v", idem, len(v), err)
		}
		ev, err = d.get(txn, till, binary.BigEndian.Uint64(v))
		return err
	})
	return ev, err
}

func (d *DB) get(txn *badger.Txn, till ledger.TillID, seq uint64) (*ledger.Event, error) {
	item, err := txn.Get(eventKey(pEvent, till, seq))
	if err != nil {
		return nil, fmt.Errorf("event %s/%d: %w", till.Short(), seq, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	return ledger.Decode(v)
}

// Rejected is an event Insert refused, and why.
type Rejected struct {
	Event *ledger.Event
	Err   error
}

// InsertResult says what Insert did.
type InsertResult struct {
	Applied   []*ledger.Event // newly in a chain, in chain order per till
	Held      int             // stored above a gap
	Duplicate int
	Rejected  []Rejected // failed verification or equivocated (kept as evidence)
	Refused   int        // above a revoked till's last valid seq (refuse.go)
}

// Insert verifies and stores events from peers, in any order. Runs that
// extend a chain are authenticated by their newest signature and the hash
// chain (ledger.VerifyRun); other events are verified one by one. Nothing
// that fails verification is stored; a conflicting signed event is stored
// as evidence only. It returns once everything it stored is durable.
func (d *DB) Insert(ctx context.Context, evs []*ledger.Event) (InsertResult, error) {
	if err := ctx.Err(); err != nil {
		return InsertResult{}, err
	}
	byTill := map[ledger.TillID][]*ledger.Event{}
	for _, ev := range evs {
		byTill[ev.Till] = append(byTill[ev.Till], ev)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return InsertResult{}, ErrClosed
	}
	if d.broken != nil {
		return InsertResult{}, d.broken
	}
	var res InsertResult
	var ok []*ledger.Event
	for till, list := range byTill {
		sort.Slice(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
		list = d.dropRefused(till, dedupe(list), &res)
		head, prev, _ := d.state.Head(till)
		// The leading run that extends the chain is checked as one.
		n := 0
		for n < len(list) && list[n].Seq == head+1+uint64(n) {
			n++
		}
		if n > 0 {
			if _, err := ledger.VerifyRun(prev, list[:n]); err != nil {
				// Something in the run is bad: only per-event signatures
				// can say which of the rest are good.
				for _, ev := range list[:n] {
					if err := ev.Verify(); err != nil {
						res.Rejected = append(res.Rejected, Rejected{ev, err})
						continue
					}
					ok = append(ok, ev)
				}
			} else {
				ok = append(ok, list[:n]...)
			}
		}
		for _, ev := range list[n:] {
			if ev.Seq <= head {
				if id, _ := d.state.ID(till, ev.Seq); id == ev.ID() {
					res.Duplicate++
					continue
				}
			}
			if err := ev.Verify(); err != nil {
				res.Rejected = append(res.Rejected, Rejected{ev, err})
				continue
			}
			ok = append(ok, ev)
		}
	}
	// Decide with a scratch pass what goes where, write, then apply.
	wb := d.bdb.NewWriteBatch()
	defer wb.Cancel()
	var toApply []*ledger.Event
	// Events this batch writes, by key: a second, different event for the
	// same till and seq in one batch is evidence, never an overwrite.
	batch := map[string][]byte{}
	// An event that links to the chain's head (or to the event before it
	// in this batch) will take the next receipt number when applied: its
	// number records go in this batch. Any other (held above a gap) gets
	// them after it is applied.
	type tip struct {
		seq, receipts uint64
		id            ledger.EventID
	}
	tips := map[ledger.TillID]*tip{}
	predicted := map[*ledger.Event]uint64{}
	for _, ev := range ok {
		if ev.Store != d.cfg.Store {
			res.Rejected = append(res.Rejected, Rejected{ev, fmt.Errorf("%w: %s", ledger.ErrWrongStore, ev.Store)})
			continue
		}
		// A record can exist only at or below the chain head, or among the
		// till's held events; a catch-up run above the head needs no read.
		var have []byte
		head, _, _ := d.state.Head(ev.Till)
		if held, _ := d.state.Held(ev.Till); ev.Seq <= head || held > 0 {
			var err error
			if have, err = d.stored(ev.Till, ev.Seq); err != nil {
				return res, err
			}
		}
		key := eventKey(pEvent, ev.Till, ev.Seq)
		if b, ok := batch[string(key)]; ok {
			have = b
		}
		switch {
		case have == nil:
			if err := putEvent(wb, ev); err != nil {
				return res, err
			}
			batch[string(key)] = ev.Bytes()
			toApply = append(toApply, ev)
			tp := tips[ev.Till]
			if tp == nil {
				tp = &tip{seq: head, receipts: d.state.Receipts(ev.Till)}
				_, tp.id, _ = d.state.Head(ev.Till)
				tips[ev.Till] = tp
			}
			if ev.Seq == tp.seq+1 && ev.Prev == tp.id {
				tp.seq, tp.id = ev.Seq, ev.ID()
				if ledger.IsReceiptKind(ev.Kind()) {
					tp.receipts++
					predicted[ev] = tp.receipts
					if err := putNumbers(wb, []*ledger.Event{ev}, []uint64{tp.receipts}); err != nil {
						return res, err
					}
				}
			}
		case bytes.Equal(have, ev.Bytes()):
			res.Duplicate++
		default:
			k := append(eventKey(pEvidence, ev.Till, ev.Seq), ev.ID().String()[:16]...)
			if err := wb.Set(k, ev.Bytes()); err != nil {
				return res, err
			}
			toApply = append(toApply, ev) // State records the evidence
		}
	}
	if err := wb.Flush(); err != nil {
		return res, fmt.Errorf("insert: %w", err)
	}
	d.syncDir()
	var numbers []uint64 // receipt numbers of res.Applied
	for _, ev := range toApply {
		r, err := d.state.Apply(ev)
		if errors.Is(err, ledger.ErrIndex) {
			// Stored, not applied: a retry would find it stored and
			// skip it, so only a restart (which applies it) helps.
			d.broken = fmt.Errorf("ledgerdb: event %s/%d stored but not applied, restart the till: %w", ev.Till.Short(), ev.Seq, err)
			return res, d.broken
		}
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{ev, err})
			continue
		}
		res.Applied = append(res.Applied, r.Applied...)
		numbers = append(numbers, r.Numbers...)
		if r.Held {
			res.Held++
		}
	}
	// The numbers not written with the events: events released from
	// above a gap (a prediction that did not hold is written again).
	var late []*ledger.Event
	var lateNumbers []uint64
	for i, ev := range res.Applied {
		if numbers[i] > 0 && predicted[ev] != numbers[i] {
			late, lateNumbers = append(late, ev), append(lateNumbers, numbers[i])
		}
	}
	if err := d.putNumbers(late, lateNumbers); err != nil {
		// Applied but not findable by number: a restart applies them
		// again from disk (the checkpoint does not cover them).
		d.broken = fmt.Errorf("ledgerdb: receipt numbers of %d events not stored, restart the till: %w", len(res.Applied), err)
		return res, d.broken
	}
	d.applied(len(res.Applied))
	return res, nil
}

// putNumbers durably writes the receipt records of applied events.
func (d *DB) putNumbers(applied []*ledger.Event, numbers []uint64) error {
	if len(applied) == 0 {
		return nil
	}
	wb := d.bdb.NewWriteBatch()
	defer wb.Cancel()
	if err := putNumbers(wb, applied, numbers); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store receipt numbers: %w", err)
	}
	d.syncDir()
	return nil
}

func dedupe(list []*ledger.Event) []*ledger.Event {
	out := list[:0]
	for i, ev := range list {
		if i > 0 && ev.ID() == list[i-1].ID() {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// stored returns the bytes stored for (till, seq), or nil.
func (d *DB) stored(till ledger.TillID, seq uint64) ([]byte, error) {
	var v []byte
	err := d.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(eventKey(pEvent, till, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, err
}

// Range calls f for a till's chained events from seq from upward, in
// order, until f returns false or the chain ends. Held events above a gap
// are not included.
func (d *DB) Range(till ledger.TillID, from uint64, f func(*ledger.Event) bool) error {
	var derr error
	err := d.RangeRaw(till, from, func(seq uint64, raw []byte) bool {
		ev, err := ledger.Decode(raw)
		if err != nil {
			derr = fmt.Errorf("range %s/%d: %w", till.Short(), seq, err)
			return false
		}
		return f(ev)
	})
	if err != nil {
		return err
	}
	return derr
}

// RangeRaw is Range without decoding: f gets each event's stored
// encoding (its signed bytes, as ledger.Event.Bytes gives them), for
// sending to a peer that verifies them itself. The slice is f's to keep.
func (d *DB) RangeRaw(till ledger.TillID, from uint64, f func(seq uint64, raw []byte) bool) error {
	d.mu.Lock()
	head, _, _ := d.state.Head(till)
	d.mu.Unlock()
	if from == 0 {
		from = 1
	}
	return d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: eventKey(pEvent, till, 0)[:33], PrefetchValues: true, PrefetchSize: 128})
		defer it.Close()
		for it.Seek(eventKey(pEvent, till, from)); it.Valid(); it.Next() {
			seq := binary.BigEndian.Uint64(it.Item().Key()[33:])
			if seq > head {
				return nil
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if !f(seq, v) {
				return nil
			}
		}
		return nil
	})
}

// Get returns a till's event at seq, held or chained.
func (d *DB) Get(till ledger.TillID, seq uint64) (*ledger.Event, error) {
	var ev *ledger.Event
	err := d.bdb.View(func(txn *badger.Txn) error {
		var err error
		ev, err = d.get(txn, till, seq)
		return err
	})
	return ev, err
}

// Evidence returns the stored conflicting events (equivocation evidence).
func (d *DB) Evidence() ([]*ledger.Event, error) {
	var out []*ledger.Event
	err := d.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pEvidence}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if ev, err := ledger.Decode(v); err == nil {
				out = append(out, ev)
			}
		}
		return nil
	})
	return out, err
}
