package ui_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// keyLiteral is a quoted catalog key in the pages or the Go code: the
// pages' L('till.sale.empty'), LN('till.clear.lines', n), data-i18n
// attributes, keys chosen by a condition (L(x ? 'a' : 'b')) and the Go
// side's i18n.Errorf("till.error.no_shift").
var keyLiteral = regexp.MustCompile(`["'](?:till|common|input|lang)\.[a-z0-9_.]+["']`)

// TestPagesUseOnlyCatalogKeys fails when the till's pages or its Go
// code name a catalog key that English (and so every language) lacks:
// the page would show ⟦key⟧. Keys built from a prefix and a value
// ('till.role.' + role) are checked for every value the code can give.
func TestPagesUseOnlyCatalogKeys(t *testing.T) {
	cat, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{} // key -> files
	var files []string
	// node/customers.go answers the customer API's errors with keys of
	// its own (the till implements ui.Customers).
	for _, pat := range []string{"web/*.html", "web/*.js", "*.go", "../node/customers.go"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, lit := range keyLiteral.FindAllString(string(b), -1) {
			key := lit[1 : len(lit)-1]
			if strings.HasSuffix(key, ".") || strings.HasSuffix(key, "_") {
				continue // a prefix: its values are checked below
			}
			if !slices.Contains(used[key], f) {
				used[key] = append(used[key], f)
			}
		}
	}
	for _, p := range ui.AllPermissions {
		used["till.perm."+string(p.Name)] = append(used["till.perm."+string(p.Name)], "ui/roles.go (AllPermissions)")
	}
	for _, r := range []ui.Role{ui.RoleCashier, ui.RoleSupervisor, ui.RoleManager} {
		used["till.role."+string(r)] = append(used["till.role."+string(r)], "ui/roles.go (roles)")
	}
	for _, k := range []string{"receive", "adjust", "count"} {
		used["till.stock.move_"+k] = append(used["till.stock.move_"+k], "web/app.js (stockMove)")
	}
	for _, k := range []string{"gift_card", "store_credit", "points"} {
		used["till.cards.account."+k] = append(used["till.cards.account."+k], "web/cards.js (accountName)")
	}
	// A customer field the till refuses or the store requires
	// (node/customers.go: "till.error.customer_bad." + field).
	for _, f := range []string{"name", "phone", "email", "card", "consent", "notes", "home_store"} {
		used["till.error.customer_bad."+f] = append(used["till.error.customer_bad."+f], "node/customers.go (checkCustomer)")
		if f != "consent" {
			used["till.error.customer_required."+f] = append(used["till.error.customer_required."+f], "node/customers.go (checkCustomer)")
		}
	}
	// The printer's state comes from package hw in its words
	// (hw/printer.go, node/sell.go printerText); the page translates
	// those it knows (printerState in web/app.js).
	for _, k := range []string{"paper out", "cover open", "cutter jammed", "printer error", "offline", "status unknown", "paper low",
		"unplugged", "several devices match", "permission denied", "no reply", "unreachable", "disconnected", "connecting"} {
		key := "till.printer.state." + strings.ReplaceAll(k, " ", "_")
		used[key] = append(used[key], "web/app.js (printerState)")
	}
	if len(used) < 300 {
		t.Fatalf("found only %d keys in the pages: is the pattern still right?", len(used))
	}
	for _, k := range slices.Sorted(maps.Keys(used)) {
		if !cat.Has(k) {
			t.Errorf("%s use catalog key %q, which ui/i18n/catalog lacks", strings.Join(used[k], ", "), k)
		}
	}
	// Keys of the till's catalog no page uses are dead weight for the
	// translators: say which.
	for _, k := range cat.Keys() {
		base := k
		if i := strings.LastIndexByte(k, '.'); i > 0 && slices.Contains([]string{"one", "few", "many", "other"}, k[i+1:]) {
			base = k[:i]
		}
		if strings.HasPrefix(k, "till.") && used[k] == nil && used[base] == nil {
			t.Errorf("catalog key %q is used by no page", k)
		}
	}
}

// TestPagesKeepNoMinorUnits fails when a page does money arithmetic of
// its own: amounts are shown by I18N.money and read by I18N.parseMoney,
// whose digits come from the store's currency (EUR 2, UZS 0).
func TestPagesKeepNoMinorUnits(t *testing.T) {
	bad := regexp.MustCompile(`toFixed\(2\)|[/*] ?100\b|toLocale(String|TimeString|DateString)\(`)
	files, _ := filepath.Glob("web/*.js")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if code, _, _ := strings.Cut(line, "//"); bad.MatchString(code) {
				t.Errorf("%s:%d formats money or time itself: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
