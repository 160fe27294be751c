package node_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// filesHolding returns the files under dir whose bytes contain needle.
func filesHolding(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitSealing waits until r has seen every other till of the store
// announce that it reads sealed customers (in the store all tills run
// this release, so the gate opens once the announcements arrive).
func waitSealing(t *testing.T, r *runningTill, tills int) {
	t.Helper()
	waitFor(t, "every till reads sealed customers", func() bool {
		certs, err := r.Inventory().Certificates(t.Context())
		if err != nil || len(certs) != tills {
			return false
		}
		behind, err := r.TillsNotKnowing(t.Context(), ledger.FeatureSealedCustomers)
		return err == nil && len(behind) == 0
	})
}

// noneOnDisk fails the test for every secret found in a file under dir.
func noneOnDisk(t *testing.T, what, dir string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if files := filesHolding(t, dir, []byte(secret)); len(files) > 0 {
			t.Errorf("%s: %q is still in %v", what, secret, files)
		}
	}
}

// TestErasedCustomerNotOnDisk: customers' fields are sealed and their
// keys travel outside the CRDT. Till 2 is off when till 1 registers two
// customers, and pulls their keys when it comes back; it is off again
// when one is erased, and deletes that key when it merges the erasure:
// then no file of either till's data directory (the CRDT's blocks and
// Badger tables, the ledger) holds the erased customer's name or card in
// plain (on a release that wrote them in plain, the blocks keep them).
// A till holding a sealed customer without its key shows the number only
// (not found by name, not editable, still attachable to a sale) until a
// peer gives it the key.
func TestErasedCustomerNotOnDisk(t *testing.T) {
	s := newStore(t, 2)
	ctx := t.Context()
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	waitSealing(t, a, 2)
	seed(t, a, 2)
	b.stop()

	// Registered while till 2 is off: no push reaches it; it pulls.
	x, err := a.CreateCustomer(ctx, ui.Customer{Name: "Ottilie Brandauer", Card: "LOY-OFF-1"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := a.CreateCustomer(ctx, ui.Customer{Name: "Yusuf Karimov", Phone: "0171 5550188"})
	if err != nil {
		t.Fatal(err)
	}
	b = s.start(t, s.tills[1], a.addr())
	waitFor(t, "both customers readable on till 2", func() bool {
		gx, errx := b.Customer(ctx, x.Number)
		gy, erry := b.Customer(ctx, y.Number)
		return errx == nil && erry == nil && gx.Name == x.Name && gy.Name == y.Name
	})
	if k := b.Inventory().PendingCustomerKeys(); len(k) != 0 {
		t.Fatalf("keys still pending after the pull: %v", k)
	}
	b.stop()

	// Erased while till 2 is off: till 2 deletes the key on merging.
	if err := a.EraseCustomer(ctx, x.Number); err != nil {
		t.Fatal(err)
	}
	b = s.start(t, s.tills[1], a.addr())
	waitFor(t, "the erasure on till 2", func() bool {
		got, err := b.Customer(ctx, x.Number)
		return err == nil && got.Erased
	})
	waitFor(t, "the key gone on till 2", func() bool {
		keys, err := b.DB().CustomerKeys(x.Number)
		return err == nil && len(keys) == 0
	})
	b.stop()
	noneOnDisk(t, "till 2, off at the erasure", s.tills[1], x.Name, x.Card)

	// Till 2 without y's key (lost), alone: number only.
	db, err := ledgerdb.Open(ledgerdb.DefaultConfig(filepath.Join(s.tills[1], "ledger"), s.store.ID))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteCustomerKeys(y.Number); n != 1 || err != nil {
		t.Fatalf("drop y's key at till 2: %d %v", n, err)
	}
	db.Close()
	b = s.start(t, s.tills[1])
	got, err := b.Customer(ctx, y.Number)
	if err != nil || !got.Unavailable || got.Name != "" || got.Phone != "" || got.Number != y.Number {
		t.Fatalf("customer without its key: %+v, %v", got, err)
	}
	if found, _ := b.FindCustomers(ctx, "Yusuf", 5); len(found) != 0 {
		t.Fatalf("found by a name this till cannot read: %+v", found)
	}
	if found, _ := b.FindCustomers(ctx, y.Number, 5); len(found) != 1 || !found[0].Unavailable {
		t.Fatalf("found by number: %+v", found)
	}
	_, err = b.EditCustomer(ctx, ui.Customer{Number: y.Number, Name: "Someone"})
	if !errors.Is(err, ui.ErrConflict) {
		t.Fatalf("edit without the key: %v, want a conflict", err)
	}
	// The refusal is a catalog message, as the cashier reads it.
	if ie := (*i18n.Error)(nil); !errors.As(err, &ie) || ie.Key != "till.error.customer_unavailable" {
		t.Fatalf("edit without the key: %v, want catalog key till.error.customer_unavailable", err)
	}
	cat, err2 := i18n.Embedded()
	if err2 != nil {
		t.Fatal(err2)
	}
	if got := cat.Message(i18n.Russian, err); !strings.Contains(got, y.Number) || !strings.Contains(got, "недоступны") {
		t.Fatalf("edit without the key, in Russian: %q", got)
	}
	if _, _, err := b.Sell(ctx, saleReq("shred-1", node.DemoCatalog(2)[0].SKU, y.Number)); err != nil {
		t.Fatalf("sale naming a customer whose details are not here: %v", err)
	}
	b.stop()
	b = s.start(t, s.tills[1], a.addr())
	waitFor(t, "y's key pulled again", func() bool {
		got, err := b.Customer(ctx, y.Number)
		return err == nil && !got.Unavailable && got.Name == y.Name
	})
	if k := b.Inventory().PendingCustomerKeys(); len(k) != 0 {
		t.Fatalf("keys still pending: %v", k)
	}
	a.stop()
	noneOnDisk(t, "till 1, which erased", s.tills[0], x.Name, x.Card)
}
