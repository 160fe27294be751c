package sim

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/hw/display"
	"github.com/tillmesh/tillmesh/hw/escpos"
)

// Glyph cells: the 5x8 font drawn at twice its size, with spacing, so that
// 48 characters fill 576 dots and 32 fill 384.
const (
	cellW = 12
	cellH = 24
	scale = 2
)

var (
	black = color.Gray{Y: 0}
	white = color.Gray{Y: 255}
)

// canvas grows downwards as the receipt is drawn.
type canvas struct {
	w    int
	rows [][]bool // true is black
}

func (c *canvas) grow(h int) int {
	y := len(c.rows)
	for range h {
		c.rows = append(c.rows, make([]bool, c.w))
	}
	return y
}

func (c *canvas) set(x, y int) {
	if x >= 0 && x < c.w && y >= 0 && y < len(c.rows) {
		c.rows[y][x] = true
	}
}

// bitmap returns the font column bytes for r: its ASCII form, or that of
// its transliteration's first character, or '?'.
func bitmap(r rune) [5]byte {
	if r < 0x20 || r > 0x7e {
		t, _ := display.Transliterate(string(r), nil)
		r, _ = utf8.DecodeRuneInString(t)
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
	}
	return font5x7[r-0x20]
}

func (c *canvas) text(l escpos.Line) {
	sx, sy := scale*l.Width, scale*l.Height
	cw := cellW * l.Width
	n := utf8.RuneCountInString(l.Text)
	x0 := 0
	switch l.Align {
	case escpos.Center:
		x0 = max(0, (c.w-n*cw)/2)
	case escpos.Right:
		x0 = max(0, c.w-n*cw)
	}
	y0 := c.grow(cellH * l.Height)
	i := 0
	for _, r := range l.Text {
		g := bitmap(r)
		for col, bits := range g {
			for row := range 8 {
				if bits&(1<<row) == 0 {
					continue
				}
				for dy := range sy {
					for dx := range sx {
						x := x0 + i*cw + col*sx + dx
						c.set(x, y0+2*l.Height+row*sy+dy)
						if l.Bold {
							c.set(x+1, y0+2*l.Height+row*sy+dy)
						}
					}
				}
			}
		}
		if l.Underline {
			for x := range cw {
				c.set(x0+i*cw+x, y0+cellH*l.Height-2)
			}
		}
		i++
	}
}

func (c *canvas) raster(r *escpos.Raster) {
	x0 := max(0, (c.w-r.Width)/2)
	y0 := c.grow(r.Height)
	for y := range r.Height {
		for x := range r.Width {
			if r.Black(x, y) {
				c.set(x0+x, y0+y)
			}
		}
	}
}

// barcode draws bars derived from the data (not a scannable symbol) and
// the digits below them.
func (c *canvas) barcode(e escpos.Event) {
	h := fnv.New64a()
	h.Write([]byte(e.Data))
	seed := h.Sum64()
	width := min(c.w, 11*(len(e.Data)+3)*max(e.BarWidth, 1))
	x0 := (c.w - width) / 2
	y0 := c.grow(max(e.BarHeight, 8))
	for x := 0; x < width; x += max(e.BarWidth, 1) {
		seed = seed*6364136223846793005 + 1442695040888963407
		if x < 4 || x >= width-4 || seed>>63 == 1 {
			for dx := range max(e.BarWidth, 1) {
				for y := range max(e.BarHeight, 8) {
					c.set(x0+x+dx, y0+y)
				}
			}
		}
	}
	c.text(escpos.Line{Text: e.Data, Align: escpos.Center, Width: 1, Height: 1})
}

// Image draws the receipt as the paper would show it: text in a bitmap
// font, raster images and QR codes as printed, barcodes schematically.
func (r *Receipt) Image() *image.Gray {
	c := &canvas{w: r.Dots}
	d := r.Document()
	li := 0
	lines := func(upto int) {
		for ; li < upto && li < len(d.Lines); li++ {
			if l := d.Lines[li]; l.Image != nil {
				c.raster(l.Image) // a raster line, as printed
			} else {
				c.text(l)
			}
		}
	}
	for _, e := range d.Events {
		lines(e.Line)
		switch e.Kind {
		case escpos.EventRaster:
			if e.Raster != nil {
				c.raster(e.Raster)
			}
		case escpos.EventQR:
			if q, err := escpos.RenderQR(e.Data, e.ModuleSize, e.Level, c.w); err == nil {
				c.raster(q)
			}
		case escpos.EventBarcode:
			c.barcode(e)
		case escpos.EventFeed:
			c.grow(cellH * e.Lines)
		case escpos.EventCut:
			y := c.grow(2)
			for x := 0; x < c.w; x += 8 {
				for dx := range 4 {
					c.set(x+dx, y)
				}
			}
		}
	}
	lines(len(d.Lines))
	img := image.NewGray(image.Rect(0, 0, c.w, max(len(c.rows), 1)))
	for i := range img.Pix {
		img.Pix[i] = white.Y
	}
	for y, row := range c.rows {
		for x, b := range row {
			if b {
				img.SetGray(x, y, black)
			}
		}
	}
	return img
}

// PNG encodes Image as a PNG.
func (r *Receipt) PNG() ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, r.Image()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
