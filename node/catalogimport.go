package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/crdt/catalogcsv"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
)

// SettingTaxRates names the store setting that lists the store's tax
// rates as percentages, "0,7,19". When it is set, a catalog import refuses
// any other rate as unknown.
const SettingTaxRates = "tax_rates"

// An import writes its products in CRDT batches (one DAG node each) of at
// most importBatch products and about importBatchBytes: go-ds-crdt caps a
// delta at 1 MB, and fewer, larger batches replicate faster.
const (
	importBatch      = 2000
	importBatchBytes = 256 << 10
)

// batches splits ps into runs that fit one CRDT batch.
func batches(ps []crdt.Product) [][]crdt.Product {
	var out [][]crdt.Product
	start, size := 0, 0
	for i, p := range ps {
		n := 64 + len(p.SKU) + len(p.Name) + len(p.Currency) + len(p.Unit)
		for _, b := range p.Barcodes {
			n += len(b) + 2
		}
		if i > start && (i-start >= importBatch || size+n > importBatchBytes) {
			out = append(out, ps[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(ps) {
		out = append(out, ps[start:])
	}
	return out
}

// CatalogImport says how to import a catalog file.
type CatalogImport struct {
	// Apply writes the import; otherwise it is only planned (a preview).
	Apply bool
	// Staff is who imports, recorded on the opening stock's event.
	Staff string
	// TaxRates, if set, override the store's tax_rates setting.
	TaxRates []int32
	// MaxBytes bounds the file; zero means catalogcsv's default.
	MaxBytes int64
}

// ImportCatalog reads a catalog CSV file (see package catalogcsv) and
// plans it against the store's catalog; with Apply it writes it: every
// added or changed product in batches through the CRDT, and the opening
// stock of added products as stock_receive events of this till. A file
// with any bad row returns a *catalogcsv.Error listing them all and
// changes nothing.
func (t *Till) ImportCatalog(ctx context.Context, r io.Reader, o CatalogImport) (*catalogcsv.Plan, error) {
	opts := catalogcsv.Options{Currency: t.currency(ctx), TaxRates: o.TaxRates, MaxBytes: o.MaxBytes, Updated: t.cfg.Now().UnixMilli()}
	if len(opts.TaxRates) == 0 {
		rates, err := t.taxRates(ctx)
		if err != nil {
			return nil, err
		}
		opts.TaxRates = rates
	}
	rows, err := catalogcsv.Parse(r, opts)
	var parseErr *catalogcsv.Error
	if err != nil && (!errors.As(err, &parseErr) || len(rows) == 0) {
		return nil, err
	}
	current, err := t.inv.Products(ctx)
	if err != nil && !errors.Is(err, crdt.ErrCorrupt) {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	// The good rows of a bad file are planned too, so that one answer
	// lists every problem.
	plan, err := catalogcsv.MakePlan(rows, current)
	var planErr *catalogcsv.Error
	if err != nil && !errors.As(err, &planErr) {
		return nil, err
	}
	var bad []catalogcsv.Problem
	for _, r := range rows {
		if r.Opening > ledger.MaxQty {
			bad = append(bad, catalogcsv.Problem{Line: r.Line, SKU: r.Product.SKU, Reason: fmt.Sprintf("opening stock above %d", ledger.MaxQty)})
		}
	}
	if len(bad) > 0 {
		planErr = catalogcsv.Merge(planErr, &catalogcsv.Error{Problems: bad})
	}
	if all := catalogcsv.Merge(parseErr, planErr); all != nil {
		return nil, all
	}
	if err := t.checkImportCosts(ctx, plan.Write, current); err != nil {
		return nil, err
	}
	if !o.Apply {
		return plan, nil
	}
	start := t.cfg.Now()
	done := 0
	for _, b := range batches(plan.Write) {
		if err := t.inv.PutProducts(ctx, b); err != nil {
			return nil, fmt.Errorf("write products %d-%d of %d (the ones before are stored; import the file again to finish): %w",
				done+1, done+len(b), len(plan.Write), err)
		}
		done += len(b)
	}
	stored := t.cfg.Now()
	if err := t.receiveOpening(ctx, plan.Opening, o.Staff); err != nil {
		return nil, err
	}
	t.log.Info("catalog imported", "added", plan.Added, "changed", plan.Changed, "unchanged", plan.Unchanged,
		"opening_stock", len(plan.Opening), "products_took", stored.Sub(start), "stock_took", t.cfg.Now().Sub(stored))
	return plan, nil
}

// receiveOpening records opening stock as stock_receive events of at most
// ledger.MaxLines lines. The idempotency keys derive from the lines, so
// running the same import twice receives nothing twice.
func (t *Till) receiveOpening(ctx context.Context, opening map[string]int64, staff string) error {
	if len(opening) == 0 {
		return nil
	}
	if staff == "" {
		staff = "import"
	}
	skus := make([]string, 0, len(opening))
	for s := range opening {
		skus = append(skus, s)
	}
	sort.Strings(skus)
	for i := 0; i < len(skus); i += ledger.MaxLines {
		chunk := skus[i:min(i+ledger.MaxLines, len(skus))]
		body := &ledger.StockReceive{Ref: "opening stock (catalog import)", Staff: staff}
		h := sha256.New()
		for _, s := range chunk {
			body.Lines = append(body.Lines, ledger.StockLine{SKU: s, Qty: opening[s]})
			fmt.Fprintf(h, "%s=%d\n", s, opening[s])
		}
		key := "catalog-opening-" + hex.EncodeToString(h.Sum(nil))[:32]
		if _, _, err := t.Record(ctx, body, key); err != nil {
			return fmt.Errorf("record opening stock (products are stored; receive the rest on the stock screen): %w", err)
		}
	}
	return nil
}

// ExportCatalog writes the store's catalog as a catalog CSV file.
func (t *Till) ExportCatalog(ctx context.Context, w io.Writer) error {
	ps, err := t.inv.Products(ctx)
	if err != nil && !errors.Is(err, crdt.ErrCorrupt) {
		return fmt.Errorf("read the catalog: %w", err)
	}
	return catalogcsv.Write(w, ps, t.currency(ctx))
}

// currency is the store's currency setting, or EUR.
func (t *Till) currency(ctx context.Context) string {
	if v, err := t.inv.Setting(ctx, ui.SettingCurrency); err == nil && len(v) == 3 {
		return string(v)
	}
	return ui.DefaultSettings.Currency
}

// taxRates reads the tax_rates setting; nil when unset.
func (t *Till) taxRates(ctx context.Context) ([]int32, error) {
	v, err := t.inv.Setting(ctx, SettingTaxRates)
	if errors.Is(err, crdt.ErrNotFound) || errors.Is(err, crdt.ErrInvalid) || len(v) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", SettingTaxRates, err)
	}
	return ParseTaxRates(string(v))
}

// ParseTaxRates reads a list of percentages, "0,7,19" or "7 19".
func ParseTaxRates(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		r, err := catalogcsv.ParseTaxRate(f)
		if err != nil {
			return nil, fmt.Errorf("tax rate %q: %w", f, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ImportCatalogCSV is the manager screen's import (ui.CatalogImporter).
func (t *Till) ImportCatalogCSV(ctx context.Context, r io.Reader, staff string, apply bool) (ui.CatalogPreview, error) {
	plan, err := t.ImportCatalog(ctx, r, CatalogImport{Apply: apply, Staff: staff})
	var ce *catalogcsv.Error
	if errors.As(err, &ce) {
		p := ui.CatalogPreview{Truncated: ce.Truncated}
		for _, pr := range ce.Problems {
			p.Problems = append(p.Problems, ui.CatalogProblem{Line: pr.Line, SKU: pr.SKU, Reason: pr.Reason})
		}
		return p, fmt.Errorf("%w: %d problems in the file, nothing imported", ui.ErrBadRequest, len(ce.Problems))
	}
	if err != nil {
		return ui.CatalogPreview{}, err
	}
	p := ui.CatalogPreview{Added: plan.Added, Changed: plan.Changed, Unchanged: plan.Unchanged, Applied: apply}
	for _, c := range plan.Changes {
		if c.Kind == catalogcsv.Unchanged {
			continue
		}
		p.Changes = append(p.Changes, ui.CatalogChange{Line: c.Line, SKU: c.SKU, Name: c.Name, Kind: string(c.Kind),
			Fields: c.Fields, Opening: c.Opening})
	}
	return p, nil
}

// ExportCatalogCSV is the manager screen's export (ui.CatalogImporter).
func (t *Till) ExportCatalogCSV(ctx context.Context, w io.Writer) error {
	return t.ExportCatalog(ctx, w)
}

// checkImportCosts refuses a file that sets or changes a cost price
// while a till of the store does not know ledger.FeatureCostPrice (it
// would erase the cost on its next edit of the product).
func (t *Till) checkImportCosts(ctx context.Context, write, current []crdt.Product) error {
	old := make(map[string]ledger.Money, len(current))
	for _, p := range current {
		old[p.SKU] = p.Cost
	}
	for _, p := range write {
		if p.Cost != 0 && p.Cost != old[p.SKU] {
			if err := t.kindAllowed(ctx, ledger.FeatureCostPrice); err != nil {
				return fmt.Errorf("the file sets the cost price of %s: %w", p.SKU, err)
			}
			return nil
		}
	}
	return nil
}
