package node

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParkedInput checks the parked-sale IDs a cashier or a peer sends:
// parseParkedID accepts only "<till>-<n>" with positive numbers and
// gives them back canonical.
func FuzzParkedID(f *testing.F) {
	for _, s := range []string{"1-3", " 2-17 ", "0-1", "1-0", "x", "1-", "-1", "4294967296-1", "1-18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		till, n, err := parseParkedID(s)
		if err == nil {
			if till == 0 || n == "" || n == "0" || strings.HasPrefix(n, "0") {
				t.Fatalf("parseParkedID(%q) = %d, %q", s, till, n)
			}
			again, n2, err := parseParkedID(fmt.Sprintf("%d-%s", till, n))
			if err != nil || again != till || n2 != n {
				t.Fatalf("parseParkedID(%q) does not round-trip: %d %q %v", s, again, n2, err)
			}
		}
	})
}
