package crdt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// TestSnapshotNewcomer: a till that opens an empty inventory while a peer
// is connected takes the peer's state as a snapshot, fetching no DAG
// block; it then merges later writes from both sides and the branch of a
// till that was offline since before the snapshot; its repair stops at
// the snapshot; and a third till asking it for an old block is told it
// has none.
func TestSnapshotNewcomer(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{flood: true})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.PutProduct(ctx, testProduct("BREAD", 250)); err != nil {
		t.Fatal(err)
	}
	if err := a.s.PutStaff(ctx, Staff{ID: "ann", Name: "Ann", Role: RoleCashier, PINHash: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := a.s.DeleteStaff(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	var run []map[string]int64 // a's 15 in one run (ApplyMovementsRun), b's one by one
	for i := range 15 {
		run = append(run, map[string]int64{"BREAD": -1})
		if err := b.s.ApplyMovements(ctx, uint64(i+1), map[string]int64{"BREAD": -1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.s.ApplyMovementsRun(ctx, 1, run); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a and b agree", func() bool { return caughtUp(a, b) }, a, b)
	oldHeads, _ := a.s.Heads()

	// b goes offline and sells on its own, older branch.
	isolate(b)
	for i := range 5 {
		if err := b.s.ApplyMovements(ctx, uint64(16+i), map[string]int64{"BREAD": -3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.s.ApplyMovements(ctx, 16, map[string]int64{"BREAD": 10}); err != nil {
		t.Fatal(err)
	}

	c := newReplica(t, "till-c", replicaOpts{flood: true, beforeStart: func(c *replica) {
		connect(t, c, a)
	}})
	if !c.s.fromSnapshot {
		t.Fatal("c did not take a snapshot")
	}
	if st := c.s.Stats(); st.FetchedBlocks != 0 {
		t.Errorf("c fetched %d blocks at start, want 0 (a snapshot, not a walk)", st.FetchedBlocks)
	}
	wantA, err := a.s.AllStock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.s.AllStock(ctx)
	if err != nil || !maps.Equal(got, wantA) {
		t.Fatalf("c stock after the snapshot = %v, %v; want a's %v", got, err, wantA)
	}
	if _, err := c.s.Product(ctx, "BREAD"); err != nil {
		t.Errorf("c: product from the snapshot: %v", err)
	}
	if _, err := c.s.Staff(ctx, "ann"); !errors.Is(err, ErrNotFound) {
		t.Errorf("c: deleted staff = %v, want ErrNotFound", err)
	}
	// A third till asking c for an old block gets nothing from it.
	d := newReplica(t, "till-d", replicaOpts{config: func(c *Config) { c.SnapshotWait = -1 }})
	connect(t, d, c)
	if err := d.s.sync.fetch(ctx, c.h.ID(), oldHeads); !errors.Is(err, errNoProgress) {
		t.Errorf("fetch of an old block from the newcomer = %v, want %v", err, errNoProgress)
	}

	// Both sides write on; b comes back.
	if err := c.s.ApplyMovements(ctx, 1, map[string]int64{"BREAD": -7}); err != nil {
		t.Fatal(err)
	}
	if err := a.s.ApplyMovements(ctx, 17, map[string]int64{"BREAD": -1}); err != nil {
		t.Fatal(err)
	}
	heal(t, b, a, c)
	all := []*replica{a, b, c}
	eventually(t, 30*time.Second, "all three agree", func() bool { return caughtUp(all...) }, all...)
	want := map[string]int64{"BREAD": -30 - 15 + 10 - 7 - 1}
	for _, r := range all {
		if got, err := r.s.AllStock(ctx); err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: AllStock = %v, %v; want %v", r.name, got, err, want)
		}
	}

	// The repair walks what c holds and stops at the snapshot.
	if err := c.s.Repair(ctx); err != nil {
		t.Errorf("repair on the newcomer: %v", err)
	}
	if c.s.Dirty(ctx) {
		t.Error("newcomer still dirty after its repair")
	}

}

// TestSnapshotCut: a snapshot cut mid-way is never taken for a whole one.
// A peer that sends part of one and resets, and a peer of an older
// release that does not serve the protocol, leave the newcomer empty to
// walk the DAG; a marker left "partial" by a kill -9 makes the next start
// delete what was written.
func TestSnapshotCut(t *testing.T) {
	ctx := t.Context()
	newHost := func() host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			libp2p.Transport(tcp.NewTCPTransport), libp2p.DisableRelay())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		return h
	}
	old := newHost() // an older release: no snapshot protocol
	cutter := newHost()
	cutter.SetStreamHandler(SnapshotProtocolID, func(st network.Stream) {
		w := bufio.NewWriter(st)
		chunk := encodeChunk(t, []snapEntry{
			{key: "/h/CIQTEST", value: []byte{5}},
			{key: "/s/k/stock/BREAD/till-x/e1/v", value: []byte("x")},
		})
		_ = writeFrame(w, chunk)
		_ = w.Flush()
		_ = st.Reset() // the peer leaves mid-way
	})
	c := newReplica(t, "till-c", replicaOpts{beforeStart: func(c *replica) {
		for _, h := range []host.Host{old, cutter} {
			if err := c.h.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
	}})
	if c.s.fromSnapshot {
		t.Fatal("a cut snapshot was taken for a whole one")
	}
	if heads, _ := c.s.Heads(); len(heads) != 0 {
		t.Fatalf("heads after a cut snapshot = %v, want none", heads)
	}
	if got, err := c.s.AllStock(ctx); err != nil || len(got) != 0 {
		t.Fatalf("stock after a cut snapshot = %v, %v; want none", got, err)
	}
	if err := c.s.Close(); err != nil {
		t.Fatal(err)
	}

	// A kill -9 mid-snapshot: keys written, marker still "partial".
	dd := c.d
	crdtNS := ds.NewKey("/inventory/c")
	state := ds.NewKey("/inventory/local/snapshot")
	for _, k := range []string{"/h/CIQTEST", "/b/CIQTEST", "/s/k/stock/BREAD/till-x/e1/v"} {
		if err := dd.Put(ctx, crdtNS.Child(ds.RawKey(k)), []byte{5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dd.Put(ctx, state, []byte(snapshotPartial)); err != nil {
		t.Fatal(err)
	}
	c.start(t, replicaOpts{config: func(c *Config) { c.SnapshotWait = -1 }})
	if c.s.fromSnapshot {
		t.Fatal("a partial snapshot was taken for a whole one after a restart")
	}
	res, err := dd.Query(ctx, query.Query{Prefix: crdtNS.String() + "/h", KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := res.Rest(); len(left) != 0 {
		t.Fatalf("keys of the partial snapshot left: %v", left)
	}
	if ok, _ := dd.Has(ctx, state); ok {
		t.Fatal("partial snapshot marker left")
	}
}

func encodeChunk(tb testing.TB, es []snapEntry) []byte {
	tb.Helper()
	var body []byte
	for _, e := range es {
		body = appendSnapEntry(body, e)
	}
	return append(binary.AppendUvarint(nil, uint64(len(es))), body...)
}

// FuzzDecodeSnapshotChunk: a peer's chunk decodes to checked entries or
// an error, never a panic, and what decodes encodes back to the same
// bytes.
func FuzzDecodeSnapshotChunk(f *testing.F) {
	f.Add(encodeChunk(f, []snapEntry{
		{key: "/h/CIQA", value: []byte{7}},
		{key: "/b/CIQA"},
		{key: "/s/k/catalog/BREAD/v", value: []byte("cbor")},
		{key: "/crdt_version", value: []byte{2}},
	}))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 3, '/', 'd', '/', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeSnapshotChunk(b)
		if err != nil {
			return
		}
		for _, e := range es {
			if err := validSnapshotKey(e.key); err != nil {
				t.Fatalf("decoded an invalid key: %v", err)
			}
		}
		if again := encodeChunk(t, es); !bytes.Equal(again, b) {
			// uvarints may be encoded longer than needed; the entries
			// must still be the same.
			es2, err := decodeSnapshotChunk(again)
			if err != nil || len(es2) != len(es) {
				t.Fatalf("re-encoded chunk does not decode the same: %v", err)
			}
		}
	})
}
