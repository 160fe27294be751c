package hq_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

func TestStockSnapshotForAStore(t *testing.T) {
	a, b, c := newChainStore(10), newChainStore(20), newChainStore(30)
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), a.Store, b.Store, c.Store)
	a.record(t, &ledger.StockReceive{Lines: []ledger.StockLine{sl("X", 1), sl("Y", 1)}, Staff: "1"}, day0)
	b.record(t, &ledger.StockReceive{Lines: []ledger.StockLine{sl("X", 4), sl("Y", 9), sl("Z", 7)}, Staff: "1"}, day0)
	c.record(t, &ledger.StockReceive{Lines: []ledger.StockLine{sl("X", 12)}, Staff: "1"}, day0)
	for _, s := range []*chainStore{a, b, c} {
		s.upload(t, h)
	}
	snap, err := h.StockSnapshot(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Check(); err != nil {
		t.Fatalf("HQ's own snapshot does not pass its check: %v", err)
	}
	name := func(f [2]int64) string { return fmt.Sprintf("%s:%d", snap.Stores[f[0]].Name, f[1]) }
	var got []string
	for _, f := range snap.SKUs["X"] {
		got = append(got, name(f))
	}
	if want := []string{c.Name + ":12", b.Name + ":4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("X at the other stores: %v, want %v (most first, A itself left out)", got, want)
	}
	if _, ok := snap.SKUs["Z"]; ok {
		t.Fatalf("Z is in A's snapshot, but A never stocked it")
	}
	for _, st := range snap.Stores {
		if st.ID == a.ID || st.At == 0 {
			t.Fatalf("store %+v: A itself, or no time of the last upload", st)
		}
	}
	if _, err := h.StockSnapshot(ledger.StoreID{7}); err == nil {
		t.Fatal("a snapshot for an unknown store")
	}
}

// However many SKUs, the snapshot fits one CRDT setting.
func TestStockSnapshotIsBounded(t *testing.T) {
	a, b := newChainStore(10), newChainStore(20)
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), a.Store, b.Store)
	for i := range 20 {
		var ls []ledger.StockLine
		for j := range ledger.MaxLines {
			ls = append(ls, sl(fmt.Sprintf("sku-with-a-longish-name-%05d", i*ledger.MaxLines+j), 5))
		}
		a.record(t, &ledger.StockReceive{Lines: ls, Staff: "1"}, day0+int64(i))
		b.record(t, &ledger.StockReceive{Lines: ls, Staff: "1"}, day0+int64(i))
	}
	a.upload(t, h)
	b.upload(t, h)
	snap, err := h.StockSnapshot(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(snap)
	if len(raw) > hqapi.MaxStockBytes || len(snap.SKUs) == 0 || len(snap.SKUs) >= 20*ledger.MaxLines {
		t.Fatalf("snapshot of %d bytes with %d SKUs; want at most %d bytes, some SKUs, not all", len(raw), len(snap.SKUs), hqapi.MaxStockBytes)
	}
}
