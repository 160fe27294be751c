package catalogcsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
)

// Columns of the file, in the order Write writes them.
const (
	ColSKU          = "sku"
	ColName         = "name"
	ColBarcodes     = "barcodes"
	ColPrice        = "price"
	ColTaxRate      = "tax_rate"
	ColUnit         = "unit"
	ColOpeningStock = "opening_stock"
	ColReorderPoint = "reorder_point"
	// ColCost is the cost price, in the price's format (per kg for kg
	// products). A row without one keeps the catalog's cost.
	ColCost = "cost"
)

var (
	required = []string{ColSKU, ColName, ColBarcodes, ColPrice, ColTaxRate, ColUnit}
	optional = []string{ColOpeningStock, ColReorderPoint, ColCost}
)

// Defaults of Options.
const (
	DefaultMaxBytes = 8 << 20
	DefaultMaxRows  = 100_000
	// MaxProblems is how many problems a report lists before it stops
	// reading: a file that is wrong throughout says so in the first ones.
	MaxProblems = 1000
)

// ErrTooLarge is returned (inside *Error) for a file over Options.MaxBytes.
var ErrTooLarge = errors.New("catalogcsv: file too large")

// Options says how to read a file. The zero value reads EUR prices, any
// tax rate, DefaultMaxBytes and DefaultMaxRows.
type Options struct {
	// Currency of the store (ISO 4217); prices are read with its number
	// of decimals. Empty means EUR.
	Currency string
	// TaxRates, if not empty, are the store's tax rates in basis points;
	// any other rate is refused as unknown.
	TaxRates []int32
	// MaxBytes and MaxRows bound the file; zero means the defaults.
	MaxBytes int64
	MaxRows  int
	// Updated is stamped on every product (Unix ms, informational).
	Updated int64
}

func (o Options) currency() string {
	if o.Currency == "" {
		return "EUR"
	}
	return o.Currency
}

// Row is one good row of the file.
type Row struct {
	Line    int
	Product crdt.Product
	// Opening is the opening stock in stock units (pieces, or grams for
	// kg products); HasOpening says the field was filled in.
	Opening    int64
	HasOpening bool
	// HasCost says the cost field was filled in.
	HasCost bool
}

