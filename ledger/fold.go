package ledger

import (
	"errors"
	"fmt"
	"sort"
)

// Report is the running total of a till, a shift or a store: an X report
// while it runs, the body of a Z report when a shift closes. Refunds and
// voids are counted separately and also taken off the net figures (Net,
// Tax, Bands, Tenders) so those say what the business kept.
type Report struct {
	Currency string `json:"currency,omitempty"`
	Events   int    `json:"events"`

	Sales      int   `json:"sales"`
	Items      int64 `json:"items"` // units sold; weighed lines count 1
	Gross      Money `json:"gross"` // sales before discounts
	Discounts  Money `json:"discounts"`
	SalesTotal Money `json:"sales_total"` // what customers paid for goods

	Refunds  int   `json:"refunds"`
	Refunded Money `json:"refunded"`
	Voids    int   `json:"voids"`
	Voided   Money `json:"voided"`

	Net   Money               `json:"net"`   // sales less refunds and voids, before tax
	Tax   Money               `json:"tax"`   // likewise
	Total Money               `json:"total"` // likewise, tax included
	Bands map[TaxRate]TaxBand `json:"bands"` // net and tax by rate

	Tenders       map[TenderKind]Money `json:"tenders"`        // taken at sales; cash net of change
	RefundTenders map[TenderKind]Money `json:"refund_tenders"` // given back at refunds and voids

	CashIn  Money `json:"cash_in"`
	CashOut Money `json:"cash_out"`
	NoSales int   `json:"no_sales"`
	Float   Money `json:"float"`
	// CashExpected is what the drawer should hold: float, plus cash
	// taken, less cash given back, plus cash in, less cash out.
	CashExpected Money `json:"cash_expected"`
	// Rounding is the cash rounding the store took (rounding.go): sales'
	// roundings less those of refunds and voids. Tenders less refund
	// tenders equal Total plus Rounding.
	Rounding Money `json:"rounding"`

	// Cleared counts carts cleared without a sale (cart_cleared) and
	// ClearedValue sums their totals; ClearedBy splits both by the staff
	// member who cleared them (nil when none).
	Cleared      int                     `json:"cleared"`
	ClearedValue Money                   `json:"cleared_value"`
	ClearedBy    map[string]ClearedCarts `json:"cleared_by,omitempty"`
}

// ClearedCarts is how many carts one staff member cleared and their value.
type ClearedCarts struct {
	Count int   `json:"count"`
	Value Money `json:"value"`
}

func (r *Report) addCleared(staff string, n int, v Money) {
	r.Cleared += n
	r.ClearedValue += v
	if r.ClearedBy == nil {
		r.ClearedBy = map[string]ClearedCarts{}
	}
	c := r.ClearedBy[staff]
	c.Count += n
	c.Value += v
	r.ClearedBy[staff] = c
}

// NewReport returns an empty report, ready to Add to.
func NewReport() Report {
	return Report{Bands: map[TaxRate]TaxBand{}, Tenders: map[TenderKind]Money{}, RefundTenders: map[TenderKind]Money{}}
}

// Shift is one shift of one till, from shift_open to shift_close.
type Shift struct {
	Till     TillID `json:"till"`
	OpenSeq  uint64 `json:"open_seq"`
	CloseSeq uint64 `json:"close_seq,omitempty"` // 0 while open
	Opened   HLC    `json:"opened"`
	Closed   HLC    `json:"closed"`
	Staff    string `json:"staff"`
	Report   Report `json:"report"`
	// Counted, Expected and OverShort are set at close: OverShort is
	// Counted - Expected (negative when the drawer is short).
	Counted   Money          `json:"counted"`
	Expected  Money          `json:"expected"`
	OverShort Money          `json:"over_short"`
	Count     []Denomination `json:"count,omitempty"`
}

// IsOpen reports whether the shift has not closed.
func (s *Shift) IsOpen() bool { return s.CloseSeq == 0 }

type tillFold struct {
	total  Report
	shifts []*Shift
	open   *Shift
}

type lineSum struct {
	qty         int64
	amount, tax Money
}

