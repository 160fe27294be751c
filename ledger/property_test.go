package ledger_test

import (
	"flag"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

var seedFlag = flag.Uint64("seed", 0, "seed for property tests (0: time-based)")

func seed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", s, s)
	return s
}

// history makes a valid multi-till history: sales, refunds of any till's
// sales, voids, shifts, cash movements and stock events.
func history(rng *rand.Rand, tills, n int) []*ledger.Event {
	ts := make([]*ledgertest.Till, tills)
	for i := range ts {
		ts[i] = ledgertest.NewTill(store, byte(i+1), uint32(i+1))
	}
	s := ledger.NewState(store)
	var sales []ledger.EventID
	var evs []*ledger.Event
	for i := 0; i < n; i++ {
		till := ts[rng.IntN(tills)]
		var body ledger.Body
		switch k := rng.IntN(21); {
		case k < 11:
			body = ledgertest.Sale(rng, 4)
		case k < 13 && len(sales) > 0:
			sale := sales[rng.IntN(len(sales))]
			rem, _ := s.Fold().Refundable(sale)
			var picks []ledger.Pick
			for _, r := range rem {
				if r.Qty > 0 && rng.IntN(2) == 0 {
					picks = append(picks, ledger.Pick{Line: r.Line, Qty: 1 + int64(rng.IntN(int(r.Qty)))})
				}
			}
			if len(picks) == 0 {
				continue
			}
			lines, err := s.Fold().RefundLines(sale, picks)
			if err != nil {
				continue // voided
			}
			var amt ledger.Money
			for _, l := range lines {
				amt += l.Amount
			}
			rf := &ledger.Refund{Sale: sale, Currency: "EUR", Staff: "1", Lines: lines}
			if amt > 0 {
				rf.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: amt}}
			}
			body = rf
		case k < 14 && len(sales) > 0:
			v, err := s.Fold().VoidOf(sales[rng.IntN(len(sales))])
			if err != nil {
				continue
			}
			v.Manager = "9"
			body = v
		case k < 15:
			if s.Fold().OpenShift(till.ID) == nil {
				body = &ledger.ShiftOpen{Currency: "EUR", Float: ledger.Money(rng.IntN(20000)), Staff: "1"}
			} else {
				body = &ledger.ShiftClose{Currency: "EUR", Staff: "1",
					Counted: []ledger.Denomination{{Value: 1000, Count: int64(rng.IntN(30))}}}
			}
		case k < 16:
			body = &ledger.CashIn{Currency: "EUR", Amount: ledger.Money(1 + rng.IntN(5000)), Reason: "float top-up", Staff: "1"}
		case k < 17:
			body = &ledger.CashOut{Currency: "EUR", Amount: ledger.Money(1 + rng.IntN(5000)), Reason: "bank", Staff: "1"}
		case k < 18:
			body = &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: ledgertest.SKUs[rng.IntN(len(ledgertest.SKUs))].SKU, Qty: int64(1 + rng.IntN(50))}}, Staff: "1"}
		case k < 19:
			body = &ledger.StockAdjust{Lines: []ledger.StockLine{{SKU: ledgertest.SKUs[rng.IntN(len(ledgertest.SKUs))].SKU, Qty: int64(rng.IntN(7) - 3 | 1)}}, Reason: "damaged", Staff: "1"}
		case k < 20:
			body = &ledger.StockCount{Lines: []ledger.CountLine{{SKU: ledgertest.SKUs[rng.IntN(len(ledgertest.SKUs))].SKU, Counted: int64(rng.IntN(20)), Expected: int64(rng.IntN(20))}}, Staff: "1"}
		default:
			sale := ledgertest.Sale(rng, 3)
			t, _ := sale.Totals()
			body = &ledger.CartCleared{Currency: sale.Currency, Lines: sale.Lines, Total: t.Total, Staff: string(rune('1' + rng.IntN(3))), Reason: "customer left"}
		}
		ev, err := till.Next(body, now+int64(i)*1000, "")
		if err != nil {
			panic(err)
		}
		if err := s.CheckLocal(ev); err != nil {
			panic(err)
		}
		if _, err := s.Apply(ev); err != nil {
			panic(err)
		}
		if ev.Kind() == ledger.KindSale {
			sales = append(sales, ev.ID())
		}
		evs = append(evs, ev)
	}
	return evs
}

