package crdt

import (
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
)

// TestNewerKeysKeptAndIgnored: a key of a kind this version does not read
// (as a newer till writes, e.g. /giftcard/<id>) replicates and stays in
// the store, is counted with a warning, and disturbs nothing this version
// reads.
func TestNewerKeysKeptAndIgnored(t *testing.T) {
	rs := mesh(t, 2, replicaOpts{})
	a, b := rs[0], rs[1]
	ctx := t.Context()
	if err := a.s.put(ctx, ds.RawKey("/giftcard/GC-1"), []byte{0xa1, 0x01, 0x02}); err != nil {
		t.Fatal(err)
	}
	p := testProduct("MILK-1L", 129, "4006381333931")
	if err := a.s.PutProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "giftcard key and product on b", func() bool {
		_, err := b.s.Product(ctx, p.SKU)
		return err == nil && b.s.NewerKeys()["giftcard"] >= 1
	})
	v, err := b.s.crdt.Get(ctx, ds.RawKey("/giftcard/GC-1"))
	if err != nil || len(v) != 3 {
		t.Fatalf("the newer key is not kept on b: %x %v", v, err)
	}
	if ps, err := b.s.Products(ctx); err != nil || len(ps) != 1 {
		t.Fatalf("products beside a newer key: %d %v", len(ps), err)
	}
	if n := a.s.NewerKeys()["giftcard"]; n != 1 {
		t.Fatalf("a counted %d giftcard keys, want 1", n)
	}
	// The outbox's records are this release's own, stored opaque for
	// node/outbox: not counted as a newer till's keys.
	if err := a.s.PutOutbox(ctx, []OutboxEntry{{Connector: "telegram", Kind: "cursor", ID: "v1", Value: []byte{1}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "outbox record on b", func() bool {
		v, err := b.s.OutboxGet(ctx, "telegram", "cursor", "v1")
		return err == nil && len(v) == 1
	})
	for _, r := range []*replica{a, b} {
		if n := r.s.NewerKeys()["outbox"]; n != 0 {
			t.Fatalf("an outbox record counted as a newer till's key (%d)", n)
		}
	}
}
