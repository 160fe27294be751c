package receipt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// A shift's close prints its Z report: the figures the till's Z screen
// shows, from the same fold ("Close shift and print Z" printed nothing).
func TestZReport(t *testing.T) {
	till := ledgertest.NewTill(testStore, 7, 3)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	s := ledger.NewState(testStore)
	apply := func(b ledger.Body, dt int64) *ledger.Event {
		ev, err := till.Next(b, at+dt, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	apply(&ledger.ShiftOpen{Currency: "EUR", Float: 10000, Staff: "anna"}, 0)
	sale := testSale()
	apply(sale, 60_000)
	close := apply(&ledger.ShiftClose{Currency: "EUR", Staff: "anna", Counted: []ledger.Denomination{{Value: 5000, Count: 2}, {Value: 100, Count: 3}}}, 3_600_000)
	shifts := s.Fold().Shifts(till.ID)
	sh := shifts[len(shifts)-1]
	info := testInfo()
	info.Receipt = uint64(len(shifts)) // the till's shift number
	r, err := FromShiftClose(close, sh, info)
	if err != nil {
		t.Fatal(err)
	}
	_, doc := render(t, r, Layout80(), false)
	text := doc.Text()
	tot, _ := sale.Totals()
	for _, want := range []string{"Z REPORT 3-1", "Float", "€100.00", "Sales (1)", "€" + i18n.FormatNumber(i18n.English, int64(tot.Total), 2),
		"Cash expected", "€" + i18n.FormatNumber(i18n.English, int64(sh.Expected), 2), "Cash counted", "€103.00", "Short", "From", "To"} {
		if !strings.Contains(text, want) {
			t.Errorf("Z printout lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "ID "+close.ID().String()[:16]) {
		t.Errorf("Z printout has no ID:\n%s", text)
	}
	// A sale event is not a shift close, and a report needs rows.
	if _, err := FromShiftClose(testEvent(t), sh, testInfo()); !errors.Is(err, ErrInvalid) {
		t.Errorf("a sale as a Z: %v, want ErrInvalid", err)
	}
	bad := r
	bad.Summary = nil
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a report without rows: %v, want ErrInvalid", err)
	}
}

// A shift with a rounded cash sale: the Z report prints the rounding the
// store took as its own row, and the cash expected already holds it.
func TestZReportRounding(t *testing.T) {
	till := ledgertest.NewTill(testStore, 7, 3)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	s := ledger.NewState(testStore)
	sale := somSale([4]string{"Non", "Sut", "Olma", "Choy"})
	tot, err := sale.Totals()
	if err != nil {
		t.Fatal(err)
	}
	sale.RoundStep, sale.Rounding = 100, -25
	sale.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: 150000}}
	sale.Change = 150000 - (tot.Total - 25)
	var close *ledger.Event
	for i, b := range []ledger.Body{&ledger.ShiftOpen{Currency: "UZS", Float: 500000, Staff: "dilnoza"}, sale,
		&ledger.ShiftClose{Currency: "UZS", Staff: "dilnoza", Counted: []ledger.Denomination{{Value: 100000, Count: 6}}}} {
		ev, err := till.Next(b, at+int64(i)*60_000, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
		close = ev
	}
	sh := s.Fold().Shifts(till.ID)[0]
	if sh.Expected != 500000+tot.Total-25 {
		t.Fatalf("cash expected %d, want the float and the rounded cash %d", sh.Expected, 500000+tot.Total-25)
	}
	r, err := FromShiftClose(close, sh, Info{Store: "Baraka", Number: 3, Receipt: 1, Lang: i18n.Uzbek})
	if err != nil {
		t.Fatal(err)
	}
	_, doc := render(t, r, Layout58(), false)
	text := doc.Text()
	for _, want := range []string{"Yaxlitlash", "-25 soʻm", "Kutilgan naqd", "638 100 soʻm"} {
		if !strings.Contains(text, want) {
			t.Errorf("Z report lacks %q:\n%s", want, text)
		}
	}
}
