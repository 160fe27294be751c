package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/crdt/catalogcsv"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
)

func benchCatalogCommand() *cli.Command {
	return &cli.Command{
		Name:  "catalog",
		Usage: "import a large catalog CSV at one till and time it until every till has it",
		Description: "Builds a store of three tills in this process, connected on loopback, writes a\n" +
			"catalog file of --products products (valid EAN-13 barcodes, opening stock for each),\n" +
			"imports it at till A the way `tillmesh catalog import` and the manager screen do,\n" +
			"and measures: the preview (parse and plan), the import at A, and the time until\n" +
			"tills B and C hold every product and the opening stock.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "products", Value: 20000, Usage: "products in the file"},
			&cli.StringFlag{Name: "dir", Usage: "work directory (default: a temporary one, removed after)"},
			&cli.BoolFlag{Name: "opening-stock", Value: true, Usage: "give every product opening stock (--opening-stock=false: products only)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the import and replication to this file"},
		},
		Action: benchCatalog,
	}
}

func benchCatalog(c *cli.Context) error {
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	w := c.App.Writer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if c.String("log-level") == "debug" {
		log, _ = logger(c)
	}
	n := c.Int("products")
	if n < 1 || n > catalogcsv.DefaultMaxRows {
		return fmt.Errorf("--products %d: want 1 to %d", n, catalogcsv.DefaultMaxRows)
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
	tills, err := startBenchTills(ctx, dir, log)
	defer func() {
		cancel()
		for _, t := range tills {
			t.Close()
		}
	}()
	if err != nil {
		return err
	}

	withStock := c.Bool("opening-stock")
	file, lastSKU, err := benchCatalogFile(n, withStock)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "catalog import: %d products (%.1f MB CSV), 3 tills on loopback, %d CPUs (%s)\n",
		n, float64(len(file))/(1<<20), runtime.NumCPU(), cpuModel())
	a := tills[0]
	if p := c.String("cpuprofile"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	plan, err := a.ImportCatalog(ctx, bytes.NewReader(file), node.CatalogImport{Staff: "bench"})
	if err != nil {
		return err
	}
	preview := time.Since(t0)
	t0 = time.Now()
	plan, err = a.ImportCatalog(ctx, bytes.NewReader(file), node.CatalogImport{Apply: true, Staff: "bench"})
	if err != nil {
		return err
	}
	imported := time.Since(t0)
	if plan.Added != n {
		return fmt.Errorf("import added %d products, want %d", plan.Added, n)
	}
	fmt.Fprintf(w, "  preview (parse, validate, plan against the catalog)  %v\n", preview.Round(time.Millisecond))
	fmt.Fprintf(w, "  import at till A (products stored, opening stock recorded)  %v\n", imported.Round(time.Millisecond))

	return waitCatalogSpread(ctx, w, tills, n, lastSKU, withStock, t0)
}

// waitCatalogSpread waits until every till holds the n imported products
// (and, withStock, the opening stock of lastSKU), printing the time from
// t0 each took.
func waitCatalogSpread(ctx context.Context, w io.Writer, tills []*node.Till, n int, lastSKU string, withStock bool, t0 time.Time) error {
	has := func(t *node.Till) bool {
		ps, err := t.Inventory().Products(ctx)
		return err == nil && len(ps) == n
	}
	stocked := func(t *node.Till) bool {
		total, _, err := t.Inventory().Stock(ctx, lastSKU)
		return err == nil && total == 5
	}
	for i, t := range tills[1:] {
		name := string(rune('B' + i))
		if err := poll(ctx, 5*time.Minute, func() bool { return has(t) }); err != nil {
			return fmt.Errorf("till %s: %d products never arrived: %w", name, n, err)
		}
		fmt.Fprintf(w, "  until till %s holds all %d products  %v\n", name, n, time.Since(t0).Round(time.Millisecond))
	}
	for i, t := range tills {
		if !withStock {
			break
		}
		name := string(rune('A' + i))
		if err := poll(ctx, 5*time.Minute, func() bool { return stocked(t) }); err != nil {
			return fmt.Errorf("till %s: opening stock never arrived: %w", name, err)
		}
	}
	what := "products"
	if withStock {
		what = "products and opening stock"
	}
	fmt.Fprintf(w, "  until every till has the %s  %v (target < 10s)\n", what, time.Since(t0).Round(time.Millisecond))
	return nil
}

// startBenchTills enrols three tills in a new store under dir and runs
// them on loopback, each with the ones before it as static peers, until
// each is connected to the other two. It returns the tills it started,
// also with an error: the caller closes them.
func startBenchTills(ctx context.Context, dir string, log *slog.Logger) ([]*node.Till, error) {
	storeDir := filepath.Join(dir, "store")
	store, err := pki.InitStore(storeDir, "Bench")
	if err != nil {
		return nil, err
	}
	var tills []*node.Till
	var peers []string
	for i := 1; i <= 3; i++ {
		d := filepath.Join(dir, fmt.Sprintf("till%d", i))
		if _, err := pki.Enroll(storeDir, d, uint32(i), fmt.Sprintf("Till %d", i), time.Now()); err != nil {
			return tills, err
		}
		cfg := node.DefaultConfig()
		cfg.DataDir, cfg.Store, cfg.Logger = d, store, log
		cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, peers, false
		t, err := node.New(ctx, cfg)
		if err != nil {
			return tills, err
		}
		tills = append(tills, t)
		peers = append(peers, t.Host().Addrs()[0].String())
		go t.Run(ctx)
	}
	if err := poll(ctx, 30*time.Second, func() bool {
		for _, t := range tills {
			connected := 0
			for _, p := range t.Status(ctx).Peers {
				if p.Connected {
					connected++
				}
			}
			if connected < 2 {
				return false
			}
		}
		return true
	}); err != nil {
		return tills, fmt.Errorf("tills did not connect: %w", err)
	}
	return tills, nil
}

// benchCatalogFile writes n products as a catalog file, each with opening
// stock 5, and returns it with the last SKU.
func benchCatalogFile(n int, withStock bool) ([]byte, string, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"sku", "name", "barcodes", "price", "tax_rate", "unit", "opening_stock", "reorder_point"})
	last := ""
	for _, p := range node.DemoCatalog(n) {
		stock := "5"
		if p.Weighed() {
			stock = "0.005"
		}
		if !withStock {
			stock = ""
		}
		cw.Write([]string{p.SKU, p.Name, strings.Join(p.Barcodes, " "), catalogcsv.FormatAmount(int64(p.Price), 2),
			strconv.Itoa(int(p.TaxRate) / 100), string(p.Unit), stock, "2"})
		last = p.SKU
	}
	cw.Flush()
	return buf.Bytes(), last, cw.Error()
}
