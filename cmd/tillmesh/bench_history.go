package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/testnet"
	"github.com/tillmesh/tillmesh/ui"
)

func benchHistoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "a till with a year of history: start to can-sell, RSS, sale commit p99, ledger verify rate",
		Description: "Builds a till whose ledger holds --events events spread over the past year\n" +
			"(sales, and every --refund-every-th a refund of an earlier sale) and whose\n" +
			"inventory DAG holds --dag nodes (one stock movement each, as a sale writes),\n" +
			"then starts it as a `tillmesh till` process and measures the time until its\n" +
			"first sale succeeds over the API, --sales sequential sales (latency as the\n" +
			"client sees it, loopback HTTP included) and the process's peak RSS; then, in\n" +
			"this process, the ledger's open, --sales durable sale commits and a refund of\n" +
			"the oldest sale; `ledger verify`'s rate; and HQ's ingest of the whole ledger\n" +
			"(embedded Badger). --dir with --reuse measures a directory built before\n" +
			"(by this command of any release) without building it again.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "events", Value: 100_000, Usage: "sales in the till's ledger"},
			&cli.IntFlag{Name: "dag", Value: -1, Usage: "inventory DAG nodes (default: as many as --events)"},
			&cli.IntFlag{Name: "sales", Value: 1000, Usage: "sales timed after the start"},
			&cli.IntFlag{Name: "refund-every", Value: 100, Usage: "every Nth event of the history is a refund (0: none)"},
			&cli.StringFlag{Name: "dir", Usage: "work directory (default: a temporary one, removed after)"},
			&cli.BoolFlag{Name: "reuse", Usage: "measure the store already in --dir instead of building one"},
			&cli.BoolFlag{Name: "no-hq", Usage: "skip HQ's ingest"},
			&cli.BoolFlag{Name: "newcomer", Usage: "instead of the till's own figures: a newly enrolled till joins it, with and without an inventory snapshot"},
			&cli.StringFlag{Name: "newcomer-wait", Value: "5s", Usage: "the newcomer's --inventory-snapshot-wait"},
			&cli.BoolFlag{Name: "no-walk", Usage: "with --newcomer: skip the newcomer that walks the DAG (minutes at 300,000 nodes)"},
		},
		Action: benchHistory,
	}
}

func benchHistory(c *cli.Context) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	w := c.App.Writer
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, dagN := c.Int("events"), c.Int("dag")
	if dagN < 0 {
		dagN = n
	}
	if n < 1 || dagN > n {
		return fmt.Errorf("--events %d must be positive and --dag %d at most --events", n, dagN)
	}
	dir := c.String("dir")
	if c.Bool("reuse") && dir == "" {
		return fmt.Errorf("--reuse needs --dir")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "tillmesh-history-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	storeDir, tillDir := filepath.Join(dir, "store"), filepath.Join(dir, "till1")
	fmt.Fprintf(w, "machine: %d cores, %s\n", runtime.NumCPU(), cpuModel())
	var products []crdt.Product
	for _, p := range node.DemoCatalog(50) {
		if !p.Weighed() {
			products = append(products, p)
		}
	}
	var store *pki.StoreFile
	var err error
	if c.Bool("reuse") {
		if store, err = pki.LoadStoreFile(filepath.Join(storeDir, pki.StoreFileName)); err != nil {
			return err
		}
	} else if store, err = buildHistory(ctx, c, storeDir, tillDir, products); err != nil {
		return err
	}
	if c.Bool("newcomer") {
		return benchNewcomer(ctx, c, dir, storeDir, tillDir, products)
	}
	key, err := pki.LoadOrCreateKey(filepath.Join(tillDir, pki.TillKeyFileName))
	if err != nil {
		return err
	}
	if err := startAndSell(ctx, c, dir, tillDir, products); err != nil {
		return err
	}
	lc := ledgerdb.DefaultConfig(filepath.Join(tillDir, "ledger"), store.ID)
	lc.Logger = quiet
	if err := commitInProcess(ctx, c, lc, key, products); err != nil {
		return err
	}

	// ledger verify over the whole ledger (every signature).
	start := time.Now()
	rep, err := ledgerdb.Verify(filepath.Join(tillDir, "ledger"), quiet)
	if err != nil {
		return err
	}
	el := time.Since(start)
	total := 0
	for _, ch := range rep.Chains {
		total += ch.Events
	}
	fmt.Fprintf(w, "ledger verify: %d events in %v = %.0f events/s (one goroutine), ok=%v\n",
		total, el.Round(time.Millisecond), float64(total)/el.Seconds(), rep.OK())
	if c.Bool("no-hq") {
		return nil
	}
	return hqIngest(ctx, c, dir, tillDir, store, key, lc)
}