// Problem is one bad row (or the header: Line 1, or the file: Line 0).
type Problem struct {
	Line   int    `json:"line"`
	SKU    string `json:"sku,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	switch {
	case p.Line == 0:
		return p.Reason
	case p.SKU != "":
		return fmt.Sprintf("line %d (sku %s): %s", p.Line, p.SKU, p.Reason)
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
}

// Error lists every problem found; nothing may be applied.
type Error struct {
	Problems  []Problem
	Truncated bool // more problems than MaxProblems; reading stopped
	tooLarge  bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "catalog file: %d problems, nothing imported", len(e.Problems))
	if e.Truncated {
		b.WriteString(" (stopped reading after the first ones)")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrTooLarge.
func (e *Error) Unwrap() error {
	if e.tooLarge {
		return ErrTooLarge
	}
	return nil
}

// countingReader fails once more than limit bytes were read.
type countingReader struct {
	r     io.Reader
	left  int64
	limit int64
	over  bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.over = true
		return 0, fmt.Errorf("over %d bytes", c.limit)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left <= 0 && err == nil {
		// One more byte tells a file of exactly limit bytes from a longer one.
		var one [1]byte
		m, _ := c.r.Read(one[:])
		if m > 0 {
			c.over = true
			return n, fmt.Errorf("over %d bytes", c.limit)
		}
		return n, io.EOF
	}
	return n, err
}

// Parse reads a catalog file. It returns the rows, or an *Error listing
// every problem. With an *Error it also returns the good rows, if the
// header was good, so that a caller can look for more problems in them
// (MakePlan); they must not be applied.
func Parse(r io.Reader, o Options) ([]Row, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	digits, err := currencyDigits(o.currency())
	if err != nil {
		return nil, &Error{Problems: []Problem{{Reason: err.Error()}}}
	}
	cr := &countingReader{r: r, left: o.MaxBytes, limit: o.MaxBytes}
	rd := csv.NewReader(cr)
	rd.FieldsPerRecord = -1
	rd.ReuseRecord = true
	p := &parser{o: o, digits: digits, cr: cr, rd: rd, e: &Error{}, col: map[string]int{},
		skuLine: map[string]int{}, barcodeOwner: map[string]string{}}

	header, err := rd.Read()
	switch {
	case cr.over:
		return p.tooLarge()
	case errors.Is(err, io.EOF):
		p.add(1, "", "the file is empty: it needs a header row %s", strings.Join(append(slices.Clone(required), optional...), ","))
		return nil, p.e
	case err != nil:
		p.add(1, "", "header: %v", csvReason(err))
		return nil, p.e
	}
	if !p.header(header) {
		return nil, p.e
	}
	rows, over := p.rows(len(header))
	if over {
		return p.tooLarge()
	}
	if p.e.Truncated {
		// Reading stopped early; a file over the limit still says so.
		if _, err := io.Copy(io.Discard, cr); err != nil && cr.over {
			return p.tooLarge()
		}
	}
	if len(p.e.Problems) > 0 {
		return rows, p.e
	}
	if len(rows) == 0 {
		p.add(0, "", "the file has a header but no products")
		return nil, p.e
	}
	return rows, nil
}

// parser is one Parse under way.
type parser struct {
	o            Options
	digits       int
	cr           *countingReader
	rd           *csv.Reader
	e            *Error
	col          map[string]int // column name -> index+1 (0: absent)
	skuLine      map[string]int
	barcodeOwner map[string]string
}

// add records a problem; false once MaxProblems are recorded.
func (p *parser) add(line int, sku, format string, args ...any) bool {
	if len(p.e.Problems) >= MaxProblems {
		p.e.Truncated = true
		return false
	}
	p.e.Problems = append(p.e.Problems, Problem{Line: line, SKU: sku, Reason: fmt.Sprintf(format, args...)})
	return true
}

func (p *parser) tooLarge() ([]Row, error) {
	e := p.e
	e.Problems = append(e.Problems[:0], Problem{Reason: fmt.Sprintf("the file is larger than %d MB: split it into smaller files", p.o.MaxBytes>>20)})
	if p.o.MaxBytes < 1<<20 {
		e.Problems[0].Reason = fmt.Sprintf("the file is larger than %d bytes: split it into smaller files", p.o.MaxBytes)
	}
	e.tooLarge = true
	return nil, e
}

// header reads the column names; false if the header has problems.
func (p *parser) header(header []string) bool {
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !slices.Contains(required, name) && !slices.Contains(optional, name):
			p.add(1, "", "header: unknown column %q (columns: %s)", h, strings.Join(append(slices.Clone(required), optional...), ", "))
		case p.col[name] != 0:
			p.add(1, "", "header: column %q twice", name)
		default:
			p.col[name] = i + 1 // 0 means absent
		}
	}
	for _, name := range required {
		if p.col[name] == 0 {
			p.add(1, "", "header: no column %q (required: %s)", name, strings.Join(required, ", "))
		}
	}
	return len(p.e.Problems) == 0
}

func (p *parser) field(rec []string, name string) string {
	i := p.col[name]
	if i == 0 || i > len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i-1])
}

// rows reads the products after the header: the good rows, and whether
// the file went over its size limit.
func (p *parser) rows(fields int) (rows []Row, over bool) {
	n := 0
	for {
		rec, err := p.rd.Read()
		if p.cr.over {
			return nil, true
		}
		if errors.Is(err, io.EOF) {
			return rows, false
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			if !p.add(line, "", "%s", csvReason(err)) || pe == nil {
				return rows, false // not a CSV syntax error: the reader cannot go on
			}
			continue
		}
		line, _ := p.rd.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if n++; n > p.o.MaxRows {
			p.add(line, "", "more than %d products: split the file", p.o.MaxRows)
			return rows, false
		}
		if len(rec) != fields {
			if !p.add(line, p.field(rec, ColSKU), "%d fields, the header has %d", len(rec), fields) {
				return rows, false
			}
			continue
		}
		row, problems := parseRow(line, func(name string) string { return p.field(rec, name) }, p.o, p.digits)
		problems = append(problems, p.duplicates(row, line)...)
		for _, pr := range problems {
			if !p.add(line, row.Product.SKU, "%s", pr) {
				return rows, false
			}
		}
		if len(problems) == 0 {
			rows = append(rows, row)
		}
	}
}

// duplicates lists a row's SKU or barcodes that an earlier row has.
func (p *parser) duplicates(row Row, line int) []string {
	var problems []string
	sku := row.Product.SKU
	if sku != "" {
		if first, dup := p.skuLine[sku]; dup {
			problems = append(problems, fmt.Sprintf("duplicate sku: also on line %d", first))
		} else {
			p.skuLine[sku] = line
		}
	}
	for _, b := range row.Product.Barcodes {
		if other, dup := p.barcodeOwner[b]; dup && other != sku {
			problems = append(problems, fmt.Sprintf("barcode %s is also on sku %s", b, other))
		} else {
			p.barcodeOwner[b] = sku
		}
	}
	return problems
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "not valid CSV: " + pe.Err.Error()
	}
	return err.Error()
}

// parseRow reads one row's fields; it returns every problem it finds.
func parseRow(line int, f func(string) string, o Options, digits int) (Row, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	p := crdt.Product{SKU: f(ColSKU), Name: f(ColName), Currency: o.currency(), Unit: ledger.Unit(strings.ToLower(f(ColUnit))), Updated: o.Updated}
	if p.SKU == "" {
		bad("no sku")
	}
	if p.Name == "" {
		bad("no name")
	}
	if b := f(ColBarcodes); b != "" {
		for _, code := range strings.FieldsFunc(b, func(r rune) bool { return r == ' ' || r == '|' || r == '\t' }) {
			if err := CheckBarcode(code); err != nil {
				bad("%v", err)
				continue
			}
			if slices.Contains(p.Barcodes, code) {
				bad("barcode %s listed twice", code)
				continue
			}
			p.Barcodes = append(p.Barcodes, code)
		}
	}
	if price, err := ParseAmount(f(ColPrice), digits); err != nil {
		bad("price %q: %v", f(ColPrice), err)
	} else {
		p.Price = ledger.Money(price)
	}
	if rate, err := ParseTaxRate(f(ColTaxRate)); err != nil {
		bad("tax rate %q: %v", f(ColTaxRate), err)
	} else if len(o.TaxRates) > 0 && !slices.Contains(o.TaxRates, rate) {
		bad("unknown tax rate %s: the store's rates are %s", f(ColTaxRate), formatRates(o.TaxRates))
	} else {
		p.TaxRate = ledger.TaxRate(rate)
	}
	var stockDigits int
	switch p.Unit {
	case ledger.Each:
	case ledger.Kilogram:
		stockDigits = 3 // grams
	default:
		bad("unit %q: want ea or kg", f(ColUnit))
	}
	r := Row{Line: line}
	if s := f(ColOpeningStock); s != "" {
		q, err := ParseAmount(s, stockDigits)
		switch {
		case err != nil:
			bad("opening stock %q: %v", s, err)
		case q > 0:
			r.Opening, r.HasOpening = q, true
		}
	}
	if s := f(ColReorderPoint); s != "" {
		q, err := ParseAmount(s, stockDigits)
		if err != nil {
			bad("reorder point %q: %v", s, err)
		} else {
			p.Reorder = q
		}
	}
	if s := f(ColCost); s != "" {
		c, err := ParseAmount(s, digits)
		if err != nil {
			bad("cost %q: %v", s, err)
		} else {
			p.Cost, r.HasCost = ledger.Money(c), true
		}
	}
	if len(problems) == 0 {
		if err := p.Validate(); err != nil {
			bad("%v", strings.TrimSuffix(err.Error(), ": "+crdt.ErrInvalid.Error()))
		}
	}
	r.Product = p
	return r, problems
}

// maxAmount bounds prices and quantities (minor units): a trillion.
const maxAmount = 1_000_000_000_000

// ParseAmount reads a non-negative decimal such as "19.99" with at most
// digits decimals into an integer of 10^-digits units ("19.99", 2 ->
// 1999). A comma as the decimal mark, thousands separators, signs and
// exponents are refused with a reason.
func ParseAmount(s string, digits int) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("negative")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if strings.Contains(s, ",") {
		return 0, errors.New("use a point as the decimal mark and no thousands separators")
	}
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || (hasDot && frac == "") {
		return 0, errors.New("not a number like 19.99")
	}
	if len(frac) > digits {
		if digits == 0 {
			return 0, errors.New("no decimals allowed here")
		}
		return 0, fmt.Errorf("more than %d decimals", digits)
	}
	if len(whole) > 13 {
		return 0, errors.New("too large")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errors.New("too large")
	}
	v := w
	for i := 0; i < digits; i++ {
		v *= 10
		if i < len(frac) {
			v += int64(frac[i] - '0')
		}
	}
	if v > maxAmount {
		return 0, errors.New("too large")
	}
	return v, nil
}

// FormatAmount is ParseAmount's inverse.
func FormatAmount(v int64, digits int) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if digits == 0 {
		return sign + strconv.FormatInt(v, 10)
	}
	p := int64(1)
	for range digits {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/p, digits, v%p)
}

// ParseTaxRate reads a percentage ("19", "8.25", "19%") into basis points.
func ParseTaxRate(s string) (int32, error) {
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	v, err := ParseAmount(s, 2)
	if err != nil {
		return 0, err
	}
	if v > 10000 {
		return 0, errors.New("above 100%")
	}
	return int32(v), nil
}

func formatRate(bp int32) string {
	s := FormatAmount(int64(bp), 2)
	s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	return s
}

func formatRates(rs []int32) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = formatRate(r) + "%"
	}
	return strings.Join(out, ", ")
}

// CheckBarcode is ledger/basket's barcode rule (basket.CheckBarcode):
// 1-64 printable ASCII characters without spaces, and a right GS1 check
// digit on codes of 8, 12, 13 or 14 digits.
func CheckBarcode(code string) error { return basket.CheckBarcode(code) }

// currencyDigits is the number of minor-unit decimals of an ISO 4217
// currency: 2 unless listed.
func currencyDigits(c string) (int, error) {
	if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return 0, fmt.Errorf("currency %q is not an ISO 4217 code", c)
	}
	switch c {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0, nil
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3, nil
	}
	return 2, nil
}

// ---- the plan: what an import would change ----

// Kind of change a row makes.
type Kind string

// Kinds of change.
const (
	Added     Kind = "added"
	Changed   Kind = "changed"
	Unchanged Kind = "unchanged"
)

// Change is what one row does to the catalog.
type Change struct {
	Line   int      `json:"line"`
	SKU    string   `json:"sku"`
	Name   string   `json:"name"`
	Kind   Kind     `json:"kind"`
	Fields []string `json:"fields,omitempty"` // what a changed row changes
	// Opening is the opening stock received for an added product (stock
	// units); an opening stock on an existing product is ignored and
	// OpeningIgnored says so.
	Opening        int64 `json:"opening_stock,omitempty"`
	OpeningIgnored bool  `json:"opening_stock_ignored,omitempty"`
}

// Plan is an import worked out against the current catalog.
type Plan struct {
	Added, Changed, Unchanged int
	Changes                   []Change
	// Write are the products to store (added and changed ones).
	Write []crdt.Product
	// Opening maps SKU to the opening stock to receive.
	Opening map[string]int64
}

// Merge adds b's problems to a's, in line order; either may be nil.
func Merge(a, b *Error) *Error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	m := &Error{Problems: append(slices.Clone(a.Problems), b.Problems...), Truncated: a.Truncated || b.Truncated, tooLarge: a.tooLarge || b.tooLarge}
	sort.SliceStable(m.Problems, func(i, j int) bool { return m.Problems[i].Line < m.Problems[j].Line })
	return m
}

// MakePlan compares rows with the current catalog. A barcode of a row that
// belongs to a product the file does not list (or lists without it) is a
// problem: a scan would find two products.
func MakePlan(rows []Row, current []crdt.Product) (*Plan, error) {
	bySKU := make(map[string]crdt.Product, len(current))
	owner := map[string]string{}
	for _, p := range current {
		bySKU[p.SKU] = p
		for _, b := range p.Barcodes {
			owner[b] = p.SKU
		}
	}
	inFile := make(map[string]bool, len(rows))
	for _, r := range rows {
		inFile[r.Product.SKU] = true
		// The file's barcodes replace the product's own.
		if old, ok := bySKU[r.Product.SKU]; ok {
			for _, b := range old.Barcodes {
				if owner[b] == old.SKU {
					delete(owner, b)
				}
			}
		}
	}
	e := &Error{}
	plan := &Plan{Opening: map[string]int64{}}
	for _, r := range rows {
		for _, b := range r.Product.Barcodes {
			if other, ok := owner[b]; ok && other != r.Product.SKU {
				if len(e.Problems) < MaxProblems {
					e.Problems = append(e.Problems, Problem{Line: r.Line, SKU: r.Product.SKU,
						Reason: fmt.Sprintf("barcode %s belongs to sku %s (%s) in the catalog", b, other, bySKU[other].Name)})
				} else {
					e.Truncated = true
				}
			}
		}
		c := Change{Line: r.Line, SKU: r.Product.SKU, Name: r.Product.Name}
		old, exists := bySKU[r.Product.SKU]
		switch {
		case !exists:
			c.Kind = Added
			plan.Added++
			plan.Write = append(plan.Write, r.Product)
			if r.HasOpening {
				c.Opening = r.Opening
				plan.Opening[r.Product.SKU] = r.Opening
			}
		default:
			if !r.HasCost { // a row without a cost keeps the catalog's
				r.Product.Cost = old.Cost
			}
			c.Fields = diff(old, r.Product)
			c.OpeningIgnored = r.HasOpening
			if len(c.Fields) == 0 {
				c.Kind = Unchanged
				plan.Unchanged++
			} else {
				c.Kind = Changed
				plan.Changed++
				plan.Write = append(plan.Write, r.Product)
			}
		}
		plan.Changes = append(plan.Changes, c)
	}
	if len(e.Problems) > 0 {
		return nil, e
	}
	return plan, nil
}

// diff names the fields in which b differs from a.
func diff(a, b crdt.Product) []string {
	var f []string
	if a.Name != b.Name {
		f = append(f, ColName)
	}
	if !slices.Equal(a.Barcodes, b.Barcodes) {
		f = append(f, ColBarcodes)
	}
	if a.Price != b.Price || a.Currency != b.Currency {
		f = append(f, ColPrice)
	}
	if a.TaxRate != b.TaxRate {
		f = append(f, ColTaxRate)
	}
	if a.Unit != b.Unit {
		f = append(f, ColUnit)
	}
	if a.Reorder != b.Reorder {
		f = append(f, ColReorderPoint)
	}
	if a.Cost != b.Cost {
		f = append(f, ColCost)
	}
	return f
}

// Write writes products as a catalog file (without opening stock), sorted
// by SKU, with prices in currency's format. Parse reads it back to the
// same products.
func Write(w io.Writer, products []crdt.Product, currency string) error {
	if currency == "" {
		currency = "EUR"
	}
	digits, err := currencyDigits(currency)
	if err != nil {
		return err
	}
	ps := slices.Clone(products)
	sort.Slice(ps, func(i, j int) bool { return ps[i].SKU < ps[j].SKU })
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{ColSKU, ColName, ColBarcodes, ColPrice, ColTaxRate, ColUnit, ColReorderPoint, ColCost}); err != nil {
		return err
	}
	for _, p := range ps {
		pd := digits
		if p.Currency != "" && p.Currency != currency {
			if pd, err = currencyDigits(p.Currency); err != nil {
				return fmt.Errorf("product %s: %w", p.SKU, err)
			}
		}
		stockDigits := 0
		if p.Unit == ledger.Kilogram {
			stockDigits = 3
		}
		reorder := ""
		if p.Reorder > 0 {
			reorder = FormatAmount(p.Reorder, stockDigits)
		}
		cost := ""
		if p.Cost > 0 {
			cost = FormatAmount(int64(p.Cost), pd)
		}
		if err := cw.Write([]string{p.SKU, p.Name, strings.Join(p.Barcodes, " "), FormatAmount(int64(p.Price), pd),
			formatRate(int32(p.TaxRate)), string(p.Unit), reorder, cost}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
