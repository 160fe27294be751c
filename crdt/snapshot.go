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

	blockstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
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
// peer merged, and go-ds-crdt's version key. It writes them in batches and
// then opens go-ds-crdt on them; new DAG nodes link to the snapshot's
// heads. It holds none of the old blocks.
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
// and SHA-256 matched and every key is synced. A start that finds
// "partial" deletes the namespace and takes the snapshot again (or walks,
// if no peer serves one).
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
	snapshotBatch       = 4096      // keys per datastore batch on the client
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
func validSnapshotKey(k string) error {
	if len(k) == 0 || len(k) > maxSnapshotKey {
		return fmt.Errorf("snapshot key length %d not in 1..%d", len(k), maxSnapshotKey)
	}
	if ds.NewKey(k).String() != k {
		return fmt.Errorf("snapshot key %q is not a clean key", k)
	}
	switch {
	case k == "/crdt_version",
		strings.HasPrefix(k, "/s/"),
		strings.HasPrefix(k, "/h/"),
		strings.HasPrefix(k, "/b/"):
		return nil
	}
	return fmt.Errorf("snapshot key %q outside go-ds-crdt's set, heads, processed markers and version", k)
}

// appendSnapEntry appends one entry's encoding to buf.
func appendSnapEntry(buf []byte, e snapEntry) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(e.key)))
	buf = append(buf, e.key...)
	buf = binary.AppendUvarint(buf, uint64(len(e.value)))
	return append(buf, e.value...)
}

// decodeSnapshotChunk decodes one chunk, checking every bound and key.
func decodeSnapshotChunk(b []byte) ([]snapEntry, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("snapshot chunk: bad entry count")
	}
	b = b[k:]
	// Each entry takes at least 3 bytes (two lengths, a key byte).
	if n == 0 || n > uint64(len(b)/3) {
		return nil, fmt.Errorf("snapshot chunk: entry count %d does not fit %d bytes", n, len(b))
	}
	out := make([]snapEntry, 0, n)
	for i := uint64(0); i < n; i++ {
		kl, m := binary.Uvarint(b)
		if m <= 0 || kl > uint64(len(b)-m) {
			return nil, fmt.Errorf("snapshot chunk: entry %d: bad key length", i)
		}
		key := string(b[m : m+int(kl)])
		b = b[m+int(kl):]
		if err := validSnapshotKey(key); err != nil {
			return nil, fmt.Errorf("snapshot chunk: entry %d: %w", i, err)
		}
		vl, m := binary.Uvarint(b)
		if m <= 0 || vl > uint64(len(b)-m) || vl > maxSnapshotValue {
			return nil, fmt.Errorf("snapshot chunk: entry %d (%s): bad value length", i, key)
		}
		val := bytes.Clone(b[m : m+int(vl)])
		b = b[m+int(vl):]
		if strings.HasPrefix(key, "/h/") {
			if h, m := binary.Uvarint(val); m != len(val) || h == 0 {
				return nil, fmt.Errorf("snapshot chunk: head %s: bad height", key)
			}
		}
		out = append(out, snapEntry{key: key, value: val})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("snapshot chunk: %d bytes after the last entry", len(b))
	}
	return out, nil
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

// snapshotView returns the entries of the go-ds-crdt namespace as one
// consistent read (see the file comment), or errSnapshotBusy.
func (s *Store) snapshotView(ctx context.Context) (query.Results, error) {
	var res query.Results
	err := s.write(ctx, func() ([]op, func(), error) {
		s.walkMu.Lock()
		defer s.walkMu.Unlock()
		if s.walking || s.crdt.IsDirty(ctx) {
			return nil, nil, errSnapshotBusy
		}
		if err := s.buf.flush(ctx); err != nil {
			return nil, nil, err
		}
		r, err := s.cfg.Datastore.Query(ctx, query.Query{Prefix: s.crdtNS.String()})
		if err != nil {
			return nil, nil, fmt.Errorf("query inventory for a snapshot: %w", err)
		}
		res = r
		return nil, nil, nil
	})
	return res, err
}

func (s *Store) handleSnapshot(st network.Stream) {
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
		res query.Results
		err error
	)
	for {
		res, err = s.snapshotView(ctx)
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
	defer res.Close()
	n, err := writeSnapshot(bufio.NewWriterSize(st, 64<<10), s.crdtNS, res)
	if err != nil {
		s.log.Debug("serve inventory snapshot", "peer", p, "sent", n, "err", err)
		_ = st.Reset()
		return
	}
	s.log.Info("served inventory snapshot", "peer", p, "keys", n)
	_ = st.Close()
}

