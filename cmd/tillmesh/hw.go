package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/escpos"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/ledger"
)

func hwCommand() *cli.Command {
	config := &cli.StringFlag{Name: "config", Usage: "the till's device configuration (JSON)", Required: true, EnvVars: []string{"TILLMESH_HW_CONFIG"}}
	device := &cli.StringFlag{Name: "device", Usage: "the printer's name in the configuration (default: the only printer)"}
	return &cli.Command{
		Name:  "hw",
		Usage: "find and exercise a till's hardware",
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "list serial ports with their USB IDs, and USB printers",
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: hwList,
			},
			{
				Name:   "test-print",
				Usage:  "check a configured printer's status and print a test receipt",
				Flags:  []cli.Flag{config, device, &cli.BoolFlag{Name: "copy", Usage: "mark the test receipt as a COPY"}},
				Action: hwTestPrint,
			},
			{
				Name:   "test-drawer",
				Usage:  "kick the cash drawer wired to a configured printer and report whether it opened",
				Flags:  []cli.Flag{config, device},
				Action: hwTestDrawer,
			},
		},
	}
}

type portInfo struct {
	Path         string `json:"path"`
	Kind         string `json:"kind"` // serial or usblp
	USB          bool   `json:"usb"`
	VID          string `json:"vid,omitempty"`
	PID          string `json:"pid,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	ByID         string `json:"by_id,omitempty"` // the stable /dev/serial/by-id link
}

func hwList(c *cli.Context) error {
	var out []portInfo
	ports, err := hw.ListPorts()
	if err != nil {
		return fmt.Errorf("list serial ports: %w", err)
	}
	byID := serialByID()
	for _, p := range ports {
		out = append(out, portInfo{Path: p.Name, Kind: "serial", USB: p.IsUSB, VID: strings.ToLower(p.VID), PID: strings.ToLower(p.PID),
			Serial: p.SerialNumber, Manufacturer: p.Manufacturer, Product: p.Product, ByID: byID[p.Name]})
	}
	lps, err := hw.ListLP("/sys")
	if err != nil {
		return fmt.Errorf("list usb printers: %w", err)
	}
	for _, p := range lps {
		out = append(out, portInfo{Path: p.Path, Kind: "usblp", USB: true, VID: p.VID, PID: p.PID, Serial: p.Serial,
			Manufacturer: p.Manufacturer, Product: p.Product})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(out) == 0 {
		fmt.Fprintln(c.App.Writer, "no serial ports or USB printers found")
		return nil
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PATH\tKIND\tVID:PID\tSERIAL\tPRODUCT\tSTABLE PATH")
	for _, p := range out {
		id := "-"
		if p.USB {
			id = p.VID + ":" + p.PID
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Path, p.Kind, id, dash(p.Serial), dash(strings.TrimSpace(p.Manufacturer+" "+p.Product)), dash(p.ByID))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "\nConfigure devices by \"usb\": {\"vid\", \"pid\", \"serial\"} or a stable path, never /dev/ttyUSBn.")
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// serialByID maps device paths to their /dev/serial/by-id links.
func serialByID() map[string]string {
	m := map[string]string{}
	links, _ := filepath.Glob("/dev/serial/by-id/*")
	for _, l := range links {
		if target, err := filepath.EvalSymlinks(l); err == nil {
			m[target] = l
		}
	}
	return m
}

// hwPrinter loads the configuration and builds the printer it names.
func hwPrinter(c *cli.Context) (*hw.ESCPOSPrinter, hw.DeviceConfig, error) {
	f, err := hw.LoadFile(c.String("config"))
	if err != nil {
		return nil, hw.DeviceConfig{}, err
	}
	var found []hw.DeviceConfig
	for _, d := range f.Devices {
		if d.Kind == hw.KindPrinter && (c.String("device") == "" || d.Name == c.String("device")) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return nil, hw.DeviceConfig{}, fmt.Errorf("%s: %d printers match --device %q", c.String("config"), len(found), c.String("device"))
	}
	p, err := hw.NewPrinterFrom(found[0], hw.Env{}, time.Now, nil)
	return p, found[0], err
}

func hwTestPrint(c *cli.Context) error {
	p, dev, err := hwPrinter(c)
	if err != nil {
		return err
	}
	defer p.Close()
	layout, err := dev.Layout()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	if st, err := p.Status(ctx); err != nil {
		fmt.Fprintf(c.App.Writer, "%s: status: %v\n", dev.Name, err)
	} else {
		fmt.Fprintf(c.App.Writer, "%s: status: %v\n", dev.Name, st)
	}
	r, err := testReceipt()
	if err != nil {
		return err
	}
	out, err := receipt.Render(r, layout, c.Bool("copy"))
	if err != nil {
		return err
	}
	if len(out.Unencodable) > 0 {
		fmt.Fprintf(c.App.Writer, "%s: code page %v lacks %q; printed as '?'\n", dev.Name, layout.Printer.CodePage.Charset, string(out.Unencodable))
	}
	if err := p.Print(ctx, hw.Job{Segments: out.Segments}); err != nil {
		return fmt.Errorf("%s: %w (state: %s)", dev.Name, err, stateLine(p.State()))
	}
	fmt.Fprintf(c.App.Writer, "%s: printed a test receipt (%d columns, %v, QR %s)\n", dev.Name, layout.Columns,
		layout.Printer.CodePage.Charset, qrMode(layout.Printer.QR))
	return nil
}

func qrMode(m escpos.QRMode) string {
	if m == escpos.QRRaster {
		return "raster"
	}
	return "native"
}

func stateLine(s hw.DeviceState) string {
	if s.Problem == "" {
		return string(s.Health)
	}
	return s.Problem
}

// testReceipt is a receipt for a sale signed by a throwaway key: it has
// every part of a real one, including a QR code that verifies, and says
// it is a test.
func testReceipt() (receipt.Receipt, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return receipt.Receipt{}, err
	}
	sale := &ledger.Sale{Currency: "EUR", TaxIncluded: true, Staff: "test",
		Lines: []ledger.Line{
			{SKU: "TEST-1", Name: "Test print: Café crème", Qty: 2, UnitPrice: 250, TaxRate: 700},
			{SKU: "TEST-2", Name: "Größe XL – Їжак", Qty: 1, UnitPrice: 1000, Discount: 100, TaxRate: 2000},
		},
		Tenders: []ledger.Tender{{Kind: ledger.Cash, Amount: 2000}}, Change: 600}
	ev := &ledger.Event{Seq: 1, Time: ledger.HLC{Wall: time.Now().UnixMilli()}, Body: sale, Key: "test-print"}
	if err := ev.Sign(key); err != nil {
		return receipt.Receipt{}, err
	}
	return receipt.FromSale(ev, receipt.Info{Store: "tillmesh test print", Header: []string{"Not a receipt"},
		Footer: []string{"€ £ ¥ é ü ß Ж: what the code page can print"}, Till: "Test", Receipt: 1, Location: time.Local})
}

func hwTestDrawer(c *cli.Context) error {
	p, dev, err := hwPrinter(c)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	if err := p.OpenDrawer(ctx); err != nil {
		return fmt.Errorf("%s: %w", dev.Name, err)
	}
	fmt.Fprintf(c.App.Writer, "%s: drawer kicked\n", dev.Name)
	// The drawer switch takes a moment; ask a few times.
	deadline := time.Now().Add(2 * time.Second)
	for {
		f, err := p.DrawerOpen(ctx)
		switch {
		case err != nil:
			fmt.Fprintf(c.App.Writer, "%s: drawer state unknown: %v\n", dev.Name, err)
			return nil
		case f == escpos.Yes:
			fmt.Fprintf(c.App.Writer, "%s: drawer reports open\n", dev.Name)
			return nil
		case time.Now().After(deadline):
			fmt.Fprintf(c.App.Writer, "%s: drawer reports closed: check the cable, the pin (2 or 5) and \"polarity\" in the configuration\n", dev.Name)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
