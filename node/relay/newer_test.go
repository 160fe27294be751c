package relay_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/relay"
)

// TestHQChangeOfNewerKindIsKept: a change of a kind this relay does not
// apply (a newer HQ made it) neither stalls the downlink nor is lost: the
// relay keeps it in the store's inventory and applies the changes after it.
func TestHQChangeOfNewerKindIsKept(t *testing.T) {
	store := hqtest.NewStore(21, 2)
	srv := newHQServer(t, store)
	m := newMesh(t, store, srv)
	ctx := t.Context()
	if _, err := srv.st.AddChange(ctx, hqapi.Change{Store: &store.ID, Kind: "gift_card_rule", By: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PutProduct(ctx, nil, hqapi.Product{SKU: "200", Name: "Tea", Price: 250, Currency: "EUR", TaxRate: 700, Unit: "ea"}, "admin"); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	waitFor(t, "the downlink past the newer change", 10*time.Second, func() bool {
		b, _ := m.inv.Setting(ctx, relay.CursorSetting)
		return string(b) == "2"
	})
	m.inv.mu.Lock()
	price := m.inv.products["200"].Price
	m.inv.mu.Unlock()
	if price != 250 {
		t.Fatalf("product after a newer change: price %d, want 250", price)
	}
	b, err := m.inv.Setting(ctx, relay.NewerChangeSetting(1))
	if err != nil {
		t.Fatalf("the newer change is not kept: %v", err)
	}
	var kept hqapi.Change
	if err := json.Unmarshal(b, &kept); err != nil || kept.Kind != "gift_card_rule" || kept.Cursor != 1 {
		t.Fatalf("kept change %+v %v", kept, err)
	}
	if relay.KnownChange("gift_card_rule") || !relay.KnownChange(hqapi.KindProduct) {
		t.Fatal("KnownChange")
	}
}
