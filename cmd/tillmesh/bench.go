package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/testnet"
	"github.com/tillmesh/tillmesh/ui"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure the figures BENCHMARKS.md records",
		Subcommands: []*cli.Command{{
			Name:  "mesh",
			Usage: "live propagation, catch-up after a partition, and a till process's RSS",
			Description: "Builds a store of three tills on this machine: A and B in this process, C as a\n" +
				"separate `tillmesh till` process. Measures (1) from a sale's commit on A until\n" +
				"B's stock shows it, over --sales sequential sales; (2) with C cut off while A and\n" +
				"C each make --catchup sales, the time from the heal until all three hold every\n" +
				"event and agree on stock; (3) C's resident memory afterwards.",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "sales", Value: 1000, Usage: "sales for the propagation figure"},
				&cli.IntFlag{Name: "catchup", Value: 5000, Usage: "sales on each side of the partition"},
				&cli.IntFlag{Name: "products", Value: 50, Usage: "catalog size"},
				&cli.StringFlag{Name: "dir", Usage: "work directory (default: a temporary one, removed after)"},
			},
			Action: benchMesh,
		}, benchHistoryCommand(), benchCatalogCommand()},
	}
}

func benchMesh(c *cli.Context) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	w := c.App.Writer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if c.String("log-level") == "debug" {
		log, _ = logger(c)
	}
	dir := c.String("dir")
	if dir == "" {
		d, err := os.MkdirTemp("", "tillmesh-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	storeDir := filepath.Join(dir, "store")
	store, err := pki.InitStore(storeDir, "Bench")
	if err != nil {
		return err
	}
	var dirs []string
	for i := 1; i <= 3; i++ {
		d := filepath.Join(dir, fmt.Sprintf("till%d", i))
		if _, err := pki.Enroll(storeDir, d, uint32(i), fmt.Sprintf("Till %d", i), time.Now()); err != nil {
			return err
		}
		dirs = append(dirs, d)
	}
	start := func(d string, peers ...string) (*node.Till, error) {
		cfg := node.DefaultConfig()
		cfg.DataDir, cfg.Store, cfg.Logger = d, store, log
		cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, peers, false
		t, err := node.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		go t.Run(ctx)
		return t, nil
	}
	a, err := start(dirs[0])
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := start(dirs[1], a.Host().Addrs()[0].String())
	if err != nil {
		return err
	}
	defer b.Close()

	// C: a separate process.
	httpPort, err := testnet.FreePort()
	if err != nil {
		return err
	}
	p2pPort, err := testnet.FreePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "--log-level", "error", "till", "--data", dirs[2],
		"--http", "127.0.0.1:"+strconv.Itoa(httpPort), "--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p2pPort),
		"--peer", a.Host().Addrs()[0].String(), "--peer", b.Host().Addrs()[0].String(), "--no-mdns",
		"--mem-report", filepath.Join(dir, "till3-mem.txt"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	cURL := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var cStatus ui.Status
	if err := poll(ctx, 30*time.Second, func() bool { return getJSON(cURL+"/api/status", &cStatus) == nil && len(cStatus.Peers) == 2 }); err != nil {
		return fmt.Errorf("till C did not start and join: %w", err)
	}
	cID, _ := ledger.ParseTillID(cStatus.TillID)

	// Catalog and opening stock on A.
	catalog := node.DemoCatalog(c.Int("products"))
	var skus []string
	var lines []ledger.StockLine
	for _, p := range catalog {
		if p.Weighed() {
			continue
		}
		if err := a.Inventory().PutProduct(ctx, p); err != nil {
			return err
		}
		skus = append(skus, p.SKU)
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: 1_000_000})
	}
	if _, _, err := a.Record(ctx, &ledger.StockReceive{Lines: lines, Staff: "bench"}, "opening"); err != nil {
		return err
	}
	if err := a.AddStaff(ctx, "1", "Bench", ui.RoleManager, "1234"); err != nil {
		return err
	}
	if err := poll(ctx, 60*time.Second, func() bool {
		var all []ui.StockLevel
		if getJSON(cURL+"/api/stock", &all) != nil || len(all) < len(skus) {
			return false
		}
		for _, st := range all {
			if tb, _, _ := b.Inventory().Stock(ctx, st.SKU); st.Total != 1_000_000 || tb != 1_000_000 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("catalog did not reach C: %w", err)
	}
	cAPI, err := login(cURL, "1", "1234")
	if err != nil {
		return fmt.Errorf("log in to till C: %w", err)
	}
	fmt.Fprintf(w, "machine: %d cores, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel())

	// (1) Live propagation A -> B's stock.
	changes, stop := b.Inventory().Subscribe(1024)
	defer stop()
	var stockLat, ledgerLat []time.Duration
	for i := range c.Int("sales") {
		sku := skus[i%len(skus)]
		s, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: fmt.Sprintf("p%d", i), Staff: "bench",
			Lines: []ui.SaleLine{{SKU: sku, Qty: 1}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}})
		if err != nil {
			return err
		}
		t0 := time.Now()
		want, _, _ := a.Inventory().Stock(ctx, sku)
		var gotLedger time.Duration
		for {
			if gotLedger == 0 && b.DB().Vector()[a.ID()] >= s.Seq {
				gotLedger = time.Since(t0)
			}
			if now, _, _ := b.Inventory().Stock(ctx, sku); now == want {
				break
			}
			select {
			case <-changes:
			case <-time.After(time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		stockLat = append(stockLat, time.Since(t0))
		if gotLedger == 0 {
			gotLedger = time.Since(t0)
		}
		ledgerLat = append(ledgerLat, gotLedger)
	}
	fmt.Fprintf(w, "live propagation, %d sales, commit on A until B's stock shows it: p50 %v p99 %v max %v\n",
		len(stockLat), pct(stockLat, 50), pct(stockLat, 99), pct(stockLat, 100))
	fmt.Fprintf(w, "  the event itself in B's ledger: p50 %v p99 %v\n", pct(ledgerLat, 50), pct(ledgerLat, 99))

	// (2) Catch-up: cut C off, sell on both sides, heal.
	cPeer := peerOf(cStatus.Till)
	a.Host().Block(cPeer)
	b.Host().Block(cPeer)
	if err := poll(ctx, 10*time.Second, func() bool {
		var st ui.Status
		if getJSON(cURL+"/api/status", &st) != nil {
			return false
		}
		for _, p := range st.Peers {
			if p.Connected {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("C still connected after the cut: %w", err)
	}
	n := c.Int("catchup")
	var wg sync.WaitGroup
	var cErr atomic.Value
	sellStart := time.Now()
	wg.Add(1)
	go func() { // C sells over its HTTP API, 4 cashiers at once
		defer wg.Done()
		var next atomic.Int64
		var inner sync.WaitGroup
		for range 4 {
			inner.Add(1)
			go func() {
				defer inner.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					body := fmt.Sprintf(`{"idempotency_key":"c%d","lines":[{"sku":%q,"qty":1}],"tenders":[{"kind":"cash","amount":100000}]}`, i, skus[i%len(skus)])
					if err := cAPI.post("/api/sales", body); err != nil {
						cErr.Store(err)
						return
					}
				}
			}()
		}
		inner.Wait()
	}()
	for i := range n {
		if _, _, err := a.Sell(ctx, ui.SaleRequest{IdempotencyKey: fmt.Sprintf("a%d", i), Staff: "bench",
			Lines: []ui.SaleLine{{SKU: skus[i%len(skus)], Qty: 1}}, Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 100_000}}}); err != nil {
			return err
		}
	}
	wg.Wait()
	if err, _ := cErr.Load().(error); err != nil {
		return fmt.Errorf("selling on C: %w", err)
	}
	fmt.Fprintf(w, "partition: %d sales on A and %d on C in %v\n", n, n, time.Since(sellStart).Round(time.Millisecond))
	// B must hold A's sales before the heal, so only C is behind.
	if err := poll(ctx, 60*time.Second, func() bool { return b.DB().Vector().Equal(a.DB().Vector()) }); err != nil {
		return err
	}
	want := a.DB().Vector()
	healed := time.Now()
	a.Host().Unblock(cPeer)
	b.Host().Unblock(cPeer)
	var ledgerDone, stockDone time.Duration
	err = poll(ctx, 5*time.Minute, func() bool {
		if ledgerDone == 0 {
			var st ui.Status
			if getJSON(cURL+"/api/status", &st) != nil {
				return false
			}
			if st.VersionVector["1"] != want[a.ID()] || st.VersionVector["3"] != uint64(n)+1 && st.VersionVector["3"] != uint64(n) ||
				a.DB().Vector()[cID] < uint64(n) || b.DB().Vector()[cID] < uint64(n) {
				return false
			}
			ledgerDone = time.Since(healed)
		}
		ok, err := stockAgrees(ctx, a, b, cURL, skus)
		if err != nil || !ok {
			return false
		}
		stockDone = time.Since(healed)
		return true
	})
	if err != nil {
		return fmt.Errorf("no convergence after the heal: %w", err)
	}
	fmt.Fprintf(w, "catch-up after heal (%d + %d sales): every till holds every event in %v; stock agrees everywhere in %v\n",
		n, n, ledgerDone.Round(time.Millisecond), stockDone.Round(time.Millisecond))

	rss, hwm := testnet.ProcMem(cmd.Process.Pid)
	fmt.Fprintf(w, "till C process after %d events: RSS %d MB (peak %d MB)\n", want.Total()+uint64(n), rss>>10, hwm>>10)
	report, err := memReportOf(ctx, cmd.Process, filepath.Join(dir, "till3-mem.txt"))
	if err != nil {
		return fmt.Errorf("till C's memory report: %w", err)
	}
	fmt.Fprintf(w, "till C's memory now:\n%s", report)
	return nil
}

// memReportOf asks a `tillmesh till --mem-report path` process for its
// memory report (see memReport) and returns it.
func memReportOf(ctx context.Context, p *os.Process, path string) ([]byte, error) {
	_ = os.Remove(path)
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		return nil, err
	}
	var report []byte
	err := poll(ctx, 10*time.Second, func() bool {
		b, err := os.ReadFile(path)
		report = b
		return err == nil
	})
	return report, err
}

// stockAgrees checks that A's and B's CRDT stock and C's (over HTTP) equal
// A's ledger fold for every SKU.
func stockAgrees(ctx context.Context, a, b *node.Till, cURL string, skus []string) (bool, error) {
	var all []ui.StockLevel
	if err := getJSON(cURL+"/api/stock", &all); err != nil {
		return false, err
	}
	cTotals := map[string]int64{}
	for _, s := range all {
		cTotals[s.SKU] = s.Total
	}
	fold := map[string]int64{}
	a.DB().View(func(s *ledger.State) {
		for _, sku := range skus {
			fold[sku] = s.Fold().StockTotal(sku)
		}
	})
	for _, sku := range skus {
		ta, _, _ := a.Inventory().Stock(ctx, sku)
		tb, _, _ := b.Inventory().Stock(ctx, sku)
		if ta != fold[sku] || tb != fold[sku] || cTotals[sku] != fold[sku] {
			return false, nil
		}
	}
	return true, nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := len(s) * p / 100
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i].Round(10 * time.Microsecond)
}

func poll(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(url string, v any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// session is a logged-in client of one till's API.
type session struct {
	base, csrf string
	client     *http.Client
}

// login logs in as staff with pin; the staff list reaches the till over
// the CRDT, so it retries until the till knows the staff member.
func login(base, staff, pin string) (*session, error) {
	jar, _ := cookiejar.New(nil)
	s := &session{base: base, client: &http.Client{Timeout: 10 * time.Second, Jar: jar}}
	var last error
	for range 200 {
		resp, err := s.client.Post(base+"/api/login", "application/json",
			bytes.NewBufferString(fmt.Sprintf(`{"staff":%q,"pin":%q}`, staff, pin)))
		if err != nil {
			return nil, err
		}
		var out struct {
			CSRF  string `json:"csrf_token"`
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode == 200 && out.CSRF != "" {
			s.csrf = out.CSRF
			return s, nil
		}
		last = fmt.Errorf("%s: %s", resp.Status, out.Error)
		if resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(time.Second) // the till's own back-off
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil, last
}

func (s *session) post(path, body string) error {
	req, err := http.NewRequest("POST", s.base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s %s", path, resp.Status, b)
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown cpu"
}

func peerOf(s string) peer.ID {
	id, err := peer.Decode(s)
	if err != nil {
		return ""
	}
	return id
}
