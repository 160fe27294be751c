package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a demo store: several tills on this machine that find each other and sell",
		Description: "Creates (first run) or reopens a store in --data with --tills enrolled tills, seeds\n" +
			"a catalog of 240 products with opening stock, and runs every till in this process,\n" +
			"each with its own data directory, libp2p host and HTTP port. Each till sells random\n" +
			"baskets at --rate per second. Ctrl-C stops; the data stays for the next run.\n" +
			"--lang uz or ru starts a Tashkent grocery in that language, prices in so'm\n" +
			"(cash rounded to 100 so'm), with data in .data/demo-<lang> unless --data says.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: ".data/demo", Usage: "data directory (kept between runs)"},
			&cli.IntFlag{Name: "tills", Value: 3, Usage: "number of tills"},
			&cli.IntFlag{Name: "port-base", Value: 8080, Usage: "till N serves http://127.0.0.1:<port-base+N>"},
			&cli.Float64Flag{Name: "rate", Value: 0.5, Usage: "sales per second per till (0: none)"},
			&cli.StringFlag{Name: "lang", Value: "en", Usage: "the store's language: en, ru or uz (ru and uz sell in so'm)"},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	dir, n := c.String("data"), c.Int("tills")
	lang, err := i18n.ParseLang(c.String("lang"))
	if err != nil {
		return fmt.Errorf("--lang: %w", err)
	}
	if lang != i18n.English && !c.IsSet("data") {
		dir += "-" + string(lang) // an English demo's data stays as it is
	}
	if n < 1 || n > 30 {
		return fmt.Errorf("--tills %d: want 1 to 30", n)
	}
	if c.Float64("rate") < 0 {
		return fmt.Errorf("--rate %v: want 0 or more sales per second", c.Float64("rate"))
	}
	store, dirs, err := demoStore(dir, n, demoStoreName[lang])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	// Ctrl-C or SIGTERM at any point is a clean stop, also while the
	// tills start and the demo seeds them: the next run resumes seeding.
	w := c.App.Writer
	stopped := func(err error) error {
		if c.Context.Err() != nil {
			fmt.Fprintln(w, "\nstopping; data kept in", dir)
			return nil
		}
		return err
	}
	var tills []*node.Till
	var wg sync.WaitGroup
	errs := make(chan error, n)
	defer func() {
		cancel()
		wg.Wait()
		for _, t := range tills {
			t.Close()
		}
	}()
	hqAddr := fmt.Sprintf("127.0.0.1:%d", c.Int("port-base"))
	set := node.DemoSettings(string(lang))
	hqs, err := startDemoHQ(ctx, filepath.Join(dir, "hq"), hqAddr, store, set[ui.SettingCurrency], ui.ParseMoneySetting(set[ui.SettingSmallestAmount]), log.With("component", "hq"))
	if err != nil {
		return stopped(err)
	}
	defer hqs.close()
	tills, err = startDemoTills(ctx, dirs, store, log, hqAddr, c.Int("port-base"), &wg, errs)
	if err != nil {
		return stopped(err)
	}
	if err := seedDemo(ctx, tills[0], string(lang)); err != nil {
		return stopped(err)
	}
	if err := seedDemoStaff(ctx, tills[0], lang); err != nil {
		return stopped(err)
	}
	fs, fsURL, err := startDemoFiscal(ctx, tills[0]) // demo_fiscal.go
	if err != nil {
		return stopped(err)
	}
	printDemoBanner(ctx, w, store.Name, dir, hqAddr, c.Int("port-base"), tills, lang)
	fmt.Fprintf(w, "fiscal  %s  (simulated tax service: type `fiscal off` or `fiscal on`; stats at /stats)\n", fsURL)
	go hqSwitch(ctx, os.Stdin, w, hqs, fiscalSwitch(w, fs))
	if rate := c.Float64("rate"); rate > 0 {
		for i, t := range tills {
			wg.Add(1)
			go func() {
				defer wg.Done()
				demoCashier(ctx, log, t, i, rate)
			}()
		}
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return stopped(nil)
		case err := <-errs:
			return stopped(err)
		case <-tick.C:
			printDemoStatus(ctx, w, tills)
		}
	}
}

