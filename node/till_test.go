package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/testnet/testkit"
	"github.com/tillmesh/tillmesh/ui"
)

func quiet() *slog.Logger { return testkit.Quiet() }

type testStore struct {
	dir   string
	store *pki.StoreFile
	tills []string // data dirs
	// snapshotWait is the tills' InventorySnapshotWait (0: none).
	snapshotWait time.Duration
}

func newStore(t testing.TB, n int) *testStore {
	t.Helper()
	s := &testStore{dir: t.TempDir()}
	var err error
	if s.store, err = pki.InitStore(s.dir, "Test"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		d := t.TempDir()
		if _, err := pki.Enroll(s.dir, d, uint32(i), fmt.Sprintf("Till %d", i), time.Now()); err != nil {
			t.Fatal(err)
		}
		s.tills = append(s.tills, d)
	}
	return s
}

// receiptNo is ev's receipt number as the till shows it.
func receiptNo(r *runningTill, ev *ledger.Event) string {
	var n uint64
	r.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
	return ledger.ReceiptNo(r.Number(), n)
}

type runningTill struct {
	*node.Till
	cancel context.CancelFunc
	done   chan error
}

// start runs the till in dir with the given static peers.
func (s *testStore) start(t testing.TB, dir string, peers ...string) *runningTill {
	return s.startWith(t, dir, nil, peers...)
}

// startWith runs the till with simulated devices when set is not nil.
func (s *testStore) startWith(t testing.TB, dir string, set *sim.Set, peers ...string) *runningTill {
	t.Helper()
	cfg := node.DefaultConfig()
	if set != nil {
		cfg.Sim, cfg.HW.Devices = set, set.Devices()
	}
	cfg.DataDir, cfg.Store, cfg.Logger = dir, s.store, quiet()
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, peers, false
	cfg.SyncInterval = 300 * time.Millisecond
	cfg.InventorySnapshotWait = s.snapshotWait
	till, err := node.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningTill{Till: till, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- till.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *runningTill) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.Close()
	r.cancel = nil
}

func (r *runningTill) addr() string { return r.Host().Addrs()[0].String() }

// waitFor polls cond until it holds (testkit.WaitFor).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 30*time.Second, cond)
}

func seed(t testing.TB, r *runningTill, products int) {
	t.Helper()
	ctx := t.Context()
	var lines []ledger.StockLine
	for _, p := range node.DemoCatalog(products) {
		if err := r.Inventory().PutProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: 100})
	}
	if _, _, err := r.Record(ctx, &ledger.StockReceive{Lines: lines, Staff: "1"}, "opening"); err != nil {
		t.Fatal(err)
	}
}

func sell(t *testing.T, r *runningTill, key string, sku string, qty int64) *ledger.Event {
	t.Helper()
	s, _, err := r.Sell(t.Context(), ui.SaleRequest{IdempotencyKey: key,
		Lines: []ui.SaleLine{{SKU: sku, Qty: qty}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}})
	if err != nil {
		t.Fatalf("sell %s on till %d: %v", sku, r.Number(), err)
	}
	return s
}

// agree checks that every till holds the same ledger and that each
// till's CRDT stock equals the fold of the ledger.
func agree(rs ...*runningTill) error {
	v0 := rs[0].DB().Vector()
	var fold0 map[string]int64
	for i, r := range rs {
		if v := r.DB().Vector(); !v.Equal(v0) {
			return fmt.Errorf("till %d vector %v, till 1 %v", i+1, v, v0)
		}
		fold := map[string]int64{}
		r.DB().View(func(s *ledger.State) {
			for _, sku := range s.Fold().SKUs() {
				fold[sku] = s.Fold().StockTotal(sku)
			}
		})
		if i == 0 {
			fold0 = fold
		}
		for sku, want := range fold0 {
			if fold[sku] != want {
				return fmt.Errorf("till %d fold of %s = %d, till 1 %d", i+1, sku, fold[sku], want)
			}
			st, err := r.Stock(context.Background(), sku)
			if err != nil || st.Total != want {
				return fmt.Errorf("till %d CRDT stock of %s = %d (%v), fold %d", i+1, sku, st.Total, err, want)
			}
		}
	}
	return nil
}

