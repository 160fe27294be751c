package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/testnet"
	"github.com/tillmesh/tillmesh/ui"
)

func benchHistoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "a till with a year of history: start to can-sell, RSS, sale commit p99, ledger verify rate",
		Description: "Builds a till whose ledger holds --events sales spread over the past year and\n" +
			"whose inventory DAG holds --dag nodes (one stock movement each, as a sale\n" +
			"writes), then starts it as a `tillmesh till` process and measures the time\n" +
			"until its first sale succeeds over the API, --sales sequential sales (commit\n" +
			"latency as the client sees it, loopback HTTP included), the process's peak\n" +
			"RSS, and `ledger verify`'s rate over that ledger.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "events", Value: 100_000, Usage: "sales in the till's ledger"},
			&cli.IntFlag{Name: "dag", Value: -1, Usage: "inventory DAG nodes (default: as many as --events)"},
			&cli.IntFlag{Name: "sales", Value: 1000, Usage: "sales timed after the start"},
			&cli.StringFlag{Name: "dir", Usage: "work directory (default: a temporary one, removed after)"},
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
	if dir == "" {
		d, err := os.MkdirTemp("", "tillmesh-history-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	storeDir, tillDir := filepath.Join(dir, "store"), filepath.Join(dir, "till1")
	store, err := pki.InitStore(storeDir, "History")
	if err != nil {
		return err
	}
	if _, err := pki.Enroll(storeDir, tillDir, 1, "Till 1", time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(w, "machine: %d cores, %s\n", runtime.NumCPU(), cpuModel())

	// 1. A year ago: the catalog, staff and opening stock, then the
	// inventory DAG, one stock movement (a DAG node) per sale to come.
	yearAgo := time.Now().Add(-365 * 24 * time.Hour)
	step := 365 * 24 * time.Hour / time.Duration(n+1)
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = tillDir, store, quiet
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	clock := yearAgo
	cfg.Now = func() time.Time { return clock }
	t, err := node.New(ctx, cfg)
	if err != nil {
		return err
	}
	go t.Run(ctx)
	var products []crdt.Product
	var lines []ledger.StockLine
	for _, p := range node.DemoCatalog(50) {
		if p.Weighed() {
			continue
		}
		if err := t.Inventory().PutProduct(ctx, p); err != nil {
			return err
		}
		products = append(products, p)
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: int64(n)})
	}
	if err := t.AddStaff(ctx, "1", "Bench", ui.RoleManager, "1234"); err != nil {
		return err
	}
	opening, _, err := t.Record(ctx, &ledger.StockReceive{Lines: lines, Staff: "1"}, "opening")
	if err != nil {
		return err
	}
	base := opening.Seq
	start := time.Now()
	for i := range dagN {
		p := products[i%len(products)]
		if err := t.Inventory().ApplyMovements(ctx, base+uint64(i)+1, map[string]int64{p.SKU: -1}); err != nil {
			return err
		}
	}
	if dagN > 0 {
		fmt.Fprintf(w, "built the inventory DAG: %d nodes in %v (%.0f/s)\n", dagN, time.Since(start).Round(time.Millisecond),
			float64(dagN)/time.Since(start).Seconds())
	}
	t.Close()
	key, err := pki.LoadOrCreateKey(filepath.Join(tillDir, pki.TillKeyFileName))
	if err != nil {
		return err
	}

	// 2. The ledger: n sales over the year, signed by the till's key and
	// stored as a peer's run would be (ledgerdb.Insert, 5,000 at a time).
	start = time.Now()
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
	for i := range n {
		p := products[i%len(products)]
		sale := &ledger.Sale{Currency: p.Currency, TaxIncluded: true, Staff: "1",
			Lines: []ledger.Line{p.Line(1, 0)}}
		tot, err := sale.Totals()
		if err != nil {
			db.Close()
			return err
		}
		sale.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: tot.Total}}
		seq++
		ev := &ledger.Event{Store: store.ID, Seq: seq, Prev: prev,
			Time: ledger.HLC{Wall: yearAgo.Add(time.Duration(i+1) * step).UnixMilli()}, Body: sale, Key: "h" + strconv.Itoa(i)}
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
			batch = batch[:0]
		}
	}
	db.Close()
	fmt.Fprintf(w, "built the ledger: %d sales over a year in %v\n", n, time.Since(start).Round(time.Millisecond))

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
		return api.post("/api/sales", fmt.Sprintf(`{"idempotency_key":"s%d","lines":[{"sku":%q,"qty":1}],"tenders":[{"kind":"cash","amount":100000}]}`,
			i, products[i%len(products)].SKU))
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

	// 4. ledger verify over the whole ledger (every signature).
	start = time.Now()
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
	return nil
}

// headOf returns a till's chain head in db.
func headOf(db *ledgerdb.DB, till ledger.TillID) (seq uint64, id ledger.EventID) {
	db.View(func(s *ledger.State) { seq, id, _ = s.Head(till) })
	return seq, id
}
