// Package catalogcsv reads and writes a store's catalog as CSV, the file a
// manager keeps in a spreadsheet:
//
//	sku,name,barcodes,price,tax_rate,unit,opening_stock,reorder_point
//	10001,Whole milk 1l,4006381333931,1.29,7,ea,48,12
//	20001,Apples,,2.49,7,kg,10.5,
//
// The header row is required; its columns may come in any order, the first
// six are required and the last two optional. Prices are in the store's
// currency as people write them ("19.99", "1299" for a currency without
// minor units), never minor units; tax rates are percentages ("19",
// "8.25" or "19%"); several barcodes share one field, separated by spaces
// or '|'. Opening stock (pieces, or kilograms for "kg" products, "10.5")
// is received for products the import adds; reorder point is kept with the
// product. An optional "cost" column gives the cost price like a price (per
// kg for "kg" products); a row without one keeps the catalog's cost, and a
// till applies a file that sets costs only once every till of the store
// knows them (node's kind gate, ledger.FeatureCostPrice).
//
// Parse checks every row and returns every problem with its line number,
// so a file with any bad row is refused whole; Plan compares the rows with
// the current catalog (added, changed, unchanged) and finds barcodes that
// another product already has. The package is pure: no clock, no disk, no
// network; safe for concurrent use. It reads at most Options.MaxBytes,
// never the whole of a larger file.
//
// Where it sits: the file is a view of the catalog's CRDT values, so the
// package lives under crdt and imports crdt only for Product and its
// validation (crdt's own rule, ledger and the standard library, holds for
// it; imports_test.go checks). node applies a plan (node.ImportCatalog:
// product batches, opening stock as ledger events); ui may import neither
// crdt nor this package, and reaches it through node (ui.CatalogImporter).
package catalogcsv
