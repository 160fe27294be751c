package escpos

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSampleReceipt(t *testing.T) {
	doc, err := Parse(sampleReceipt(t))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	text := doc.Text()
	for _, want := range []string{"Café Tillmesh\n", "Genève", "Crème brûlée", "12,40 €\n", "Merci et à bientôt !\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("receipt text lacks %q:\n%s", want, text)
		}
	}
	if l := doc.Lines[0]; l != (Line{Text: "Café Tillmesh", Align: Center, Bold: true, Width: 2, Height: 2}) {
		t.Errorf("first line %+v", l)
	}
	total := doc.Lines[8]
	if !strings.HasPrefix(total.Text, "TOTAL") || !total.Bold || total.Height != 2 || total.Width != 1 {
		t.Errorf("total line %+v, want bold double height", total)
	}
	var kinds []EventKind
	for _, e := range doc.Events {
		kinds = append(kinds, e.Kind)
	}
	wantKinds := []EventKind{EventInit, EventCodePage, EventBarcode, EventBarcode, EventQR, EventPulse, EventFeed, EventCut}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("event kinds %v, want %v", kinds, wantKinds)
	}
	ean := doc.Events[2]
	if ean.Symbology != EAN13 || ean.Data != "4006381333931" || ean.BarHeight != 80 || ean.BarWidth != 2 || ean.HRI != HRIBelow {
		t.Errorf("ean event %v", ean)
	}
	if c := doc.Events[3]; c.Symbology != Code128 || c.Data != "3-1042" {
		t.Errorf("code128 event %v", c)
	}
	if q := doc.Events[4]; q.Data != "https://tillmesh.example/r/3-1042" || q.ModuleSize != 6 || q.Level != QRLevelM {
		t.Errorf("qr event %v", q)
	}
	if p := doc.Events[5]; p.Pulse != DefaultPulse() || p.Realtime {
		t.Errorf("pulse event %v", p)
	}
	if c := doc.Events[7]; c.Cut != PartialCut || c.Line != len(doc.Lines) {
		t.Errorf("cut event %+v, want a partial cut after every line", c)
	}
}