// startDemoTills starts a till in each of dirs, each with the ones
// before it as static peers, and runs each until ctx ends (in wg; a
// till's error goes to errs). It returns the tills it started, also with
// an error: the caller closes them.
func startDemoTills(ctx context.Context, dirs []string, store *pki.StoreFile, log *slog.Logger, hqAddr string, portBase int, wg *sync.WaitGroup, errs chan<- error) ([]*node.Till, error) {
	var tills []*node.Till
	var peers []string
	for i, d := range dirs {
		t, err := node.New(ctx, demoTillConfig(d, store, log.With("till", i+1), hqAddr, portBase+i+1, peers))
		if err != nil {
			return tills, fmt.Errorf("till %d: %w", i+1, err)
		}
		tills = append(tills, t)
		peers = append(peers, t.Host().Addrs()[0].String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.Run(ctx); err != nil {
				errs <- fmt.Errorf("till %d: %w", i+1, err)
			}
		}()
	}
	return tills, nil
}

// demoTillConfig is the configuration of the demo's till in dir: simulated
// devices, UI on port, the tills started before it as static peers.
func demoTillConfig(dir string, store *pki.StoreFile, log *slog.Logger, hqAddr string, port int, peers []string) node.Config {
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = dir, store, log
	cfg.HQ, cfg.Release = "http://"+hqAddr, releaseName()
	cfg.Sim = sim.NewSet()
	cfg.HW.Devices = cfg.Sim.Devices()
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = []string{"/ip4/127.0.0.1/tcp/0"}, append([]string(nil), peers...), false
	return cfg
}

// printDemoBanner tells where the demo's HQ and tills are and who can
// log in.
func printDemoBanner(ctx context.Context, w io.Writer, name, dir, hqAddr string, portBase int, tills []*node.Till, lang i18n.Lang) {
	fmt.Fprintf(w, "demo store %q with %d tills, data in %s\n", name, len(tills), dir)
	fmt.Fprintf(w, "hq      http://%s  (dashboard login: admin / %s)\n", hqAddr, demoHQPassword)
	for i, t := range tills {
		fmt.Fprintf(w, "till %d  http://%s\n", i+1, waitAddr(ctx, t, fmt.Sprintf("127.0.0.1:%d", portBase+i+1)))
	}
	fmt.Fprintln(w, "log in at any till with staff number and PIN:")
	for _, s := range demoStaff {
		fmt.Fprintf(w, "  %-8s staff %s  PIN %s  (%s)\n", s.role, s.id, s.pin, s.names[lang])
	}
	fmt.Fprintf(w, "simulated printers: http://%s/sim/receipts (and each till's own)\n",
		waitAddr(ctx, tills[0], fmt.Sprintf("127.0.0.1:%d", portBase+1)))
	fmt.Fprintln(w, "type `hq off` or `hq on` and Enter to take HQ away and back; Ctrl-C to stop")
}

// printDemoStatus prints a line a till: its events and connected peers.
func printDemoStatus(ctx context.Context, w io.Writer, tills []*node.Till) {
	for i, t := range tills {
		st := t.Status(ctx)
		connected := 0
		for _, p := range st.Peers {
			if p.Connected {
				connected++
			}
		}
		fmt.Fprintf(w, "till %d: %d events in its ledger, %d/%d peers connected\n", i+1, st.Events, connected, len(tills)-1)
	}
}

func waitAddr(ctx context.Context, t *node.Till, fallback string) string {
	for range 100 {
		if a := t.HTTPAddr(); a != "" {
			return a
		}
		select {
		case <-ctx.Done():
			return fallback
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fallback
}

// demoStore creates the store and enrolls the tills on the first run, and
// reopens them afterwards.
func demoStore(dir string, n int, name string) (*pki.StoreFile, []string, error) {
	storeDir := filepath.Join(dir, "store")
	store, err := pki.LoadStoreFile(filepath.Join(storeDir, pki.StoreFileName))
	if errors.Is(err, os.ErrNotExist) {
		store, err = pki.InitStore(storeDir, name)
	}
	if err != nil {
		return nil, nil, err
	}
	var dirs []string
	for i := 1; i <= n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("till%d", i))
		if _, err := os.Stat(filepath.Join(d, pki.TillCertFileName)); err != nil {
			if _, err := pki.Enroll(storeDir, d, uint32(i), fmt.Sprintf("Till %d", i), time.Now()); err != nil {
				return nil, nil, err
			}
		}
		dirs = append(dirs, d)
	}
	return store, dirs, nil
}