// settled is what refunds and voids applied so far did to one sale.
type settled struct {
	lines map[int]lineSum // refunded, by line
	voids int
}

// Fold holds the folds over a set of events: reports per till and shift,
// stock movement per SKU and till, sales by SKU and hour, and the sales
// with anomalies. Events must arrive in each till's chain order (State
// sees to it); across tills the order does not matter. What remains
// refundable of a sale is computed from the State's Index when asked.
type Fold struct {
	st     *State
	events int
	tills  map[TillID]*tillFold
	stock  map[string]map[TillID]int64
	byHour map[int64]Money // sales total by Unix hour
	bySKU  map[string]*SKUSales
	// orphans are sales that a refund or void named before the sale was
	// applied: their anomalies are checked when it is.
	orphans map[EventID]bool
	// anomalies by sale, kept current as sales, refunds and voids apply.
	anomalies map[EventID][]string
	newer     Newer // events of kinds this version does not know, left out
	xfer      transfers
}

// SKUSales is what one SKU sold, net of refunds and voids.
type SKUSales struct {
	SKU    string `json:"sku"`
	Name   string `json:"name"`
	Qty    int64  `json:"qty"`
	Amount Money  `json:"amount"`
	// Units (pieces, or grams for weighed goods) and Net (before tax)
	// give margins (basket.Margin).
	Units int64 `json:"units,omitempty"`
	Net   Money `json:"net,omitempty"`
}

func newFold(st *State) *Fold {
	return &Fold{
		st: st, tills: map[TillID]*tillFold{}, stock: map[string]map[TillID]int64{},
		byHour: map[int64]Money{}, bySKU: map[string]*SKUSales{},
		orphans: map[EventID]bool{}, anomalies: map[EventID][]string{},
	}
}

// sale returns an applied sale event, or ErrUnknownSale.
func (f *Fold) sale(id EventID) (*Event, *Sale, error) {
	ev, ok, err := f.st.idx.Sale(id)
	if err != nil {
		return nil, nil, indexErr("sale "+short(id), err)
	}
	if !ok || !f.st.applied(ev.Till, ev.Seq) {
		return nil, nil, fmt.Errorf("%w %s", ErrUnknownSale, short(id))
	}
	b, ok := ev.Body.(*Sale)
	if !ok || ev.ID() != id {
		return nil, nil, indexErr("sale "+short(id), fmt.Errorf("index gave a %s", ev.Kind()))
	}
	return ev, b, nil
}

// settledOf sums the applied refunds and voids of a sale.
func (f *Fold) settledOf(sale EventID) (settled, error) {
	evs, err := f.st.idx.Settlements(sale)
	if err != nil {
		return settled{}, indexErr("refunds of "+short(sale), err)
	}
	st := settled{lines: map[int]lineSum{}}
	for _, ev := range evs {
		if !f.st.applied(ev.Till, ev.Seq) {
			continue
		}
		st.add(ev)
	}
	return st, nil
}

func (st *settled) add(ev *Event) {
	switch b := ev.Body.(type) {
	case *Refund:
		for _, l := range b.Lines {
			s := st.lines[l.Line]
			s.qty += l.Qty
			s.amount += l.Amount
			s.tax += l.Tax
			st.lines[l.Line] = s
		}
	case *Void:
		st.voids++
	}
}

// prepared is what apply needs of older events, looked up before the
// State changes anything, so a lookup that fails leaves it as it was.
type prepared struct {
	sale    *Sale   // the sale a refund or void names, if applied
	settled settled // that sale's refunds and voids before this event
}

func (f *Fold) prepare(ev *Event) (prepared, error) {
	var id EventID
	switch b := ev.Body.(type) {
	case *Refund:
		id = b.Sale
	case *Void:
		id = b.Sale
	case *Sale:
		if !f.orphans[ev.ID()] {
			return prepared{}, nil
		}
		st, err := f.settledOf(ev.ID())
		return prepared{settled: st}, err
	default:
		return prepared{}, nil
	}
	_, sale, err := f.sale(id)
	if errors.Is(err, ErrUnknownSale) {
		return prepared{}, nil
	}
	if err != nil {
		return prepared{}, err
	}
	st, err := f.settledOf(id)
	return prepared{sale: sale, settled: st}, err
}