func TestThreeTillsSellPartitionHeal(t *testing.T) {
	s := newStore(t, 3)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	c := s.start(t, s.tills[2], a.addr(), b.addr())
	seed(t, a, 20)
	waitFor(t, "catalog on C", func() bool { _, err := c.Inventory().Product(t.Context(), "10005"); return err == nil })

	sale := sell(t, a, "s1", "10001", 2)
	// The stock receipt before it takes no receipt number: 1-1.
	if got := receiptNo(a, sale); got != "1-1" {
		t.Fatalf("receipt %q, want 1-1", got)
	}
	waitFor(t, "A's sale in B's and C's ledger and stock", func() bool {
		for _, r := range []*runningTill{b, c} {
			st, _ := r.Stock(t.Context(), "10001")
			if r.DB().Vector()[a.ID()] != 2 || st.Total != 98 {
				return false
			}
		}
		return true
	})
	// Same idempotency key: same sale, nothing new.
	if again := sell(t, a, "s1", "10001", 2); again.ID() != sale.ID() {
		t.Fatal("retried sale recorded twice")
	}

	// Cut C off.
	for _, r := range []*runningTill{a, b} {
		r.Host().Block(c.Host().ID())
		c.Host().Block(r.Host().ID())
	}
	for i := range 30 {
		sell(t, a, fmt.Sprintf("a%d", i), "10002", 1)
		sell(t, b, fmt.Sprintf("b%d", i), "10002", 1)
		sell(t, c, fmt.Sprintf("c%d", i), "10002", 2)
	}
	if got := c.DB().Vector()[a.ID()]; got != 2 {
		t.Fatalf("C saw A's sales through the partition: seq %d", got)
	}
	for _, r := range []*runningTill{a, b} {
		r.Host().Unblock(c.Host().ID())
		c.Host().Unblock(r.Host().ID())
	}
	waitFor(t, "convergence after heal", func() bool { return agree(a, b, c) == nil })
	st, _ := c.Stock(t.Context(), "10002")
	if st.Total != 100-30-30-60 || st.Slots["3"] != -60 {
		t.Fatalf("stock of 10002 on C: %+v", st)
	}
	// Chain heads identical.
	for _, till := range []ledger.TillID{a.ID(), b.ID(), c.ID()} {
		var heads []ledger.EventID
		for _, r := range []*runningTill{a, b, c} {
			r.DB().View(func(s *ledger.State) { _, id, _ := s.Head(till); heads = append(heads, id) })
		}
		if heads[0] != heads[1] || heads[1] != heads[2] {
			t.Fatalf("chain heads of till %s differ", till.Short())
		}
	}
	status := a.Status(t.Context())
	if len(status.Peers) != 2 || status.VersionVector["3"] != 30 || status.Number != 1 {
		t.Fatalf("status %+v", status)
	}
}

func TestRestartKeepsIdentityAndCatchesUp(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	waitFor(t, "catalog on B", func() bool { _, err := b.Inventory().Product(t.Context(), "10001"); return err == nil })
	sell(t, b, "x", "10001", 1)
	idBefore := b.Host().ID()
	b.stop()
	for i := range 20 {
		sell(t, a, fmt.Sprintf("k%d", i), "10003", 1)
	}
	b2 := s.start(t, s.tills[1], a.addr())
	if b2.Host().ID() != idBefore {
		t.Fatalf("peer ID changed on restart: %s -> %s", idBefore, b2.Host().ID())
	}
	waitFor(t, "restarted till catches up", func() bool { return agree(a, b2) == nil && b2.DB().Vector()[a.ID()] == 21 })
	if b2.DB().Vector()[b2.ID()] != 1 {
		t.Fatalf("restarted till lost its own sale: %v", b2.DB().Vector())
	}
}

func TestBrokenInventoryIsRebuilt(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	waitFor(t, "catalog on B", func() bool { _, err := b.Inventory().Product(t.Context(), "10002"); return err == nil })
	sell(t, b, "before", "10002", 3)
	b.stop()
	// Wreck B's inventory store the way a power loss can: files emptied.
	dir := filepath.Join(s.tills[1], "crdt")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".mem" || filepath.Ext(e.Name()) == ".vlog" || e.Name() == "MANIFEST" {
			os.Truncate(filepath.Join(dir, e.Name()), 0)
		}
	}
	b2 := s.start(t, s.tills[1], a.addr())
	waitFor(t, "B's inventory rebuilt from A and its own ledger", func() bool {
		st, err := b2.Stock(t.Context(), "10002")
		return err == nil && st.Total == 97 && st.Slots["2"] == -3
	})
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

