package node

import (
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/crdt"
)

// TestBatches: every product lands in exactly one batch, in order, and no
// batch exceeds the product or byte bound.
func TestBatches(t *testing.T) {
	var ps []crdt.Product
	for i := range 5000 {
		p := crdt.Product{SKU: strings.Repeat("s", 1+i%100), Name: strings.Repeat("n", i%200)}
		if i%7 == 0 {
			p.Barcodes = []string{strings.Repeat("1", 64), strings.Repeat("2", 64)}
		}
		ps = append(ps, p)
	}
	bs := batches(ps)
	n := 0
	for _, b := range bs {
		size := 0
		for _, p := range b {
			if p.SKU != ps[n].SKU || p.Name != ps[n].Name {
				t.Fatalf("product %d out of order", n)
			}
			size += 64 + len(p.SKU) + len(p.Name)
			for _, c := range p.Barcodes {
				size += len(c) + 2
			}
			n++
		}
		if len(b) == 0 || len(b) > importBatch || size > importBatchBytes {
			t.Errorf("batch of %d products, ~%d bytes", len(b), size)
		}
	}
	if n != len(ps) {
		t.Errorf("%d products in batches, want %d", n, len(ps))
	}
	if len(batches(nil)) != 0 {
		t.Error("batches of nothing")
	}
}
