package escpos

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var sentinels = []error{ErrInvalidArgument, ErrCheckDigit, ErrUnencodable, ErrTooWide,
	ErrTruncated, ErrUnknownCommand, ErrTooLarge, ErrNoReply, ErrBadReply}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzParse feeds arbitrary bytes to the decoder: it must not panic, its
// output must stay proportional to its input, its errors must be
// *ParseErrors wrapping a sentinel, and splitting the input between
// writes must not change the result.
func FuzzParse(f *testing.F) {
	f.Add(sampleReceipt(f))
	for _, tc := range commandCases {
		b := newBuilder(f, tc.cfg)
		if err := tc.build(b); err == nil {
			f.Add(b.Bytes())
		}
	}
	for _, s := range []string{
		"", "\x1b", "\x1d(k\xff\xff1P0", "\x1dv0\x00\xff\xff\xff\xff", "\x1dk\x02123",
		"\x1dk\x49\x02{", "\x1d(k\x03\x001Q0", "\x10\x04\x01\x10\x14\x01\x01\x08", "\x1bt\x11\x80\x81\xff\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !wrapsSentinel(err) {
				t.Fatalf("error %v (%T) is not a *ParseError wrapping a sentinel", err, err)
			}
			if pe.Offset < 0 || pe.Offset > int64(len(data)) || pe.Command == "" {
				t.Fatalf("error %v has offset %d in %d bytes", err, pe.Offset, len(data))
			}
		}
		if n := len(doc.Lines) + len(doc.Events); n > len(data) {
			t.Fatalf("%d lines and events from %d bytes", n, len(data))
		}
		text, raster := 0, 0
		for _, l := range doc.Lines {
			if !utf8.ValidString(l.Text) || strings.ContainsAny(l.Text, "\n\r") {
				t.Fatalf("line %q", l.Text)
			}
			text += len(l.Text)
		}
		for _, e := range doc.Events {
			if e.Raster != nil {
				raster += len(e.Raster.Pix)
			}
		}
		if text > 3*len(data) || raster > len(data) {
			t.Fatalf("%d bytes of text and %d of raster from %d bytes", text, raster, len(data))
		}
		_ = doc.String()

		d := NewDecoder()
		var cerr error
		for _, part := range [][]byte{data[:len(data)/3], data[len(data)/3 : 2*len(data)/3], data[2*len(data)/3:]} {
			if _, cerr = d.Write(part); cerr != nil {
				break
			}
		}
		if cerr == nil {
			cerr = d.Close()
		}
		if (err == nil) != (cerr == nil) || (err != nil && err.Error() != cerr.Error()) {
			t.Fatalf("whole: %v; in three writes: %v", err, cerr)
		}
		if got := d.Document(); !reflect.DeepEqual(got, doc) {
			t.Fatalf("in three writes the document differs:\n%v\nwhole:\n%v", got, doc)
		}
	})
}

// FuzzStatus checks that a status is known only from a well-formed reply.
func FuzzStatus(f *testing.F) {
	for q := range byte(6) {
		for _, b := range []byte{0x12, 0x16, 0x1a, 0x1e, 0x32, 0x52, 0x72, 0x7e, 0x00, 0xff, 0x92} {
			f.Add(q, []byte{b}, byte(0))
		}
		f.Add(q, []byte{}, byte(1))
		f.Add(q, []byte{0x12, 0x12}, byte(1))
	}
	f.Fuzz(func(t *testing.T, q byte, reply []byte, pol byte) {
		s, err := DecodeStatus(StatusQuery(q), reply, DrawerPolarity(pol))
		_ = s.String()
		if err != nil {
			if s != (Status{}) || s.Ready() {
				t.Fatalf("error %v with status %v", err, s)
			}
			if !wrapsSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(reply) != 1 || reply[0]&0x93 != 0x12 || q < 1 || q > 4 || pol > 1 {
			t.Fatalf("accepted query %d reply % x polarity %d", q, reply, pol)
		}
		if s == (Status{}) || s.Ready() {
			t.Fatalf("one reply made status %v, ready=%v", s, s.Ready())
		}
		b := reply[0]
		switch StatusQuery(q) {
		case PrinterStatus:
			if (s.Offline == Yes) != (b&0x08 != 0) || (s.DrawerOpen == Yes) == ((b&0x04 != 0) != (pol == 0)) {
				t.Fatalf("byte %02x polarity %d: %v", b, pol, s)
			}
		case PaperStatus:
			if (s.PaperOut == Yes) != (b&0x60 != 0) || (s.PaperNearEnd == Yes) != (b&0x0c != 0) {
				t.Fatalf("byte %02x: %v", b, s)
			}
		}
	})
}

// FuzzText checks that text survives encoder and decoder, with exactly
// the unencodable characters replaced and reported.
func FuzzText(f *testing.F) {
	for c := range numCharsets {
		f.Add(uint8(c), "Café 12,40 € Їжак ß Ω \x1b@ \xff\n2nd line")
	}
	f.Fuzz(func(t *testing.T, cs uint8, s string) {
		charset := Charset(cs % uint8(numCharsets))
		b, err := NewBuilder(Config{CodePage: EpsonCodePage(charset)})
		if err != nil {
			t.Fatal(err)
		}
		b.Init()
		terr := b.Line(s)
		doc, err := Parse(b.Bytes())
		if err != nil {
			t.Fatalf("Parse of encoded %q: %v", s, err)
		}
		var want strings.Builder
		var bad []rune
		cm := charset.charmap()
		for _, r := range s {
			_, ok := cm.EncodeRune(r)
			switch {
			case r == '\n':
				want.WriteRune(r)
			case r >= 0x20 && r < 0x7f || r >= 0xa0 && ok && r != 0xfffd:
				want.WriteRune(r)
			default:
				want.WriteByte('?')
				if !strings.ContainsRune(string(bad), r) {
					bad = append(bad, r)
				}
			}
		}
		want.WriteByte('\n')
		if got := doc.Text(); got != want.String() {
			t.Fatalf("%v: %q came back as %q, want %q", charset, s, got, want.String())
		}
		if got := b.Unencodable(); !reflect.DeepEqual(got, bad) || (terr == nil) != (len(bad) == 0) {
			t.Fatalf("%v: %q reported %q (%v), want %q", charset, s, got, terr, bad)
		}
	})
}

// FuzzQRRaster renders arbitrary data on the host: no panic, and what
// the Builder accepts the decoder reads back as one raster image.
func FuzzQRRaster(f *testing.F) {
	f.Add("https://tillmesh.example/r/3-1042", uint8(6), uint8(1))
	f.Add(strings.Repeat("9", 300), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, data string, size, level uint8) {
		b, err := NewBuilder(Config{QR: QRRaster})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.QR(data, int(size%17), QRLevel(level%5)); err != nil {
			if !wrapsSentinel(err) || b.Len() != 0 {
				t.Fatalf("error %v, %d bytes appended", err, b.Len())
			}
			return
		}
		doc, err := Parse(b.Bytes())
		if err != nil || len(doc.Events) != 1 || doc.Events[0].Kind != EventRaster {
			t.Fatalf("Parse: %v, events %v", err, doc.Events)
		}
		if r := doc.Events[0].Raster; r.Width > DefaultDotsPerLine || r.Height < 21 {
			t.Fatalf("raster %dx%d", r.Width, r.Height)
		}
	})
}
