package ledger

import (
	"fmt"
	"unicode/utf8"
)

// Kind names what an event records.
type Kind string

// The kinds of event this version writes and folds. A decoder keeps an
// event of any other well-formed kind as *Unknown (see compat.go).
const (
	KindSale         Kind = "sale"
	KindRefund       Kind = "refund"
	KindVoid         Kind = "void"
	KindShiftOpen    Kind = "shift_open"
	KindShiftClose   Kind = "shift_close"
	KindCashIn       Kind = "cash_in"
	KindCashOut      Kind = "cash_out"
	KindNoSale       Kind = "no_sale"
	KindStockReceive Kind = "stock_receive"
	KindStockAdjust  Kind = "stock_adjust"
	KindStockCount   Kind = "stock_count"
	// KindCartCleared is the first kind after BaseKinds: written only
	// once every till of the store knows it (node's kind gate).
	KindCartCleared Kind = "cart_cleared"
)

// Kinds lists every kind this version knows, in a fixed order. Kinds added
// after the first release go after BaseKinds.
var Kinds = []Kind{KindSale, KindRefund, KindVoid, KindShiftOpen, KindShiftClose,
	KindCashIn, KindCashOut, KindNoSale, KindStockReceive, KindStockAdjust, KindStockCount,
	KindCartCleared, KindCard, KindReturn, // return.go
	KindTransferOut, KindTransferIn}

// BaseKinds are the kinds every release of FormatVersion 1 knows. It never
// grows: a till writes a kind outside it only once every till of its
// store announces a release that knows that kind (node's kind gate), so no
// till's reports ever miss events it cannot read.
var BaseKinds = []Kind{KindSale, KindRefund, KindVoid, KindShiftOpen, KindShiftClose,
	KindCashIn, KindCashOut, KindNoSale, KindStockReceive, KindStockAdjust, KindStockCount}

// IsBaseKind reports whether k is one of BaseKinds.
func IsBaseKind(k Kind) bool {
	for _, b := range BaseKinds {
		if b == k {
			return true
		}
	}
	return false
}

// Body is the typed content of an event: one of *Sale, *Refund, *Void,
// *ShiftOpen, *ShiftClose, *CashIn, *CashOut, *NoSale, *StockReceive,
// *StockAdjust, *StockCount, *CartCleared, or *Unknown for a kind a newer version wrote.
type Body interface {
	Kind() Kind
	// check verifies the rules the body must hold on its own, whatever
	// else is in the ledger. It returns an error wrapping a sentinel.
	check() error
}

// Bounds on bodies. They are far above any real basket and keep every
// computation well inside int64.
const (
	MaxLines    = 500
	MaxTenders  = 16
	MaxQty      = 1_000_000_000  // units, or grams for weighed goods
	MaxPrice    = 10_000_000_000 // minor units per unit: 100 million major units
	MaxTextLen  = 256
	MaxSKULen   = 64
	MaxStaffLen = 32
)

// TenderKind says how a customer paid.
type TenderKind string

const (
	Cash  TenderKind = "cash"
	Card  TenderKind = "card"
	Other TenderKind = "other"
)

// Line is one line of a sale.
type Line struct {
	SKU       string  `cbor:"1,keyasint" json:"sku"`
	Name      string  `cbor:"2,keyasint,omitempty" json:"name,omitempty"`     // as printed on the receipt
	Qty       int64   `cbor:"3,keyasint" json:"qty"`                          // units, or grams for Kilogram
	Unit      Unit    `cbor:"4,keyasint,omitempty" json:"unit,omitempty"`     // empty means Each
	UnitPrice Money   `cbor:"5,keyasint" json:"unit_price"`                   // per unit or per kg
	Discount  Money   `cbor:"6,keyasint,omitempty" json:"discount,omitempty"` // amount off this line
	TaxRate   TaxRate `cbor:"7,keyasint,omitempty" json:"tax_rate,omitempty"`
	// A price override (issue 16): ListPrice is the catalog's price the
	// cashier replaced with UnitPrice, for OverrideReason, approved by
	// OverrideBy. All three are set together or not at all; a release
	// that predates them reads the line at UnitPrice.
	ListPrice      Money  `cbor:"8,keyasint,omitempty" json:"list_price,omitempty"`
	OverrideReason string `cbor:"9,keyasint,omitempty" json:"override_reason,omitempty"`
	OverrideBy     string `cbor:"10,keyasint,omitempty" json:"override_by,omitempty"`
}

