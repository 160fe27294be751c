package hqapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeCustomers: the customers decoder never panics, refuses with
// ErrBadRequest, and what it accepts keeps to the limits.
func FuzzDecodeCustomers(f *testing.F) {
	good, _ := json.Marshal(Customers{Customers: []CustomerRecord{
		{Number: "1", Edits: []CustomerEdit{{Field: "name", Value: "Ann", Wall: 1, By: "t"}}},
		{Number: "2", Erased: true, ErasedAt: 5, ErasedBy: "hq"},
	}})
	f.Add(good)
	f.Add([]byte(`{"customers":[{"number":"1"},{"number":"1"}]}`))
	f.Add([]byte(`{"customers":[{"number":"1","erased":true,"edits":[{"field":"name"}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCustomers(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if len(c.Customers) > MaxCustomerBatch {
			t.Fatalf("accepted %d customers", len(c.Customers))
		}
		seen := map[string]bool{}
		for _, r := range c.Customers {
			if r.Number == "" || seen[r.Number] || (r.Erased && len(r.Edits) > 0) {
				t.Fatalf("accepted record %+v", r)
			}
			seen[r.Number] = true
		}
	})
}

func TestDecodeCustomersRefuses(t *testing.T) {
	for _, body := range []string{
		`{"customers":[{"number":""}]}`,
		`{"customers":[{"number":"1"},{"number":"1"}]}`,
		`{"customers":[{"number":"1","erased":true,"edits":[{"field":"name","value":"x"}]}]}`,
		`{"customers":[{"number":"1","edits":[{"field":"notes","value":"` + strings.Repeat("x", maxCustomerValue+1) + `"}]}]}`,
		`{"customers":[]} trailing`,
		`not json`,
	} {
		if _, err := DecodeCustomers([]byte(body)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("DecodeCustomers(%.60s) = %v, want ErrBadRequest", body, err)
		}
	}
}
