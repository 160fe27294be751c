package node_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/relay"
	"github.com/tillmesh/tillmesh/ui"
)

func stockOf(t *testing.T, r *runningTill, sku string) int64 {
	t.Helper()
	var q int64
	r.View(func(st *ledger.State) { q = st.Fold().StockTotal(sku) })
	return q
}

func wantBad(t *testing.T, what string, err error, contains string) {
	t.Helper()
	if err == nil || !(errors.Is(err, ui.ErrBadRequest) || errors.Is(err, ledger.ErrInvalidBody) || errors.Is(err, ui.ErrNotFound)) || !strings.Contains(err.Error(), contains) {
		t.Fatalf("%s: got %v, want a bad request containing %q", what, err, contains)
	}
}

// Two stores of a chain, each one till, with HQ's downlink written into
// their CRDTs as the relay writes it: a transfer leaves A's stock at once
// and enters B's as received; bad input changes nothing.
func TestTransferBetweenStores(t *testing.T) {
	sa, sb := newStore(t, 1), newStore(t, 1)
	a, b := sa.start(t, sa.tills[0]), sb.start(t, sb.tills[0])
	ctx := t.Context()
	seed(t, a, 3)
	seed(t, b, 3)
	sku := node.DemoCatalog(3)[0].SKU
	sku2 := node.DemoCatalog(3)[1].SKU
	for _, r := range []*runningTill{a, b} {
		waitFor(t, "the till to announce its kinds", func() bool {
			_, err := r.Transfers(ctx)
			k, kerr := r.Inventory().Kinds(ctx)
			return err == nil && kerr == nil && len(k[r.ID().String()]) >= len(ledger.Kinds)
		})
	}
	out := ui.TransferOutRequest{To: sb.store.ID.String(), Lines: []ledger.StockLine{{SKU: sku, Qty: 5}, {SKU: sku2, Qty: 2}}, IdempotencyKey: "t1"}
	_, _, err := a.TransferOut(ctx, out, "1")
	wantBad(t, "no chain list yet", err, "no list of the chain's stores")

	now := time.Now().UnixMilli()
	chainStores := hqapi.Chain{Version: hqapi.ChainVersion, Made: now, Stores: []hqapi.ChainStore{
		{ID: sa.store.ID, Name: "North"}, {ID: sb.store.ID, Name: "South"}}}
	for _, r := range []*runningTill{a, b} {
		if err := relay.PutChain(ctx, r.Inventory(), relay.ChainStoresSetting, chainStores); err != nil {
			t.Fatal(err)
		}
	}
	bad := []struct {
		name, want string
		req        ui.TransferOutRequest
	}{
		{"unknown destination", "unknown destination store", ui.TransferOutRequest{To: "00112233445566778899aabbccddeeff", Lines: out.Lines}},
		{"own store", "destination is this store", ui.TransferOutRequest{To: sa.store.ID.String(), Lines: out.Lines}},
		{"unknown sku", "unknown sku", ui.TransferOutRequest{To: out.To, Lines: []ledger.StockLine{{SKU: "nope", Qty: 1}}}},
		{"zero quantity", "quantity 0", ui.TransferOutRequest{To: out.To, Lines: []ledger.StockLine{{SKU: sku, Qty: 0}}}},
	}
	for _, tc := range bad {
		_, _, err := a.TransferOut(ctx, tc.req, "1")
		wantBad(t, tc.name, err, tc.want)
	}
	if got := stockOf(t, a, sku); got != 100 {
		t.Fatalf("refused transfers moved A's stock to %d", got)
	}
	ev, existing, err := a.TransferOut(ctx, out, "1")
	if err != nil || existing {
		t.Fatalf("transfer out: %v (existing %v)", err, existing)
	}
	number := ev.Body.(*ledger.TransferOut).Number
	if again, existing, err := a.TransferOut(ctx, out, "1"); err != nil || !existing || again.ID() != ev.ID() {
		t.Fatalf("retried transfer out: %v existing %v; want the first event", err, existing)
	}
	if got := stockOf(t, a, sku); got != 95 {
		t.Fatalf("A's stock after sending 5 of 100: %d, want 95", got)
	}
	// Receiving it at the sending store is refused.
	_, _, err = a.TransferIn(ctx, ui.TransferInRequest{Number: number, Lines: out.Lines}, "1")
	wantBad(t, "received at the sender", err, "sent by this store")

	// HQ lists it for B; B receives one of the second line short.
	incoming := hqapi.Chain{Version: hqapi.ChainVersion, Made: now + 1, Incoming: []hqapi.IncomingTransfer{
		{Number: number, From: sa.store.ID, FromName: "North", Lines: out.Lines, Sent: now}}}
	if err := relay.PutChain(ctx, b.Inventory(), relay.ChainIncomingSetting, incoming); err != nil {
		t.Fatal(err)
	}
	list, err := b.Transfers(ctx)
	if err != nil || len(list.Incoming) != 1 || list.Incoming[0].Number != number || len(list.Stores) != 1 || list.Stores[0].Name != "North" {
		t.Fatalf("B's transfers page: %+v %v", list, err)
	}
	_, _, err = b.TransferIn(ctx, ui.TransferInRequest{Number: number, Lines: []ledger.StockLine{{SKU: sku, Qty: 6}}}, "1")
	wantBad(t, "more than was sent", err, "6 of "+sku+" received, 5 was sent")
	if got := stockOf(t, b, sku); got != 100 {
		t.Fatalf("a refused receipt moved B's stock to %d", got)
	}
	in := ui.TransferInRequest{Number: number, Lines: []ledger.StockLine{{SKU: sku, Qty: 5}, {SKU: sku2, Qty: 1}}, Note: "one broken", IdempotencyKey: "r1"}
	rev, _, err := b.TransferIn(ctx, in, "1")
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	body := rev.Body.(*ledger.TransferIn)
	if body.From != sa.store.ID || len(body.Sent) != 2 {
		t.Fatalf("receipt records from %s and sent %v; want the listed transfer", body.From, body.Sent)
	}
	if g1, g2 := stockOf(t, b, sku), stockOf(t, b, sku2); g1 != 105 || g2 != 101 {
		t.Fatalf("B's stock after receiving: %d and %d, want 105 and 101", g1, g2)
	}
	in.IdempotencyKey = "r2"
	_, _, err = b.TransferIn(ctx, in, "1")
	wantBad(t, "received twice", err, "already received")
	if list, _ := b.Transfers(ctx); len(list.Incoming) != 0 || len(list.Received) != 1 {
		t.Fatalf("after the receipt: incoming %d received %d, want 0 and 1", len(list.Incoming), len(list.Received))
	}

	// A transfer not on B's list (B has not heard from HQ since) is
	// received blind: the number names the sender.
	ev2, _, err := a.TransferOut(ctx, ui.TransferOutRequest{To: out.To, Lines: []ledger.StockLine{{SKU: sku, Qty: 1}}, IdempotencyKey: "t2"}, "1")
	if err != nil {
		t.Fatal(err)
	}
	n2 := ev2.Body.(*ledger.TransferOut).Number
	if n2 == number {
		t.Fatalf("two transfers share number %s", n2)
	}
	blind, _, err := b.TransferIn(ctx, ui.TransferInRequest{Number: n2, Lines: []ledger.StockLine{{SKU: sku, Qty: 1}}}, "1")
	if err != nil {
		t.Fatalf("blind receipt: %v", err)
	}
	if got := blind.Body.(*ledger.TransferIn); got.From != sa.store.ID || len(got.Sent) != 0 {
		t.Fatalf("blind receipt from %s sent %v; want A and nothing", got.From, got.Sent)
	}
	_, _, err = b.TransferIn(ctx, ui.TransferInRequest{Number: "ffffffff-1-1", Lines: []ledger.StockLine{{SKU: sku, Qty: 1}}}, "1")
	wantBad(t, "a number naming no store", err, "pick the sending store")

	// HQ's stock snapshot shows on the product's stock and in the
	// lookup's map.
	snap := hqapi.StockSnapshot{Version: hqapi.StockVersion, Made: now,
		Stores: []hqapi.StockStore{{ID: sa.store.ID, Name: "North", At: now - 25*60_000}},
		SKUs:   map[string][][2]int64{sku: {{0, 4}}}}
	if err := relay.PutStock(ctx, b.Inventory(), snap); err != nil {
		t.Fatal(err)
	}
	lvl, err := b.Stock(ctx, sku)
	if err != nil || len(lvl.Chain) != 1 || lvl.Chain[0].Name != "North" || lvl.Chain[0].Qty != 4 ||
		time.Since(lvl.Chain[0].At) < 25*time.Minute {
		t.Fatalf("stock of %s with the chain: %+v %v", sku, lvl.Chain, err)
	}
	all, err := b.ChainStock(ctx)
	if err != nil || len(all[sku]) != 1 {
		t.Fatalf("chain stock map: %v %v", all, err)
	}
}
