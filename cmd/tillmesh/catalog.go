package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/tillmesh/tillmesh/crdt/catalogcsv"
	"github.com/tillmesh/tillmesh/node"
)

func catalogCommand() *cli.Command {
	data := &cli.StringFlag{Name: "data", Required: true, Usage: "the stopped till's data directory", EnvVars: []string{"TILLMESH_DATA"}}
	return &cli.Command{
		Name:  "catalog",
		Usage: "import or export the store's catalog as CSV, on a stopped till",
		Description: "The file has a header row: sku,name,barcodes,price,tax_rate,unit and optionally\n" +
			"opening_stock,reorder_point. Prices are in the store's currency (19.99), tax rates in\n" +
			"percent (19 or 8.25), several barcodes separated by spaces or '|'. A file with any bad\n" +
			"row imports nothing and every bad row is listed with its line number.",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "add and update products from a CSV file (opening stock for new products)",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{data,
					&cli.BoolFlag{Name: "dry-run", Usage: "only print what would change"},
					&cli.StringFlag{Name: "tax-rates", Usage: "the store's tax rates in percent, e.g. 0,7,19; others are refused (default: the store's tax_rates setting, or any)"},
					&cli.StringFlag{Name: "staff", Value: "import", Usage: "staff number recorded on the opening stock"},
					&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list every added and changed product"},
				},
				Action: catalogImport,
			},
			{
				Name:      "export",
				Usage:     "write the catalog as a CSV file (to stdout without FILE)",
				ArgsUsage: "[FILE]",
				Flags:     []cli.Flag{data},
				Action:    catalogExport,
			},
		},
	}
}

func catalogImport(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("catalog import: give one FILE")
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	var rates []int32
	if s := c.String("tax-rates"); s != "" {
		if rates, err = node.ParseTaxRates(s); err != nil {
			return fmt.Errorf("--tax-rates: %w", err)
		}
	}
	f, err := os.Open(c.Args().First())
	if err != nil {
		return fmt.Errorf("catalog import: %w", err)
	}
	defer f.Close()
	t, err := node.OpenStopped(c.Context, c.String("data"), log)
	if err != nil {
		return err
	}
	plan, err := t.ImportCatalog(c.Context, f, node.CatalogImport{Apply: !c.Bool("dry-run"), Staff: c.String("staff"), TaxRates: rates})
	if cerr := t.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close till %s: %w", c.String("data"), cerr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.Args().First(), err)
	}
	w := c.App.Writer
	verb := "imported"
	if c.Bool("dry-run") {
		verb = "would import (dry run, nothing changed)"
	}
	opening := len(plan.Opening)
	fmt.Fprintf(w, "%s %s: %d added, %d changed, %d unchanged; opening stock for %d products\n",
		verb, c.Args().First(), plan.Added, plan.Changed, plan.Unchanged, opening)
	if c.Bool("dry-run") || c.Bool("verbose") {
		printChanges(w, plan)
	}
	return nil
}

func printChanges(w io.Writer, plan *catalogcsv.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ch := range plan.Changes {
		if ch.Kind == catalogcsv.Unchanged && !ch.OpeningIgnored {
			continue
		}
		note := ""
		switch {
		case ch.Kind == catalogcsv.Changed:
			note = fmt.Sprint(ch.Fields)
		case ch.Opening > 0:
			note = fmt.Sprintf("opening stock %d", ch.Opening)
		}
		if ch.OpeningIgnored {
			note += " (opening stock ignored: the product exists)"
		}
		fmt.Fprintf(tw, "  line %d\t%s\t%s\t%s\t%s\n", ch.Line, ch.Kind, ch.SKU, ch.Name, note)
	}
	tw.Flush()
}

func catalogExport(c *cli.Context) error {
	if c.NArg() > 1 {
		return errors.New("catalog export: at most one FILE")
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	t, err := node.OpenStopped(c.Context, c.String("data"), log)
	if err != nil {
		return err
	}
	var out io.Writer = c.App.Writer
	var f *os.File
	if path := c.Args().First(); path != "" && path != "-" {
		if f, err = os.Create(path); err != nil {
			t.Close()
			return fmt.Errorf("catalog export: %w", err)
		}
		out = f
	}
	err = t.ExportCatalog(c.Context, out)
	if f != nil {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if cerr := t.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