// seedDemo puts the store's settings for lang (node.DemoSettings), the
// catalog and opening stock in on the first run, and finishes a seeding
// a stop cut short: settings and products already there are left as
// they are, and the opening stock is one event under a fixed idempotency
// key, so it is never received twice. Data seeded in another language
// is refused with the way out.
func seedDemo(ctx context.Context, t *node.Till, lang string) error {
	ps, err := t.Inventory().Products(ctx)
	if err != nil {
		return err
	}
	had, set, err := t.Setting(ctx, node.SettingLanguage)
	if err != nil {
		return err
	}
	if !set && len(ps) > 0 {
		had, set = "en", true // a demo from before the language setting
	}
	if set && had != lang {
		return fmt.Errorf("--lang %s: this demo's data is in language %q; run with --lang %s, or give another --data directory", lang, had, had)
	}
	for name, v := range node.DemoSettings(lang) {
		if _, ok, err := t.Setting(ctx, name); err != nil || ok {
			continue
		}
		if err := t.PutSetting(ctx, name, v); err != nil {
			return fmt.Errorf("demo setting %s: %w", name, err)
		}
	}
	have := make(map[string]bool, len(ps))
	for _, p := range ps {
		have[p.SKU] = true
	}
	catalog := node.DemoCatalogIn(lang, 240)
	lines := make([]ledger.StockLine, 0, len(catalog))
	for _, p := range catalog {
		if !have[p.SKU] {
			if err := t.Inventory().PutProduct(ctx, p); err != nil {
				return err
			}
		}
		q := int64(200)
		if p.Weighed() {
			q = 50_000 // 50 kg in grams
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: q})
	}
	_, _, err = t.Record(ctx, &ledger.StockReceive{Lines: lines, Ref: "opening stock", Staff: "demo"}, "demo-opening-stock")
	return err
}

// demoStaff are the demo store's staff, named in the store's language;
// their PINs are printed at start.
var demoStaff = []struct {
	id, pin string
	names   map[i18n.Lang]string
	role    ui.Role
}{
	{"1", "1234", map[i18n.Lang]string{i18n.English: "Maria Manager", i18n.Russian: "Марина Петрова", i18n.Uzbek: "Dilnoza Karimova"}, ui.RoleManager},
	{"2", "0000", map[i18n.Lang]string{i18n.English: "Carl Cashier", i18n.Russian: "Алексей Смирнов", i18n.Uzbek: "Jasur Toshmatov"}, ui.RoleCashier},
	{"3", "1111", map[i18n.Lang]string{i18n.English: "Cleo Cashier", i18n.Russian: "Ольга Ким", i18n.Uzbek: "Malika Yoʻldosheva"}, ui.RoleCashier},
}

// demoStoreName is the demo store's name in each language.
var demoStoreName = map[i18n.Lang]string{i18n.English: "Demo Store", i18n.Russian: "Демо-магазин", i18n.Uzbek: "Demo doʻkon"}

// seedDemoStaff puts in the demo staff the staff list does not have (a
// member removed by hand stays in the list as removed).
func seedDemoStaff(ctx context.Context, t *node.Till, lang i18n.Lang) error {
	list, err := t.StaffList(ctx)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(list))
	for _, m := range list {
		have[m.ID] = true
	}
	for _, s := range demoStaff {
		if have[s.id] {
			continue
		}
		if err := t.AddStaff(ctx, s.id, s.names[lang], s.role, s.pin); err != nil {
			return fmt.Errorf("demo staff %s: %w", s.id, err)
		}
	}
	return nil
}

