package crdt

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"

	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	badger4 "github.com/ipfs/go-ds-badger4"
	mh "github.com/multiformats/go-multihash"
)

// fillHistory writes into d, under crdtNS, the keys go-ds-crdt holds
// after n one-movement DAG nodes of a store with 50 products and one
// till (the shape `bench history --dag n` leaves): per node a processed
// marker and a stock slot element, plus a value and priority per slot
// and one head.
func fillHistory(tb testing.TB, d ds.Batching, crdtNS ds.Key, n int) {
	tb.Helper()
	ctx := context.Background()
	b, err := d.Batch(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	till := fmt.Sprintf("%064x", 0x5c5467ec155e94e0)
	var last string
	for i := range n {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		m, _ := mh.Encode(sum[:], mh.SHA2_256)
		id := dshelp.MultihashToDsKey(cid.NewCidV1(cid.DagProtobuf, m).Hash()).String()
		last = id
		slot := fmt.Sprintf("/stock/%d/%s/a73c924880b7ae31", 10000+i%50, till)
		for _, kv := range [][2]string{
			{"/b" + id, ""},
			{"/s/s" + slot + id, ""},
			{"/s/k" + slot + "/v", "0123456789abcdef"},
			{"/s/k" + slot + "/p", "\x81\x01"},
		} {
			if err := b.Put(ctx, crdtNS.Child(ds.RawKey(kv[0])), []byte(kv[1])); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, kv := range [][2]string{{"/h" + last, "\x05"}, {"/crdt_version", "\x02"}} {
		if err := b.Put(ctx, crdtNS.Child(ds.RawKey(kv[0])), []byte(kv[1])); err != nil {
			tb.Fatal(err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
}

func openBadger(tb testing.TB) *badger4.Datastore {
	tb.Helper()
	dir := tb.TempDir()
	d, err := badger4.NewDatastore(dir, BadgerOptions(dir))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// BenchmarkSnapshotCopy: a snapshot of 100,000 DAG nodes served from
// one Badger inventory and written into another, over a pipe (no
// network): the server's read and encoding, the client's decoding,
// checks, writes and sync. Reports DAG nodes/s and keys sent per op;
// all-elements sends every stock element (as if each slot held a
// tombstone), as release 1 of the protocol's servers did.
func BenchmarkSnapshotCopy(b *testing.B) {
	const nodes = 100_000
	ns := ds.NewKey("/inventory/c")
	src := openBadger(b)
	fillHistory(b, src, ns, nodes)
	ctx := context.Background()
	for _, all := range []bool{false, true} {
		name := "one-element-per-slot"
		if all {
			name = "all-elements"
		}
		b.Run(name, func(b *testing.B) {
			keys := 0
			for range b.N {
				b.StopTimer()
				dst := openBadger(b)
				b.StartTimer()
				view := snapView{src: badgerSource{txn: src.DB.NewTransaction(false), prefix: []byte(ns.String() + "/")}}
				if all {
					view.tombedSlot = map[string]bool{}
					for i := range 50 {
						view.tombedSlot[fmt.Sprintf("/stock/%d/%064x/a73c924880b7ae31", 10000+i, 0x5c5467ec155e94e0)] = true
					}
				}
				pr, pw := io.Pipe()
				go func() {
					_, _, err := writeSnapshot(bufio.NewWriterSize(pw, 64<<10), ns, view)
					pw.CloseWithError(err)
				}()
				n, err := readSnapshot(ctx, bufio.NewReaderSize(pr, 64<<10), dst, ns)
				if err != nil {
					b.Fatal(err)
				}
				if err := dst.Sync(ctx, ns); err != nil {
					b.Fatal(err)
				}
				view.src.close()
				keys += n
			}
			b.ReportMetric(float64(nodes*b.N)/b.Elapsed().Seconds(), "nodes/s")
			b.ReportMetric(float64(keys/b.N), "keys/op")
		})
	}
}