// writeSnapshot streams res (keys under crdtNS) in chunks, then the
// trailer, and returns the number of entries sent.
func writeSnapshot(w *bufio.Writer, crdtNS ds.Key, res query.Results) (int, error) {
	var (
		hash  = sha256.New()
		chunk []byte
		inCh  uint64
		total int
	)
	prefix := crdtNS.String()
	dirty := crdtNS.ChildString("d").String()
	flush := func() error {
		if inCh == 0 {
			return nil
		}
		body := binary.AppendUvarint(nil, inCh)
		body = append(body, chunk...)
		hash.Write(body)
		chunk, inCh = chunk[:0], 0
		return writeFrame(w, body)
	}
	for r := range res.Next() {
		if r.Error != nil {
			return total, fmt.Errorf("read inventory: %w", r.Error)
		}
		if r.Key == dirty || !strings.HasPrefix(r.Key, prefix+"/") {
			continue
		}
		e := snapEntry{key: strings.TrimPrefix(r.Key, prefix), value: r.Value}
		if validSnapshotKey(e.key) != nil {
			continue // not a key of go-ds-crdt's state (its dirty bit)
		}
		if len(e.value) > maxSnapshotValue {
			return total, fmt.Errorf("inventory key %s holds %d bytes, above %d", r.Key, len(e.value), maxSnapshotValue)
		}
		if total >= maxSnapshotEntries {
			return total, fmt.Errorf("inventory holds more than %d keys", maxSnapshotEntries)
		}
		if len(chunk) > 0 && len(chunk)+len(e.key)+len(e.value)+2*binary.MaxVarintLen64 > snapshotChunkTarget {
			if err := flush(); err != nil {
				return total, err
			}
		}
		chunk = appendSnapEntry(chunk, e)
		inCh++
		total++
	}
	if err := flush(); err != nil {
		return total, err
	}
	if err := writeUvarint(w, 0); err != nil {
		return total, err
	}
	if err := writeUvarint(w, uint64(total)); err != nil {
		return total, err
	}
	if _, err := w.Write(hash.Sum(nil)); err != nil {
		return total, err
	}
	return total, w.Flush()
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
func takeSnapshot(ctx context.Context, h host.Host, p peer.ID, d ds.Batching, crdtNS, stateKey ds.Key) (int, error) {
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
	if err := d.Put(ctx, stateKey, []byte(snapshotDone)); err != nil {
		return n, fmt.Errorf("write snapshot marker: %w", err)
	}
	if err := d.Sync(ctx, stateKey); err != nil {
		return n, fmt.Errorf("sync snapshot marker: %w", err)
	}
	return n, nil
}

// readSnapshot reads chunks and the trailer from r, writing entries
// under crdtNS in batches. It checks the count and hash of the trailer
// and that the snapshot names at least one head.
func readSnapshot(ctx context.Context, r *bufio.Reader, d ds.Batching, crdtNS ds.Key) (int, error) {
	var (
		hash  = sha256.New()
		total int
		heads int
		batch ds.Batch
		inB   int
		err   error
	)
	for {
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
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return total, fmt.Errorf("read chunk: %w", err)
		}
		entries, err := decodeSnapshotChunk(buf)
		if err != nil {
			return total, err
		}
		hash.Write(buf)
		if total+len(entries) > maxSnapshotEntries {
			return total, fmt.Errorf("more than %d keys", maxSnapshotEntries)
		}
		for _, e := range entries {
			if batch == nil {
				if batch, err = d.Batch(ctx); err != nil {
					return total, err
				}
			}
			if err := batch.Put(ctx, crdtNS.Child(ds.RawKey(e.key)), e.value); err != nil {
				return total, err
			}
			if strings.HasPrefix(e.key, "/h/") {
				heads++
			}
			total++
			inB++
			if inB >= snapshotBatch {
				if err := batch.Commit(ctx); err != nil {
					return total, fmt.Errorf("write snapshot keys: %w", err)
				}
				batch, inB = nil, 0
			}
		}
	}
	if batch != nil {
		if err = batch.Commit(ctx); err != nil {
			return total, fmt.Errorf("write snapshot keys: %w", err)
		}
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
			n, err := takeSnapshot(sctx, h, p, d, s.crdtNS, stateKey)
			cancel()
			if err == nil {
				s.log.Info("took the inventory state as a snapshot from a peer", "peer", p, "keys", n, "took", time.Since(start))
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