// buildHistory makes the store, the till and its year of history.
func buildHistory(ctx context.Context, c *cli.Context, storeDir, tillDir string, products []crdt.Product) (*pki.StoreFile, error) {
	w := c.App.Writer
	n, dagN := c.Int("events"), c.Int("dag")
	if dagN < 0 {
		dagN = n
	}
	store, err := pki.InitStore(storeDir, "History")
	if err != nil {
		return nil, err
	}
	if _, err := pki.Enroll(storeDir, tillDir, 1, "Till 1", time.Now()); err != nil {
		return nil, err
	}

	yearAgo := time.Now().Add(-365 * 24 * time.Hour)
	base, err := seedHistory(ctx, w, store, tillDir, products, n, dagN, yearAgo)
	if err != nil {
		return nil, err
	}
	key, err := pki.LoadOrCreateKey(filepath.Join(tillDir, pki.TillKeyFileName))
	if err != nil {
		return nil, err
	}

	if err := writeHistory(ctx, w, store, tillDir, key, products, n, base, c.Int("refund-every"), yearAgo); err != nil {
		return nil, err
	}
	return store, nil
}

// seedHistory starts the till a year ago with the catalog, staff and
// opening stock, builds the inventory DAG (dagN nodes), and returns the
// seq of the opening stock event.
func seedHistory(ctx context.Context, w io.Writer, store *pki.StoreFile, tillDir string, products []crdt.Product, n, dagN int, yearAgo time.Time) (uint64, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// 1. A year ago: the catalog, staff and opening stock, then the
	// inventory DAG, one stock movement (a DAG node) per sale to come.
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = tillDir, store, quiet
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	clock := yearAgo
	cfg.Now = func() time.Time { return clock }
	t, err := node.New(ctx, cfg)
	if err != nil {
		return 0, err
	}
	go t.Run(ctx)
	var lines []ledger.StockLine
	for _, p := range products {
		if err := t.Inventory().PutProduct(ctx, p); err != nil {
			return 0, err
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: int64(n)})
	}
	if err := t.AddStaff(ctx, "1", "Bench", ui.RoleManager, "1234"); err != nil {
		return 0, err
	}
	opening, _, err := t.Record(ctx, &ledger.StockReceive{Lines: lines, Staff: "1"}, "opening")
	if err != nil {
		return 0, err
	}
	base := opening.Seq
	start := time.Now()
	// One DAG node per movement, as sales write them, synced once per
	// run of 1,000 (crdt.Store.ApplyMovementsRun) rather than per node.
	const run = 1000
	moves := make([]map[string]int64, 0, run)
	for i := 0; i < dagN; i += run {
		moves = moves[:0]
		for j := i; j < min(i+run, dagN); j++ {
			moves = append(moves, map[string]int64{products[j%len(products)].SKU: -1})
		}
		if err := t.Inventory().ApplyMovementsRun(ctx, base+uint64(i)+1, moves); err != nil {
			return 0, err
		}
		if i%100_000 == 0 && i > 0 {
			fmt.Fprintf(w, "  DAG: %d nodes in %v\n", i, time.Since(start).Round(time.Second))
		}
	}
	if dagN > 0 {
		fmt.Fprintf(w, "built the inventory DAG: %d nodes in %v (%.0f/s)\n", dagN, time.Since(start).Round(time.Millisecond),
			float64(dagN)/time.Since(start).Seconds())
	}
	t.Close()
	return base, nil
}