// Overridden reports whether the line's price was overridden.
func (l Line) Overridden() bool { return l.OverrideReason != "" }

// checkOverride checks a line's price override fields (see Line).
func (l Line) checkOverride() error {
	if l.OverrideReason == "" && l.ListPrice == 0 && l.OverrideBy == "" {
		return nil
	}
	switch {
	case l.OverrideReason == "":
		return invalid("a price override without a reason")
	case l.ListPrice < 0 || l.ListPrice > MaxPrice:
		return invalid("list price %d outside 0..%d", l.ListPrice, MaxPrice)
	}
	if err := checkText("override reason", l.OverrideReason); err != nil {
		return err
	}
	return checkStaff("override approver", l.OverrideBy, true)
}

// Tender is one payment. For a refund it is money given back.
type Tender struct {
	Kind   TenderKind `cbor:"1,keyasint" json:"kind"`
	Amount Money      `cbor:"2,keyasint" json:"amount"`
	Ref    string     `cbor:"3,keyasint,omitempty" json:"ref,omitempty"` // card terminal reference
}

// Sale records goods sold and how they were paid for. The tenders minus
// the change equal the total exactly; change comes out of cash only.
type Sale struct {
	Currency     string   `cbor:"1,keyasint" json:"currency"`
	TaxIncluded  bool     `cbor:"2,keyasint,omitempty" json:"tax_included,omitempty"` // prices include tax
	Lines        []Line   `cbor:"3,keyasint" json:"lines"`
	CartDiscount Money    `cbor:"4,keyasint,omitempty" json:"cart_discount,omitempty"`
	Tenders      []Tender `cbor:"5,keyasint" json:"tenders"`
	Change       Money    `cbor:"6,keyasint,omitempty" json:"change,omitempty"`
	Staff        string   `cbor:"7,keyasint" json:"staff"`
	Approver     string   `cbor:"8,keyasint,omitempty" json:"approver,omitempty"` // manager who approved a discount above the limit
	// Customer is the number of the customer attached to the sale, if
	// any: only the number, never personal data, so erasing a customer
	// leaves the ledger as it is (see CheckCustomer).
	Customer string `cbor:"9,keyasint,omitempty" json:"customer,omitempty"`
	// RoundStep is the store's cash rounding step in minor units (0: none)
	// and Rounding what it made of the cash part due (rounding.go): the
	// tenders less the change equal Total plus Rounding. Written only past
	// the kind gate for FeatureCashRounding.
	RoundStep Money `cbor:"10,keyasint,omitempty" json:"round_step,omitempty"`
	Rounding  Money `cbor:"11,keyasint,omitempty" json:"rounding,omitempty"`
}

// Refund gives back some or all of a sale's lines, at any till. Each line's
// Amount is what the customer gets back for it (tax included), computed
// with Prorate from what remains of the line when the refund is made.
type Refund struct {
	Sale     EventID      `cbor:"1,keyasint" json:"sale"`
	Currency string       `cbor:"2,keyasint" json:"currency"`
	Lines    []RefundLine `cbor:"3,keyasint" json:"lines"`
	Tenders  []Tender     `cbor:"4,keyasint" json:"tenders"`
	Reason   string       `cbor:"5,keyasint,omitempty" json:"reason,omitempty"`
	Staff    string       `cbor:"6,keyasint" json:"staff"`
	// Grant is the sale owner's grant this refund spends (grant.go); nil
	// for a refund made before grants existed, or an offline spend.
	Grant *GrantRef `cbor:"7,keyasint,omitempty" json:"grant,omitempty"`
	// Offline is set when the owner could not be reached and the store's
	// policy let a supervisor approve the refund without a grant.
	Offline *OfflineSpend `cbor:"8,keyasint,omitempty" json:"offline,omitempty"`
	// RoundStep and Rounding round what a cash refund gives back (see
	// Sale): the tenders equal the lines' total plus Rounding.
	RoundStep Money `cbor:"9,keyasint,omitempty" json:"round_step,omitempty"`
	Rounding  Money `cbor:"10,keyasint,omitempty" json:"rounding,omitempty"`
}

