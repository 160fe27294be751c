package ledgerdb_test

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
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
