package ledgerdb_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

func TestGrantsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	sale := ledger.EventID{7}
	g := ledgerdb.Grant{Ref: ledger.GrantRef{Owner: ledger.TillID{1}, N: 3}, Sale: sale, Requester: ledger.TillID{2},
		Lines: []ledger.RefundLine{{Line: 0, SKU: "1001", Qty: 1, Amount: 119}}, Made: 1000}
	if err := db.PutGrant(g); err != nil {
		t.Fatal(err)
	}
	if err := db.PutGrant(ledgerdb.Grant{Sale: sale}); err == nil {
		t.Fatal("grant number 0 stored")
	}
	if err := db.PutOffline(ledgerdb.OfflineRecord{Key: "k1", Amount: 500, At: 10}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutOffline(ledgerdb.OfflineRecord{Key: "k2", Amount: 700, At: 20}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, dir)
	defer db.Close()
	gs, err := db.Grants()
	if err != nil || len(gs) != 1 || gs[0].Ref != g.Ref || gs[0].Lines[0].Amount != 119 || gs[0].Requester != g.Requester {
		t.Fatalf("grants after reopen: %+v %v", gs, err)
	}
	off, err := db.Offline(15)
	if err != nil || len(off) != 1 || off[0].Key != "k2" || off[0].Amount != 700 {
		t.Fatalf("offline since 15: %+v %v", off, err)
	}
}

// BenchmarkCardBalance10k: a card's balance from the ledger database, for
// a card with 10,000 movements: read them through the card index, then
// fold (what GET /api/cards/{card} and every redemption grant do).
//
//	go test -run XXX -bench CardBalance10k -benchtime 20x ./node/ledgerdb/
func BenchmarkCardBalance10k(b *testing.B) {
	db := open(b, b.TempDir())
	defer db.Close()
	key := ledgertest.Key(1)
	src := ledger.EventID{1}
	if _, _, err := db.Append(b.Context(), key, &ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardIssue,
		Currency: "EUR", Amount: ledger.MaxPrice, Source: &src, Staff: "1"}, "", now); err != nil {
		b.Fatal(err)
	}
	for i := range 9_999 {
		if _, _, err := db.Append(b.Context(), key, &ledger.CardMove{Card: "GC-1", Account: ledger.GiftCard, Op: ledger.CardRedeem,
			Currency: "EUR", Amount: 1, Grant: &ledger.GrantRef{Owner: ledger.TillOf(key), N: uint64(i + 1)}, Staff: "1"}, "", now+int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		es, err := db.CardEntries("GC-1")
		if err != nil {
			b.Fatal(err)
		}
		if bal := ledger.FoldEntries("GC-1", es); bal.Moves != 10_000 || bal.Balance != ledger.MaxPrice-9_999 {
			b.Fatalf("%+v", bal)
		}
	}
}

func TestEachCardGroupsMovements(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	key := ledgertest.Key(1)
	src := ledger.EventID{1}
	for i, m := range []*ledger.CardMove{
		{Card: "A-1", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR", Amount: 100, Source: &src, Staff: "1"},
		{Card: "B-22", Account: ledger.GiftCard, Op: ledger.CardIssue, Currency: "EUR", Amount: 50, Source: &src, Staff: "1"},
		{Card: "A-1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 70, Staff: "1", Grant: &ledger.GrantRef{Owner: ledger.TillOf(key), N: 1}},
		{Card: "A-1", Account: ledger.GiftCard, Op: ledger.CardRedeem, Currency: "EUR", Amount: 60, Staff: "1", Grant: &ledger.GrantRef{Owner: ledger.TillOf(key), N: 2}},
	} {
		if _, _, err := db.Append(t.Context(), key, m, "", now+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]ledger.CardBalance{}
	if err := db.EachCard(func(card string, es []ledger.CardEntry) { got[card] = ledger.FoldEntries(card, es) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["A-1"].Balance != -30 || got["A-1"].Moves != 3 || got["B-22"].Balance != 50 {
		t.Fatalf("cards %+v", got)
	}
	if o, ok := got["A-1"].Overspend(); !ok || o.Over != 30 {
		t.Fatalf("over-spend of A-1: %+v %v", o, ok)
	}
	es, err := db.CardEntries("A-1")
	if err != nil || len(es) != 3 {
		t.Fatalf("entries of A-1: %d %v", len(es), err)
	}
}