// anomaliesOf lists what is wrong with a sale given its refunds and voids.
func anomaliesOf(sale *Sale, st settled) []string {
	var out []string
	for i, l := range sale.Lines {
		if d := st.lines[i]; d.qty > l.Qty {
			out = append(out, fmt.Sprintf("line %d refunded %d of %d", i, d.qty, l.Qty))
		}
	}
	if st.voids > 1 {
		out = append(out, fmt.Sprintf("voided %d times", st.voids))
	}
	if st.voids > 0 && len(st.lines) > 0 {
		out = append(out, "voided and refunded")
	}
	return out
}

func (f *Fold) setAnomalies(sale EventID, a []string) {
	if len(a) == 0 {
		delete(f.anomalies, sale)
		return
	}
	f.anomalies[sale] = a
}

func (f *Fold) till(t TillID) *tillFold {
	tf := f.tills[t]
	if tf == nil {
		tf = &tillFold{total: NewReport()}
		f.tills[t] = tf
	}
	return tf
}

func (f *Fold) move(sku string, t TillID, qty int64) {
	m := f.stock[sku]
	if m == nil {
		m = map[TillID]int64{}
		f.stock[sku] = m
	}
	m[t] += qty
}

func (f *Fold) skuSales(sku, name string) *SKUSales {
	s := f.bySKU[sku]
	if s == nil {
		s = &SKUSales{SKU: sku}
		f.bySKU[sku] = s
	}
	if name != "" {
		s.Name = name
	}
	return s
}

// apply folds one event. Its body has passed Check, so computations that
// can fail on bad input have already succeeded once; pre is what prepare
// looked up for it.
func (f *Fold) apply(ev *Event, pre prepared) {
	f.events++
	if u, ok := ev.Body.(*Unknown); ok {
		f.countNewer(u) // and no case below reads it
	}
	tf := f.till(ev.Till)
	switch b := ev.Body.(type) {
	case *ShiftOpen:
		// A second open without a close (CheckLocal refuses it locally)
		// leaves the earlier shift open in the list; the newer takes over.
		sh := &Shift{Till: ev.Till, OpenSeq: ev.Seq, Opened: ev.Time, Staff: b.Staff, Report: NewReport()}
		sh.Report.Add(ev)
		tf.shifts = append(tf.shifts, sh)
		tf.open = sh
		tf.total.Add(ev)
		return
	case *ShiftClose:
		tf.total.Add(ev)
		if sh := tf.open; sh != nil {
			sh.Report.Add(ev)
			sh.CloseSeq, sh.Closed, sh.Count = ev.Seq, ev.Time, b.Counted
			sh.Counted = b.CountedCash()
			sh.Expected = sh.Report.CashExpected
			sh.OverShort = sh.Counted - sh.Expected
			tf.open = nil
		}
		return
	case *Sale:
		t, _ := b.Totals() // checked
		for i, l := range b.Lines {
			s := f.skuSales(l.SKU, l.Name)
			s.Qty += ItemQty(l.Unit, l.Qty)
			s.Amount += t.Lines[i].Amount
			s.Units += l.Qty
			s.Net += t.Lines[i].Net
		}
		f.byHour[ev.Time.Wall/3_600_000] += t.Total
		if f.orphans[ev.ID()] {
			delete(f.orphans, ev.ID())
			f.setAnomalies(ev.ID(), anomaliesOf(b, pre.settled))
		}
	case *Refund:
		for _, l := range b.Lines {
			sk := f.skuSales(l.SKU, "")
			sk.Qty -= RefundItems(l, pre.sale.line(l.Line))
			sk.Amount -= l.Amount
			sk.Units -= l.Qty
			sk.Net -= l.Amount - l.Tax
		}
		f.settle(ev, b.Sale, pre)
	case *Return:
		t, _ := b.Totals() // checked
		for i, l := range b.Lines {
			s := f.skuSales(l.SKU, l.Name)
			s.Qty -= ItemQty(l.Unit, l.Qty)
			s.Amount -= t.Lines[i].Amount
			s.Units -= l.Qty
			s.Net -= t.Lines[i].Net
		}
	case *Void:
		if sale := pre.sale; sale != nil {
			st, _ := sale.Totals() // checked
			for i, l := range sale.Lines {
				s := f.skuSales(l.SKU, "")
				s.Qty -= ItemQty(l.Unit, l.Qty)
				s.Amount -= st.Lines[i].Amount
				s.Units -= l.Qty
				s.Net -= st.Lines[i].Net
			}
		}
		f.settle(ev, b.Sale, pre)
	case *TransferOut, *TransferIn:
		f.applyTransfer(ev)
	}
	for sku, q := range Movements(ev) {
		f.move(sku, ev.Till, q)
	}
	tf.total.Add(ev)
	if tf.open != nil {
		tf.open.Report.Add(ev)
	}
}

