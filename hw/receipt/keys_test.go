package receipt

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Every receipt.* key the code uses (here and in the node's slips and
// fiscal lines) is in the catalogs, so no printout shows a key instead of
// a word; and every receipt.* key of the catalogs is used.
func TestCatalogHasEveryKeyUsed(t *testing.T) {
	c, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`"(receipt\.[a-z0-9_.]+)"`)
	var files []string
	for _, glob := range []string{"*.go", "../../node/*.go"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	used := map[string]bool{}
	for _, f := range files {
		if filepath.Base(f) == "keys_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
			if !c.Has(string(m[1])) {
				t.Errorf("%s uses %s, which no catalog has", f, m[1])
			}
		}
	}
	if len(used) < 50 {
		t.Fatalf("found %d keys: the scan is broken", len(used))
	}
	for _, k := range c.Keys() {
		if len(k) > 8 && k[:8] == "receipt." && !used[k] {
			t.Errorf("catalog key %s is used nowhere", k)
		}
	}
}
