package node

import (
	"fmt"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/ui"
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

// demoGood is one line of the so'm demo catalog: its name in Uzbek and
// Russian, price in so'm (per kg when weighed) and whether it is weighed.
type demoGood struct {
	uz, ru  string
	price   ledger.Money
	weighed bool
}

// tashkentGrocery is a Tashkent corner shop's shelf, prices in so'm.
var tashkentGrocery = []demoGood{
	{"Non", "Лепёшка", 4000, false},
	{"Sut 1 l", "Молоко 1 л", 12000, false},
	{"Qatiq 0,5 l", "Катык 0,5 л", 8500, false},
	{"Qaymoq", "Каймак", 15000, false},
	{"Tvorog", "Творог", 18000, false},
	{"Sariyogʻ 200 g", "Сливочное масло 200 г", 26000, false},
	{"Tuxum 10 dona", "Яйца 10 шт.", 17000, false},
	{"Koʻk choy 100 g", "Зелёный чай 100 г", 14000, false},
	{"Qora choy 100 g", "Чёрный чай 100 г", 16000, false},
	{"Qahva 100 g", "Кофе 100 г", 45000, false},
	{"Shakar 1 kg", "Сахар 1 кг", 13500, false},
	{"Tuz 1 kg", "Соль 1 кг", 3000, false},
	{"Un 2 kg", "Мука 2 кг", 17000, false},
	{"Guruch lazer 1 kg", "Рис лазер 1 кг", 24000, false},
	{"Makaron 400 g", "Макароны 400 г", 7500, false},
	{"Paxta yogʻi 1 l", "Хлопковое масло 1 л", 22000, false},
	{"Kungaboqar yogʻi 1 l", "Подсолнечное масло 1 л", 19500, false},
	{"Asal 500 g", "Мёд 500 г", 55000, false},
	{"Mineral suv 1,5 l", "Минеральная вода 1,5 л", 4500, false},
	{"Sharbat 1 l", "Сок 1 л", 14000, false},
	{"Shokolad", "Шоколад", 12000, false},
	{"Pechenye", "Печенье", 9000, false},
	{"Navvot", "Наввот", 20000, false},
	{"Lavash", "Лаваш", 5000, false},
	{"Kir sovun", "Хозяйственное мыло", 6000, false},
	{"Tish pastasi", "Зубная паста", 16000, false},
	{"Shampun", "Шампунь", 32000, false},
	{"Gugurt", "Спички", 1000, false},
	{"Olma", "Яблоки", 18000, true},
	{"Pomidor", "Помидоры", 15000, true},
	{"Bodring", "Огурцы", 12000, true},
	{"Kartoshka", "Картофель", 6000, true},
	{"Piyoz", "Лук", 5000, true},
	{"Sabzi", "Морковь", 5500, true},
	{"Uzum", "Виноград", 25000, true},
	{"Qovun", "Дыня", 9000, true},
	{"Mol goʻshti", "Говядина", 110000, true},
	{"Qoʻy goʻshti", "Баранина", 125000, true},
	{"Pishloq", "Сыр", 95000, true},
	{"Yongʻoq", "Грецкий орех", 70000, true},
}

// DemoCatalogIn is DemoCatalog for a store that speaks lang ("en", "ru"
// or "uz"): English is DemoCatalog itself, in EUR; Russian and Uzbek are
// a Tashkent grocery in so'm (UZS, whole sums in hundreds), named in that
// language, 12% VAT included, with Uzbek (GS1 478) barcodes. Beyond the
// shelf's forty goods come larger and smaller packs of the same, and
// bagged weighed goods. It is deterministic.
func DemoCatalogIn(lang string, n int) []crdt.Product {
	if lang != "ru" && lang != "uz" {
		return DemoCatalog(n)
	}
	packs := []struct {
		uz, ru string
		num    ledger.Money // price factor num/den
		den    ledger.Money
	}{{"", "", 1, 1}, {"katta", "большая упаковка", 9, 5}, {"kichik", "малая упаковка", 3, 5}, {"oilaviy", "семейная", 3, 1},
		{"tejamkor", "эконом", 4, 5}, {"premium", "премиум", 3, 2}}
	out := make([]crdt.Product, 0, n)
	for i := 0; len(out) < n; i++ {
		g := tashkentGrocery[i%len(tashkentGrocery)]
		pk := packs[(i/len(tashkentGrocery))%len(packs)]
		name, suffix := g.uz, pk.uz
		if lang == "ru" {
			name, suffix = g.ru, pk.ru
		}
		price := g.price
		unit := ledger.Each
		round := i / len(tashkentGrocery)
		switch {
		case g.weighed && round == 0:
			unit = ledger.Kilogram
		case g.weighed:
			// Weighed goods also come bagged: 1 kg, 2 kg, ...
			name += fmt.Sprintf(" %d kg", round)
			if lang == "ru" {
				name = g.ru + fmt.Sprintf(" %d кг", round)
			}
			price *= ledger.Money(round)
		default:
			price = (price*pk.num/pk.den + 50) / 100 * 100 // whole hundreds of so'm
			if suffix != "" {
				name += ", " + suffix
			}
		}
		payload := fmt.Sprintf("478%09d", 20001+i)
		cd, err := basket.CheckDigit(payload)
		if err != nil {
			panic(err) // a 12-digit payload always has a check digit
		}
		out = append(out, crdt.Product{
			SKU: fmt.Sprintf("%d", 20001+i), Name: name, Barcodes: []string{payload + string(cd)},
			Price: price, Currency: "UZS", TaxRate: 1200, Unit: unit,
		})
	}
	return out
}

// SettingLanguage is the store's language setting (ui's, read by the
// till's screens and receipts): "en", "ru" or "uz".
const SettingLanguage = "language"

// DemoSettings are the store settings of the demo in lang: its language
// and currency, and for so'm the smallest amount in use and the cash
// rounding, 100 so'm each.
func DemoSettings(lang string) map[string]string {
	if lang != "ru" && lang != "uz" {
		return map[string]string{SettingLanguage: "en", ui.SettingCurrency: "EUR"}
	}
	return map[string]string{SettingLanguage: lang, ui.SettingCurrency: "UZS",
		ui.SettingSmallestAmount: "100", ui.SettingCashRounding: "100"}
}
