package crdt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	blockstore "github.com/ipfs/boxo/blockstore"
	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/ipfs/go-datastore/query"
	badger4 "github.com/ipfs/go-ds-badger4"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Inventory snapshots.
//
// go-ds-crdt has no compaction: a till that joins a store with a year of
// history would walk a year of DAG, one node per stock change, fetching
// every block. Instead, a Store that opens with an empty go-ds-crdt
// namespace and a connected peer of its store asks that peer over
// SnapshotProtocolID for a consistent copy of the peer's go-ds-crdt
// namespace: the set (elements, tombstones, values and priorities), the
// heads with their heights, the "processed" marker of every DAG node the
// peer merged, and go-ds-crdt's version key. Of a stock slot's elements
// it carries one (writeSnapshot says why that is enough). It writes them
// (into Badger through one write batch), fetches the blocks of the live
// elements of every key but stock slots and products
// (fetchElementBlocks), and
// then opens go-ds-crdt on them; new DAG nodes link to the snapshot's
// heads. It holds no other old block.
//
// Speed: a Badger server reads its namespace directly in one read
// transaction and a Badger client writes through one badger.WriteBatch,
// with no datastore key, goroutine or channel per key (the keys of a
// chunk share one allocation); any other datastore goes through a query
// and batches of snapshotBatch keys.
//
// Every processed marker, not the heads' only: a till that was offline on
// an older branch announces nodes whose links reach below the snapshot's
// heads. With every marker the walk of that branch stops where it meets a
// node the peer had merged, as on any other till; with the heads' only, it
// would walk (and fetch) the whole year below the fork. The markers cost
// one short key per DAG node, less than the set's own element keys (one
// per key written per node), which a snapshot must carry anyway.
//
// Consistency: the server takes its view (one datastore query, a Badger
// read transaction) on its writer goroutine, so no local write is half
// done, while no announced walk is under way and go-ds-crdt is not dirty,
// after flushing the merge buffer. The view then holds no node marked
// processed whose branch below is not merged. A server that is busy
// walking or dirty refuses (the stream is reset) and the newcomer asks
// another peer or walks the DAG as before.
//
// A cut snapshot (kill -9, the peer leaving, a bad chunk) is never taken
// for a whole one: snapshotStateKey is set to "partial" and synced before
// the first key is written and to "done" only after the trailer's count
// and SHA-256 matched, every key is synced and the live elements' blocks
// are fetched. A start that finds "partial" deletes the namespace and
// takes the snapshot again (or walks, if no peer serves one).
//
// Blocks the newcomer lacks: its block protocol answers a request for one
// with nothing (blocksync's walk skips blocks it does not hold), so the
// asker's fetch from it makes no progress and it asks its next peer. Its
// own go-ds-crdt never asks for them for a walk (they are marked
// processed); its repair walks the DAG from the heads and would, so the
// DAG service answers a block that is marked processed and absent with an
// empty node without links (snapshotDAG): the repair then walks what this
// till holds and stops at the snapshot.
//
// Wire format on SnapshotProtocolID: the client sends nothing and closes
// its side. The server sends frames, each a uvarint length (1 ..
// maxSnapshotChunk) and a chunk: a uvarint entry count, then per entry a
// uvarint key length, the key relative to the go-ds-crdt namespace, a
// uvarint value length and the value (a server fills a chunk to about
// 256 KB). A frame of length 0 ends the
// chunks; the trailer follows: a uvarint total entry count and the
// SHA-256 of every chunk's bytes in order.
const SnapshotProtocolID protocol.ID = "/tillmesh/inventory-snapshot/1"

const (
	snapshotChunkTarget = 256 << 10 // bytes a server puts in one frame, unless one entry is bigger
	maxSnapshotChunk    = 2 << 20   // bytes in one frame
	maxSnapshotKey      = 1 << 10   // bytes in one key
	maxSnapshotValue    = 1 << 20   // bytes in one value (go-ds-crdt caps a delta at 1 MB)
	maxSnapshotEntries  = 1 << 26   // entries in one snapshot (~67M; a year is a few million)
	snapshotBatch       = 4096      // keys per datastore batch on a client not on Badger
	snapshotPoll        = 20 * time.Millisecond
)