// RefundLine names a line of the sale by its index (0-based) and how many
// of its units come back. SKU and Rate are copied from the sale line so
// that stock and tax folds need no other event.
type RefundLine struct {
	Line   int     `cbor:"1,keyasint" json:"line"`
	SKU    string  `cbor:"2,keyasint" json:"sku"`
	Qty    int64   `cbor:"3,keyasint" json:"qty"`
	Amount Money   `cbor:"4,keyasint" json:"amount"` // what the customer gets back, tax included
	Tax    Money   `cbor:"5,keyasint,omitempty" json:"tax,omitempty"`
	Rate   TaxRate `cbor:"6,keyasint,omitempty" json:"rate,omitempty"`
}

// Void cancels a whole sale: its money goes back through the voiding
// till's drawer and its goods back into stock. A manager must approve it.
// The amounts and lines are copied from the sale when the void is made, so
// folds need no other event; State.CheckLocal checks the copy.
type Void struct {
	Sale     EventID     `cbor:"1,keyasint" json:"sale"`
	Currency string      `cbor:"2,keyasint" json:"currency"`
	Total    Money       `cbor:"3,keyasint" json:"total"`                    // the sale's total
	Cash     Money       `cbor:"4,keyasint,omitempty" json:"cash,omitempty"` // cash the sale left in a drawer: cash tendered less change
	Bands    []TaxBand   `cbor:"5,keyasint,omitempty" json:"bands,omitempty"`
	Lines    []StockLine `cbor:"6,keyasint" json:"lines"` // goods back into stock
	Manager  string      `cbor:"7,keyasint" json:"manager"`
	Reason   string      `cbor:"8,keyasint,omitempty" json:"reason,omitempty"`
	Staff    string      `cbor:"9,keyasint,omitempty" json:"staff,omitempty"`
	// Rounding is the sale's cash rounding, copied: the void gives back
	// Total plus Rounding, Cash of it in cash.
	Rounding Money `cbor:"10,keyasint,omitempty" json:"rounding,omitempty"`
}

// ShiftOpen starts a shift on the till with a cash float in the drawer.
type ShiftOpen struct {
	Currency string `cbor:"1,keyasint" json:"currency"`
	Float    Money  `cbor:"2,keyasint" json:"float"`
	Staff    string `cbor:"3,keyasint" json:"staff"`
}

// Denomination is a count of notes or coins of one value.
type Denomination struct {
	Value Money `cbor:"1,keyasint" json:"value"`
	Count int64 `cbor:"2,keyasint" json:"count"`
}

// ShiftClose ends the till's open shift with the cash counted in the
// drawer, by denomination.
type ShiftClose struct {
	Currency string         `cbor:"1,keyasint" json:"currency"`
	Counted  []Denomination `cbor:"2,keyasint" json:"counted"`
	Staff    string         `cbor:"3,keyasint" json:"staff"`
}

// CountedCash is the total of the counted denominations.
func (c *ShiftClose) CountedCash() Money {
	var t Money
	for _, d := range c.Counted {
		t += d.Value * Money(d.Count) // bounded by check
	}
	return t
}

// CashIn puts cash into the drawer outside a sale.
type CashIn struct {
	Currency string `cbor:"1,keyasint" json:"currency"`
	Amount   Money  `cbor:"2,keyasint" json:"amount"`
	Reason   string `cbor:"3,keyasint" json:"reason"`
	Staff    string `cbor:"4,keyasint" json:"staff"`
}

// CashOut takes cash out of the drawer outside a sale.
type CashOut struct {
	Currency string `cbor:"1,keyasint" json:"currency"`
	Amount   Money  `cbor:"2,keyasint" json:"amount"`
	Reason   string `cbor:"3,keyasint" json:"reason"`
	Staff    string `cbor:"4,keyasint" json:"staff"`
}

// NoSale records opening the drawer without a sale.
type NoSale struct {
	Reason string `cbor:"1,keyasint,omitempty" json:"reason,omitempty"`
	Staff  string `cbor:"2,keyasint" json:"staff"`
}

