package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a demo till that records sales from a seeded catalog in its signed ledger",
		Description: "Until the store mesh lands this is one till: it opens a shift, receives opening\n" +
			"stock, then records random baskets as signed, durable sales and prints each\n" +
			"receipt and a running X report. Ctrl-C closes the shift and prints the Z report.\n" +
			"The ledger persists in --data; inspect it with `tillmesh ledger verify|export`.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: ".data/demo", Usage: "data directory (kept between runs)"},
			&cli.Float64Flag{Name: "rate", Value: 2, Usage: "sales per second"},
			&cli.IntFlag{Name: "sales", Value: 0, Usage: "stop after this many sales (0: run until Ctrl-C)"},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	dir := c.String("data")
	if c.Float64("rate") <= 0 {
		return fmt.Errorf("--rate %v: want a positive number of sales per second", c.Float64("rate"))
	}
	key, err := node.LoadOrCreateKey(filepath.Join(dir, "till.key"))
	if err != nil {
		return err
	}
	store, err := loadOrCreateStoreID(filepath.Join(dir, "store.id"))
	if err != nil {
		return err
	}
	cfg := ledgerdb.DefaultConfig(filepath.Join(dir, "ledger"), store)
	cfg.Logger = log
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	till := ledger.TillOf(key)
	if err := enrollDemoTill(db, dir, store, till); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "demo till 1 (%s) of store %s, data in %s\n", till.Short(), store, dir)

	ctx := c.Context
	now := func() int64 { return time.Now().UnixMilli() }
	var open *ledger.Shift
	var held uint64
	db.View(func(s *ledger.State) { open = s.Fold().OpenShift(till); held, _, _ = s.Head(till) })
	if held == 0 {
		lines := make([]ledger.StockLine, 0, len(ledgertest.SKUs))
		for _, p := range ledgertest.SKUs {
			q := int64(500)
			if p.Unit == ledger.Kilogram {
				q = 100_000 // 100 kg
			}
			lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: q})
		}
		if _, _, err := db.Append(ctx, key, &ledger.StockReceive{Lines: lines, Ref: "opening stock", Staff: "1"}, "", now()); err != nil {
			return err
		}
		fmt.Fprintf(w, "received opening stock of %d products\n", len(lines))
	}
	if open == nil {
		if _, _, err := db.Append(ctx, key, &ledger.ShiftOpen{Currency: "EUR", Float: 15000, Staff: "1"}, "", now()); err != nil {
			return err
		}
		fmt.Fprintln(w, "shift opened with a float of 150.00 EUR")
	}

	rng := mrand.New(mrand.NewPCG(uint64(now()), 0))
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.Float64("rate")))
	defer tick.Stop()
	report := time.NewTicker(10 * time.Second)
	defer report.Stop()
	for n := 0; c.Int("sales") == 0 || n < c.Int("sales"); {
		select {
		case <-ctx.Done():
			return closeDemoShift(context.Background(), c, db, key)
		case <-report.C:
			printX(c, db, till)
			continue
		case <-tick.C:
		}
		sale := ledgertest.Sale(rng, 5)
		ev, _, err := db.Append(ctx, key, sale, fmt.Sprintf("demo-%d-%d", now(), n), now())
		if err != nil {
			if errors.Is(err, context.Canceled) {
				continue
			}
			return err
		}
		t, _ := sale.Totals()
		fmt.Fprintf(w, "sale %-8s %d lines %9v EUR  %s\n", ev.Receipt(1), len(sale.Lines), t.Total, sale.Tenders[0].Kind)
		n++
	}
	printX(c, db, till)
	return closeDemoShift(ctx, c, db, key)
}

func printX(c *cli.Context, db *ledgerdb.DB, till ledger.TillID) {
	var r ledger.Report
	db.View(func(s *ledger.State) {
		if sh := s.Fold().OpenShift(till); sh != nil {
			r = sh.Report
		}
	})
	fmt.Fprintf(c.App.Writer, "X report: %d sales, %v EUR taken, tax %v, cash in drawer %v\n",
		r.Sales, r.Total, r.Tax, r.CashExpected)
}

func closeDemoShift(ctx context.Context, c *cli.Context, db *ledgerdb.DB, key ed25519.PrivateKey) error {
	till := ledger.TillOf(key)
	var expected ledger.Money
	db.View(func(s *ledger.State) {
		if sh := s.Fold().OpenShift(till); sh != nil {
			expected = sh.Report.CashExpected
		}
	})
	// The demo's cashier counts exactly what the drawer should hold, in
	// 10.00 notes and 0.01 coins.
	counted := []ledger.Denomination{{Value: 1000, Count: int64(expected / 1000)}, {Value: 1, Count: int64(expected % 1000)}}
	if _, _, err := db.Append(ctx, key, &ledger.ShiftClose{Currency: "EUR", Counted: counted, Staff: "1"}, "", time.Now().UnixMilli()); err != nil {
		return err
	}
	var z *ledger.Shift
	db.View(func(s *ledger.State) {
		shifts := s.Fold().Shifts(till)
		cp := *shifts[len(shifts)-1]
		z = &cp
	})
	w := c.App.Writer
	fmt.Fprintf(w, "\nZ report, shift opened at seq %d, closed at seq %d\n", z.OpenSeq, z.CloseSeq)
	fmt.Fprintf(w, "  sales %d, total %v, tax %v, refunds %v, voids %v\n", z.Report.Sales, z.Report.Total, z.Report.Tax, z.Report.Refunded, z.Report.Voided)
	for k, v := range z.Report.Tenders {
		fmt.Fprintf(w, "  tender %-5s %v\n", k, v)
	}
	for _, b := range z.Report.Bands {
		fmt.Fprintf(w, "  tax %6v: net %v tax %v\n", b.Rate, b.Net, b.Tax)
	}
	fmt.Fprintf(w, "  cash expected %v, counted %v, over/short %v\n", z.Expected, z.Counted, z.OverShort)
	fmt.Fprintf(w, "ledger kept in %s: try `tillmesh ledger verify --data %s`\n", c.String("data"), c.String("data"))
	return nil
}

func loadOrCreateStoreID(path string) (ledger.StoreID, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var id ledger.StoreID
		if _, err := rand.Read(id[:]); err != nil {
			return id, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return id, err
		}
		return id, os.WriteFile(path, []byte(id.String()+"\n"), 0o600)
	}
	if err != nil {
		return ledger.StoreID{}, fmt.Errorf("read store id: %w", err)
	}
	id, err := ledger.ParseStoreID(string(trimNL(b)))
	if err != nil {
		return id, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

// enrollDemoTill makes the demo store's CA (kept in the data dir: this is
// a demo) and certifies the till as number 1.
func enrollDemoTill(db *ledgerdb.DB, dir string, store ledger.StoreID, till ledger.TillID) error {
	certs, err := db.Certificates()
	if err != nil || certs[till] != nil {
		return err
	}
	ca, err := node.LoadOrCreateKey(filepath.Join(dir, "demo-ca.key"))
	if err != nil {
		return err
	}
	cert := &ledger.Certificate{Store: store, Till: till, Number: 1, Name: "Till 1", Issued: time.Now().UnixMilli()}
	if err := cert.Sign(ca); err != nil {
		return err
	}
	return db.PutCertificate(cert)
}
