package glyph

import (
	_ "embed" // cells.bin
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"unicode"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

//go:generate go run ./internal/gencells

// cells is every glyph of Go Mono and Go Mono Bold rendered at 20 px into
// cells, written by internal/gencells (format in internal/render): the
// binary links 73 kB of dots rather than the two fonts (350 kB) and a
// font rasteriser. TestCellsMatchFonts renders the fonts again and
// compares.
//
//go:embed cells.bin
var cells []byte

// The cell of one character at size 1x1: font A of an ESC/POS printer.
const (
	CellWidth  = 12
	CellHeight = 24
)

// cell is one glyph's dots: row y's bit 11-x is the dot at x.
type cell [CellHeight]uint16

// lookalike draws a character the fonts lack with the glyph of another
// that has the same shape.
var lookalike = map[rune]rune{
	0x02BB: 0x2018, // ʻ modifier letter turned comma: ‘
	0x02BC: 0x2019, // ʼ modifier letter apostrophe: ’
}

// Style is how a line is printed: as ESC a, ESC ! and GS ! set it.
type Style struct {
	Align escpos.Align
	Bold  bool
	// Width and Height are the character size multipliers, 1 to 8; zero
	// means 1.
	Width, Height int
}

// A Face draws and reads text in Go Mono (regular and bold). The zero
// value is not usable: make one with New or Default.
type Face struct {
	cells [2]map[rune]cell   // [0] regular, [1] bold
	runes [2]map[cell][]rune // every character a cell draws, ascending
}

// New reads every glyph of the two fonts from the embedded table.
func New() (*Face, error) { return parse(cells) }

// parse reads a table of cells (internal/render's format).
func parse(b []byte) (*Face, error) {
	const entry = 4 + 2*CellHeight
	f := &Face{}
	for i := range 2 {
		if len(b) < 4 {
			return nil, fmt.Errorf("glyph: table of cells cut short in font %d", i)
		}
		n := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		if n > len(b)/entry {
			return nil, fmt.Errorf("glyph: table of cells cut short in font %d: %d glyphs announced", i, n)
		}
		f.cells[i], f.runes[i] = make(map[rune]cell, n+len(lookalike)), make(map[cell][]rune, n)
		add := func(r rune, c cell) {
			f.cells[i][r] = c
			f.runes[i][c] = append(f.runes[i][c], r)
		}
		for range n {
			r := rune(binary.LittleEndian.Uint32(b))
			var c cell
			for y := range CellHeight {
				c[y] = binary.LittleEndian.Uint16(b[4+2*y:])
			}
			add(r, c)
			b = b[entry:]
		}
		for from, to := range lookalike {
			if c, ok := f.cells[i][to]; ok {
				if _, has := f.cells[i][from]; !has {
					add(from, c)
				}
			}
		}
		for c := range f.runes[i] {
			slices.Sort(f.runes[i][c])
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("glyph: table of cells has %d bytes past its fonts", len(b))
	}
	if _, ok := f.cells[0]['?']; !ok {
		return nil, fmt.Errorf("glyph: the font has no question mark")
	}
	return f, nil
}

// Default is a Face made once and shared: a Face never changes.
func Default() (*Face, error) { return shared() }

var shared = sync.OnceValues(New)

// Has reports whether the face can draw r; spaces draw as blank cells.
func (f *Face) Has(r rune) bool {
	_, ok := f.cells[0][r]
	return ok || r == ' ' || (unicode.IsSpace(r) && !unicode.IsControl(r))
}

func size(n int) int { return min(max(n, 1), 8) }

// Draw draws text as one printed line dots wide: cells of 12 × 24 dots
// times the style's size, placed as the alignment says (on whole cells),
// in the bold font if the style is bold. Text longer than the line is
// cut. Characters the face cannot draw are drawn as "?" and returned,
// each once.
func (f *Face) Draw(text string, st Style, dots int) (*escpos.Raster, []rune) {
	w, h := size(st.Width), size(st.Height)
	cw := CellWidth * w
	runes := []rune(text)
	if n := max(dots, 0) / cw; len(runes) > n {
		runes = runes[:n]
	}
	x0 := 0
	switch st.Align {
	case escpos.Center:
		x0 = (dots - len(runes)*cw) / 2 / cw * cw
	case escpos.Right:
		x0 = (dots - len(runes)*cw) / cw * cw
	}
	b := 0
	if st.Bold {
		b = 1
	}
	img := escpos.NewRaster(dots, CellHeight*h)
	var missing []rune
	for i, r := range runes {
		c, ok := f.cells[b][r]
		if !ok {
			if f.Has(r) {
				continue // a space
			}
			if !slices.Contains(missing, r) {
				missing = append(missing, r)
			}
			c = f.cells[b]['?']
		}
		for y := range CellHeight * h {
			row := c[y/h]
			if row == 0 {
				continue
			}
			for x := range cw {
				if row&(1<<(CellWidth-1-x/w)) != 0 {
					img.Set(x0+i*cw+x, y, true)
				}
			}
		}
	}
	return img, missing
}

// Read reads a raster image that is one line of text drawn by Draw: its
// height a whole number of cells (the size), every cell blank or a glyph.
// The line comes back left-aligned with its leading spaces, trailing
// spaces dropped, and Image set to r. ok is false for any other image.
func (f *Face) Read(r *escpos.Raster) (line escpos.Line, ok bool) {
	if r == nil || r.Height < CellHeight || r.Height%CellHeight != 0 || r.Height > 8*CellHeight ||
		r.Width < CellWidth || len(r.Pix) != r.Stride()*r.Height {
		return escpos.Line{}, false
	}
	h := r.Height / CellHeight
	for i, w := range []int{h, 1, 2, 3, 4, 5, 6, 7, 8} {
		if i > 0 && w == h {
			continue // every width once, the height's first
		}
		for b := range 2 {
			if text, ok := f.read(r, w, h, b); ok {
				return escpos.Line{Text: text, Align: escpos.Left, Bold: b == 1, Width: w, Height: h, Image: r}, true
			}
		}
	}
	return escpos.Line{}, false
}

// read reads r as cells of size w × h in font b.
func (f *Face) read(r *escpos.Raster, w, h, b int) (string, bool) {
	cw := CellWidth * w
	cols := r.Width / cw
	if cols == 0 {
		return "", false
	}
	for y := range r.Height { // dots right of the last whole cell are blank
		for x := cols * cw; x < r.Width; x++ {
			if r.Black(x, y) {
				return "", false
			}
		}
	}
	cands := make([][]rune, cols)
	ink := false
	for i := range cols {
		c, ok := sample(r, i*cw, w, h)
		if !ok {
			return "", false
		}
		if c == (cell{}) {
			continue
		}
		rs, ok := f.runes[b][c]
		if !ok {
			return "", false
		}
		cands[i], ink = rs, true
	}
	if !ink {
		return "", false
	}
	return resolve(cands), true
}

// sample reads the cell at x0 scaled by w × h, and reports whether every
// block of w × h dots is of one colour.
func sample(r *escpos.Raster, x0, w, h int) (cell, bool) {
	var c cell
	for cy := range CellHeight {
		for cx := range CellWidth {
			black := r.Black(x0+cx*w, cy*h)
			for dy := range h {
				for dx := range w {
					if r.Black(x0+cx*w+dx, cy*h+dy) != black {
						return c, false
					}
				}
			}
			if black {
				c[cy] |= 1 << (CellWidth - 1 - cx)
			}
		}
	}
	return c, true
}

type script uint8

const (
	noScript script = iota
	latin
	cyrillic
	greek
)

func scriptOf(r rune) script {
	switch {
	case unicode.Is(unicode.Latin, r):
		return latin
	case unicode.Is(unicode.Cyrillic, r):
		return cyrillic
	case unicode.Is(unicode.Greek, r):
		return greek
	}
	return noScript
}

// resolve picks one character per cell (nil: a space). Where a glyph is
// shared (Latin o and Cyrillic о), it takes the script that the word's
// other letters are in, else the line's, else the lowest code point; ‘
// and ʻ (’ and ʼ) share a glyph, and the letter is taken after a letter.
func resolve(cands [][]rune) string {
	count := func(from, to int) [4]int {
		var n [4]int
		for _, cs := range cands[from:to] {
			if len(cs) > 0 && sameScript(cs) {
				n[scriptOf(cs[0])]++
			}
		}
		return n
	}
	line := count(0, len(cands))
	out := make([]rune, len(cands))
	start := 0
	for i, cs := range cands {
		if len(cs) == 0 {
			out[i] = ' '
			start = i + 1
			continue
		}
		if len(cs) == 1 {
			out[i] = cs[0]
			continue
		}
		end := i
		for end < len(cands) && len(cands[end]) > 0 {
			end++
		}
		word := count(start, end)
		out[i] = cs[0]
		if pick, ok := modifier(cs, i > 0 && unicode.IsLetter(out[i-1])); ok {
			out[i] = pick
			continue
		}
		best := -1
		for _, n := range [][4]int{word, line} {
			for _, r := range cs {
				if s := scriptOf(r); s != noScript && n[s] > 0 && (best < 0 || n[s] > best) {
					best, out[i] = n[s], r
				}
			}
			if best >= 0 {
				break
			}
		}
	}
	end := len(out)
	for end > 0 && out[end-1] == ' ' {
		end--
	}
	return string(out[:end])
}

func sameScript(cs []rune) bool {
	for _, r := range cs[1:] {
		if scriptOf(r) != scriptOf(cs[0]) {
			return false
		}
	}
	return scriptOf(cs[0]) != noScript
}

// modifier picks between a quote and the modifier letter drawn alike:
// the letter after a letter (oʻ, gʻ, taʼ), the quote elsewhere.
func modifier(cs []rune, afterLetter bool) (rune, bool) {
	for from, to := range lookalike {
		if slices.Contains(cs, from) && slices.Contains(cs, to) {
			if afterLetter {
				return from, true
			}
			return to, true
		}
	}
	return 0, false
}

// Transcribe is d with the raster images that are lines of text drawn by
// Draw read back as Lines (with Image set): a run of raster events at
// one place and of one width (a line comes in bands) that reads whole as
// lines of text becomes those lines; any other image stays an event.
func (f *Face) Transcribe(d *escpos.Document) *escpos.Document {
	out := &escpos.Document{}
	li := 0
	lines := func(upto int) {
		for ; li < upto && li < len(d.Lines); li++ {
			out.Lines = append(out.Lines, d.Lines[li])
		}
	}
	isRaster := func(e escpos.Event) bool { return e.Kind == escpos.EventRaster && e.Raster != nil }
	for i := 0; i < len(d.Events); {
		e := d.Events[i]
		lines(e.Line)
		j := i + 1
		if isRaster(e) {
			for j < len(d.Events) && isRaster(d.Events[j]) && d.Events[j].Line == e.Line && d.Events[j].Raster.Width == e.Raster.Width {
				j++
			}
			if read, ok := f.readRun(d.Events[i:j]); ok {
				out.Lines = append(out.Lines, read...)
				i = j
				continue
			}
		}
		for _, e := range d.Events[i:j] {
			e.Line = len(out.Lines)
			out.Events = append(out.Events, e)
		}
		i = j
	}
	lines(len(d.Lines))
	return out
}

// readRun joins the bands of a run and reads them as lines, top down.
func (f *Face) readRun(run []escpos.Event) ([]escpos.Line, bool) {
	width, height := run[0].Raster.Width, 0
	var pix []byte
	for _, e := range run {
		if e.Raster.Width != width || len(e.Raster.Pix) != e.Raster.Stride()*e.Raster.Height {
			return nil, false
		}
		pix = append(pix, e.Raster.Pix...)
		height += e.Raster.Height
	}
	all := &escpos.Raster{Width: width, Height: height, Pix: pix}
	stride := all.Stride()
	var out []escpos.Line
	for y := 0; y < height; {
		found := false
		for h := 1; h <= 8 && y+h*CellHeight <= height; h++ {
			part := &escpos.Raster{Width: width, Height: h * CellHeight, Pix: pix[y*stride : (y+h*CellHeight)*stride]}
			if l, ok := f.Read(part); ok {
				out = append(out, l)
				y += h * CellHeight
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return out, len(out) > 0
}