// settle updates the anomalies of the sale a refund or void names.
func (f *Fold) settle(ev *Event, sale EventID, pre prepared) {
	if pre.sale == nil {
		f.orphans[sale] = true
		return
	}
	pre.settled.add(ev)
	f.setAnomalies(sale, anomaliesOf(pre.sale, pre.settled))
}

// line returns the sale's line i, or nil (also for a nil sale).
func (s *Sale) line(i int) *Line {
	if s == nil || i < 0 || i >= len(s.Lines) {
		return nil
	}
	return &s.Lines[i]
}

// Movements returns what an event does to stock, by SKU: sales take goods
// out, refunds and voids put them back, receipts add, adjustments add or
// take, counts correct by counted minus expected. Events that move no
// stock return nil. A till writes these into its stock counter slot in
// the CRDT; the fold sums them per till.
func Movements(ev *Event) map[string]int64 {
	var m map[string]int64
	add := func(sku string, q int64) {
		if m == nil {
			m = map[string]int64{}
		}
		m[sku] += q
	}
	switch b := ev.Body.(type) {
	case *Sale:
		for _, l := range b.Lines {
			add(l.SKU, -l.Qty)
		}
	case *Refund:
		for _, l := range b.Lines {
			add(l.SKU, l.Qty)
		}
	case *Void:
		for _, l := range b.Lines {
			add(l.SKU, l.Qty)
		}
	case *Return:
		for _, l := range b.Lines {
			add(l.SKU, l.Qty)
		}
	case *StockReceive:
		for _, l := range b.Lines {
			add(l.SKU, l.Qty)
		}
	case *StockAdjust:
		for _, l := range b.Lines {
			add(l.SKU, l.Qty)
		}
	case *StockCount:
		for _, l := range b.Lines {
			add(l.SKU, l.Counted-l.Expected)
		}
	case *TransferOut:
		for _, l := range b.Lines {
			add(l.SKU, -l.Qty)
		}
	case *TransferIn:
		for _, l := range b.Lines {
			if l.Qty != 0 {
				add(l.SKU, l.Qty)
			}
		}
	}
	return m
}

// ItemQty is how a sale line counts in Report.Items and SKUSales.Qty:
// its units, or 1 for a weighed line.
func ItemQty(u Unit, qty int64) int64 {
	if u == Kilogram {
		return 1
	}
	return qty
}

// RefundItems is how many items a refund line gives back, in ItemQty's
// terms: its units, or for a weighed line 1 when it refunds the line's
// whole weight and 0 for part of it. line is the sale line it refunds, or
// nil when the sale is not known yet (the line then counts as units).
func RefundItems(l RefundLine, line *Line) int64 {
	if line == nil || line.Unit != Kilogram {
		return l.Qty
	}
	if l.Qty >= line.Qty {
		return 1
	}
	return 0
}