// CartCleared records a cart that had lines and was cleared without a
// sale: the lines as they were priced, the total the screen showed, who
// cleared it and why. Nothing moves (no stock, no money); reports count
// cleared carts and their value per cashier (Report.ClearedBy), the
// common sign of shrinkage at a till. It takes no receipt number.
type CartCleared struct {
	Currency string `cbor:"1,keyasint" json:"currency"`
	Lines    []Line `cbor:"2,keyasint" json:"lines"`
	Total    Money  `cbor:"3,keyasint" json:"total"`
	Staff    string `cbor:"4,keyasint" json:"staff"`
	Reason   string `cbor:"5,keyasint,omitempty" json:"reason,omitempty"`
}

// StockLine is a quantity of one SKU.
type StockLine struct {
	SKU string `cbor:"1,keyasint" json:"sku"`
	Qty int64  `cbor:"2,keyasint" json:"qty"` // units, or grams for weighed goods
}

// StockReceive records goods received into the store.
type StockReceive struct {
	Lines []StockLine `cbor:"1,keyasint" json:"lines"`
	Ref   string      `cbor:"2,keyasint,omitempty" json:"ref,omitempty"` // delivery note
	Staff string      `cbor:"3,keyasint" json:"staff"`
}

// StockAdjust changes stock for a reason (damage, theft, found). Quantities
// may be negative but not zero.
type StockAdjust struct {
	Lines  []StockLine `cbor:"1,keyasint" json:"lines"`
	Reason string      `cbor:"2,keyasint" json:"reason"`
	Staff  string      `cbor:"3,keyasint" json:"staff"`
}

// CountLine is one SKU's physical count: Counted found, Expected the stock
// the till believed in. The movement is Counted - Expected.
type CountLine struct {
	SKU      string `cbor:"1,keyasint" json:"sku"`
	Counted  int64  `cbor:"2,keyasint" json:"counted"`
	Expected int64  `cbor:"3,keyasint" json:"expected"`
}

// StockCount records a physical count.
type StockCount struct {
	Lines []CountLine `cbor:"1,keyasint" json:"lines"`
	Staff string      `cbor:"2,keyasint" json:"staff"`
}

func (*Sale) Kind() Kind         { return KindSale }
func (*Refund) Kind() Kind       { return KindRefund }
func (*Void) Kind() Kind         { return KindVoid }
func (*ShiftOpen) Kind() Kind    { return KindShiftOpen }
func (*ShiftClose) Kind() Kind   { return KindShiftClose }
func (*CashIn) Kind() Kind       { return KindCashIn }
func (*CashOut) Kind() Kind      { return KindCashOut }
func (*NoSale) Kind() Kind       { return KindNoSale }
func (*StockReceive) Kind() Kind { return KindStockReceive }
func (*StockAdjust) Kind() Kind  { return KindStockAdjust }
func (*StockCount) Kind() Kind   { return KindStockCount }
func (*CartCleared) Kind() Kind  { return KindCartCleared }