// snapshotStateKey (below the Store's local namespace) says whether the
// go-ds-crdt namespace came from a snapshot: "partial" while one is being
// written, "done" once it is whole.
const (
	snapshotPartial = "partial"
	snapshotDone    = "done"
)

// errSnapshotBusy: the server is walking or dirty; ask again or elsewhere.
var errSnapshotBusy = errors.New("crdt: inventory busy, no snapshot now")

type snapEntry struct {
	key   string // relative to the go-ds-crdt namespace, e.g. /s/k/...
	value []byte
}

// validSnapshotKey reports whether k (relative to the namespace) is a key
// a snapshot may carry: the set, the heads, the processed markers and the
// version. The dirty bit is never carried.
func validSnapshotKey(k string) error { return validSnapshotKeyBytes([]byte(k)) }

// validSnapshotKeyBytes is validSnapshotKey without a copy of k in the
// common case.
func validSnapshotKeyBytes(k []byte) error {
	if len(k) == 0 || len(k) > maxSnapshotKey {
		return fmt.Errorf("snapshot key length %d not in 1..%d", len(k), maxSnapshotKey)
	}
	if !cleanKey(k) {
		return fmt.Errorf("snapshot key %q is not a clean key", k)
	}
	switch {
	case string(k) == "/crdt_version",
		bytes.HasPrefix(k, []byte("/s/")),
		bytes.HasPrefix(k, []byte("/h/")),
		bytes.HasPrefix(k, []byte("/b/")):
		return nil
	}
	return fmt.Errorf("snapshot key %q outside go-ds-crdt's set, heads, processed markers and version", k)
}

// cleanKey reports whether k is its own ds.NewKey form (path.Clean of a
// rooted path): it starts with "/", and has no empty, "." or ".."
// segment and no trailing "/" (except "/" itself). It allocates nothing;
// FuzzDecodeSnapshotChunk checks it against ds.NewKey.
func cleanKey(k []byte) bool {
	if len(k) == 0 || k[0] != '/' {
		return false
	}
	if len(k) == 1 {
		return true
	}
	for rest := k[1:]; ; {
		i := bytes.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if len(seg) == 0 || string(seg) == "." || string(seg) == ".." {
			return false
		}
		if i < 0 {
			return true
		}
		rest = rest[i+1:]
	}
}

// appendSnapEntry appends one entry's encoding to buf.
func appendSnapEntry(buf []byte, e snapEntry) []byte {
	return appendSnapKV(buf, []byte(e.key), e.value)
}

func appendSnapKV(buf, key, value []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	buf = binary.AppendUvarint(buf, uint64(len(value)))
	return append(buf, value...)
}

