package node_test

import (
	"fmt"
	"testing"
)

// TestBarcodeRulesAgree: a barcode the catalog screen accepts is one the
// cart finds and POST /api/sales sells, GS1 or not. It used to differ:
// the catalog and the cart took internal codes ("SHELF-7", a 10-digit
// code) but the sale refused them as not EAN-13/EAN-8/UPC-A.
func TestBarcodeRulesAgree(t *testing.T) {
	s := newStore(t, 1)
	a := s.start(t, s.tills[0])
	seedStaff(t, a)
	m := login(t, serveUI(t, a), "1", "1234")
	m.must(201, "POST", "/api/products", `{"sku":"shelf-7","name":"Shelf label","barcodes":["SHELF-7","1234567890"],"price":250,"currency":"EUR","tax_rate":1900}`)
	m.must(201, "POST", "/api/products", `{"sku":"upc-1","name":"Imported soda","barcodes":["0036000291452"],"price":120,"currency":"EUR","tax_rate":1900}`)
	for i, code := range []string{"SHELF-7", "1234567890", "036000291452", "0036000291452"} {
		m.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"barcode":%q}`, code))
		m.must(201, "POST", "/api/sales", fmt.Sprintf(`{"idempotency_key":"gs1-%d","lines":[{"barcode":%q,"qty":1}],"tenders":[{"kind":"cash","amount":1000}]}`, i, code))
	}
	// A GTIN-shaped code with a wrong check digit is refused everywhere.
	m.must(400, "POST", "/api/products", `{"sku":"bad-1","name":"Bad","barcodes":["0036000291453"],"price":120,"currency":"EUR","tax_rate":1900}`)
	m.must(400, "POST", "/api/cart/lines", `{"barcode":"036000291453"}`)
	m.must(400, "POST", "/api/sales", `{"idempotency_key":"gs1-bad","lines":[{"barcode":"036000291453","qty":1}],"tenders":[{"kind":"cash","amount":1000}]}`)
}
