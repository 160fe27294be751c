package crdt

import (
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// A cost price round-trips under its own key; a product encoded by a
// release before costs (no key 10) decodes with no cost, and a product
// with one still decodes where the field is unknown (tested by decoding
// into the older shape).
func TestProductCostEncoding(t *testing.T) {
	p := Product{SKU: "olma", Name: "Olma", Price: 18000, Currency: "UZS", Unit: ledger.Kilogram, Cost: 12500}
	b, err := encodeValue(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeProduct(b)
	if err != nil || got.Cost != 12500 {
		t.Fatalf("round trip: %+v, %v; want cost 12500", got, err)
	}
	// The older release's product: the same fields without Cost.
	type older struct {
		SKU      string         `cbor:"1,keyasint"`
		Name     string         `cbor:"2,keyasint"`
		Barcodes []string       `cbor:"3,keyasint,omitempty"`
		Price    ledger.Money   `cbor:"4,keyasint"`
		Currency string         `cbor:"5,keyasint"`
		TaxRate  ledger.TaxRate `cbor:"6,keyasint"`
		Unit     ledger.Unit    `cbor:"7,keyasint"`
		Updated  int64          `cbor:"8,keyasint,omitempty"`
		Reorder  int64          `cbor:"9,keyasint,omitempty"`
	}
	var o older
	if err := decMode.Unmarshal(b, &o); err != nil || o.Price != 18000 {
		t.Fatalf("an older release decoding a product with a cost: %+v, %v", o, err)
	}
	ob, err := encMode.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeProduct(ob); err != nil || got.Cost != 0 || got.Price != 18000 {
		t.Fatalf("a product from before costs: %+v, %v; want no cost", got, err)
	}
	for _, c := range []ledger.Money{-1, ledger.MaxPrice + 1} {
		bad := p
		bad.Cost = c
		if _, err := encodeValue(bad); err == nil {
			t.Errorf("cost %d encoded", c)
		}
	}
}