// Add folds one event into the report: the rules every report of the
// project uses (tills, shifts, the store, HQ). A report counts a shift's
// float when the shift opens.
func (r *Report) Add(ev *Event) {
	r.Events++
	switch b := ev.Body.(type) {
	case *ShiftOpen:
		r.setCurrency(b.Currency)
		r.Float += b.Float
		r.CashExpected += b.Float
	case *Sale:
		t, _ := b.Totals()
		r.setCurrency(b.Currency)
		r.Sales++
		for _, l := range b.Lines {
			r.Items += ItemQty(l.Unit, l.Qty)
		}
		r.Gross += t.Gross
		r.Discounts += t.Discounts
		r.SalesTotal += t.Total
		r.Net += t.Net
		r.Tax += t.Tax
		r.Total += t.Total
		for _, band := range t.Bands {
			r.band(band.Rate, band.Net, band.Tax)
		}
		for _, tn := range b.Tenders {
			r.Tenders[tn.Kind] += tn.Amount
		}
		r.Tenders[Cash] -= b.Change
		if r.Tenders[Cash] == 0 {
			delete(r.Tenders, Cash)
		}
		r.CashExpected += cashOf(b.Tenders) - b.Change
		r.Rounding += b.Rounding
	case *Refund:
		r.setCurrency(b.Currency)
		r.Refunds++
		for _, l := range b.Lines {
			r.Refunded += l.Amount
			r.Tax -= l.Tax
			r.Total -= l.Amount
			r.Net -= l.Amount - l.Tax
			r.band(l.Rate, -(l.Amount - l.Tax), -l.Tax)
		}
		for _, tn := range b.Tenders {
			r.RefundTenders[tn.Kind] += tn.Amount
		}
		r.CashExpected -= cashOf(b.Tenders)
		r.Rounding -= b.Rounding
	case *Void:
		r.setCurrency(b.Currency)
		r.Voids++
		r.Voided += b.Total
		r.Total -= b.Total
		for _, band := range b.Bands {
			r.Net -= band.Net
			r.Tax -= band.Tax
			r.band(band.Rate, -band.Net, -band.Tax)
		}
		if b.Cash > 0 {
			r.RefundTenders[Cash] += b.Cash
		}
		if rest := b.Total + b.Rounding - b.Cash; rest > 0 {
			r.RefundTenders[Other] += rest
		}
		r.CashExpected -= b.Cash
		r.Rounding -= b.Rounding
	case *Return:
		t, _ := b.Totals() // checked
		r.setCurrency(b.Currency)
		r.Refunds++
		r.Refunded += t.Total
		r.Net -= t.Net
		r.Tax -= t.Tax
		r.Total -= t.Total
		for _, band := range t.Bands {
			r.band(band.Rate, -band.Net, -band.Tax)
		}
		for _, tn := range b.Tenders {
			r.RefundTenders[tn.Kind] += tn.Amount
		}
		r.CashExpected -= cashOf(b.Tenders)
	case *CashIn:
		r.setCurrency(b.Currency)
		r.CashIn += b.Amount
		r.CashExpected += b.Amount
	case *CashOut:
		r.setCurrency(b.Currency)
		r.CashOut += b.Amount
		r.CashExpected -= b.Amount
	case *NoSale:
		r.NoSales++
	case *CartCleared:
		r.setCurrency(b.Currency)
		r.addCleared(b.Staff, 1, b.Total)
	}
}

func (r *Report) setCurrency(c string) {
	if r.Currency == "" {
		r.Currency = c
	}
}

func (r *Report) band(rate TaxRate, net, tax Money) {
	b := r.Bands[rate]
	b.Rate = rate
	b.Net += net
	b.Tax += tax
	if b.Net == 0 && b.Tax == 0 {
		delete(r.Bands, rate)
		return
	}
	r.Bands[rate] = b
}

func cashOf(ts []Tender) Money {
	var c Money
	for _, t := range ts {
		if t.Kind == Cash {
			c += t.Amount
		}
	}
	return c
}