// decodeSnapshotChunk decodes one chunk, checking every bound and key.
func decodeSnapshotChunk(b []byte) ([]snapEntry, error) {
	var out []snapEntry
	_, err := walkSnapshotChunk(b, func(key, val []byte) error {
		out = append(out, snapEntry{key: string(key), value: bytes.Clone(val)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// walkSnapshotChunk checks one chunk and calls fn for each entry, in
// order, with the key and value as slices of b (no copies). It checks
// the whole chunk before the first call, so fn sees no entry of a chunk
// that is refused. It returns the number of entries.
func walkSnapshotChunk(b []byte, fn func(key, value []byte) error) (int, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, errors.New("snapshot chunk: bad entry count")
	}
	b = b[k:]
	// Each entry takes at least 3 bytes (two lengths, a key byte).
	if n == 0 || n > uint64(len(b)/3) {
		return 0, fmt.Errorf("snapshot chunk: entry count %d does not fit %d bytes", n, len(b))
	}
	body := b
	for pass := 0; pass < 2; pass++ {
		b = body
		for i := uint64(0); i < n; i++ {
			kl, m := binary.Uvarint(b)
			if m <= 0 || kl > uint64(len(b)-m) {
				return 0, fmt.Errorf("snapshot chunk: entry %d: bad key length", i)
			}
			key := b[m : m+int(kl) : m+int(kl)]
			b = b[m+int(kl):]
			vl, m := binary.Uvarint(b)
			if m <= 0 || vl > uint64(len(b)-m) || vl > maxSnapshotValue {
				return 0, fmt.Errorf("snapshot chunk: entry %d (%s): bad value length", i, key)
			}
			val := b[m : m+int(vl) : m+int(vl)]
			b = b[m+int(vl):]
			if pass == 1 {
				if err := fn(key, val); err != nil {
					return int(i), err
				}
				continue
			}
			if err := validSnapshotKeyBytes(key); err != nil {
				return 0, fmt.Errorf("snapshot chunk: entry %d: %w", i, err)
			}
			if bytes.HasPrefix(key, []byte("/h/")) {
				if h, m := binary.Uvarint(val); m != len(val) || h == 0 {
					return 0, fmt.Errorf("snapshot chunk: head %s: bad height", key)
				}
			}
		}
		if len(b) != 0 {
			return 0, fmt.Errorf("snapshot chunk: %d bytes after the last entry", len(b))
		}
	}
	return int(n), nil
}

// ---- server ----

// snapshotGate keeps a snapshot view from being taken while go-ds-crdt
// walks an announcement (beginWalk .. endWalk).
func (s *Store) walkStarted() {
	s.walkMu.Lock()
	s.walking = true
	s.walkMu.Unlock()
}

func (s *Store) walkEnded() {
	s.walkMu.Lock()
	s.walking = false
	s.walkMu.Unlock()
}

// snapSource is one consistent read of the go-ds-crdt namespace.
type snapSource interface {
	// each calls fn for every key under the namespace, in key order
	// (full keys); k and v are valid only during the call.
	each(fn func(k, v []byte) error) error
	close()
}

// badgerSource reads a Badger datastore directly in one read
// transaction: no goroutine, channel or copy per key, as a datastore
// query has.
type badgerSource struct {
	txn    *badger.Txn
	prefix []byte
}

func (b badgerSource) each(fn func(k, v []byte) error) error {
	it := b.txn.NewIterator(badger.IteratorOptions{Prefix: b.prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if err := item.Value(func(v []byte) error { return fn(k, v) }); err != nil {
			return err
		}
	}
	return nil
}

func (b badgerSource) close() { b.txn.Discard() }

// querySource reads any other datastore through one query ordered by key.
type querySource struct{ res query.Results }

func (q querySource) each(fn func(k, v []byte) error) error {
	for r := range q.res.Next() {
		if r.Error != nil {
			return fmt.Errorf("read inventory: %w", r.Error)
		}
		if err := fn([]byte(r.Key), r.Value); err != nil {
			return err
		}
	}
	return nil
}

func (q querySource) close() { _ = q.res.Close() }

// snapView is what a server sends: its source and the stock slots that
// hold a tombstone (whose elements are all sent; see writeSnapshot).
type snapView struct {
	src        snapSource
	tombedSlot map[string]bool // keys relative to the CRDT, /stock/<sku>/<till>/<epoch>
}

// snapshotView returns the entries of the go-ds-crdt namespace as one
// consistent read (see the file comment), or errSnapshotBusy.
func (s *Store) snapshotView(ctx context.Context) (snapView, error) {
	var v snapView
	err := s.write(ctx, func() ([]op, func(), error) {
		s.walkMu.Lock()
		defer s.walkMu.Unlock()
		if s.walking || s.crdt.IsDirty(ctx) {
			return nil, nil, errSnapshotBusy
		}
		if err := s.buf.flush(ctx); err != nil {
			return nil, nil, err
		}
		prefix := s.crdtNS.String() + "/"
		if bd, ok := s.cfg.Datastore.(*badger4.Datastore); ok {
			v.src = badgerSource{txn: bd.DB.NewTransaction(false), prefix: []byte(prefix)}
		} else {
			r, err := s.cfg.Datastore.Query(ctx, query.Query{Prefix: prefix, Orders: []query.Order{query.OrderByKey{}}})
			if err != nil {
				return nil, nil, fmt.Errorf("query inventory for a snapshot: %w", err)
			}
			v.src = querySource{res: r}
		}
		// The stock slots with a tombstone, from the same view: none is
		// ever written (stock slots are never deleted), so this reads
		// nothing in practice. Each such slot is sent whole.
		tombs := []byte(prefix + snapTombStock[1:])
		if bd, ok := v.src.(badgerSource); ok {
			it := bd.txn.NewIterator(badger.IteratorOptions{Prefix: tombs, PrefetchValues: false})
			for it.Rewind(); it.Valid(); it.Next() {
				v.tombSlot(string(it.Item().Key()[len(prefix)-1:]))
			}
			it.Close()
		} else {
			r, err := s.cfg.Datastore.Query(ctx, query.Query{Prefix: string(tombs), KeysOnly: true})
			if err != nil {
				v.src.close()
				return nil, nil, fmt.Errorf("query inventory for a snapshot: %w", err)
			}
			es, err := r.Rest()
			if err != nil {
				v.src.close()
				return nil, nil, fmt.Errorf("query inventory for a snapshot: %w", err)
			}
			for _, e := range es {
				v.tombSlot(e.Key[len(prefix)-1:])
			}
		}
		return nil, nil, nil
	})
	return v, err
}

// Element and tombstone keys of stock slots, relative to the namespace:
// /s/s/stock/<sku>/<till>/<epoch>/<block> and /s/t/... (go-ds-crdt's set
// under /s: elements /s/s, tombstones /s/t, values /s/k).
const (
	snapElemStock = "/s/s/" + prefixStock + "/"
	snapTombStock = "/s/t/" + prefixStock + "/"
)

// tombSlot records the slot of a tombstone key (relative to the
// namespace).
func (v *snapView) tombSlot(rel string) {
	if v.tombedSlot == nil {
		v.tombedSlot = make(map[string]bool)
	}
	if i := strings.LastIndexByte(rel, '/'); i > len(snapTombStock) {
		v.tombedSlot[rel[len("/s/t"):i]] = true
	}
}

func (s *Store) handleSnapshot(st network.Stream) {
	// Close waits for a snapshot being served: it reads Badger directly,
	// which must not close under it.
	s.bgMu.Lock()
	if s.bgClosed {
		s.bgMu.Unlock()
		_ = st.Reset()
		return
	}
	s.bg.Add(1)
	s.bgMu.Unlock()
	defer s.bg.Done()
	p := st.Conn().RemotePeer()
	if s.cfg.AllowPeer != nil && !s.cfg.AllowPeer(p) {
		s.log.Warn("inventory snapshot asked by a peer not admitted", "peer", p)
		_ = st.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SnapshotTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(s.cfg.SnapshotTimeout))

	var (
		view snapView
		err  error
	)
	for {
		view, err = s.snapshotView(ctx)
		if !errors.Is(err, errSnapshotBusy) {
			break
		}
		t := time.NewTimer(snapshotPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = st.Reset()
			return
		case <-t.C:
		}
	}
	if err != nil {
		s.log.Debug("serve inventory snapshot", "peer", p, "err", err)
		_ = st.Reset()
		return
	}
	defer view.src.close()
	start := time.Now()
	n, dropped, err := writeSnapshot(bufio.NewWriterSize(st, 64<<10), s.crdtNS, view)
	if err != nil {
		s.log.Debug("serve inventory snapshot", "peer", p, "sent", n, "err", err)
		_ = st.Reset()
		return
	}
	s.log.Info("served inventory snapshot", "peer", p, "keys", n, "superseded_stock_elements_left_out", dropped, "took", time.Since(start))
	_ = st.Close()
}

// writeSnapshot streams the view's keys (under crdtNS) in chunks, then
// the trailer, and returns the number of entries sent and of stock
// elements left out.
//
// Of a stock slot's elements (one per DAG node that wrote the slot) it
// sends the first only, unless the slot holds a tombstone: a slot is
// never deleted, and go-ds-crdt reads a key's elements only to delete
// it (set.Rmv) or to find the value that remains after a tombstone
// (set.findBestValue); the value and priority are sent as they are.
// docs/ARCHITECTURE.md, "What is left out", has the argument.
func writeSnapshot(w *bufio.Writer, crdtNS ds.Key, view snapView) (total, dropped int, err error) {
	var (
		hash     = sha256.New()
		chunk    []byte
		inCh     uint64
		lastSlot []byte
	)
	prefix := crdtNS.String()
	dirty := crdtNS.ChildString("d").String()
	flush := func() error {
		if inCh == 0 {
			return nil
		}
		var n [binary.MaxVarintLen64]byte
		head := n[:binary.PutUvarint(n[:], inCh)]
		hash.Write(head)
		hash.Write(chunk)
		if err := writeUvarint(w, uint64(len(head)+len(chunk))); err != nil {
			return err
		}
		if _, err := w.Write(head); err != nil {
			return err
		}
		_, err := w.Write(chunk)
		chunk, inCh = chunk[:0], 0
		return err
	}
	err = view.src.each(func(k, v []byte) error {
		if string(k) == dirty || len(k) <= len(prefix) || string(k[:len(prefix)]) != prefix || k[len(prefix)] != '/' {
			return nil
		}
		rel := k[len(prefix):]
		if validSnapshotKeyBytes(rel) != nil {
			return nil // not a key of go-ds-crdt's state (its dirty bit)
		}
		if bytes.HasPrefix(rel, []byte(snapElemStock)) {
			if i := bytes.LastIndexByte(rel, '/'); i > len(snapElemStock) {
				slot := rel[len("/s/s"):i]
				if bytes.Equal(slot, lastSlot) && !view.tombedSlot[string(slot)] {
					dropped++
					return nil
				}
				lastSlot = append(lastSlot[:0], slot...)
			}
		}
		if len(v) > maxSnapshotValue {
			return fmt.Errorf("inventory key %s holds %d bytes, above %d", k, len(v), maxSnapshotValue)
		}
		if total >= maxSnapshotEntries {
			return fmt.Errorf("inventory holds more than %d keys", maxSnapshotEntries)
		}
		if len(chunk) > 0 && len(chunk)+len(rel)+len(v)+2*binary.MaxVarintLen64 > snapshotChunkTarget {
			if err := flush(); err != nil {
				return err
			}
		}
		chunk = appendSnapKV(chunk, rel, v)
		inCh++
		total++
		return nil
	})
	if err != nil {
		return total, dropped, err
	}
	if err := flush(); err != nil {
		return total, dropped, err
	}
	if err := writeUvarint(w, 0); err != nil {
		return total, dropped, err
	}
	if err := writeUvarint(w, uint64(total)); err != nil {
		return total, dropped, err
	}
	if _, err := w.Write(hash.Sum(nil)); err != nil {
		return total, dropped, err
	}
	return total, dropped, w.Flush()
}

// ---- client ----

// snapshotState reads the snapshot marker: "", snapshotPartial or
// snapshotDone.
func snapshotState(ctx context.Context, d ds.Datastore, key ds.Key) (string, error) {
	b, err := d.Get(ctx, key)
	if errors.Is(err, ds.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read snapshot marker: %w", err)
	}
	switch string(b) {
	case snapshotPartial, snapshotDone:
		return string(b), nil
	}
	return "", fmt.Errorf("snapshot marker %q: %w", b, ErrCorrupt)
}

// namespaceEmpty reports whether nothing but the dirty bit is stored
// under crdtNS.
func namespaceEmpty(ctx context.Context, d ds.Datastore, crdtNS ds.Key) (bool, error) {
	res, err := d.Query(ctx, query.Query{Prefix: crdtNS.String(), KeysOnly: true, Limit: 2})
	if err != nil {
		return false, fmt.Errorf("look into inventory: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return false, fmt.Errorf("look into inventory: %w", err)
	}
	for _, e := range entries {
		if e.Key != crdtNS.ChildString("d").String() {
			return false, nil
		}
	}
	return true, nil
}

// clearNamespace deletes every key under crdtNS, in batches.
func clearNamespace(ctx context.Context, d ds.Batching, crdtNS ds.Key) error {
	for {
		res, err := d.Query(ctx, query.Query{Prefix: crdtNS.String(), KeysOnly: true, Limit: snapshotBatch})
		if err != nil {
			return fmt.Errorf("list inventory keys: %w", err)
		}
		entries, err := res.Rest()
		if err != nil {
			return fmt.Errorf("list inventory keys: %w", err)
		}
		if len(entries) == 0 {
			return d.Sync(ctx, crdtNS)
		}
		b, err := d.Batch(ctx)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := b.Delete(ctx, ds.NewKey(e.Key)); err != nil {
				return err
			}
		}
		if err := b.Commit(ctx); err != nil {
			return fmt.Errorf("delete inventory keys: %w", err)
		}
	}
}

// takeSnapshot asks p for a snapshot and writes it under crdtNS, with the
// marker at stateKey "partial" before the first key and "done" after the
// last. On error the namespace may hold part of it, with the marker at
// "partial": the caller clears it.
func takeSnapshot(ctx context.Context, h host.Host, p peer.ID, d ds.Batching, crdtNS, stateKey ds.Key, blocks func(context.Context) error) (int, error) {
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, "snapshot"), p, SnapshotProtocolID)
	if err != nil {
		return 0, fmt.Errorf("open snapshot stream to %s: %w", p, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	_ = st.CloseWrite()

	if err := d.Put(ctx, stateKey, []byte(snapshotPartial)); err != nil {
		return 0, fmt.Errorf("write snapshot marker: %w", err)
	}
	if err := d.Sync(ctx, stateKey); err != nil {
		return 0, fmt.Errorf("sync snapshot marker: %w", err)
	}
	n, err := readSnapshot(ctx, bufio.NewReaderSize(st, 64<<10), d, crdtNS)
	if err != nil {
		return n, fmt.Errorf("snapshot from %s: %w", p, err)
	}
	if err := d.Sync(ctx, crdtNS); err != nil {
		return n, fmt.Errorf("sync snapshot: %w", err)
	}
	if err := blocks(ctx); err != nil {
		return n, fmt.Errorf("snapshot from %s: %w", p, err)
	}
	if err := d.Put(ctx, stateKey, []byte(snapshotDone)); err != nil {
		return n, fmt.Errorf("write snapshot marker: %w", err)
	}
	if err := d.Sync(ctx, stateKey); err != nil {
		return n, fmt.Errorf("sync snapshot marker: %w", err)
	}
	return n, nil
}

// snapSink writes a snapshot's keys: into Badger through one write
// batch for the whole snapshot (Badger commits it in transactions as it
// fills, in the background), into any other datastore in batches of
// snapshotBatch keys.
type snapSink interface {
	put(key, value []byte) error // key is the full key; both stay unchanged until commit
	commit() error
	cancel()
}

type badgerSink struct{ wb *badger.WriteBatch }

func (b badgerSink) put(k, v []byte) error { return b.wb.Set(k, v) }
func (b badgerSink) commit() error         { return b.wb.Flush() }
func (b badgerSink) cancel()               { b.wb.Cancel() }

type batchSink struct {
	ctx   context.Context
	d     ds.Batching
	batch ds.Batch
	n     int
}

func (b *batchSink) put(k, v []byte) error {
	if b.batch == nil {
		var err error
		if b.batch, err = b.d.Batch(b.ctx); err != nil {
			return err
		}
	}
	if err := b.batch.Put(b.ctx, ds.RawKey(string(k)), v); err != nil {
		return err
	}
	if b.n++; b.n >= snapshotBatch {
		return b.commit()
	}
	return nil
}

func (b *batchSink) commit() error {
	if b.batch == nil {
		return nil
	}
	err := b.batch.Commit(b.ctx)
	b.batch, b.n = nil, 0
	return err
}

func (b *batchSink) cancel() {}

func newSnapSink(ctx context.Context, d ds.Batching) snapSink {
	if bd, ok := d.(*badger4.Datastore); ok {
		return badgerSink{wb: bd.DB.NewWriteBatch()}
	}
	return &batchSink{ctx: ctx, d: d}
}

// readSnapshot reads chunks and the trailer from r, writing entries
// under crdtNS. It checks the count and hash of the trailer and that the
// snapshot names at least one head. The keys are all written (not yet
// synced) when it returns without error.
func readSnapshot(ctx context.Context, r *bufio.Reader, d ds.Batching, crdtNS ds.Key) (total int, err error) {
	var (
		hash  = sha256.New()
		heads int
		sink  = newSnapSink(ctx, d)
		ns    = []byte(crdtNS.String())
	)
	defer func() {
		if err != nil {
			sink.cancel()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return total, fmt.Errorf("read chunk length: %w", err)
		}
		if n == 0 {
			break
		}
		if n > maxSnapshotChunk {
			return total, fmt.Errorf("chunk length %d above %d", n, maxSnapshotChunk)
		}
		// A new buffer per chunk: the sink holds slices of it until it
		// commits.
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return total, fmt.Errorf("read chunk: %w", err)
		}
		hash.Write(buf)
		// The chunk's full keys, in one allocation (walkSnapshotChunk
		// checks the count against the chunk's length before the first
		// call).
		var keys []byte
		_, err = walkSnapshotChunk(buf, func(key, val []byte) error {
			if total >= maxSnapshotEntries {
				return fmt.Errorf("more than %d keys", maxSnapshotEntries)
			}
			if keys == nil {
				count, _ := binary.Uvarint(buf)
				keys = make([]byte, 0, len(buf)+int(count)*len(ns))
			}
			start := len(keys)
			keys = append(append(keys, ns...), key...)
			if err := sink.put(keys[start:len(keys):len(keys)], val); err != nil {
				return fmt.Errorf("write snapshot keys: %w", err)
			}
			if bytes.HasPrefix(key, []byte("/h/")) {
				heads++
			}
			total++
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	if err = sink.commit(); err != nil {
		return total, fmt.Errorf("write snapshot keys: %w", err)
	}
	count, err := binary.ReadUvarint(r)
	if err != nil {
		return total, fmt.Errorf("read trailer: %w", err)
	}
	var sum [sha256.Size]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return total, fmt.Errorf("read trailer: %w", err)
	}
	if count != uint64(total) {
		return total, fmt.Errorf("trailer counts %d keys, received %d", count, total)
	}
	if !bytes.Equal(sum[:], hash.Sum(nil)) {
		return total, errors.New("trailer hash does not match the chunks")
	}
	if heads == 0 {
		return total, errors.New("snapshot names no head")
	}
	return total, nil
}

// restoreFromSnapshot runs in New before go-ds-crdt opens. It clears a
// snapshot cut short, and, if the namespace is empty, takes one from the
// first connected peer that serves it, waiting up to SnapshotWait for a
// peer. It returns whether the namespace now holds a whole snapshot.
func (s *Store) restoreFromSnapshot(ctx context.Context, stateKey ds.Key) (bool, error) {
	d := s.cfg.Datastore
	state, err := snapshotState(ctx, d, stateKey)
	if err != nil {
		return false, err
	}
	switch state {
	case snapshotDone:
		return true, nil
	case snapshotPartial:
		s.log.Warn("an inventory snapshot was cut short; deleting it")
		if err := clearNamespace(ctx, d, s.crdtNS); err != nil {
			return false, fmt.Errorf("delete a partial snapshot: %w", err)
		}
		if err := d.Delete(ctx, stateKey); err != nil {
			return false, fmt.Errorf("delete snapshot marker: %w", err)
		}
	}
	if s.cfg.SnapshotWait < 0 {
		return false, nil
	}
	empty, err := namespaceEmpty(ctx, d, s.crdtNS)
	if err != nil || !empty {
		return false, err
	}
	h := s.cfg.Host
	deadline := time.Now().Add(s.cfg.SnapshotWait)
	tried := make(map[peer.ID]bool)
	for {
		for _, p := range h.Network().Peers() {
			if tried[p] || (s.cfg.AllowPeer != nil && !s.cfg.AllowPeer(p)) {
				continue
			}
			tried[p] = true
			start := time.Now()
			sctx, cancel := context.WithTimeout(ctx, s.cfg.SnapshotTimeout)
			var nb int
			n, err := takeSnapshot(sctx, h, p, d, s.crdtNS, stateKey, func(ctx context.Context) (err error) {
				nb, err = s.fetchElementBlocks(ctx, p)
				return err
			})
			cancel()
			if err == nil {
				s.log.Info("took the inventory state as a snapshot from a peer", "peer", p, "keys", n, "blocks", nb, "took", time.Since(start))
				return true, nil
			}
			s.log.Warn("inventory snapshot from a peer failed; asking the next one", "peer", p, "keys", n, "err", err)
			if err := clearNamespace(ctx, d, s.crdtNS); err != nil {
				return false, fmt.Errorf("delete a partial snapshot: %w", err)
			}
			if err := d.Delete(ctx, stateKey); err != nil {
				return false, fmt.Errorf("delete snapshot marker: %w", err)
			}
		}
		// Every connected peer has answered and none gave a state: a
		// new store whose tills start together (none serves a snapshot
		// before its own inventory is open), or peers of an older
		// release. Waiting for more peers would only delay the start;
		// the walk merges from whichever peers connect.
		if len(tried) > 0 || !time.Now().Before(deadline) {
			if len(tried) > 0 {
				s.log.Info("no peer served an inventory snapshot; walking the DAG", "asked", len(tried))
			}
			return false, nil
		}
		t := time.NewTimer(min(snapshotPoll*5, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// fetchElementBlocks fetches from p, one block protocol request each,
// the blocks of the live elements (no tombstone) of every key but the
// stock slots and products, and returns how many it fetched. go-ds-crdt
// reads them when a tombstone covers only some of a key's elements
// (set's findBestValue: the value that survives is in a block); stock
// slots and products are never deleted, so never tombed. What is left
// (staff, settings, certificates, customers, outbox entries) is one
// block per write of such a key not deleted since.
func (s *Store) fetchElementBlocks(ctx context.Context, p peer.ID) (int, error) {
	d := s.cfg.Datastore
	bstore := blockstore.NewBlockstore(namespace.Wrap(d, s.blocksNS), blockstore.NoPrefix(), blockstore.WriteThrough(true))
	elems := s.crdtNS.String() + "/s/s/"
	tombs := s.crdtNS.String() + "/s/t/"
	res, err := d.Query(ctx, query.Query{Prefix: elems, KeysOnly: true})
	if err != nil {
		return 0, fmt.Errorf("list live elements: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return 0, fmt.Errorf("list live elements: %w", err)
	}
	var want []cid.Cid
	seen := make(map[cid.Cid]bool)
	for _, e := range entries {
		rel := strings.TrimPrefix(e.Key, elems) // <key>/<block>
		i := strings.LastIndexByte(rel, '/')
		if strings.HasPrefix(rel, prefixStock+"/") || strings.HasPrefix(rel, prefixProduct+"/") || i < 0 {
			continue // never deleted (Store.commit refuses it): never tombed
		}
		if tombed, err := d.Has(ctx, ds.RawKey(tombs+rel)); err != nil {
			return 0, fmt.Errorf("look up tombstone: %w", err)
		} else if tombed {
			continue
		}
		mh, err := dshelp.DsKeyToMultihash(ds.NewKey(rel[i+1:]))
		if err != nil {
			return 0, fmt.Errorf("element %s: %w", e.Key, ErrCorrupt)
		}
		c := cid.NewCidV1(cid.DagProtobuf, mh)
		if !seen[c] {
			seen[c] = true
			want = append(want, c)
		}
	}
	bs := newBlockSync(s.cfg.Host, bstore, s.cfg.FetchTimeout, s.log)
	n := 0
	for _, c := range want {
		if has, err := bstore.Has(ctx, c); err != nil {
			return n, fmt.Errorf("has %s: %w", c, err)
		} else if has {
			continue
		}
		// Limit 1: the server's walk emits the wanted block first.
		if _, got, err := bs.round(ctx, p, []cid.Cid{c}, nil, 1, map[cid.Cid]bool{c: true}, make(map[cid.Cid]bool)); err != nil {
			return n, fmt.Errorf("fetch element block %s: %w", c, err)
		} else if got != 1 {
			return n, fmt.Errorf("fetch element block %s: %w", c, errNoProgress)
		}
		n++
	}
	return n, nil
}

// snapshotDAG is the DAG service of a Store opened from a snapshot: a
// block that is marked processed and that this till does not hold lies
// inside the snapshot, and is answered as an empty node without links
// instead of being fetched. Only go-ds-crdt's repair asks for such a
// block (its walks stop at processed nodes); it walks the DAG from the
// heads, and so stops at the snapshot.
type snapshotDAG struct {
	ipld.DAGService
	bstore blockstore.Blockstore
	d      ds.Datastore
	crdtNS ds.Key
}

func (g snapshotDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	if has, err := g.bstore.Has(ctx, c); err == nil && !has {
		if p, err := g.d.Has(ctx, processedKey(g.crdtNS, c)); err == nil && p {
			return merkledag.NodeWithData(nil), nil
		}
	}
	return g.DAGService.Get(ctx, c)
}

// NeedsSnapshot reports whether a Store opened on d under namespace
// would take a snapshot from a peer: nothing is stored under its
// go-ds-crdt namespace yet, or a snapshot was cut short. A node asks
// before it opens the Store, to reach its peers first.
func NeedsSnapshot(ctx context.Context, d ds.Datastore, namespace string) (bool, error) {
	ns := ds.NewKey(namespace)
	state, err := snapshotState(ctx, d, ns.ChildString("local").ChildString("snapshot"))
	if err != nil {
		return false, err
	}
	switch state {
	case snapshotPartial:
		return true, nil
	case snapshotDone:
		return false, nil
	}
	return namespaceEmpty(ctx, d, ns.ChildString("c"))
}
