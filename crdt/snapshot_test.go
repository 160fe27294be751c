package crdt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
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
//
// a and c keep their state in Badger (the server reads it directly, the
// newcomer writes it through one write batch), b and e in memory (a
// datastore query, batches): e takes its snapshot from b. Of each stock
// slot's elements a snapshot carries one; every replica ends with the
// same values and priorities in go-ds-crdt's set (compared key by key),
// so the writes merged after the snapshot gave the state they give on a
// till that holds every element.
func TestSnapshotNewcomer(t *testing.T) {
	a := newReplica(t, "till-a", replicaOpts{flood: true, badger: true})
	b := newReplica(t, "till-b", replicaOpts{flood: true})
	connect(t, a, b)
	waitTopicPeers(t, a, b)
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

	c := newReplica(t, "till-c", replicaOpts{flood: true, badger: true, beforeStart: func(c *replica) {
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
	// a's slot BREAD holds an element per DAG node that wrote it; c
	// holds one per slot.
	if na, nc := countKeys(t, a, "/s/s/stock/"), countKeys(t, c, "/s/s/stock/"); na < 16 || nc != 2 {
		t.Errorf("stock elements: a %d, c %d; want a 16 or more, c 2 (one per slot: a's and b's)", na, nc)
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
	// e takes its snapshot from b (in memory: a query, batches).
	e := newReplica(t, "till-e", replicaOpts{flood: true, beforeStart: func(e *replica) {
		connect(t, e, b)
	}})
	if !e.s.fromSnapshot {
		t.Fatal("e did not take a snapshot")
	}
	if ne := countKeys(t, e, "/s/s/stock/"); ne != 3 {
		t.Errorf("e holds %d stock elements, want 3 (one per slot: a's, b's, c's)", ne)
	}
	connect(t, e, a)
	connect(t, e, c)
	waitTopicPeers(t, a, b, c, e)
	if err := e.s.ApplyMovements(ctx, 1, map[string]int64{"BREAD": -2}); err != nil {
		t.Fatal(err)
	}
	want["BREAD"] -= 2
	all = append(all, e)
	eventually(t, 30*time.Second, "all four agree", func() bool { return caughtUp(all...) }, all...)
	values := setValues(t, a)
	for _, r := range all {
		if got, err := r.s.AllStock(ctx); err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: AllStock = %v, %v; want %v", r.name, got, err, want)
		}
		if got := setValues(t, r); !maps.Equal(got, values) {
			t.Errorf("%s: go-ds-crdt's values and priorities differ from a's:\n got %q\nwant %q", r.name, got, values)
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

// countKeys counts r's keys under prefix, relative to go-ds-crdt's
// namespace.
func countKeys(tb testing.TB, r *replica, prefix string) int {
	tb.Helper()
	res, err := r.d.Query(tb.Context(), query.Query{Prefix: "/inventory/c" + prefix, KeysOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	es, err := res.Rest()
	if err != nil {
		tb.Fatal(err)
	}
	return len(es)
}

// setValues returns go-ds-crdt's values and priorities (/s/k) of r.
func setValues(tb testing.TB, r *replica) map[string]string {
	tb.Helper()
	res, err := r.d.Query(tb.Context(), query.Query{Prefix: "/inventory/c/s/k/"})
	if err != nil {
		tb.Fatal(err)
	}
	es, err := res.Rest()
	if err != nil {
		tb.Fatal(err)
	}
	m := make(map[string]string, len(es))
	for _, e := range es {
		m[e.Key] = string(e.Value)
	}
	return m
}

func encodeChunk(tb testing.TB, es []snapEntry) []byte {
	tb.Helper()
	var body []byte
	for _, e := range es {
		body = appendSnapEntry(body, e)
	}
	return append(binary.AppendUvarint(nil, uint64(len(es))), body...)
}

// TestSnapshotStockElements: a server sends one element of each stock
// slot, all elements of a slot that holds a tombstone (none is ever
// written; the rule does not lean on it), and every other key as it is.
func TestSnapshotStockElements(t *testing.T) {
	ctx := t.Context()
	d := dssync.MutexWrap(ds.NewMapDatastore())
	ns := ds.NewKey("/inventory/c")
	keys := []string{
		"/b/CIQA", "/b/CIQB", "/b/CIQC", "/h/CIQC", "/crdt_version",
		"/s/s/stock/BREAD/till-a/e1/CIQA", "/s/s/stock/BREAD/till-a/e1/CIQB", "/s/s/stock/BREAD/till-a/e1/CIQC",
		"/s/s/stock/BREAD/till-a/e2/CIQC",
		"/s/s/stock/MILK/till-a/e1/CIQA", "/s/s/stock/MILK/till-a/e1/CIQB", "/s/t/stock/MILK/till-a/e1/CIQA",
		"/s/s/product/BREAD/CIQA", "/s/s/product/BREAD/CIQB", "/s/t/product/BREAD/CIQA",
		"/s/k/stock/BREAD/till-a/e1/v", "/s/k/stock/BREAD/till-a/e1/p",
	}
	for _, k := range keys {
		if err := d.Put(ctx, ns.Child(ds.RawKey(k)), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.DeleteFunc(slices.Clone(keys), func(k string) bool {
		return k == "/s/s/stock/BREAD/till-a/e1/CIQB" || k == "/s/s/stock/BREAD/till-a/e1/CIQC"
	})
	// a Store's view of d, as snapshotView takes it
	res, err := d.Query(ctx, query.Query{Prefix: ns.String() + "/", Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		t.Fatal(err)
	}
	view := snapView{src: querySource{res: res}}
	view.tombSlot("/s/t/stock/MILK/till-a/e1/CIQA")
	var buf bytes.Buffer
	n, dropped, err := writeSnapshot(bufio.NewWriter(&buf), ns, view)
	if err != nil || n != len(want) || dropped != 2 {
		t.Fatalf("writeSnapshot = %d, %d, %v; want %d sent, 2 left out", n, dropped, err, len(want))
	}
	got := ds.NewMapDatastore()
	if _, err := readSnapshot(ctx, bufio.NewReader(&buf), got, ns); err != nil {
		t.Fatal(err)
	}
	res, err = got.Query(ctx, query.Query{KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		t.Fatal(err)
	}
	es, _ := res.Rest()
	var gotKeys []string
	for _, e := range es {
		gotKeys = append(gotKeys, strings.TrimPrefix(e.Key, ns.String()))
	}
	slices.Sort(want)
	if !slices.Equal(gotKeys, want) {
		t.Errorf("keys taken:\n got %q\nwant %q", gotKeys, want)
	}
}

// TestStockSlotsAreNeverDeleted: the rules that let a snapshot carry one
// element per stock slot and no block of a product's elements are
// enforced where every write passes.
func TestStockSlotsAreNeverDeleted(t *testing.T) {
	r := newReplica(t, "till-a", replicaOpts{config: func(c *Config) { c.SnapshotWait = -1 }})
	ctx := t.Context()
	if err := r.s.ApplyMovements(ctx, 1, map[string]int64{"BREAD": 5}); err != nil {
		t.Fatal(err)
	}
	if err := r.s.PutProduct(ctx, testProduct("BREAD", 250)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []ds.Key{r.s.ownKey("BREAD"), keyOf(prefixProduct, "BREAD")} {
		err := r.s.write(ctx, func() ([]op, func(), error) {
			return []op{{key: k}}, nil, nil
		})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("delete of %s = %v, want ErrInvalid", k, err)
		}
	}
	if _, err := r.s.Product(ctx, "BREAD"); err != nil {
		t.Fatalf("product after the refused delete: %v", err)
	}
	if got, err := r.s.AllStock(ctx); err != nil || got["BREAD"] != 5 {
		t.Fatalf("stock after the refused delete = %v, %v; want BREAD 5", got, err)
	}
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
		if got, want := cleanKey(b), len(b) > 0 && ds.NewKey(string(b)).String() == string(b); got != want {
			t.Fatalf("cleanKey(%q) = %v, ds.NewKey says %v", b, got, want)
		}
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

// TestSnapshotPartialTombstone: a delete made on a till that had not
// seen a later edit tombs only the element it knew; the value that
// survives is the edit's, found in the edit's block. A newcomer that took
// both elements in its snapshot holds that block too, and keeps the
// edit as its peers do.
func TestSnapshotPartialTombstone(t *testing.T) {
	a := newReplica(t, "till-a", replicaOpts{flood: true})
	b := newReplica(t, "till-b", replicaOpts{flood: true})
	connect(t, a, b)
	waitTopicPeers(t, a, b)
	ctx := t.Context()
	staff := Staff{ID: "ann", Name: "Ann", Role: RoleCashier, PINHash: []byte("x")}
	if err := a.s.PutStaff(ctx, staff); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "b has ann", func() bool { return caughtUp(a, b) }, a, b)
	isolate(b)
	staff.Name = "Anna"
	if err := a.s.PutStaff(ctx, staff); err != nil { // the edit b does not see
		t.Fatal(err)
	}
	if err := b.s.DeleteStaff(ctx, "ann"); err != nil { // tombs the first element only
		t.Fatal(err)
	}
	c := newReplica(t, "till-c", replicaOpts{flood: true, beforeStart: func(c *replica) {
		connect(t, c, a)
	}})
	if !c.s.fromSnapshot {
		t.Fatal("c did not take a snapshot")
	}
	heal(t, b, a, c)
	all := []*replica{a, b, c}
	eventually(t, 30*time.Second, "all three agree", func() bool { return caughtUp(all...) }, all...)
	for _, r := range all {
		if st, err := r.s.Staff(ctx, "ann"); err != nil || st.Name != "Anna" {
			t.Errorf("%s: staff ann = %+v, %v; want the edit (Anna)", r.name, st, err)
		}
	}
}