// Merge adds o into r, as if r had seen o's events too.
func (r *Report) Merge(o *Report) {
	if r.Bands == nil || r.Tenders == nil || r.RefundTenders == nil {
		n := NewReport()
		n.Merge(r)
		*r = n
	}
	if r.Currency == "" {
		r.Currency = o.Currency
	}
	r.Events += o.Events
	r.Sales += o.Sales
	r.Items += o.Items
	r.Gross += o.Gross
	r.Discounts += o.Discounts
	r.SalesTotal += o.SalesTotal
	r.Refunds += o.Refunds
	r.Refunded += o.Refunded
	r.Voids += o.Voids
	r.Voided += o.Voided
	r.Net += o.Net
	r.Tax += o.Tax
	r.Total += o.Total
	for _, b := range o.Bands {
		r.band(b.Rate, b.Net, b.Tax)
	}
	for k, v := range o.Tenders {
		r.Tenders[k] += v
	}
	for k, v := range o.RefundTenders {
		r.RefundTenders[k] += v
	}
	r.CashIn += o.CashIn
	r.CashOut += o.CashOut
	r.NoSales += o.NoSales
	r.Float += o.Float
	r.CashExpected += o.CashExpected
	r.Rounding += o.Rounding
	for staff, c := range o.ClearedBy {
		r.addCleared(staff, c.Count, c.Value)
	}
}

// TillReport returns a till's report since its first event (zero Report
// if the till is unknown).
func (f *Fold) TillReport(t TillID) Report {
	tf := f.tills[t]
	if tf == nil {
		return NewReport()
	}
	return tf.total
}

// StoreReport returns the report over every till.
func (f *Fold) StoreReport() Report {
	r := NewReport()
	for _, tf := range f.tills {
		r.Merge(&tf.total)
	}
	return r
}

// Shifts returns a till's shifts, oldest first.
func (f *Fold) Shifts(t TillID) []*Shift {
	if tf := f.tills[t]; tf != nil {
		return tf.shifts
	}
	return nil
}

// OpenShift returns the till's open shift, or nil.
func (f *Fold) OpenShift(t TillID) *Shift {
	if tf := f.tills[t]; tf != nil {
		return tf.open
	}
	return nil
}

// Stock returns each till's net movement of a SKU. A store's stock is the
// sum of the slots.
func (f *Fold) Stock(sku string) map[TillID]int64 { return f.stock[sku] }

// StockTotal returns the store's net movement of a SKU.
func (f *Fold) StockTotal(sku string) int64 {
	var n int64
	for _, q := range f.stock[sku] {
		n += q
	}
	return n
}

