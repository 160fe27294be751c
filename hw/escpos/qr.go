package escpos

import (
	"fmt"
	"strconv"

	qrcode "github.com/skip2/go-qrcode"
)

// QRLevel is a QR code's error correction level.
type QRLevel uint8

const (
	QRLevelL QRLevel = iota // about 7% of the code can be restored
	QRLevelM                // about 15%
	QRLevelQ                // about 25%
	QRLevelH                // about 30%
)

func (l QRLevel) String() string {
	switch l {
	case QRLevelL:
		return "L"
	case QRLevelM:
		return "M"
	case QRLevelQ:
		return "Q"
	case QRLevelH:
		return "H"
	}
	return "QRLevel(" + strconv.Itoa(int(l)) + ")"
}

// maxQRData is the most data GS ( k accepts for a model 2 QR code.
const maxQRData = 7089

// QR prints data as a model 2 QR code with modules of moduleSize dots
// (1 to 16). On a printer with native QR support it sends GS ( k: model,
// module size, error correction, store, print. Otherwise it renders the
// code, with its four-module quiet zone, as a raster image, shrinking the
// modules if the code would not fit the paper.
func (b *Builder) QR(data string, moduleSize int, level QRLevel) error {
	if data == "" || len(data) > maxQRData {
		return invalidf("qr: %d bytes of data outside 1..%d", len(data), maxQRData)
	}
	if moduleSize < 1 || moduleSize > 16 {
		return invalidf("qr: module size %d outside 1..16", moduleSize)
	}
	if level > QRLevelH {
		return invalidf("qr: error correction level %d", level)
	}
	if b.cfg.QR == QRRaster {
		r, err := RenderQR(data, moduleSize, level, b.cfg.DotsPerLine)
		if err != nil {
			return err
		}
		return b.Image(r)
	}
	b.buf = append(b.buf,
		gs, '(', 'k', 4, 0, 49, 65, 50, 0, // model 2
		gs, '(', 'k', 3, 0, 49, 67, byte(moduleSize),
		gs, '(', 'k', 3, 0, 49, 69, 48+byte(level),
	)
	n := len(data) + 3
	b.buf = append(b.buf, gs, '(', 'k', byte(n), byte(n>>8), 49, 80, 48)
	b.buf = append(b.buf, data...)
	b.buf = append(b.buf, gs, '(', 'k', 3, 0, 49, 81, 48)
	return nil
}

// RenderQR renders data as a model 2 QR code, quiet zone included, with
// modules of moduleSize dots, shrunk as needed to fit maxWidth dots.
func RenderQR(data string, moduleSize int, level QRLevel, maxWidth int) (*Raster, error) {
	var lvl qrcode.RecoveryLevel
	switch level {
	case QRLevelL:
		lvl = qrcode.Low
	case QRLevelM:
		lvl = qrcode.Medium
	case QRLevelQ:
		lvl = qrcode.High
	case QRLevelH:
		lvl = qrcode.Highest
	default:
		return nil, invalidf("qr: error correction level %d", level)
	}
	if moduleSize < 1 {
		return nil, invalidf("qr: module size %d", moduleSize)
	}
	q, err := qrcode.New(data, lvl)
	if err != nil {
		return nil, fmt.Errorf("render qr: %v: %w", err, ErrInvalidArgument)
	}
	bm := q.Bitmap()
	n := len(bm)
	scale := moduleSize
	if n*scale > maxWidth {
		scale = maxWidth / n
	}
	if scale < 1 {
		return nil, fmtTooWide(n, maxWidth)
	}
	r := NewRaster(n*scale, n*scale)
	for y, row := range bm {
		for x, black := range row {
			if !black {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					r.Set(x*scale+dx, y*scale+dy, true)
				}
			}
		}
	}
	return r, nil
}

func fmtTooWide(width, max int) error {
	return fmt.Errorf("%d dots over %d: %w", width, max, ErrTooWide)
}
