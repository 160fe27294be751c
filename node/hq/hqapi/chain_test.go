package hqapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

func seedChain() *Chain {
	return &Chain{Version: ChainVersion, Made: 1_790_000_000_000,
		Stores: []ChainStore{{ID: ledger.StoreID{1}, Name: "North"}, {ID: ledger.StoreID{2}, Name: "South"}},
		Incoming: []IncomingTransfer{{Number: "01000000-1-7", From: ledger.StoreID{1}, FromName: "North",
			Lines: []ledger.StockLine{{SKU: "A", Qty: 3}}, Sent: 1_789_999_000_000}}}
}

func TestDecodeChainRefusesBadMessages(t *testing.T) {
	good, _ := json.Marshal(seedChain())
	if _, err := DecodeChain(good); err != nil {
		t.Fatalf("good message: %v", err)
	}
	bad := map[string]func(c *Chain){
		"newer version":      func(c *Chain) { c.Version = 2 },
		"no time":            func(c *Chain) { c.Made = 0 },
		"store without name": func(c *Chain) { c.Stores[0].Name = "" },
		"zero store":         func(c *Chain) { c.Stores[0].ID = ledger.StoreID{} },
		"negative quantity":  func(c *Chain) { c.Incoming[0].Lines[0].Qty = -1 },
		"no sender":          func(c *Chain) { c.Incoming[0].From = ledger.StoreID{} },
		"bad number":         func(c *Chain) { c.Incoming[0].Number = "a/b" },
		"too many stores":    func(c *Chain) { c.Stores = make([]ChainStore, MaxChainStores+1) },
	}
	for name, mutate := range bad {
		c := seedChain()
		mutate(c)
		b, _ := json.Marshal(c)
		if _, err := DecodeChain(b); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: got %v, want a bad request", name, err)
		}
	}
	if _, err := DecodeChain([]byte(`{"version":1`)); err == nil || !strings.Contains(err.Error(), "chain message") {
		t.Errorf("truncated: got %v", err)
	}
}

// FuzzDecodeChain: the chain message decoder never panics, and what it
// accepts passes its own check again after a round trip.
func FuzzDecodeChain(f *testing.F) {
	good, _ := json.Marshal(seedChain())
	f.Add(good)
	f.Add([]byte(`{"version":1,"made":1,"stores":[],"incoming":[]}`))
	f.Add([]byte(`{"version":1,"made":1,"stores":null,"incoming":[{"number":"x","from":"00","lines":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeChain(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeChain(again); err != nil {
			t.Fatalf("accepted %q, refused its own encoding: %v", b, err)
		}
	})
}

// FuzzDecodeStock: the stock snapshot decoder never panics, and what it
// accepts names only stores it lists, with positive quantities.
func FuzzDecodeStock(f *testing.F) {
	good, _ := json.Marshal(StockSnapshot{Version: StockVersion, Made: 5,
		Stores: []StockStore{{ID: ledger.StoreID{1}, Name: "North", At: 4}},
		SKUs:   map[string][][2]int64{"A": {{0, 3}}}})
	f.Add(good)
	f.Add([]byte(`{"version":1,"made":1,"stores":[],"skus":{"A":[[0,1]]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeStock(b)
		if err != nil {
			return
		}
		for sku, figs := range s.SKUs {
			for _, fg := range figs {
				if fg[0] < 0 || int(fg[0]) >= len(s.Stores) || fg[1] <= 0 {
					t.Fatalf("accepted %q with figure %v for %s", b, fg, sku)
				}
			}
		}
	})
}
