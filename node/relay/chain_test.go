package relay_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/relay"
)

// The relay brings the chain's stores and the transfers in transit to its
// store down into the CRDT, where every till reads them offline.
func TestChainDownlinkReachesTheStore(t *testing.T) {
	store := hqtest.NewStore(20, 2)
	sender := hqtest.NewStore(40, 1)
	srv := newHQServer(t, store, sender)
	ev, err := sender.Tills[0].Next(&ledger.TransferOut{Number: "s-1-1", To: store.ID,
		Lines: []ledger.StockLine{{SKU: "100", Qty: 3}}, Staff: "1"}, 1_790_000_000_000, "k")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := srv.Ingest(t.Context(), sender.ID, sender.Tills[0].ID,
		&hqapi.Upload{Fence: 1, Certs: sender.EncodedCerts(), Events: [][]byte{ev.Bytes()}}); err != nil || res.Accepted != 1 {
		t.Fatalf("sender upload: %+v %v", res, err)
	}
	m := newMesh(t, store, srv)
	m.start(t)
	ctx := t.Context()
	var in *hqapi.Chain
	waitFor(t, "the incoming list in the CRDT", 10*time.Second, func() bool {
		in, err = relay.ReadChain(ctx, m.inv, relay.ChainIncomingSetting)
		return err == nil && len(in.Incoming) == 1
	})
	if got := in.Incoming[0]; got.Number != "s-1-1" || got.From != sender.ID || got.FromName != sender.Name || got.Lines[0].Qty != 3 {
		t.Fatalf("incoming %+v", got)
	}
	stores, err := relay.ReadChain(ctx, m.inv, relay.ChainStoresSetting)
	if err != nil || len(stores.Stores) != 2 {
		t.Fatalf("stores %+v %v, want both stores", stores, err)
	}
	waitFor(t, "the stock snapshot in the CRDT", 10*time.Second, func() bool {
		s, err := relay.ReadStock(ctx, m.inv)
		return err == nil && s.Version == hqapi.StockVersion
	})
}

func TestPutStockKeepsTheNewest(t *testing.T) {
	ctx := t.Context()
	inv := newInventory()
	snap := func(made, qty int64) hqapi.StockSnapshot {
		return hqapi.StockSnapshot{Version: hqapi.StockVersion, Made: made,
			Stores: []hqapi.StockStore{{ID: ledger.StoreID{1}, Name: "North", At: made}},
			SKUs:   map[string][][2]int64{"A": {{0, qty}}}}
	}
	if err := relay.PutStock(ctx, inv, snap(200, 4)); err != nil {
		t.Fatal(err)
	}
	if err := relay.PutStock(ctx, inv, snap(100, 9)); !errors.Is(err, relay.ErrOlderChain) {
		t.Fatalf("older snapshot: %v, want ErrOlderChain", err)
	}
	bad := snap(300, 1)
	bad.SKUs["A"] = [][2]int64{{5, 1}} // no store 5
	if err := relay.PutStock(ctx, inv, bad); !errors.Is(err, hqapi.ErrBadRequest) {
		t.Fatalf("bad index: %v, want a bad request", err)
	}
	if got, err := relay.ReadStock(ctx, inv); err != nil || got.SKUs["A"][0][1] != 4 {
		t.Fatalf("held %+v %v, want the first snapshot", got, err)
	}
}

func TestPutChainKeepsTheNewest(t *testing.T) {
	ctx := t.Context()
	inv := newInventory()
	msg := func(made int64, names ...string) hqapi.Chain {
		c := hqapi.Chain{Version: hqapi.ChainVersion, Made: made}
		for i, n := range names {
			c.Stores = append(c.Stores, hqapi.ChainStore{ID: ledger.StoreID{byte(i + 1)}, Name: n})
		}
		return c
	}
	if err := relay.PutChain(ctx, inv, relay.ChainStoresSetting, msg(100, "North", "South")); err != nil {
		t.Fatal(err)
	}
	first, _ := inv.Setting(ctx, relay.ChainStoresSetting)
	// The same lists, made later: nothing is written (the CRDT keeps
	// every write).
	if err := relay.PutChain(ctx, inv, relay.ChainStoresSetting, msg(200, "North", "South")); err != nil {
		t.Fatal(err)
	}
	if again, _ := inv.Setting(ctx, relay.ChainStoresSetting); string(again) != string(first) {
		t.Fatalf("an unchanged list was written again")
	}
	// An older message with other lists is refused, nothing changes.
	err := relay.PutChain(ctx, inv, relay.ChainStoresSetting, msg(50, "East"))
	if !errors.Is(err, relay.ErrOlderChain) {
		t.Fatalf("older message: %v, want ErrOlderChain", err)
	}
	if got, _ := relay.ReadChain(ctx, inv, relay.ChainStoresSetting); len(got.Stores) != 2 {
		t.Fatalf("after the older message the store holds %+v", got.Stores)
	}
	// A message that breaks the rules is refused.
	bad := msg(300, "North")
	bad.Incoming = []hqapi.IncomingTransfer{{Number: "x", From: ledger.StoreID{1}, Lines: []ledger.StockLine{{SKU: "A", Qty: -2}}}}
	if err := relay.PutChain(ctx, inv, relay.ChainStoresSetting, bad); !errors.Is(err, hqapi.ErrBadRequest) {
		t.Fatalf("bad message: %v, want a bad request error", err)
	}
	bad = msg(300, "North")
	bad.Version = 2
	if err := relay.PutChain(ctx, inv, relay.ChainStoresSetting, bad); !errors.Is(err, hqapi.ErrBadRequest) {
		t.Fatalf("newer version: %v, want a bad request error", err)
	}
	if err := relay.PutChain(ctx, inv, relay.ChainStoresSetting, msg(300, "North", "South", "East")); err != nil {
		t.Fatal(err)
	}
	if got, _ := relay.ReadChain(ctx, inv, relay.ChainStoresSetting); len(got.Stores) != 3 {
		t.Fatalf("a newer list was not written: %+v", got.Stores)
	}
}
