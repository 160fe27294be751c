package glyph

import (
	"bytes"
	"testing"

	"github.com/tillmesh/tillmesh/hw/glyph/internal/render"
)

// cells.bin is what the fonts draw: rendering Go Mono and Go Mono Bold
// again gives the embedded table byte for byte (run `go generate
// ./hw/glyph/` after changing the fonts' version or the rendering).
func TestCellsMatchFonts(t *testing.T) {
	want, err := render.Table()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cells, want) {
		t.Fatalf("cells.bin (%d bytes) differs from the fonts rendered now (%d bytes): run go generate ./hw/glyph/", len(cells), len(want))
	}
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for i, ttf := range render.Fonts() {
		rendered, err := render.Cells(ttf)
		if err != nil {
			t.Fatal(err)
		}
		for r, c := range rendered {
			if f.cells[i][r] != cell(c) {
				t.Fatalf("font %d: %U reads back other dots than it renders", i, r)
			}
		}
		if len(f.cells[i]) != len(rendered)+len(lookalike) {
			t.Errorf("font %d: %d glyphs read, %d rendered and %d look-alikes", i, len(f.cells[i]), len(rendered), len(lookalike))
		}
	}
}

// A table cut short or with bytes past its end is refused, not misread.
func TestParseRefusesBrokenTable(t *testing.T) {
	for _, b := range [][]byte{nil, cells[:3], cells[:len(cells)-1], append(append([]byte{}, cells...), 0)} {
		if _, err := parse(b); err == nil {
			t.Errorf("a table of %d bytes was read", len(b))
		}
	}
}
