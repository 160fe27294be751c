package ledger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/ledger"
)

// A sale carries only the customer's number; a malformed one is refused
// before anything is signed.
func TestSaleCustomerNumber(t *testing.T) {
	cases := []struct {
		name     string
		customer string
		want     error
	}{
		{"none", "", nil},
		{"digits", "482019376154", nil},
		{"letters and dash", "C-7.a", nil},
		{"longest", strings.Repeat("9", ledger.MaxCustomerLen), nil},
		{"too long", strings.Repeat("9", ledger.MaxCustomerLen+1), ledger.ErrInvalidBody},
		{"slash", "12/34", ledger.ErrInvalidBody},
		{"space", "12 34", ledger.ErrInvalidBody},
		{"leading dash", "-1234", ledger.ErrInvalidBody},
		{"name not number", "Anna Meier", ledger.ErrInvalidBody},
		{"non ascii", "12é", ledger.ErrInvalidBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := sign(t, sale(func(s *ledger.Sale) { s.Customer = tc.customer }))
			if !errors.Is(err, tc.want) {
				t.Fatalf("sign with customer %q: got %v, want %v", tc.customer, err, tc.want)
			}
			if tc.want != nil {
				return
			}
			got, err := ledger.Decode(ev.Bytes())
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if c := got.Body.(*ledger.Sale).Customer; c != tc.customer {
				t.Fatalf("decoded customer %q, want %q", c, tc.customer)
			}
		})
	}
}
