package catalogcsv_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/crdt/catalogcsv"
	"github.com/tillmesh/tillmesh/ledger"
)

const header = "sku,name,barcodes,price,tax_rate,unit,opening_stock,reorder_point\n"

func TestParseGood(t *testing.T) {
	in := header +
		"10001,Whole milk 1l,4006381333931,1.29,7,ea,48,12\n" +
		"20001,Apples,,2.5,7%,KG,10.5,2.25\n" +
		"30001,\"Coffee, ground\",4006381333931x|96385074 ,19.99,19,ea,,\n" +
		"\n"
	rows, err := catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{Updated: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []catalogcsv.Row{
		{Line: 2, Opening: 48, HasOpening: true, Product: crdt.Product{SKU: "10001", Name: "Whole milk 1l", Barcodes: []string{"4006381333931"},
			Price: 129, Currency: "EUR", TaxRate: 700, Unit: ledger.Each, Reorder: 12, Updated: 5}},
		{Line: 3, Opening: 10500, HasOpening: true, Product: crdt.Product{SKU: "20001", Name: "Apples",
			Price: 250, Currency: "EUR", TaxRate: 700, Unit: ledger.Kilogram, Reorder: 2250, Updated: 5}},
		{Line: 4, Product: crdt.Product{SKU: "30001", Name: "Coffee, ground", Barcodes: []string{"4006381333931x", "96385074"},
			Price: 1999, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each, Updated: 5}},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if fmt.Sprint(rows[i]) != fmt.Sprint(want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}
}

func TestParseColumnsAnyOrderOptionalAbsent(t *testing.T) {
	in := "Unit,Price,SKU,Name,Tax_Rate,Barcodes\nea,1000,A1,Widget,0,\n"
	rows, err := catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{Currency: "JPY"})
	if err != nil {
		t.Fatal(err)
	}
	if p := rows[0].Product; p.SKU != "A1" || p.Price != 1000 || p.Currency != "JPY" || rows[0].HasOpening {
		t.Errorf("got %+v", rows[0])
	}
}

// TestParseBad: every bad row is reported with its line and reason, and
// no rows come back.
func TestParseBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		opt  catalogcsv.Options
		want []string // substrings of the problems, in order
	}{
		{"empty", "", catalogcsv.Options{}, []string{"line 1: the file is empty"}},
		{"no header", "10001,Milk,,1.29,7,ea\n", catalogcsv.Options{}, []string{`unknown column "10001"`}},
		{"missing column", "sku,name,price,tax_rate,unit\nA,B,1,7,ea\n", catalogcsv.Options{}, []string{`line 1: header: no column "barcodes"`}},
		{"column twice", "sku,name,barcodes,price,tax_rate,unit,sku\n", catalogcsv.Options{}, []string{`column "sku" twice`}},
		{"header only", header, catalogcsv.Options{}, []string{"header but no products"}},
		{"duplicate sku", header + "A,One,,1,7,ea,,\nB,Two,,1,7,ea,,\nA,Three,,1,7,ea,,\n", catalogcsv.Options{},
			[]string{"line 4 (sku A): duplicate sku: also on line 2"}},
		{"bad check digit", header + "A,One,4006381333932,1,7,ea,,\n", catalogcsv.Options{},
			[]string{"line 2 (sku A): barcode 4006381333932: wrong check digit 2 (want 1)"}},
		{"barcode twice in file", header + "A,One,96385074,1,7,ea,,\nB,Two,96385074,1,7,ea,,\n", catalogcsv.Options{},
			[]string{"line 3 (sku B): barcode 96385074 is also on sku A"}},
		{"negative price", header + "A,One,,-1.00,7,ea,,\n", catalogcsv.Options{}, []string{`line 2 (sku A): price "-1.00": negative`}},
		{"comma price", header + "A,One,,\"1,99\",7,ea,,\n", catalogcsv.Options{}, []string{"decimal mark"}},
		{"too many decimals", header + "A,One,,1.999,7,ea,,\n", catalogcsv.Options{}, []string{"more than 2 decimals"}},
		{"yen decimals", header + "A,One,,1.5,7,ea,,\n", catalogcsv.Options{Currency: "JPY"}, []string{"no decimals allowed"}},
		{"unknown tax rate", header + "A,One,,1,7,ea,,\nB,Two,,1,16,ea,,\n", catalogcsv.Options{TaxRates: []int32{700, 1900}},
			[]string{"line 3 (sku B): unknown tax rate 16: the store's rates are 7%, 19%"}},
		{"tax above 100", header + "A,One,,1,101,ea,,\n", catalogcsv.Options{}, []string{"above 100%"}},
		{"bad unit", header + "A,One,,1,7,box,,\n", catalogcsv.Options{}, []string{`unit "box": want ea or kg`}},
		{"fractional pieces", header + "A,One,,1,7,ea,1.5,\n", catalogcsv.Options{}, []string{`opening stock "1.5": no decimals`}},
		{"bad sku", header + "a/b,One,,1,7,ea,,\n", catalogcsv.Options{}, []string{"line 2 (sku a/b): product sku"}},
		{"fields", header + "A,One,,1,7\n", catalogcsv.Options{}, []string{"line 2 (sku A): 5 fields, the header has 8"}},
		{"bad quote", header + "A,\"One,,1,7,ea,,\n", catalogcsv.Options{}, []string{"line 2: not valid CSV"}},
		{"every problem of a row and of every row", header + ",,,x,y,z,,\nB,,,,,,,\n", catalogcsv.Options{},
			[]string{"line 2: no sku", "line 2: no name", `price "x"`, `tax rate "y"`, `unit "z"`,
				"line 3 (sku B): no name", `price ""`, `tax rate ""`, `unit ""`}},
		{"too many rows", header + "A,One,,1,7,ea,,\nB,Two,,1,7,ea,,\nC,Three,,1,7,ea,,\n", catalogcsv.Options{MaxRows: 2},
			[]string{"line 4: more than 2 products"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := catalogcsv.Parse(strings.NewReader(tc.in), tc.opt)
			var e *catalogcsv.Error
			if !errors.As(err, &e) {
				t.Fatalf("got rows %v, err %v; want *Error", rows, err)
			}
			for _, r := range rows {
				for _, p := range e.Problems {
					if p.Line == r.Line {
						t.Errorf("line %d is both a good row and a problem", r.Line)
					}
				}
			}
			got := make([]string, len(e.Problems))
			for i, p := range e.Problems {
				got[i] = p.String()
			}
			j := 0
			for _, g := range got {
				if j < len(tc.want) && strings.Contains(g, tc.want[j]) {
					j++
				}
			}
			if j != len(tc.want) {
				t.Errorf("problems:\n  %s\nwant, in order, ones containing %q", strings.Join(got, "\n  "), tc.want)
			}
		})
	}
}