func TestReceiptsPrintAfterCommitAndHoldOnPaperOut(t *testing.T) {
	s := newStore(t, 1)
	set := sim.NewSet()
	a := s.startWith(t, s.tills[0], set)
	seed(t, a, 5)
	first := sell(t, a, "r1", "10001", 1)
	waitFor(t, "the first receipt printed and its job done", func() bool {
		q := a.Hardware().Status().Queue
		return len(set.Printer.Receipts()) == 1 && q != nil && q.Printed == 1 && q.Pending == 0
	})
	if txt := set.Printer.Receipts()[0].Text(); !strings.Contains(txt, receiptNo(a, first)) {
		t.Fatalf("receipt does not show %s:\n%s", receiptNo(a, first), txt)
	}
	// The printed barcode is the receipt screen's (ui: ledger.ReceiptCode
	// of the same number): the first sale after the opening stock is 1-1.
	if bc := set.Printer.Receipts()[0].Barcodes(); receiptNo(a, first) != "1-1" || len(bc) != 1 || bc[0] != ledger.ReceiptCode(1, 1) {
		t.Fatalf("printed barcode %q of receipt %s, want %s", bc, receiptNo(a, first), ledger.ReceiptCode(1, 1))
	}
	if kicks, _ := set.Printer.Drawer().Kicks(); kicks != 1 {
		t.Fatalf("drawer kicked %d times for a cash sale, want 1", kicks)
	}
	// The simulated printer's pages sit behind the UI's Host allowlist
	// and security headers (issue 11, finding 8).
	for _, path := range []string{"/sim/receipts", "/sim/receipts/0.png"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "evil.example"
		a.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusMisdirectedRequest {
			t.Fatalf("%s for Host evil.example: %d, want 421", path, rec.Code)
		}
		rec = httptest.NewRecorder()
		req.Host = "127.0.0.1:8080"
		a.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: %d, headers %v", path, rec.Code, rec.Header())
		}
	}

	set.Printer.SetState(sim.PaperOut)
	waitFor(t, "paper out in the till's status", func() bool {
		st := a.Status(t.Context())
		return len(st.Problems) > 0 && strings.Contains(strings.Join(st.Problems, " "), "paper")
	})
	paperOut := a.Status(t.Context())
	checkStatusNotes(t, paperOut)
	if !slices.ContainsFunc(paperOut.Notes, func(n ui.Note) bool {
		return n.Key == ui.NoteDevice || n.Key == ui.NotePrinterWaiting || n.Key == ui.NotePrinterHeld
	}) {
		t.Errorf("paper out has no printer note: %+v", paperOut.Notes)
	}
	second := sell(t, a, "r2", "10002", 1) // committed although nothing can print
	if receiptNo(a, second) != "1-2" {
		t.Fatalf("second sale %+v", second)
	}
	set.Printer.SetState(sim.Ready)
	printedOnce := func(receipt string) bool {
		n := 0
		for _, r := range set.Printer.Receipts() {
			if strings.Contains(r.Text(), "Receipt "+receipt) && !r.IsCopy() {
				n++
			}
		}
		return n == 1
	}
	waitFor(t, "the held receipt printed once paper is back", func() bool {
		q := a.Hardware().Status().Queue
		return printedOnce(receiptNo(a, second)) && q.Pending == 0
	})
	before := len(set.Printer.Receipts())
	if err := a.Reprint(t.Context(), first.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reprint", func() bool { return len(set.Printer.Receipts()) == before+1 })
	if last := set.Printer.Receipts()[before]; !last.IsCopy() || !strings.Contains(last.Text(), "Receipt "+receiptNo(a, first)) {
		t.Fatalf("reprint not a COPY of %s:\n%s", receiptNo(a, first), last.Text())
	}
	// Closing a shift prints its Z report.
	if _, _, err := a.Record(t.Context(), &ledger.ShiftOpen{Currency: "EUR", Float: 5000, Staff: "1"}, "open"); err != nil {
		t.Fatal(err)
	}
	z, _, err := a.Record(t.Context(), &ledger.ShiftClose{Currency: "EUR", Staff: "1", Counted: []ledger.Denomination{{Value: 5000, Count: 1}}}, "close")
	if err != nil {
		t.Fatal(err)
	}
	_ = z
	want := "Z REPORT 1-1" // the till's first shift
	waitFor(t, "the Z report printed", func() bool {
		for _, r := range set.Printer.Receipts() {
			if txt := r.Text(); strings.Contains(txt, want) && strings.Contains(txt, "Cash expected") && strings.Contains(txt, "50.00") {
				return true
			}
		}
		return false
	})
}
