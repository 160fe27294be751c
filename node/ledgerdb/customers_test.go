package ledgerdb_test

import (
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

func saleFor(customer string) *ledger.Sale {
	s := ledgertest.Sale3()
	s.Customer = customer
	return s
}

// TestCustomerSales: a customer's purchase history is found from both the
// till's own sales and a peer's, oldest first, after a restart, and after
// the index was lost (an older release's ledger) and rebuilt at open.
func TestCustomerSales(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	key := ledgertest.Key(1)
	var want []ledger.EventID
	for i, c := range []string{"C1", "", "C2", "C1"} {
		ev, _, err := db.Append(t.Context(), key, saleFor(c), "k"+string(rune('a'+i)), now+int64(i)*1000)
		if err != nil {
			t.Fatal(err)
		}
		if c == "C1" {
			want = append(want, ev.ID())
		}
	}
	peer := ledgertest.NewTill(store, 2, 2)
	pev, err := peer.Next(saleFor("C1"), now+1500, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Insert(t.Context(), []*ledger.Event{pev}); err != nil {
		t.Fatal(err)
	}
	want = []ledger.EventID{want[0], pev.ID(), want[1]} // by time

	check := func(when string, db *ledgerdb.DB) {
		t.Helper()
		evs, err := db.CustomerSales("C1", 0)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var got []ledger.EventID
		for _, ev := range evs {
			got = append(got, ev.ID())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: C1 history %v, want %v", when, got, want)
		}
		if evs, _ := db.CustomerSales("C1", 1); len(evs) != 1 || evs[0].ID() != want[2] {
			t.Fatalf("%s: limit 1 did not keep the newest", when)
		}
		if evs, _ := db.CustomerSales("C2", 0); len(evs) != 1 {
			t.Fatalf("%s: C2 history %d sales, want 1", when, len(evs))
		}
		if evs, _ := db.CustomerSales("C", 0); len(evs) != 0 {
			t.Fatalf("%s: the prefix C found %d sales of C1/C2", when, len(evs))
		}
		if _, err := db.CustomerSales("no/such", 0); err == nil {
			t.Fatalf("%s: a malformed number was accepted", when)
		}
	}
	check("open", db)
	db.Close()
	db = open(t, dir)
	check("reopened", db)
	db.Close()

	// An older release's ledger: no customer records, no mark.
	bdb, err := badger.Open(ledgerdb.BadgerOptions(dir, quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.DropPrefix([]byte("u"), []byte("m/customers")); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	db = open(t, dir)
	defer db.Close()
	check("re-indexed", db)
}
