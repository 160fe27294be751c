// Package render draws every glyph of the Go Mono fonts into 12 × 24 dot
// cells and encodes them as the table hw/glyph embeds (cells.bin). Only
// the generator (internal/gencells) and hw/glyph's test import it, so the
// fonts and the font rasteriser (golang.org/x/image) are not linked into
// the binary: the table is a fifth of the two fonts' size.
//
// The table: for each font (regular, then bold) a little-endian uint32
// count of glyphs, then per glyph in ascending rune order the rune as a
// little-endian uint32 and its 24 rows as little-endian uint16, row y's
// bit 11-x the dot at x.
package render

import (
	"encoding/binary"
	"fmt"
	"image"
	"slices"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// The cell of one character at size 1x1, and the fonts' size and
// baseline in it (advance 12 px, ascent 19 px, descent 5 px at 20 px).
const (
	CellWidth  = 12
	CellHeight = 24
	fontSize   = 20
	baseline   = 19
)

// Cell is one glyph's dots: row y's bit 11-x is the dot at x.
type Cell [CellHeight]uint16

// Fonts are the two fonts in table order: Go Mono, Go Mono Bold.
func Fonts() [][]byte { return [][]byte{gomono.TTF, gomonobold.TTF} }

// Cells renders every glyph of ttf that draws some dots (no spaces, no
// controls) in the planes hw/glyph covers.
func Cells(ttf []byte) (map[rune]Cell, error) {
	fnt, err := opentype.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("render: parse font: %w", err)
	}
	face, err := opentype.NewFace(fnt, &opentype.FaceOptions{Size: fontSize, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("render: font face: %w", err)
	}
	defer face.Close()
	cells := map[rune]Cell{}
	var buf sfnt.Buffer
	img := image.NewAlpha(image.Rect(0, 0, CellWidth, CellHeight))
	for _, span := range [][2]rune{{0x21, 0x3000}, {0xfb00, 0xfffe}} {
		for r := span[0]; r < span[1]; r++ {
			if gi, err := fnt.GlyphIndex(&buf, r); err != nil || gi == 0 || unicode.IsSpace(r) || unicode.IsControl(r) {
				continue
			}
			if c := draw(face, img, r); c != (Cell{}) {
				cells[r] = c
			}
		}
	}
	return cells, nil
}

func draw(face font.Face, img *image.Alpha, r rune) Cell {
	clear(img.Pix)
	d := font.Drawer{Dst: img, Src: image.Opaque, Face: face, Dot: fixed.P(0, baseline)}
	d.DrawString(string(r))
	var c Cell
	for y := range CellHeight {
		for x := range CellWidth {
			if img.AlphaAt(x, y).A >= 0x80 {
				c[y] |= 1 << (CellWidth - 1 - x)
			}
		}
	}
	return c
}

// Table renders both fonts and encodes them as cells.bin.
func Table() ([]byte, error) {
	var out []byte
	for _, ttf := range Fonts() {
		cells, err := Cells(ttf)
		if err != nil {
			return nil, err
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(len(cells)))
		runes := make([]rune, 0, len(cells))
		for r := range cells {
			runes = append(runes, r)
		}
		slices.Sort(runes)
		for _, r := range runes {
			out = binary.LittleEndian.AppendUint32(out, uint32(r))
			for _, row := range cells[r] {
				out = binary.LittleEndian.AppendUint16(out, row)
			}
		}
	}
	return out, nil
}