// TestRoundTrip checks each Builder command through the decoder.
func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		build func(*Builder) error
		want  string // Document.String()
	}{
		{"init", DefaultConfig(), func(b *Builder) error { b.Init(); return nil }, "init\ncodepage 0\n"},
		{"text and empty line", Config{}, func(b *Builder) error { return errors.Join(b.Line("a"), b.Line(""), b.Line("b")) },
			"text \"a\"\ntext \"\"\ntext \"b\"\n"},
		{"unterminated last line", Config{}, func(b *Builder) error { return b.Text("tail") }, "text \"tail\"\n"},
		{"cyrillic", Config{CodePage: EpsonCodePage(WPC1251)}, func(b *Builder) error { b.Init(); return b.Line("Привіт, світ") },
			"init\ncodepage 46\ntext \"Привіт, світ\"\n"},
		{"custom table", Config{CodePage: CodePage{Charset: CP866, Table: 59}}, func(b *Builder) error { b.Init(); return b.Line("Ёж") },
			"init\ncodepage 59\ntext \"Ёж\"\n"},
		{"style", Config{}, func(b *Builder) error {
			b.SetStyle(Style{Bold: true, Underline: true, DoubleWidth: true})
			return errors.Join(b.SetAlign(Right), b.Line("x"), b.SetSize(3, 4), b.Line("y"))
		}, "text right bold underline 2x1 \"x\"\ntext right bold underline 3x4 \"y\"\n"},
		{"feed and cuts", Config{}, func(b *Builder) error {
			b.Feed(2)
			return errors.Join(b.Cut(FullCut), b.FeedCut(PartialCut, 7))
		}, "feed 2\ncut full\ncut partial feed=7\n"},
		{"pulses", Config{}, func(b *Builder) error {
			return errors.Join(b.Pulse(Pulse{Pin: Pin5, On: 50 * time.Millisecond, Off: 200 * time.Millisecond}),
				b.RealtimePulse(Pin2, 250*time.Millisecond))
		}, "pulse pin5 on=50ms off=200ms\npulse pin2 on=300ms off=300ms realtime\n"},
		{"status", Config{}, func(b *Builder) error {
			return errors.Join(b.QueryStatus(PaperStatus), b.AutoStatusBack(ASBOnline|ASBPaper))
		},
			"status-query 4\nauto-status 0x0a\n"},
		{"barcodes", Config{}, func(b *Builder) error {
			return errors.Join(b.SetHRI(HRIBoth), b.EAN13("5901234123457"), b.SetBarcodeWidth(4), b.Code128("{x}"))
		}, "barcode EAN-13 \"5901234123457\" height=162 width=3 hri=both\nbarcode CODE128 \"{x}\" height=162 width=4 hri=both\n"},
		{"qr", Config{}, func(b *Builder) error { return b.QR("héllo", 8, QRLevelH) }, "qr level=H size=8 \"héllo\"\n"},
		{"qr raster", Config{QR: QRRaster}, func(b *Builder) error { return b.QR("hi", 3, QRLevelL) }, "raster 88x87\n"},
		{"text flushed by a barcode", Config{}, func(b *Builder) error { return errors.Join(b.Text("no LF"), b.EAN13("400638133393")) },
			"text \"no LF\"\nbarcode EAN-13 \"4006381333931\" height=162 width=3 hri=none\n"},
	}
	for _, tc := range tests {
		b := newBuilder(t, tc.cfg)
		if err := tc.build(b); err != nil {
			t.Fatalf("%s: build: %v", tc.name, err)
		}
		doc, err := Parse(b.Bytes(), tc.cfg.CodePage)
		if err != nil {
			t.Fatalf("%s: Parse: %v", tc.name, err)
		}
		if got := doc.String(); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestDecodeInChunks(t *testing.T) {
	cfg := Config{QR: QRRaster}
	b := newBuilder(t, cfg)
	must(t, b.QR("chunked", 4, QRLevelM))
	inputs := [][]byte{sampleReceipt(t), b.Bytes()}
	for _, data := range inputs {
		whole, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 2, 3, 7, 64} {
			d := NewDecoder()
			for i := 0; i < len(data); i += size {
				chunk := data[i:min(i+size, len(data))]
				if n, err := d.Write(chunk); err != nil || n != len(chunk) {
					t.Fatalf("chunk size %d: Write = %d, %v", size, n, err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatalf("chunk size %d: Close: %v", size, err)
			}
			if got := d.Document(); !reflect.DeepEqual(got, whole) {
				t.Errorf("chunk size %d: got\n%v\nwant\n%v", size, got, whole)
			}
		}
	}
}

// TestTruncatedPrefixes cuts the sample receipt everywhere: each prefix
// parses or fails with ErrTruncated, never another error.
func TestTruncatedPrefixes(t *testing.T) {
	data := sampleReceipt(t)
	truncated := 0
	for i := range len(data) {
		_, err := Parse(data[:i])
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d bytes: %v", i, err)
		}
		if err != nil {
			truncated++
		}
	}
	if truncated == 0 {
		t.Errorf("no prefix was truncated")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    error
		offset  int64
		command string
	}{
		{"lone ESC", "ab\x1b", ErrTruncated, 2, "ESC"},
		{"ESC ! cut", "\x1b!", ErrTruncated, 0, "ESC !"},
		{"ESC p cut", "\x1bp\x00\x32", ErrTruncated, 0, "ESC p"},
		{"GS k format B cut", "x\n\x1dk\x43\x0c123", ErrTruncated, 2, "GS k"},
		{"GS k format A without NUL", "\x1dk\x02400638133393", ErrTruncated, 0, "GS k"},
		{"GS ( k cut", "\x1d(k\x0b\x001P0till", ErrTruncated, 0, "GS ( k"},
		{"GS v 0 cut", "\x1dv0\x00\x02\x00\x02\x00\xff\xff\xff", ErrTruncated, 0, "GS v"},
		{"DLE EOT cut", "\x10\x04", ErrTruncated, 0, "DLE EOT"},
		{"DLE DC4 cut", "\x10\x14\x01\x00", ErrTruncated, 0, "DLE DC4"},
		{"unknown ESC", "ok\n\x1bZ", ErrUnknownCommand, 3, "ESC Z"},
		{"unknown GS", "\x1d\x01", ErrUnknownCommand, 0, "GS 0x01"},
		{"unknown DLE", "\x10\x01", ErrUnknownCommand, 0, "DLE 0x01"},
		{"bare control byte", "a\x07b", ErrUnknownCommand, 1, "0x07"},
		{"alignment 3", "\x1ba\x03", ErrInvalidArgument, 0, "ESC a"},
		{"drawer pin 2", "\x1bp\x02\x01\x01", ErrInvalidArgument, 0, "ESC p"},
		{"size bit 3", "\x1d!\x08", ErrInvalidArgument, 0, "GS !"},
		{"cut mode", "\x1dV\x05", ErrInvalidArgument, 0, "GS V"},
		{"barcode type", "\x1dk\x20", ErrInvalidArgument, 0, "GS k"},
		{"ean13 check digit", "\x1dk\x43\x0d4006381333932", ErrCheckDigit, 0, "GS k"},
		{"ean13 letters", "\x1dk\x43\x0c40063813339x", ErrInvalidArgument, 0, "GS k"},
		{"ean13 no data", "\x1dk\x43\x00", ErrInvalidArgument, 0, "GS k"},
		{"code128 without set", "\x1dk\x49\x03abc", ErrInvalidArgument, 0, "GS k"},
		{"code128 set C value", "\x1dk\x49\x03{C\x64", ErrInvalidArgument, 0, "GS k"},
		{"code128 trailing brace", "\x1dk\x49\x03{B{", ErrInvalidArgument, 0, "GS k"},
		{"format A without NUL in 255 bytes", "\x1dk\x04" + strings.Repeat("A", 300), ErrInvalidArgument, 0, "GS k"},
		{"qr print without data", "\x1d(k\x03\x001Q0", ErrInvalidArgument, 0, "GS ( k"},
		{"qr module size", "\x1d(k\x03\x001C\x00", ErrInvalidArgument, 0, "GS ( k"},
		{"gs ( k too short", "\x1d(k\x01\x001", ErrInvalidArgument, 0, "GS ( k"},
		{"raster zero width", "\x1dv0\x00\x00\x00\x01\x00", ErrInvalidArgument, 0, "GS v"},
		{"raster mode", "\x1dv0\x04\x01\x00\x01\x00\x00", ErrInvalidArgument, 0, "GS v"},
		{"raster too large", "\x1dv0\x00\xff\xff\xff\xff", ErrTooLarge, 0, "GS v"},
		{"realtime pulse time", "\x10\x14\x01\x00\x09", ErrInvalidArgument, 0, "DLE DC4"},
		{"status query 5", "\x10\x04\x05", ErrInvalidArgument, 0, "DLE EOT"},
		{"asb high bits", "\x1da\x10", ErrInvalidArgument, 0, "GS a"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.data))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %T is not a *ParseError", tc.name, err)
			continue
		}
		if pe.Offset != tc.offset || pe.Command != tc.command {
			t.Errorf("%s: error at %d in %q, want %d in %q (%v)", tc.name, pe.Offset, pe.Command, tc.offset, tc.command, err)
		}
	}
}

