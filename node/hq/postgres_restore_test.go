package hq_test

import (
	"github.com/tillmesh/tillmesh/ledger"
	"os"
	"regexp"
	"testing"

	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestPostgresCursorAfterRestore runs the statement README's "Backups"
// gives for a restored PostgreSQL HQ: the next catalog change gets a
// cursor far above every earlier one, as after `tillmesh hq restore`.
func TestPostgresCursorAfterRestore(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`(SELECT setval\\([^`]+);`").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no `SELECT setval(...);` for a restored PostgreSQL HQ")
	}
	ctx := t.Context()
	dsn := postgresDSN(t)
	st, err := hq.OpenPostgres(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	store := hqtest.NewStore(95, 1)
	h := newHQ(t, st, store)
	put := func(price int64) hqapi.Change {
		t.Helper()
		c, err := h.PutProduct(ctx, &store.ID, hqapi.Product{SKU: "1", Name: "Tea", Price: ledger.Money(price), Currency: "EUR", TaxRate: 700, Unit: "ea"}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := put(250); c.Cursor != 1 {
		t.Fatalf("first change has cursor %d", c.Cursor)
	}
	if err := pgExec(ctx, dsn, string(m[1])); err != nil {
		t.Fatalf("README's statement: %v", err)
	}
	if c := put(260); c.Cursor <= hq.CursorGap {
		t.Errorf("change after README's statement has cursor %d, want above %d", c.Cursor, uint64(hq.CursorGap))
	}
}
