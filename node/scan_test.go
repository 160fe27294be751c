package node_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node"
)

func withCheckDigit(t *testing.T, payload string) string {
	t.Helper()
	c, err := basket.CheckDigit(payload)
	if err != nil {
		t.Fatal(err)
	}
	return payload + string(c)
}

// Serial scans go into the cart like wedge scans; weight and price
// labels become lines; the scale reads a stable weight and refuses an
// unstable or negative one.
func TestSerialScansLabelsAndScale(t *testing.T) {
	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	seed(t, a, 3)
	seedStaff(t, a)
	ctx := t.Context()
	apples := crdt.Product{SKU: "A1", Name: "Apples loose", Price: 299, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram,
		Barcodes: []string{withCheckDigit(t, "280012300000"), withCheckDigit(t, "210012300000")}}
	if err := a.Inventory().PutProduct(ctx, apples); err != nil {
		t.Fatal(err)
	}
	w := login(t, serveUI(t, a), "2", "0000")
	cartLines := func() []map[string]any {
		out := w.must(200, "GET", "/api/cart", "")
		var ls []map[string]any
		for _, l := range out["lines"].([]any) {
			ls = append(ls, l.(map[string]any))
		}
		return ls
	}
	waitFor(t, "the simulated scanner connected", func() bool { return set.Scanner.Connected() > 0 })
	cat := node.DemoCatalog(3)
	if err := set.Scanner.Scan(cat[0].Barcodes[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the serial scan in the cart", func() bool { ls := cartLines(); return len(ls) == 1 && ls[0]["sku"] == cat[0].SKU })

	// A weight label from the serial scanner: 0.750 kg.
	if err := set.Scanner.Scan(withCheckDigit(t, "280012300750")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the weight label in the cart", func() bool { return len(cartLines()) == 2 })
	if l := cartLines()[1]; l["sku"] != "A1" || n(l["qty"]) != 750 || n(l["amount"]) != 224 {
		t.Fatalf("weight label line %v", l)
	}
	// A price label typed in: 3.00 of apples, exactly.
	out := w.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, withCheckDigit(t, "210012300300")))
	if l := out["lines"].([]any)[2].(map[string]any); n(l["amount"]) != 300 || n(l["qty"]) != 1003 {
		t.Fatalf("price label line %v", l)
	}
	// A wrong EAN check digit, an unknown item, a prefix with no layout.
	good := withCheckDigit(t, "280012300750")
	bad := good[:12] + string('0'+(good[12]-'0'+1)%10)
	w.fails(400, "check digit", "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, bad))
	w.fails(404, "item code 00999", "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, withCheckDigit(t, "280099900750")))
	m := login(t, serveUI(t, a), "1", "1234")
	m.fails(400, "layout 1", "PUT", "/api/settings", `{"variable_layouts":[{"prefixes":["31"],"item_digits":5,"value_digits":5,"measure":"weight"}]}`)
	m.must(200, "PUT", "/api/settings", `{"variable_layouts":[{"prefixes":["28"],"item_digits":5,"value_digits":5,"measure":"weight"}]}`)
	waitFor(t, "the layouts setting read", func() bool {
		code, out := w.do("POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, withCheckDigit(t, "210012300300")))
		return code == 404 && strings.Contains(fmt.Sprint(out["error"]), "no layout for it")
	})
	if got := len(cartLines()); got != 3 {
		t.Fatalf("refused codes changed the cart: %d lines", got)
	}

	// The scale.
	set.Scale.Set(1234, true)
	if out := w.must(200, "GET", "/api/scale", ""); n(out["grams"]) != 1234 {
		t.Fatalf("scale: %v", out)
	}
	set.Scale.Set(-20, true)
	w.fails(400, "under zero", "GET", "/api/scale", "")
	set.Scale.Set(500, false)
	w.fails(400, "not stable", "GET", "/api/scale", "")
}