func TestDecoderErrorSticks(t *testing.T) {
	d := NewDecoder()
	n, err := d.Write([]byte("abc\n\x1bZrest"))
	if !errors.Is(err, ErrUnknownCommand) || n != 4 {
		t.Fatalf("Write = %d, %v; want 4, ErrUnknownCommand", n, err)
	}
	if _, err2 := d.Write([]byte("more\n")); err2 != err {
		t.Errorf("second Write error %v, want %v", err2, err)
	}
	if err2 := d.Close(); err2 != err {
		t.Errorf("Close error %v, want %v", err2, err)
	}
	if got := d.Document().Text(); got != "abc\n" {
		t.Errorf("text %q, want the line before the error", got)
	}
}

func TestParseDetails(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"ESC @ discards the unprinted line", "lost\x1b@kept\n", "init\ntext \"kept\"\n"},
		{"CR is ignored", "a\r\nb\r\n", "text \"a\"\ntext \"b\"\n"},
		{"tab is text", "a\tb\n", "text \"a\\tb\"\n"},
		{"unknown table decodes high bytes as U+FFFD", "\x1bt\x63a\xe9\n", "codepage 99\ntext \"a\uFFFD\"\n"},
		{"ESC E and ESC - with ASCII digits", "\x1bE\x01\x1b-1u\n\x1bE\x00\x1b-0p\n", "text bold underline \"u\"\ntext \"p\"\n"},
		{"GS ! via ESC !", "\x1d!\x11\x1b!\x00a\n", "text \"a\"\n"},
		{"format A EAN-13 with check digit", "\x1dk\x024006381333931\x00", "barcode EAN-13 \"4006381333931\" height=162 width=3 hri=none\n"},
		{"format A UPC-A", "\x1dk\x0003600029145\x00", "barcode UPC-A \"036000291452\" height=162 width=3 hri=none\n"},
		{"format B EAN-8", "\x1dk\x44\x079638507", "barcode EAN-8 \"96385074\" height=162 width=3 hri=none\n"},
		{"code128 sets C, B and A", "\x1dk\x49\x0f{C\x0c\x22{Ba{{{1b{AZ", "barcode CODE128 \"1234a{bZ\" height=162 width=3 hri=none\n"},
		{"code39 raw", "\x1dk\x45\x05AB-12", "barcode CODE39 \"AB-12\" height=162 width=3 hri=none\n"},
		{"other 2D codes and GS ( functions are skipped", "\x1d(k\x03\x000A\x00\x1d(L\x02\x0001x\n", "text \"x\"\n"},
		{"qr settings persist", "\x1d(k\x03\x001E3\x1d(k\x05\x001P0ab\x1d(k\x03\x001Q0\x1d(k\x03\x001Q0",
			"qr level=H size=3 \"ab\"\nqr level=H size=3 \"ab\"\n"},
		{"ignored commands", "\x1b3\x18\x1bM\x01\x1b2\x1dB\x01\x1dL\x00\x00\x1c.\x1c&\x1cC\x00\x10\x05\x01\x10\x04\x07\x01\x10\x14\x08\x01\x03\x14\x01\x06\x02\x08ok\n",
			"text \"ok\"\n"},
		{"feed flushes only text", "a\x1bd\x02\x1bd\x01", "text \"a\"\nfeed 2\nfeed 1\n"},
		{"ESC J flushes", "a\x1bJ\x10b\n", "text \"a\"\ntext \"b\"\n"},
	}
	for _, tc := range tests {
		doc, err := Parse([]byte(tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := doc.String(); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestWriteAfterClose(t *testing.T) {
	d := NewDecoder()
	must(t, d.Close())
	if _, err := d.Write([]byte("x")); err == nil {
		t.Errorf("Write after Close succeeded")
	}
}