// SKUs returns every SKU with a stock movement, sorted.
func (f *Fold) SKUs() []string {
	ks := make([]string, 0, len(f.stock))
	for k := range f.stock {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TopProducts returns up to n SKUs by amount sold, largest first.
func (f *Fold) TopProducts(n int) []SKUSales {
	out := make([]SKUSales, 0, len(f.bySKU))
	for _, s := range f.bySKU {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Amount != out[j].Amount {
			return out[i].Amount > out[j].Amount
		}
		return out[i].SKU < out[j].SKU
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// SalesByHour returns sales totals keyed by Unix hour (HLC wall / 1h).
func (f *Fold) SalesByHour() map[int64]Money { return f.byHour }

// Sale returns a sale by ID with the till and seq that recorded it. A
// sale the index could not read reads as unknown; LookupSale says why.
func (f *Fold) Sale(id EventID) (s *Sale, till TillID, seq uint64, ok bool) {
	ev, b, err := f.sale(id)
	if err != nil {
		return nil, TillID{}, 0, false
	}
	return b, ev.Till, ev.Seq, true
}

// LookupSale returns an applied sale event by ID: ErrUnknownSale if there
// is none, or an error wrapping ErrIndex if the index could not answer.
func (f *Fold) LookupSale(id EventID) (*Event, error) {
	ev, _, err := f.sale(id)
	return ev, err
}

// Remaining is what remains refundable of one sale line.
type Remaining struct {
	Line   int    `json:"line"`
	SKU    string `json:"sku"`
	Name   string `json:"name"`
	Qty    int64  `json:"qty"`
	Amount Money  `json:"amount"`
	Tax    Money  `json:"tax"`
}

// Refundable returns what remains refundable of each line of a sale,
// counting refunds made at every till. A voided sale has nothing left.
func (f *Fold) Refundable(sale EventID) ([]Remaining, error) {
	rem, _, _, err := f.refundable(sale)
	return rem, err
}

func (f *Fold) refundable(sale EventID) ([]Remaining, *Sale, settled, error) {
	_, b, err := f.sale(sale)
	if err != nil {
		return nil, nil, settled{}, err
	}
	done, err := f.settledOf(sale)
	if err != nil {
		return nil, nil, settled{}, err
	}
	t, _ := b.Totals() // checked when applied
	out := make([]Remaining, len(b.Lines))
	for i, l := range b.Lines {
		d := done.lines[i]
		out[i] = Remaining{Line: i, SKU: l.SKU, Name: l.Name, Qty: l.Qty - d.qty,
			Amount: t.Lines[i].Amount - d.amount, Tax: t.Lines[i].Tax - d.tax}
		if done.voids > 0 || out[i].Qty < 0 {
			out[i].Qty, out[i].Amount, out[i].Tax = 0, 0, 0
		}
	}
	return out, b, done, nil
}

// Pick chooses a quantity of one sale line to refund.
type Pick struct {
	Line int   `json:"line"`
	Qty  int64 `json:"qty"`
}

// RefundLines computes the refund lines for picks of a sale: amounts and
// tax prorated from what remains of each line. It fails with ErrOverRefund
// when a pick exceeds what remains.
func (f *Fold) RefundLines(sale EventID, ps []Pick) ([]RefundLine, error) {
	rem, b, done, err := f.refundable(sale)
	if err != nil {
		return nil, err
	}
	if done.voids > 0 {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyVoided, short(sale))
	}
	rate := b.Lines
	out := make([]RefundLine, len(ps))
	for i, p := range ps {
		if p.Line < 0 || p.Line >= len(rem) {
			return nil, fmt.Errorf("%w: sale %s has no line %d", ErrInvalidBody, short(sale), p.Line)
		}
		r := rem[p.Line]
		if p.Qty <= 0 || p.Qty > r.Qty {
			return nil, fmt.Errorf("%w: line %d: %d asked, %d remain", ErrOverRefund, p.Line, p.Qty, r.Qty)
		}
		amt, err := Prorate(r.Amount, p.Qty, r.Qty)
		if err != nil {
			return nil, err
		}
		tax, err := Prorate(r.Tax, p.Qty, r.Qty)
		if err != nil {
			return nil, err
		}
		out[i] = RefundLine{Line: p.Line, SKU: r.SKU, Qty: p.Qty, Amount: amt, Tax: tax, Rate: rate[p.Line].TaxRate}
	}
	return out, nil
}

// VoidOf builds the copy of a sale that a void of it carries. A sale that
// was voided or partly refunded cannot be voided.
func (f *Fold) VoidOf(sale EventID) (*Void, error) {
	_, b, err := f.sale(sale)
	if err != nil {
		return nil, err
	}
	done, err := f.settledOf(sale)
	if err != nil {
		return nil, err
	}
	if done.voids > 0 {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyVoided, short(sale))
	}
	if len(done.lines) > 0 {
		return nil, fmt.Errorf("%w: sale %s was partly refunded: refund the rest instead", ErrInvalidBody, short(sale))
	}
	t, _ := b.Totals() // checked when applied
	v := &Void{Sale: sale, Currency: b.Currency, Total: t.Total,
		Cash: cashOf(b.Tenders) - b.Change, Bands: t.Bands, Rounding: b.Rounding}
	for _, l := range b.Lines {
		v.Lines = append(v.Lines, StockLine{SKU: l.SKU, Qty: l.Qty})
	}
	return v, nil
}

// Anomaly is a cross-till inconsistency that no single till could prevent,
// such as two tills refunding the same line during a partition.
type Anomaly struct {
	Sale   EventID `json:"sale"`
	Reason string  `json:"reason"`
}

// Anomalies lists sales refunded beyond their quantity, voided more than
// once, or both voided and refunded.
func (f *Fold) Anomalies() []Anomaly {
	var out []Anomaly
	for id, rs := range f.anomalies {
		for _, r := range rs {
			out = append(out, Anomaly{Sale: id, Reason: r})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sale != out[j].Sale {
			return string(out[i].Sale[:]) < string(out[j].Sale[:])
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

func (f *Fold) check() error {
	n := 0
	for _, tf := range f.tills {
		n += tf.total.Events
	}
	if n != f.events {
		return fmt.Errorf("till reports count %d events, fold saw %d", n, f.events)
	}
	return nil
}
