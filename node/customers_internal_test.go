package node

import (
	"errors"
	"os"
	"regexp"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// TestCustomerErrorsUseCatalogKeys fails when a customer error names a
// catalog key the catalogs lack (the page would show ⟦key⟧): the keys
// written in customers.go, and those built from a field's name.
func TestCustomerErrorsUseCatalogKeys(t *testing.T) {
	cat, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("customers.go")
	if err != nil {
		t.Fatal(err)
	}
	keys := regexp.MustCompile(`"(till\.error\.[a-z0-9_.]+)"`).FindAllSubmatch(src, -1)
	if len(keys) < 8 {
		t.Fatalf("found %d keys in customers.go: the pattern no longer matches how errors name them", len(keys))
	}
	for _, m := range keys {
		if k := string(m[1]); k[len(k)-1] != '.' && !cat.Has(k) {
			t.Errorf("customers.go names %s, which the catalogs lack", k)
		}
	}
	for _, f := range crdt.CustomerFields {
		if !cat.Has("till.error.customer_bad." + f.String()) {
			t.Errorf("no catalog message for a bad %s", f)
		}
		if f != crdt.FieldConsent && !cat.Has("till.error.customer_required."+f.String()) {
			t.Errorf("no catalog message for a missing required %s", f)
		}
	}
	for _, tc := range []struct{ in, key string }{
		{"name,nickname", "till.error.required_field_unknown"},
		{"consent", "till.error.required_consent"},
	} {
		_, err := parseRequired(tc.in)
		if ie := (*i18n.Error)(nil); !errors.As(err, &ie) || ie.Key != tc.key {
			t.Errorf("required fields %q: %v, want catalog key %s", tc.in, err, tc.key)
		}
	}
}
