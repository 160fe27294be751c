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