// writeHistory stores n events over the year after base, signed by
// the till's key.
func writeHistory(ctx context.Context, w io.Writer, store *pki.StoreFile, tillDir string, key ed25519.PrivateKey, products []crdt.Product, n int, base uint64, refundEvery int, yearAgo time.Time) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	step := 365 * 24 * time.Hour / time.Duration(n+1)
	// 2. The ledger: n events over the year, signed by the till's key and
	// stored as a peer's run would be (ledgerdb.Insert, 5,000 at a time):
	// sales, and every refundEvery-th a refund of an earlier sale.
	start := time.Now()
	lc := ledgerdb.DefaultConfig(filepath.Join(tillDir, "ledger"), store.ID)
	lc.Logger = quiet
	db, err := ledgerdb.Open(lc)
	if err != nil {
		return err
	}
	seq, prev := headOf(db, ledger.TillOf(key))
	if seq != base {
		db.Close()
		return fmt.Errorf("ledger head %d, want %d", seq, base)
	}
	batch := make([]*ledger.Event, 0, 5000)
	rng := rand.New(rand.NewPCG(1, 17))
	var applied []ledger.EventID // sales stored by earlier batches
	refunds := 0
	for i := range n {
		var body ledger.Body
		if refundEvery > 0 && i%refundEvery == refundEvery-1 && len(applied) > 0 {
			body = refundOf(db, applied[rng.IntN(len(applied))])
		}
		if body == nil {
			p := products[i%len(products)]
			sale := &ledger.Sale{Currency: p.Currency, TaxIncluded: true, Staff: "1",
				Lines: []ledger.Line{p.Line(1, 0)}}
			tot, err := sale.Totals()
			if err != nil {
				db.Close()
				return err
			}
			sale.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: tot.Total}}
			body = sale
		} else {
			refunds++
		}
		seq++
		ev := &ledger.Event{Store: store.ID, Seq: seq, Prev: prev,
			Time: ledger.HLC{Wall: yearAgo.Add(time.Duration(i+1) * step).UnixMilli()}, Body: body, Key: "h" + strconv.Itoa(i)}
		if err := ev.Sign(key); err != nil {
			db.Close()
			return err
		}
		prev = ev.ID()
		batch = append(batch, ev)
		if len(batch) == cap(batch) || i == n-1 {
			res, err := db.Insert(ctx, batch)
			if err == nil && len(res.Rejected) > 0 {
				err = fmt.Errorf("rejected %s", res.Rejected[0].Err)
			}
			if err != nil {
				db.Close()
				return fmt.Errorf("insert history: %w", err)
			}
			for _, ev := range batch {
				if ev.Kind() == ledger.KindSale {
					applied = append(applied, ev.ID())
				}
			}
			batch = batch[:0]
		}
	}
	db.Close()
	fmt.Fprintf(w, "built the ledger: %d events over a year (%d of them refunds) in %v\n", n, refunds, time.Since(start).Round(time.Millisecond))
	return nil
}

// refundOf returns a refund of a sale's first line, or nil if nothing of
// it remains.
func refundOf(db *ledgerdb.DB, sale ledger.EventID) ledger.Body {
	var rf *ledger.Refund
	db.View(func(s *ledger.State) {
		lines, err := s.Fold().RefundLines(sale, []ledger.Pick{{Line: 0, Qty: 1}})
		if err != nil || lines[0].Amount <= 0 {
			return
		}
		rf = &ledger.Refund{Sale: sale, Currency: "EUR", Staff: "1", Lines: lines,
			Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: lines[0].Amount}}}
	})
	if rf == nil {
		return nil
	}
	return rf
}