func (s *Sale) check() error {
	if err := checkCurrency(s.Currency); err != nil {
		return err
	}
	if err := checkStaff("staff", s.Staff, true); err != nil {
		return err
	}
	if err := checkStaff("approver", s.Approver, false); err != nil {
		return err
	}
	if s.Customer != "" {
		if err := CheckCustomer(s.Customer); err != nil {
			return err
		}
	}
	if len(s.Lines) == 0 || len(s.Lines) > MaxLines {
		return invalid("%d lines, want 1..%d", len(s.Lines), MaxLines)
	}
	for i, l := range s.Lines {
		if err := checkSKU(l.SKU); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if err := checkText("name", l.Name); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		switch {
		case l.Qty <= 0:
			return invalid("line %d: quantity %d, must be positive", i+1, l.Qty)
		case l.Qty > MaxQty:
			return invalid("line %d: quantity %d above %d", i+1, l.Qty, MaxQty)
		case l.UnitPrice < 0 || l.UnitPrice > MaxPrice:
			return invalid("line %d: unit price %d outside 0..%d", i+1, l.UnitPrice, MaxPrice)
		case l.TaxRate < 0 || l.TaxRate > MaxTaxRate:
			return invalid("line %d: tax rate %d outside 0..%d", i+1, l.TaxRate, MaxTaxRate)
		case l.Unit != "" && l.Unit != Each && l.Unit != Kilogram:
			return invalid("line %d: unknown unit %q", i+1, l.Unit)
		}
		if err := l.checkOverride(); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	t, err := s.Totals()
	if err != nil {
		return invalid("%v", err)
	}
	paid, cash, err := checkTenders(s.Tenders, true)
	if err != nil {
		return err
	}
	cashDue, cashTender := saleCashDue(t.Total, s.Tenders)
	if err := checkRounding(s.RoundStep, s.Rounding, cashDue, cashTender); err != nil {
		return err
	}
	owed := s.Due(t.Total)
	due, err := add(owed, s.Change)
	if err != nil {
		return invalid("%v", err)
	}
	switch {
	case s.Change < 0:
		return invalid("negative change %v", s.Change)
	case paid < owed:
		return fmt.Errorf("%w: tendered %v, due %v", ErrTendersShort, paid, owed)
	case paid != due:
		return invalid("tendered %v, due %v plus change %v is %v", paid, owed, s.Change, due)
	case s.Change > cash:
		return invalid("change %v above cash tendered %v", s.Change, cash)
	}
	return nil
}

// checkTenders checks each tender and returns the total and the cash part.
func checkTenders(ts []Tender, needOne bool) (total, cash Money, err error) {
	if (needOne && len(ts) == 0) || len(ts) > MaxTenders {
		return 0, 0, invalid("%d tenders, want 1..%d", len(ts), MaxTenders)
	}
	for i, t := range ts {
		switch t.Kind {
		case Cash, Card, Other:
		case GiftCardTender, StoreCreditTender: // card.go; written only past the kind gate
			if err := checkCardNumber(t.Ref); err != nil {
				return 0, 0, fmt.Errorf("tender %d: %w", i+1, err)
			}
		default:
			return 0, 0, invalid("tender %d: unknown kind %q", i+1, t.Kind)
		}
		if t.Amount <= 0 {
			return 0, 0, invalid("tender %d: amount %v, must be positive", i+1, t.Amount)
		}
		if err := checkText("tender reference", t.Ref); err != nil {
			return 0, 0, err
		}
		if total, err = add(total, t.Amount); err != nil {
			return 0, 0, invalid("%v", err)
		}
		if t.Kind == Cash {
			cash += t.Amount
		}
	}
	return total, cash, nil
}

func (r *Refund) check() error {
	if r.Sale.IsZero() {
		return invalid("refund names no sale")
	}
	if err := checkCurrency(r.Currency); err != nil {
		return err
	}
	if err := checkStaff("staff", r.Staff, true); err != nil {
		return err
	}
	if err := checkText("reason", r.Reason); err != nil {
		return err
	}
	if len(r.Lines) == 0 || len(r.Lines) > MaxLines {
		return invalid("%d refund lines, want 1..%d", len(r.Lines), MaxLines)
	}
	seen := map[int]bool{}
	var total Money
	for i, l := range r.Lines {
		switch {
		case l.Line < 0 || l.Line >= MaxLines:
			return invalid("refund line %d: sale line %d out of range", i+1, l.Line)
		case seen[l.Line]:
			return invalid("refund line %d: sale line %d twice", i+1, l.Line)
		case l.Qty <= 0 || l.Qty > MaxQty:
			return invalid("refund line %d: quantity %d outside 1..%d", i+1, l.Qty, MaxQty)
		case l.Amount < 0 || l.Amount > MaxPrice*MaxLines || l.Tax < 0 || l.Tax > l.Amount:
			return invalid("refund line %d: amount %v tax %v", i+1, l.Amount, l.Tax)
		case l.Rate < 0 || l.Rate > MaxTaxRate:
			return invalid("refund line %d: tax rate %d", i+1, l.Rate)
		}
		if err := checkSKU(l.SKU); err != nil {
			return fmt.Errorf("refund line %d: %w", i+1, err)
		}
		seen[l.Line] = true
		var err error
		if total, err = add(total, l.Amount); err != nil {
			return invalid("%v", err)
		}
	}
	paid, _, err := checkTenders(r.Tenders, total > 0)
	if err != nil {
		return err
	}
	if err := checkSpendRefs(r.Grant, r.Offline); err != nil {
		return err
	}
	cash := len(r.Tenders) > 0 && cashOf(r.Tenders) > 0
	if err := checkRounding(r.RoundStep, r.Rounding, total-(paid-cashOf(r.Tenders)), cash); err != nil {
		return err
	}
	if paid != total+r.Rounding {
		return invalid("refund tenders %v, lines total %v plus rounding %v", paid, total, r.Rounding)
	}
	return nil
}

func (v *Void) check() error {
	if v.Sale.IsZero() {
		return invalid("void names no sale")
	}
	if err := checkCurrency(v.Currency); err != nil {
		return err
	}
	// A sale whose cash due rounded to nothing (1.25 in steps of 10.00)
	// left no cash in the drawer: its void gives none back.
	if v.Total < 0 || v.Total > MaxPrice*MaxLines || v.Cash < 0 || v.Cash > v.Total+v.Rounding ||
		v.Rounding < -MaxRoundStep || v.Rounding > MaxRoundStep {
		return invalid("void total %v cash %v rounding %v", v.Total, v.Cash, v.Rounding)
	}
	if len(v.Bands) > MaxLines {
		return invalid("%d tax bands", len(v.Bands))
	}
	for _, b := range v.Bands {
		if b.Rate < 0 || b.Rate > MaxTaxRate || b.Net < -MaxPrice*MaxLines || b.Net > MaxPrice*MaxLines || b.Tax < 0 || b.Tax > MaxPrice*MaxLines {
			return invalid("void tax band %v", b)
		}
	}
	if err := checkStockLines(v.Lines, true); err != nil {
		return err
	}
	if err := checkStaff("manager", v.Manager, true); err != nil {
		return err
	}
	if err := checkStaff("staff", v.Staff, false); err != nil {
		return err
	}
	return checkText("reason", v.Reason)
}

func (s *ShiftOpen) check() error {
	if err := checkCurrency(s.Currency); err != nil {
		return err
	}
	if s.Float < 0 || s.Float > MaxPrice {
		return invalid("float %v outside 0..%v", s.Float, Money(MaxPrice))
	}
	return checkStaff("staff", s.Staff, true)
}

func (s *ShiftClose) check() error {
	if err := checkCurrency(s.Currency); err != nil {
		return err
	}
	if len(s.Counted) > 64 {
		return invalid("%d denominations, limit 64", len(s.Counted))
	}
	seen := map[Money]bool{}
	var total Money
	for _, d := range s.Counted {
		if d.Value <= 0 || d.Value > MaxPrice || d.Count < 0 || d.Count > MaxQty || seen[d.Value] {
			return invalid("denomination %v x %d", d.Value, d.Count)
		}
		seen[d.Value] = true
		amt, err := mulDivRound(int64(d.Value), d.Count, 1)
		if err != nil {
			return invalid("%v", err)
		}
		if total, err = add(total, Money(amt)); err != nil {
			return invalid("%v", err)
		}
	}
	return checkStaff("staff", s.Staff, true)
}

func checkCash(currency string, amount Money, reason, staff string) error {
	if err := checkCurrency(currency); err != nil {
		return err
	}
	if amount <= 0 || amount > MaxPrice {
		return invalid("amount %v outside 0.01..%v", amount, Money(MaxPrice))
	}
	if reason == "" {
		return invalid("no reason")
	}
	if err := checkText("reason", reason); err != nil {
		return err
	}
	return checkStaff("staff", staff, true)
}

func (c *CashIn) check() error  { return checkCash(c.Currency, c.Amount, c.Reason, c.Staff) }
func (c *CashOut) check() error { return checkCash(c.Currency, c.Amount, c.Reason, c.Staff) }

func (n *NoSale) check() error {
	if err := checkText("reason", n.Reason); err != nil {
		return err
	}
	return checkStaff("staff", n.Staff, true)
}

func (c *CartCleared) check() error {
	if err := checkCurrency(c.Currency); err != nil {
		return err
	}
	if len(c.Lines) == 0 || len(c.Lines) > MaxLines {
		return invalid("%d lines, want 1..%d", len(c.Lines), MaxLines)
	}
	for i, l := range c.Lines {
		if err := checkSKU(l.SKU); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if err := checkText("name", l.Name); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if l.Qty <= 0 || l.Qty > MaxQty || l.UnitPrice < 0 || l.UnitPrice > MaxPrice || l.Discount < 0 || l.Discount > MaxPrice {
			return invalid("line %d: quantity %d, price %v, discount %v", i+1, l.Qty, l.UnitPrice, l.Discount)
		}
	}
	if c.Total < 0 || c.Total > MaxPrice*MaxLines {
		return invalid("total %v", c.Total)
	}
	if err := checkText("reason", c.Reason); err != nil {
		return err
	}
	return checkStaff("staff", c.Staff, true)
}

func checkStockLines(lines []StockLine, positive bool) error {
	if len(lines) == 0 || len(lines) > MaxLines {
		return invalid("%d lines, want 1..%d", len(lines), MaxLines)
	}
	for i, l := range lines {
		if err := checkSKU(l.SKU); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if l.Qty == 0 || l.Qty > MaxQty || l.Qty < -MaxQty || (positive && l.Qty < 0) {
			return invalid("line %d: quantity %d", i+1, l.Qty)
		}
	}
	return nil
}

func (s *StockReceive) check() error {
	if err := checkStockLines(s.Lines, true); err != nil {
		return err
	}
	if err := checkText("reference", s.Ref); err != nil {
		return err
	}
	return checkStaff("staff", s.Staff, true)
}

func (s *StockAdjust) check() error {
	if err := checkStockLines(s.Lines, false); err != nil {
		return err
	}
	if s.Reason == "" {
		return invalid("no reason")
	}
	if err := checkText("reason", s.Reason); err != nil {
		return err
	}
	return checkStaff("staff", s.Staff, true)
}

func (s *StockCount) check() error {
	if len(s.Lines) == 0 || len(s.Lines) > MaxLines {
		return invalid("%d lines, want 1..%d", len(s.Lines), MaxLines)
	}
	for i, l := range s.Lines {
		if err := checkSKU(l.SKU); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if l.Counted < 0 || l.Counted > MaxQty || l.Expected < -MaxQty || l.Expected > MaxQty {
			return invalid("line %d: counted %d expected %d", i+1, l.Counted, l.Expected)
		}
	}
	return checkStaff("staff", s.Staff, true)
}

func checkCurrency(c string) error {
	if len(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' || c[2] > 'Z' {
		return invalid("currency %q is not an ISO 4217 code", c)
	}
	return nil
}

func checkSKU(s string) error {
	if s == "" || len(s) > MaxSKULen {
		return invalid("sku %q: want 1..%d bytes", s, MaxSKULen)
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == 0x7f {
			return invalid("sku %q: contains %q", s, r)
		}
	}
	return nil
}

// MaxCustomerLen is the longest customer number.
const MaxCustomerLen = 32

// CheckCustomer reports whether s is a well-formed customer number: 1 to
// MaxCustomerLen ASCII letters, digits, '-' or '.', starting with a letter
// or digit. It says nothing about whether the customer exists.
func CheckCustomer(s string) error {
	if s == "" || len(s) > MaxCustomerLen {
		return invalid("customer number %q: want 1..%d bytes", s, MaxCustomerLen)
	}
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case (r == '-' || r == '.') && i > 0:
		default:
			return invalid("customer number %q: contains %q", s, r)
		}
	}
	return nil
}

func checkStaff(what, s string, required bool) error {
	if required && s == "" {
		return invalid("no %s", what)
	}
	if len(s) > MaxStaffLen {
		return invalid("%s %q longer than %d bytes", what, s, MaxStaffLen)
	}
	return nil
}

func checkText(what, s string) error {
	if len(s) > MaxTextLen || !utf8.ValidString(s) {
		return invalid("%s: want valid UTF-8 up to %d bytes", what, MaxTextLen)
	}
	return nil
}