// refFold is the deliberately dumb reference: it sorts the distinct events
// by till and seq and adds them up in one pass, with none of State's
// machinery.
type refFold struct {
	stock    map[string]map[ledger.TillID]int64
	sales    map[ledger.TillID]int
	total    map[ledger.TillID]ledger.Money
	expected map[ledger.TillID][]ledger.Money // per closed shift
	refunded map[ledger.EventID]int64
}

func reference(evs []*ledger.Event) refFold {
	seen := map[ledger.EventID]bool{}
	var uniq []*ledger.Event
	for _, e := range evs {
		if !seen[e.ID()] {
			seen[e.ID()] = true
			uniq = append(uniq, e)
		}
	}
	sort.Slice(uniq, func(i, j int) bool {
		if uniq[i].Till != uniq[j].Till {
			return string(uniq[i].Till[:]) < string(uniq[j].Till[:])
		}
		return uniq[i].Seq < uniq[j].Seq
	})
	r := refFold{stock: map[string]map[ledger.TillID]int64{}, sales: map[ledger.TillID]int{},
		total: map[ledger.TillID]ledger.Money{}, expected: map[ledger.TillID][]ledger.Money{},
		refunded: map[ledger.EventID]int64{}}
	mv := func(sku string, t ledger.TillID, q int64) {
		if r.stock[sku] == nil {
			r.stock[sku] = map[ledger.TillID]int64{}
		}
		r.stock[sku][t] += q
	}
	drawer := map[ledger.TillID]*ledger.Money{}
	for _, e := range uniq {
		cash := func(ts []ledger.Tender) (c ledger.Money) {
			for _, t := range ts {
				if t.Kind == ledger.Cash {
					c += t.Amount
				}
			}
			return c
		}
		d := drawer[e.Till]
		switch b := e.Body.(type) {
		case *ledger.Sale:
			tot, _ := b.Totals()
			r.sales[e.Till]++
			r.total[e.Till] += tot.Total
			for _, l := range b.Lines {
				mv(l.SKU, e.Till, -l.Qty)
			}
			if d != nil {
				*d += cash(b.Tenders) - b.Change
			}
		case *ledger.Refund:
			for _, l := range b.Lines {
				mv(l.SKU, e.Till, l.Qty)
				r.total[e.Till] -= l.Amount
				r.refunded[b.Sale] += l.Qty
			}
			if d != nil {
				*d -= cash(b.Tenders)
			}
		case *ledger.Void:
			for _, l := range b.Lines {
				mv(l.SKU, e.Till, l.Qty)
			}
			r.total[e.Till] -= b.Total
			if d != nil {
				*d -= b.Cash
			}
		case *ledger.StockReceive:
			for _, l := range b.Lines {
				mv(l.SKU, e.Till, l.Qty)
			}
		case *ledger.StockAdjust:
			for _, l := range b.Lines {
				mv(l.SKU, e.Till, l.Qty)
			}
		case *ledger.StockCount:
			for _, l := range b.Lines {
				mv(l.SKU, e.Till, l.Counted-l.Expected)
			}
		case *ledger.ShiftOpen:
			f := b.Float
			drawer[e.Till] = &f
		case *ledger.ShiftClose:
			if d != nil {
				r.expected[e.Till] = append(r.expected[e.Till], *d)
			}
			drawer[e.Till] = nil
		case *ledger.CashIn:
			if d != nil {
				*d += b.Amount
			}
		case *ledger.CashOut:
			if d != nil {
				*d -= b.Amount
			}
		}
	}
	return r
}

func observe(s *ledger.State) refFold {
	f := s.Fold()
	r := refFold{stock: map[string]map[ledger.TillID]int64{}, sales: map[ledger.TillID]int{},
		total: map[ledger.TillID]ledger.Money{}, expected: map[ledger.TillID][]ledger.Money{},
		refunded: map[ledger.EventID]int64{}}
	for _, sku := range f.SKUs() {
		r.stock[sku] = map[ledger.TillID]int64{}
		for t, q := range f.Stock(sku) {
			r.stock[sku][t] = q
		}
	}
	for _, t := range s.Tills() {
		rep := f.TillReport(t)
		if rep.Sales > 0 {
			r.sales[t] = rep.Sales
		}
		if rep.Total != 0 || rep.Sales > 0 {
			r.total[t] = rep.Total
		}
		for _, sh := range f.Shifts(t) {
			if !sh.IsOpen() {
				r.expected[t] = append(r.expected[t], sh.Expected)
			}
		}
	}
	return r
}

func TestPropertyAnyOrderFoldsTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 7))
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		evs := history(rng, 1+rng.IntN(4), 50+rng.IntN(250))
		want := reference(evs)
		// Permute, and duplicate about a third of the events.
		mixed := append([]*ledger.Event{}, evs...)
		for _, e := range evs {
			if rng.IntN(3) == 0 {
				mixed = append(mixed, e)
			}
		}
		rng.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
		s := ledger.NewState(store)
		for _, e := range mixed {
			if _, err := s.Apply(e); err != nil {
				t.Fatalf("round %d: apply: %v", round, err)
			}
			if err := s.Check(); err != nil {
				t.Fatalf("round %d: invariant: %v", round, err)
			}
		}
		got := observe(s)
		// Stock maps: drop zero slots the reference never creates.
		for sku, m := range want.stock {
			for till, q := range m {
				if got.stock[sku][till] != q {
					t.Fatalf("round %d: stock %s till %s = %d, want %d", round, sku, till.Short(), got.stock[sku][till], q)
				}
			}
		}
		if !reflect.DeepEqual(got.sales, want.sales) || !reflect.DeepEqual(got.total, want.total) {
			t.Fatalf("round %d: sales %v total %v, want %v %v", round, got.sales, got.total, want.sales, want.total)
		}
		if !reflect.DeepEqual(got.expected, want.expected) {
			t.Fatalf("round %d: expected cash per shift %v, want %v", round, got.expected, want.expected)
		}
		for sale, q := range want.refunded {
			rem, err := s.Fold().Refundable(sale)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			sold, _, _, _ := s.Fold().Sale(sale)
			var left, all int64
			for i, r := range rem {
				left += r.Qty
				all += sold.Lines[i].Qty
			}
			if voided := left == 0; !voided && all-left != q {
				t.Fatalf("round %d: sale %s refunded %d, reference %d", round, sale, all-left, q)
			}
		}
		if a := s.Fold().Anomalies(); len(a) != 0 {
			t.Fatalf("round %d: anomalies in a serial history: %v", round, a)
		}
		if len(s.Evidence()) != 0 {
			t.Fatalf("round %d: evidence in an honest history", round)
		}
	}
}

// Every report figure has one definition, so figures reached two ways
// agree to the cent: products add up to the store's total kept, tills add
// up to the store, and a till's shifts add up to the till.
func TestPropertyReportFiguresAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 11))
	for round := range 20 {
		evs := history(rng, 1+rng.IntN(4), 50+rng.IntN(250))
		s := ledger.NewState(store)
		for _, e := range evs {
			if _, err := s.Apply(e); err != nil {
				t.Fatalf("round %d: apply: %v", round, err)
			}
		}
		f := s.Fold()
		storeRep := f.StoreReport()
		var amount ledger.Money
		var refunded, voided int
		for _, p := range f.TopProducts(1 << 20) {
			amount += p.Amount
		}
		if amount != storeRep.Total {
			t.Errorf("round %d: products add up to %d, the store's total kept is %d", round, amount, storeRep.Total)
		}
		// Events made while no shift was open, per till, in chain order.
		outside := map[ledger.TillID]*ledger.Report{}
		open := map[ledger.TillID]bool{}
		sorted := append([]*ledger.Event{}, evs...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
		for _, e := range sorted {
			switch e.Body.(type) {
			case *ledger.ShiftOpen:
				open[e.Till] = true
				continue
			case *ledger.ShiftClose:
				open[e.Till] = false
				continue
			}
			if !open[e.Till] {
				if outside[e.Till] == nil {
					r := ledger.NewReport()
					outside[e.Till] = &r
				}
				outside[e.Till].Add(e)
			}
		}
		sum := ledger.NewReport()
		for _, till := range s.Tills() {
			tr := f.TillReport(till)
			sum.Merge(&tr)
			refunded += tr.Refunds
			voided += tr.Voids
			shifts := ledger.NewReport()
			for _, sh := range f.Shifts(till) {
				shifts.Merge(&sh.Report)
			}
			if o := outside[till]; o != nil {
				shifts.Merge(o)
			}
			if !reflect.DeepEqual(shifts, tr) {
				t.Errorf("round %d: till %s: its shifts and the events outside them add up to\n%+v\nthe till says\n%+v", round, till.Short(), shifts, tr)
			}
		}
		if !reflect.DeepEqual(sum, storeRep) {
			t.Errorf("round %d: tills add up to\n%+v\nstore\n%+v", round, sum, storeRep)
		}
		if round == 0 && refunded+voided == 0 {
			t.Log("no refund or void in round 0")
		}
	}
}