// endless is a CSV file of any length that is never held in memory.
type endless struct {
	row  []byte
	left int64
	read int64
	off  int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && e.left > 0 {
		c := copy(p[n:], e.row[e.off:])
		if int64(c) > e.left {
			c = int(e.left)
		}
		n += c
		e.left -= int64(c)
		e.off = (e.off + c) % len(e.row)
	}
	e.read += int64(n)
	return n, nil
}

// TestParseRefusesLargeFile: a 200 MB file is refused after reading just
// over the limit, with a clear error.
func TestParseRefusesLargeFile(t *testing.T) {
	body := &endless{row: []byte("A,One,,1,7,ea,,\n"), left: 200 << 20}
	r := io.MultiReader(strings.NewReader(header), body)
	_, err := catalogcsv.Parse(r, catalogcsv.Options{MaxRows: 1 << 30})
	if !errors.Is(err, catalogcsv.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "larger than 8 MB") {
		t.Errorf("error %q does not say the limit", err)
	}
	if body.read > catalogcsv.DefaultMaxBytes+64<<10 {
		t.Errorf("read %d bytes of a file over the %d limit", body.read, catalogcsv.DefaultMaxBytes)
	}
	// Exactly at the limit is fine.
	in := header + "A,One,,1,7,ea,,\n"
	if _, err := catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{MaxBytes: int64(len(in))}); err != nil {
		t.Errorf("file of exactly MaxBytes: %v", err)
	}
	if _, err := catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{MaxBytes: int64(len(in) - 1)}); !errors.Is(err, catalogcsv.ErrTooLarge) {
		t.Errorf("file one byte over: got %v", err)
	}
}

func TestPlan(t *testing.T) {
	current := []crdt.Product{
		{SKU: "A", Name: "One", Barcodes: []string{"96385074"}, Price: 100, Currency: "EUR", TaxRate: 700, Unit: ledger.Each},
		{SKU: "B", Name: "Two", Price: 200, Currency: "EUR", TaxRate: 700, Unit: ledger.Each},
		{SKU: "C", Name: "Three", Barcodes: []string{"4006381333931"}, Price: 300, Currency: "EUR", TaxRate: 700, Unit: ledger.Each},
	}
	in := header +
		"A,One,96385074,1.00,7,ea,5,\n" + // unchanged; opening stock ignored
		"B,Two,,2.50,19,ea,,\n" + // price and tax changed
		"D,Four,,4,7,ea,12,3\n" // added with opening stock
	rows, err := catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := catalogcsv.MakePlan(rows, current)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Added != 1 || plan.Changed != 1 || plan.Unchanged != 1 {
		t.Errorf("added/changed/unchanged = %d/%d/%d, want 1/1/1", plan.Added, plan.Changed, plan.Unchanged)
	}
	if got := fmt.Sprint(plan.Changes[1].Fields); got != "[price tax_rate]" {
		t.Errorf("B's changed fields: %s", got)
	}
	if !plan.Changes[0].OpeningIgnored || plan.Opening["D"] != 12 || len(plan.Opening) != 1 {
		t.Errorf("opening stock: changes %+v, opening %v", plan.Changes, plan.Opening)
	}
	var skus []string
	for _, p := range plan.Write {
		skus = append(skus, p.SKU)
	}
	if !slices.Equal(skus, []string{"B", "D"}) {
		t.Errorf("writes %v, want [B D]", skus)
	}

	// A barcode that another catalog product keeps is a problem...
	in = header + "D,Four,4006381333931,4,7,ea,,\n"
	rows, _ = catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{})
	if _, err := catalogcsv.MakePlan(rows, current); err == nil || !strings.Contains(err.Error(), "line 2 (sku D): barcode 4006381333931 belongs to sku C (Three)") {
		t.Errorf("got %v", err)
	}
	// ...unless the file moves it away from that product.
	in = header + "D,Four,4006381333931,4,7,ea,,\nC,Three,,3,7,ea,,\n"
	rows, _ = catalogcsv.Parse(strings.NewReader(in), catalogcsv.Options{})
	if _, err := catalogcsv.MakePlan(rows, current); err != nil {
		t.Errorf("barcode moved within the file: %v", err)
	}
}

