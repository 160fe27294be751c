package hq_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestErasedCustomerInNoLaterBackup: once HQ erased a customer, a backup
// taken afterwards holds none of their personal data (Badger keeps older
// versions of a key until compaction, and its backup stream sends every
// version it holds unless the newest says to discard them).
func TestErasedCustomerInNoLaterBackup(t *testing.T) {
	ctx := context.Background()
	st, err := hq.OpenBadger(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger = st, quiet()
	h, err := hq.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := hqtest.NewStore(70, 1)
	if err := h.RegisterStore(ctx, store.ID, "Shop", store.CAPublic()); err != nil {
		t.Fatal(err)
	}
	const secret = "Zelda Unforgettable"
	rec := hqapi.CustomerRecord{Number: "424242424242", Edits: []hqapi.CustomerEdit{
		{Field: "name", Value: secret, Wall: 1, By: "t1"}, {Field: "email", Value: "zelda@example.com", Wall: 1, By: "t1"}}}
	if n, err := h.PutCustomers(ctx, store.ID, []hqapi.CustomerRecord{rec}); err != nil || n != 1 {
		t.Fatalf("put: %d, %v", n, err)
	}
	var before bytes.Buffer
	if _, err := st.Backup(ctx, &before, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(before.Bytes(), []byte(secret)) {
		t.Fatal("the backup before the erasure lacks the customer: the test shows nothing")
	}
	if err := h.EraseCustomer(ctx, rec.Number, "admin"); err != nil {
		t.Fatal(err)
	}
	var after bytes.Buffer
	if _, err := st.Backup(ctx, &after, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, "zelda@example.com"} {
		if bytes.Contains(after.Bytes(), []byte(s)) {
			t.Errorf("the backup after the erasure still holds %q", s)
		}
	}
	if !bytes.Contains(after.Bytes(), []byte(rec.Number)) {
		t.Error("the backup after the erasure lost the number")
	}
	// Erasing an unknown customer says so.
	if err := h.EraseCustomer(ctx, "999", "admin"); err == nil {
		t.Error("erasing an unknown customer succeeded")
	}
}

// TestCustomersOnEveryStorage: HQ merges customers by field clocks, hands
// them out after a cursor in order, erases for good, and ignores a late
// edit, on Badger and on PostgreSQL.
func TestCustomersOnEveryStorage(t *testing.T) {
	for _, name := range []string{"badger", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var st hq.Storage
			var err error
			if name == "badger" {
				st, err = hq.OpenBadger(t.TempDir(), quiet())
			} else {
				st, err = hq.OpenPostgres(ctx, postgresDSN(t), 2)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cfg := hq.DefaultConfig()
			cfg.Storage, cfg.Logger = st, quiet()
			h, err := hq.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := hqtest.NewStore(71, 1)
			if err := h.RegisterStore(ctx, store.ID, "Shop", store.CAPublic()); err != nil {
				t.Fatal(err)
			}
			put := func(num, field, value string, wall int64) int {
				t.Helper()
				n, err := h.PutCustomers(ctx, store.ID, []hqapi.CustomerRecord{{Number: num, Edits: []hqapi.CustomerEdit{{Field: field, Value: value, Wall: wall, By: "t1"}}}})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			put("1001", "name", "Anna", 10)
			put("1002", "name", "Ben", 10)
			if n := put("1001", "name", "Anna Old", 5); n != 0 {
				t.Fatalf("an older edit changed the record (%d)", n)
			}
			put("1001", "phone", "0171 5550101", 20)
			got, err := h.CustomersFor(ctx, store.ID, 0, 1)
			if err != nil || len(got.Customers) != 1 || !got.More || got.Customers[0].Number != "1002" {
				t.Fatalf("first page: %+v, %v", got, err)
			}
			rest, err := h.CustomersFor(ctx, store.ID, got.Next, 10)
			if err != nil || len(rest.Customers) != 1 || rest.More || rest.Customers[0].Number != "1001" || len(rest.Customers[0].Edits) != 2 {
				t.Fatalf("second page: %+v, %v", rest, err)
			}
			if err := h.EraseCustomer(ctx, "1001", "admin"); err != nil {
				t.Fatal(err)
			}
			if n := put("1001", "name", "Anna Back", 99); n != 0 {
				t.Fatal("a late edit changed an erased customer")
			}
			after, err := h.CustomersFor(ctx, store.ID, rest.Next, 10)
			if err != nil || len(after.Customers) != 1 || !after.Customers[0].Erased || len(after.Customers[0].Edits) != 0 {
				t.Fatalf("after the erasure: %+v, %v", after, err)
			}
			vs, err := h.SearchCustomers(ctx, "", 10)
			if err != nil || len(vs) != 2 || vs[0] != (hq.CustomerView{Number: "1001", Erased: true}) || vs[1].Name != "Ben" {
				t.Fatalf("search: %+v, %v", vs, err)
			}
		})
	}
}