// startAndSell starts the till as a process and times it until it sells.
func startAndSell(ctx context.Context, c *cli.Context, dir, tillDir string, products []crdt.Product) error {
	w := c.App.Writer

	// 3. Start the till as a process: time until it sells.
	httpPort, err := testnet.FreePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	report := filepath.Join(dir, "till1-mem.txt")
	started := time.Now()
	cmd := exec.CommandContext(ctx, self, "--log-level", "error", "till", "--data", tillDir,
		"--http", "127.0.0.1:"+strconv.Itoa(httpPort), "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--mem-report", report)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var st ui.Status
	if err := poll(ctx, 10*time.Minute, func() bool { return getJSON(url+"/api/status", &st) == nil }); err != nil {
		return fmt.Errorf("till did not start: %w", err)
	}
	api, err := login(url, "1", "1234")
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	sale := func(i int) error {
		return api.post("/api/sales", fmt.Sprintf(`{"idempotency_key":"s%d-%d","lines":[{"sku":%q,"qty":1}],"tenders":[{"kind":"cash","amount":100000}]}`,
			started.UnixNano(), i, products[i%len(products)].SKU))
	}
	if err := sale(0); err != nil {
		return fmt.Errorf("first sale: %w", err)
	}
	canSell := time.Since(started)
	_, hwmStart := testnet.ProcMem(cmd.Process.Pid)
	fmt.Fprintf(w, "till start until its first sale over the API: %v (peak RSS so far %d MB)\n", canSell.Round(time.Millisecond), hwmStart>>10)

	var lat []time.Duration
	for i := 1; i <= c.Int("sales"); i++ {
		t0 := time.Now()
		if err := sale(i); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	rss, hwm := testnet.ProcMem(cmd.Process.Pid)
	fmt.Fprintf(w, "%d sales over the API after the start: p50 %v p99 %v max %v\n", len(lat), pct(lat, 50), pct(lat, 99), pct(lat, 100))
	fmt.Fprintf(w, "till process: RSS %d MB (peak %d MB)\n", rss>>10, hwm>>10)
	if mem, err := memReportOf(ctx, cmd.Process, report); err == nil {
		fmt.Fprintf(w, "its memory now:\n%s", mem)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	return nil
}

// commitInProcess opens the ledger in this process and times its open,
// durable sale commits (ledgerdb.Append: sign, fsynced write, apply) and
// a refund of the oldest sale still refundable.
func commitInProcess(ctx context.Context, c *cli.Context, lc ledgerdb.Config, key ed25519.PrivateKey, products []crdt.Product) error {
	w := c.App.Writer
	start := time.Now()
	db, err := ledgerdb.Open(lc)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(w, "ledger open in this process: %v, %d events applied above the checkpoint\n",
		time.Since(start).Round(time.Millisecond), db.Replayed())
	var lat []time.Duration
	for i := range c.Int("sales") {
		p := products[i%len(products)]
		sale := &ledger.Sale{Currency: p.Currency, TaxIncluded: true, Staff: "1",
			Lines: []ledger.Line{p.Line(1, 0)}}
		tot, err := sale.Totals()
		if err != nil {
			return err
		}
		sale.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: tot.Total}}
		t0 := time.Now()
		if _, _, err := db.Append(ctx, key, sale, "", time.Now().UnixMilli()); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	fmt.Fprintf(w, "%d durable sale commits (ledgerdb.Append): p50 %v p99 %v max %v\n", len(lat), pct(lat, 50), pct(lat, 99), pct(lat, 100))
	till := ledger.TillOf(key)
	for seq := uint64(1); seq < 1000; seq++ {
		ev, err := db.Get(till, seq)
		if err != nil {
			return err
		}
		if ev.Kind() != ledger.KindSale {
			continue
		}
		t0 := time.Now()
		body := refundOf(db, ev.ID())
		if body == nil {
			continue
		}
		if _, _, err := db.Append(ctx, key, body, "", time.Now().UnixMilli()); err != nil {
			return err
		}
		fmt.Fprintf(w, "refund of the sale at seq %d, a year old (look-ups, commit): %v\n", seq, time.Since(t0).Round(time.Microsecond))
		break
	}
	return nil
}

// hqIngest feeds the till's whole ledger to an HQ on embedded Badger, as
// a relay uploads it (1,000 events a batch), and reports its rate.
func hqIngest(ctx context.Context, c *cli.Context, dir, tillDir string, store *pki.StoreFile, key ed25519.PrivateKey, lc ledgerdb.Config) error {
	w := c.App.Writer
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hqDir := filepath.Join(dir, "hq")
	if err := os.RemoveAll(hqDir); err != nil {
		return err
	}
	defer os.RemoveAll(hqDir)
	storage, err := hq.OpenBadger(hqDir, quiet)
	if err != nil {
		return err
	}
	defer storage.Close()
	hc := hq.DefaultConfig()
	hc.Storage, hc.Logger = storage, quiet
	h, err := hq.New(ctx, hc)
	if err != nil {
		return err
	}
	if err := h.RegisterStore(ctx, store.ID, store.Name, store.CA); err != nil {
		return err
	}
	cert, err := pki.LoadCertificate(filepath.Join(tillDir, pki.TillCertFileName), store, key)
	if err != nil {
		return err
	}
	cb, err := cert.Encode()
	if err != nil {
		return err
	}
	db, err := ledgerdb.Open(lc)
	if err != nil {
		return err
	}
	defer db.Close()
	till := ledger.TillOf(key)
	var busy time.Duration
	total := 0
	u := &hqapi.Upload{Fence: 1, Certs: [][]byte{cb}}
	send := func() error {
		t0 := time.Now()
		res, err := h.Ingest(ctx, store.ID, till, u)
		busy += time.Since(t0)
		if err == nil && res.Accepted != len(u.Events) {
			err = fmt.Errorf("accepted %d of %d: %+v", res.Accepted, len(u.Events), res.Rejected)
		}
		total += res.Accepted
		u = &hqapi.Upload{Fence: 1}
		return err
	}
	var sendErr error
	err = db.Range(till, 1, func(ev *ledger.Event) bool {
		u.Events = append(u.Events, ev.Bytes())
		if len(u.Events) == 1000 {
			sendErr = send()
		}
		return sendErr == nil
	})
	if err == nil && sendErr == nil && len(u.Events) > 0 {
		sendErr = send()
	}
	if err = errors.Join(err, sendErr); err != nil {
		return fmt.Errorf("hq ingest: %w", err)
	}
	fmt.Fprintf(w, "HQ ingest (embedded Badger, 1,000 events a batch, time in Ingest only): %d events in %v = %.0f events/s\n",
		total, busy.Round(time.Millisecond), float64(total)/busy.Seconds())
	return nil
}

// headOf returns a till's chain head in db.
func headOf(db *ledgerdb.DB, till ledger.TillID) (seq uint64, id ledger.EventID) {
	db.View(func(s *ledger.State) { seq, id, _ = s.Head(till) })
	return seq, id
}