// TestWriteParseRoundTrip: export then import gives the same products and
// an all-unchanged plan.
func TestWriteParseRoundTrip(t *testing.T) {
	ps := []crdt.Product{
		{SKU: "B", Name: `Coffee "Crema", 1kg`, Barcodes: []string{"4006381333931", "INT-7"}, Price: 1999, Currency: "EUR", TaxRate: 1900, Unit: ledger.Each, Reorder: 4},
		{SKU: "A", Name: "Cheese", Price: 1234, Currency: "EUR", TaxRate: 825, Unit: ledger.Kilogram, Reorder: 1500, Cost: 899},
		{SKU: "C", Name: "Free", Currency: "EUR", Unit: ledger.Each},
	}
	var buf bytes.Buffer
	if err := catalogcsv.Write(&buf, ps, "EUR"); err != nil {
		t.Fatal(err)
	}
	rows, err := catalogcsv.Parse(&buf, catalogcsv.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	plan, err := catalogcsv.MakePlan(rows, ps)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Unchanged != 3 || len(plan.Write) != 0 {
		t.Errorf("round trip: %+v", plan.Changes)
	}
	if rows[0].Product.Cost != 899 || !rows[0].HasCost || rows[1].HasCost {
		t.Errorf("cost column: %+v %+v", rows[0], rows[1])
	}
}

func TestAmounts(t *testing.T) {
	for _, tc := range []struct {
		in     string
		digits int
		want   int64
		ok     bool
	}{
		{"19.99", 2, 1999, true}, {"19.9", 2, 1990, true}, {"19", 2, 1900, true}, {"0.05", 2, 5, true},
		{"1.234", 3, 1234, true}, {"7", 0, 7, true}, {"007.50", 2, 750, true},
		{"", 2, 0, false}, {".5", 2, 0, false}, {"5.", 2, 0, false}, {"1e3", 2, 0, false}, {"+1", 2, 0, false},
		{"1 000", 2, 0, false}, {"99999999999999", 2, 0, false}, {"1.2.3", 2, 0, false},
	} {
		got, err := catalogcsv.ParseAmount(tc.in, tc.digits)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAmount(%q, %d) = %d, %v; want %d, ok %v", tc.in, tc.digits, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, _ := catalogcsv.ParseAmount(catalogcsv.FormatAmount(got, tc.digits), tc.digits); back != got {
				t.Errorf("FormatAmount(%d) does not read back", got)
			}
		}
	}
}

// FuzzParse: any input gives rows that validate or an *Error, never a
// panic, and good rows survive Write and Parse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(header + "10001,Whole milk 1l,4006381333931,1.29,7,ea,48,12\n"))
	f.Add([]byte(header + "A,\"x\"\"y\",1|2 3,0.5,8.25%,kg,1.5,0.25\n"))
	f.Add([]byte("sku,name,barcodes,price,tax_rate,unit\r\nA,B,,1,7,ea\r\n"))
	f.Add([]byte(header + ",,,,,,,\n\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := catalogcsv.Parse(bytes.NewReader(b), catalogcsv.Options{MaxBytes: 1 << 16})
		if err != nil {
			var e *catalogcsv.Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("err %v (%T), rows %d", err, err, len(rows))
			}
			return
		}
		ps := make([]crdt.Product, len(rows))
		for i, r := range rows {
			if err := r.Product.Validate(); err != nil {
				t.Fatalf("row %d does not validate: %v", r.Line, err)
			}
			ps[i] = r.Product
		}
		var buf bytes.Buffer
		if err := catalogcsv.Write(&buf, ps, "EUR"); err != nil {
			t.Fatal(err)
		}
		back, err := catalogcsv.Parse(&buf, catalogcsv.Options{})
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, buf.String())
		}
		if plan, err := catalogcsv.MakePlan(back, ps); err != nil || plan.Unchanged != len(ps) {
			t.Fatalf("round trip changed products: %v %+v", err, plan)
		}
	})
}
