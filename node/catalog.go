package node

import (
	"fmt"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// DemoCatalog returns n products for the demo store and tests: SKUs
// "10001"..., names from a grocery list, valid EAN-13 barcodes (GS1 prefix
// 400), prices in EUR cents, 7% tax on food and 19% on the rest, and a few
// goods sold by weight. It is deterministic.
func DemoCatalog(n int) []crdt.Product {
	food := []string{"Milk", "Bread", "Butter", "Coffee", "Tea", "Rice", "Pasta", "Flour", "Sugar", "Salt",
		"Yoghurt", "Eggs", "Cereal", "Jam", "Honey", "Juice", "Water", "Chocolate", "Biscuits", "Crisps"}
	goods := []string{"Batteries", "Light bulb", "Soap", "Shampoo", "Toothpaste", "Tissues", "Candles",
		"Notebook", "Pen", "Tape", "Sponges", "Bin bags", "Foil", "Matches", "Glue"}
	weighed := []string{"Apples", "Bananas", "Tomatoes", "Cheese", "Ham", "Grapes", "Carrots", "Onions"}
	sizes := []string{"small", "medium", "large", "family", "value", "organic", "premium", "mini"}
	out := make([]crdt.Product, 0, n)
	for i := 0; len(out) < n; i++ {
		var name string
		rate, unit := ledger.TaxRate(700), ledger.Each
		switch k := i % 10; {
		case k < 6:
			name = food[i%len(food)]
		case k < 9:
			name = goods[i%len(goods)]
			rate = 1900
		default:
			name = weighed[(i/10)%len(weighed)]
			unit = ledger.Kilogram
		}
		if unit == ledger.Each {
			name = fmt.Sprintf("%s %s", name, sizes[(i/len(food))%len(sizes)])
		}
		payload := fmt.Sprintf("400%09d", 10001+i)
		cd, err := basket.CheckDigit(payload)
		if err != nil {
			panic(err) // a 12-digit payload always has a check digit
		}
		price := ledger.Money(49 + (i*7919)%2950) // 0.49 .. 29.98, spread
		out = append(out, crdt.Product{
			SKU: fmt.Sprintf("%d", 10001+i), Name: name, Barcodes: []string{payload + string(cd)},
			Price: price, Currency: "EUR", TaxRate: rate, Unit: unit,
		})
	}
	return out
}
