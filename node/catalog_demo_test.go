package node_test

import (
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/node"
)

// The so'm demo catalog: valid products, whole hundreds of so'm, named
// in the store's language, and the English one unchanged.
func TestDemoCatalogIn(t *testing.T) {
	for _, lang := range []string{"uz", "ru"} {
		cat := node.DemoCatalogIn(lang, 240)
		if len(cat) != 240 {
			t.Fatalf("%s: %d products", lang, len(cat))
		}
		seen := map[string]bool{}
		for _, p := range cat {
			if err := p.Check(); err != nil {
				t.Fatalf("%s: %v", lang, err)
			}
			if p.Currency != "UZS" || p.Price%100 != 0 || p.Price <= 0 || seen[p.Name] || seen[p.SKU] {
				t.Fatalf("%s: product %+v: want UZS in whole hundreds, a name and SKU of its own", lang, p)
			}
			seen[p.Name], seen[p.SKU] = true, true
		}
		if want := map[string]string{"uz": "Non", "ru": "Лепёшка"}[lang]; cat[0].Name != want {
			t.Fatalf("%s: first product %q, want %q", lang, cat[0].Name, want)
		}
	}
	if en := node.DemoCatalogIn("en", 5); en[0].Name != node.DemoCatalog(5)[0].Name || en[0].Currency != "EUR" {
		t.Fatalf("English demo catalog changed: %+v", en[0])
	}
	if uz := node.DemoCatalogIn("uz", 40); !strings.Contains(uz[2].Name, "Qatiq") {
		t.Fatalf("uz: %q", uz[2].Name)
	}
}