// demoCashier sells random baskets from the catalog at rate per second.
func demoCashier(ctx context.Context, log *slog.Logger, t *node.Till, i int, rate float64) {
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		products, err := t.Inventory().Products(ctx)
		if err != nil || len(products) == 0 {
			continue // the catalog has not arrived yet
		}
		req := ui.SaleRequest{IdempotencyKey: fmt.Sprintf("demo-%d-%d-%d", i+1, time.Now().UnixNano(), n), Staff: "demo"}
		for range 1 + rng.IntN(4) {
			p := products[rng.IntN(len(products))]
			qty := int64(1 + rng.IntN(3))
			if p.Weighed() {
				qty = int64(200 + rng.IntN(1500))
			}
			req.Lines = append(req.Lines, ui.SaleLine{SKU: p.SKU, Qty: qty})
		}
		// Ask for the total first: a card pays exactly, cash with the next
		// multiple of 50,000 minor units above it (€500, 50,000 so'm), so
		// the change and any cash rounding show.
		b := basket.Basket{TaxIncluded: true, LimitBP: -1}
		for _, l := range req.Lines {
			p, _ := t.Inventory().Product(ctx, l.SKU)
			b.Items = append(b.Items, basket.Item{Product: p, Qty: l.Qty})
		}
		priced, err := basket.Price(b)
		if err != nil {
			continue
		}
		total := priced.Totals.Total
		req.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: (total/50_000 + 1) * 50_000}}
		if rng.IntN(2) == 0 {
			req.Tenders = []ledger.Tender{{Kind: ledger.Card, Amount: total, Ref: fmt.Sprintf("DEMO%06d", rng.IntN(1_000_000))}}
		}
		ev, _, err := t.Sell(ctx, req)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("demo sale", "till", i+1, "err", err)
			}
			continue
		}
		s := ev.Body.(*ledger.Sale)
		tot, _ := s.Totals() // recorded: it validated
		var n uint64
		t.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
		log.Info("sale", "till", i+1, "receipt", ledger.ReceiptNo(t.Number(), n), "total", tot.Total.String(), "lines", len(s.Lines), "tender", s.Tenders[0].Kind)
	}
}

const demoHQPassword = "demo-hq-admin"

// demoHQ is the demo's HQ, which `hq off` stops and `hq on` starts again
// on the same storage, so the tills' backlog grows and drains.
type demoHQ struct {
	mu    sync.Mutex
	store *pki.StoreFile
	st    hq.Storage
	addr  string
	// currency is the chain's, for the dashboard's amounts, and smallest
	// the smallest amount in use in it.
	currency string
	smallest ledger.Money
	log      *slog.Logger
	parent   context.Context
	cancel   context.CancelFunc
	done     chan struct{}
}

func startDemoHQ(ctx context.Context, dir, addr string, store *pki.StoreFile, currency string, smallest ledger.Money, log *slog.Logger) (*demoHQ, error) {
	st, err := hq.OpenBadger(dir, log)
	if err != nil {
		return nil, err
	}
	d := &demoHQ{store: store, st: st, addr: addr, currency: currency, smallest: smallest, log: log, parent: ctx}
	if err := d.start(); err != nil {
		st.Close()
		return nil, err
	}
	return d, nil
}

func (d *demoHQ) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return nil
	}
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.HTTPAddr, cfg.AdminPassword = d.st, d.log, d.addr, demoHQPassword
	cfg.Currency, cfg.SmallestAmount = d.currency, d.smallest
	ctx, cancel := context.WithCancel(d.parent)
	h, err := hq.New(ctx, cfg)
	if err != nil {
		cancel()
		return err
	}
	if err := h.RegisterStore(ctx, d.store.ID, d.store.Name, d.store.CA); err != nil {
		cancel()
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("hq stopped", "err", err)
		}
	}()
	d.cancel, d.done = cancel, done
	return nil
}

func (d *demoHQ) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.done
	d.cancel = nil
}

func (d *demoHQ) close() {
	d.stop()
	d.st.Close()
}

// hqSwitch reads `hq off` and `hq on` from the terminal.
func hqSwitch(ctx context.Context, in io.Reader, w io.Writer, d *demoHQ, other func(string) bool) {
	sc := bufio.NewScanner(in)
	for sc.Scan() && ctx.Err() == nil {
		if other != nil && other(strings.TrimSpace(sc.Text())) {
			continue
		}
		switch strings.TrimSpace(sc.Text()) {
		case "hq off":
			d.stop()
			fmt.Fprintln(w, "HQ is offline: the tills keep selling; watch \"unsent to HQ\" grow in their status")
		case "hq on":
			if err := d.start(); err != nil {
				fmt.Fprintln(w, "HQ did not start:", err)
				continue
			}
			fmt.Fprintln(w, "HQ is back: the elected relay drains the backlog")
		case "":
		default:
			fmt.Fprintln(w, "commands: hq off, hq on, fiscal off, fiscal on")
		}
	}
}
