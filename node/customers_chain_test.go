package node_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/testnet/testkit"
	"github.com/tillmesh/tillmesh/ui"
)

// startWithHQ runs the till in dir with HQ at url.
func (s *testStore) startWithHQ(t *testing.T, dir, url string) *runningTill {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger, cfg.HQ = dir, s.store, quiet(), url
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	cfg.SyncInterval = 300 * time.Millisecond
	till, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningTill{Till: till, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- till.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// TestCustomerAcrossTheChain: real tills of two stores and an HQ. A
// customer registered in store A is found in store B by their card; an
// erasure made in store B reaches store A and HQ, where only the number
// stays. Each till seals the customer under a key of its own (store B's
// got it in plain from HQ) and deletes it on merging the erasure. The
// relays' downlink runs every 10 s, so this takes a while.
func TestCustomerAcrossTheChain(t *testing.T) {
	if testing.Short() {
		t.Skip("two relay downlink rounds each way: about a minute")
	}
	ctx := t.Context()
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hc := hq.DefaultConfig()
	hc.Storage, hc.Logger = st, quiet()
	h, err := hq.New(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	sa, sb := newStore(t, 1), newStore(t, 1)
	for _, s := range []*testStore{sa, sb} {
		if err := h.RegisterStore(ctx, s.store.ID, "Shop", s.store.CA); err != nil {
			t.Fatal(err)
		}
	}
	a := sa.startWithHQ(t, sa.tills[0], srv.URL)
	b := sb.startWithHQ(t, sb.tills[0], srv.URL)

	c, err := a.CreateCustomer(ctx, ui.Customer{Name: "Chain Customer", Phone: "0171 5550123", Card: "LOY-CHAIN"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the customer in store B", 90*time.Second, func() bool {
		got, _ := b.FindCustomers(ctx, "LOY-CHAIN", 5)
		return len(got) == 1 && got[0].Number == c.Number && got[0].Name == "Chain Customer"
	})
	// Store B's till sealed what came in plain from HQ, under a key it made.
	if keys, err := b.DB().CustomerKeys(c.Number); err != nil || len(keys) != 1 {
		t.Fatalf("store B's keys of the customer from HQ: %d, %v", len(keys), err)
	}
	if err := b.EraseCustomer(ctx, c.Number); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the erasure in store A and at HQ", 90*time.Second, func() bool {
		got, err := a.Customer(ctx, c.Number)
		if err != nil || !got.Erased || got.Name != "" {
			return false
		}
		if keys, err := a.DB().CustomerKeys(c.Number); err != nil || len(keys) != 0 {
			return false // store A deletes its key when it merges the erasure
		}
		hs, err := h.SearchCustomers(ctx, c.Number, 5)
		return err == nil && len(hs) == 1 && hs[0].Erased && hs[0].Name == "" && hs[0].Phone == ""
	})
	if got, _ := a.FindCustomers(ctx, "Chain", 5); len(got) != 0 {
		t.Fatalf("store A still finds %+v", got)
	}
}
