package escpos

// maxRasterHeight is the tallest GS v 0 image the Builder sends in one
// command; Epson documents 2303 dots for its TM-T88 models.
const maxRasterHeight = 2303

// A Raster is a 1-bit image: Height rows of Stride bytes, the top bit of
// each byte being its leftmost dot, a set bit being black. Bits past Width
// in a row's last byte are padding and print white.
type Raster struct {
	Width  int
	Height int
	Pix    []byte
}

// NewRaster returns a white image of width × height dots. Negative sizes
// count as zero.
func NewRaster(width, height int) *Raster {
	width, height = max(width, 0), max(height, 0)
	r := &Raster{Width: width, Height: height}
	r.Pix = make([]byte, r.Stride()*height)
	return r
}

// Stride is the number of bytes in a row.
func (r *Raster) Stride() int { return (r.Width + 7) / 8 }

// Black reports whether the dot at x, y is black; dots outside the image
// are white.
func (r *Raster) Black(x, y int) bool {
	if x < 0 || y < 0 || x >= r.Width || y >= r.Height {
		return false
	}
	i := y*r.Stride() + x/8
	return i < len(r.Pix) && r.Pix[i]&(0x80>>(x%8)) != 0
}

// Set colours the dot at x, y; dots outside the image are ignored.
func (r *Raster) Set(x, y int, black bool) {
	if x < 0 || y < 0 || x >= r.Width || y >= r.Height {
		return
	}
	i := y*r.Stride() + x/8
	if i >= len(r.Pix) {
		return
	}
	if black {
		r.Pix[i] |= 0x80 >> (x % 8)
	} else {
		r.Pix[i] &^= 0x80 >> (x % 8)
	}
}

// Image prints r as a raster bit image (GS v 0 0 xL xH yL yH d...). The
// image must fit the Config's DotsPerLine and be at most 2303 dots tall.
func (b *Builder) Image(r *Raster) error {
	if r == nil || r.Width < 1 || r.Height < 1 {
		return invalidf("raster: empty image")
	}
	if r.Width > b.cfg.DotsPerLine {
		return fmtTooWide(r.Width, b.cfg.DotsPerLine)
	}
	if r.Height > maxRasterHeight {
		return invalidf("raster: height %d over %d", r.Height, maxRasterHeight)
	}
	stride := r.Stride()
	if len(r.Pix) != stride*r.Height {
		return invalidf("raster: %d bytes of pixels, want %d", len(r.Pix), stride*r.Height)
	}
	b.buf = append(b.buf, gs, 'v', '0', 0, byte(stride), byte(stride>>8), byte(r.Height), byte(r.Height>>8))
	pad := byte(0xff) << ((8 - r.Width%8) % 8) // keeps the dots of the last byte
	for y := range r.Height {
		row := r.Pix[y*stride : (y+1)*stride]
		b.buf = append(b.buf, row[:stride-1]...)
		b.buf = append(b.buf, row[stride-1]&pad)
	}
	return nil
}
