package escpos

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"default", DefaultConfig(), true},
		{"58mm raster", Config{QR: QRRaster, DotsPerLine: 384}, true},
		{"unknown charset", Config{CodePage: CodePage{Charset: numCharsets}}, false},
		{"unknown qr mode", Config{QR: 7}, false},
		{"negative width", Config{DotsPerLine: -1}, false},
		{"huge width", Config{DotsPerLine: 1 << 20}, false},
		{"control replacement", Config{Replacement: 0x1b}, false},
		{"high replacement", Config{Replacement: 0xff}, false},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if got := err == nil; got != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: error %v does not wrap ErrInvalidArgument", tc.name, err)
		}
		if _, err := NewBuilder(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: NewBuilder error = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestRejectedArguments checks that each rejected call returns the right
// sentinel and appends nothing.
func TestRejectedArguments(t *testing.T) {
	tall := NewRaster(8, maxRasterHeight+1)
	tests := []struct {
		name string
		call func(*Builder) error
		want error
	}{
		{"codepage unknown", func(b *Builder) error { return b.SetCodePage(CodePage{Charset: 99}) }, ErrInvalidArgument},
		{"size 0", func(b *Builder) error { return b.SetSize(0, 1) }, ErrInvalidArgument},
		{"size 9", func(b *Builder) error { return b.SetSize(1, 9) }, ErrInvalidArgument},
		{"align 3", func(b *Builder) error { return b.SetAlign(3) }, ErrInvalidArgument},
		{"cut 2", func(b *Builder) error { return b.Cut(2) }, ErrInvalidArgument},
		{"feedcut 2", func(b *Builder) error { return b.FeedCut(2, 1) }, ErrInvalidArgument},
		{"pulse pin 3", func(b *Builder) error { return b.Pulse(Pulse{Pin: 3, On: time.Second}) }, ErrInvalidArgument},
		{"pulse zero pin", func(b *Builder) error { return b.Pulse(Pulse{On: time.Second}) }, ErrInvalidArgument},
		{"pulse no on time", func(b *Builder) error { return b.Pulse(Pulse{Pin: Pin2}) }, ErrInvalidArgument},
		{"realtime pulse pin 1", func(b *Builder) error { return b.RealtimePulse(1, time.Second) }, ErrInvalidArgument},
		{"realtime pulse negative", func(b *Builder) error { return b.RealtimePulse(Pin2, -time.Second) }, ErrInvalidArgument},
		{"status query 0", func(b *Builder) error { return b.QueryStatus(0) }, ErrInvalidArgument},
		{"status query 5", func(b *Builder) error { return b.QueryStatus(5) }, ErrInvalidArgument},
		{"asb high bits", func(b *Builder) error { return b.AutoStatusBack(0x10) }, ErrInvalidArgument},
		{"barcode height 0", func(b *Builder) error { return b.SetBarcodeHeight(0) }, ErrInvalidArgument},
		{"barcode height 256", func(b *Builder) error { return b.SetBarcodeHeight(256) }, ErrInvalidArgument},
		{"barcode width 1", func(b *Builder) error { return b.SetBarcodeWidth(1) }, ErrInvalidArgument},
		{"barcode width 7", func(b *Builder) error { return b.SetBarcodeWidth(7) }, ErrInvalidArgument},
		{"hri 4", func(b *Builder) error { return b.SetHRI(4) }, ErrInvalidArgument},
		{"ean13 11 digits", func(b *Builder) error { return b.EAN13("40063813339") }, ErrInvalidArgument},
		{"ean13 14 digits", func(b *Builder) error { return b.EAN13("40063813339312") }, ErrInvalidArgument},
		{"ean13 letter", func(b *Builder) error { return b.EAN13("40063813339A") }, ErrInvalidArgument},
		{"ean13 check digit", func(b *Builder) error { return b.EAN13("4006381333932") }, ErrCheckDigit},
		{"code128 empty", func(b *Builder) error { return b.Code128("") }, ErrInvalidArgument},
		{"code128 control", func(b *Builder) error { return b.Code128("a\x1bb") }, ErrInvalidArgument},
		{"code128 non-ascii", func(b *Builder) error { return b.Code128("café") }, ErrInvalidArgument},
		{"code128 too long", func(b *Builder) error { return b.Code128(strings.Repeat("x", 254)) }, ErrInvalidArgument},
		{"code128 too long after escaping", func(b *Builder) error { return b.Code128(strings.Repeat("{", 127)) }, ErrInvalidArgument},
		{"qr empty", func(b *Builder) error { return b.QR("", 3, QRLevelM) }, ErrInvalidArgument},
		{"qr too long", func(b *Builder) error { return b.QR(strings.Repeat("1", 7090), 3, QRLevelM) }, ErrInvalidArgument},
		{"qr module 0", func(b *Builder) error { return b.QR("x", 0, QRLevelM) }, ErrInvalidArgument},
		{"qr module 17", func(b *Builder) error { return b.QR("x", 17, QRLevelM) }, ErrInvalidArgument},
		{"qr level", func(b *Builder) error { return b.QR("x", 3, 4) }, ErrInvalidArgument},
		{"image nil", func(b *Builder) error { return b.Image(nil) }, ErrInvalidArgument},
		{"image empty", func(b *Builder) error { return b.Image(NewRaster(0, 5)) }, ErrInvalidArgument},
		{"image too wide", func(b *Builder) error { return b.Image(NewRaster(577, 1)) }, ErrTooWide},
		{"image too tall", func(b *Builder) error { return b.Image(tall) }, ErrInvalidArgument},
		{"image short pix", func(b *Builder) error { return b.Image(&Raster{Width: 8, Height: 2, Pix: []byte{1}}) }, ErrInvalidArgument},
	}
	for _, tc := range tests {
		b := newBuilder(t, DefaultConfig())
		b.Init()
		before := b.Bytes()
		err := tc.call(b)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), strings.ToLower(err.Error()[:1])) {
			t.Errorf("%s: error %q does not start in lower case", tc.name, err)
		}
		if got := b.Bytes(); !bytes.Equal(got, before) {
			t.Errorf("%s: appended % x after an error", tc.name, got[len(before):])
		}
	}
}

func TestTextUnencodable(t *testing.T) {
	tests := []struct {
		name    string
		charset Charset
		text    string
		want    []byte
		bad     []rune
	}{
		{"euro not in cp437", CP437, "5 €", []byte("5 ?"), []rune{'€'}},
		{"euro in cp858", CP858, "5 €", []byte{'5', ' ', 0xd5}, nil},
		// CP866 has Є and Ї but not the Ukrainian і or Ґ.
		{"ukrainian not in cp866", CP866, "білий Ґ", []byte{0xa1, '?', 0xab, 0xa8, 0xa9, ' ', '?'}, []rune{'і', 'Ґ'}},
		{"ukrainian in wpc1251", WPC1251, "Її", []byte{0xaf, 0xbf}, nil},
		{"control characters", WPC1252, "a\x1b@b\tc\r", []byte("a?@b?c?"), []rune{0x1b, '\t', '\r'}},
		{"c1 control", ISO8859_15, "a\u0085b", []byte("a?b"), []rune{0x85}},
		{"delete", CP437, "a\x7fb", []byte("a?b"), []rune{0x7f}},
		{"invalid utf-8", CP437, "a\xffb", []byte("a?b"), []rune{0xfffd}},
		{"each rune reported once", CP437, "€€ ₴ €", []byte("?? ? ?"), []rune{'€', '₴'}},
		{"newline is a line feed", CP437, "a\nb", []byte("a\nb"), nil},
		{"emoji", WPC1252, "ok 👍", []byte("ok ?"), []rune{'👍'}},
	}
	for _, tc := range tests {
		b := newBuilder(t, Config{CodePage: EpsonCodePage(tc.charset)})
		err := b.Text(tc.text)
		if got := b.Bytes(); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got % x, want % x", tc.name, got, tc.want)
		}
		if tc.bad == nil {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		var ue *UnencodableError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUnencodable) {
			t.Fatalf("%s: error %v, want *UnencodableError", tc.name, err)
		}
		if !slices.Equal(ue.Runes, tc.bad) || ue.Charset != tc.charset {
			t.Errorf("%s: error reports %v %q, want %v %q", tc.name, ue.Charset, ue.Runes, tc.charset, tc.bad)
		}
		if got := b.Unencodable(); !slices.Equal(got, tc.bad) {
			t.Errorf("%s: Unencodable() = %q, want %q", tc.name, got, tc.bad)
		}
	}
}

func TestUnencodableAccumulates(t *testing.T) {
	b := newBuilder(t, Config{Replacement: '#'})
	_ = b.Line("€1")
	_ = b.Line("ok")
	err := b.Line("₴ and €")
	if got, want := string(b.Bytes()), "#1\nok\n# and #\n"; got != want {
		t.Errorf("bytes %q, want %q", got, want)
	}
	if got, want := b.Unencodable(), []rune{'€', '₴'}; !slices.Equal(got, want) {
		t.Errorf("Unencodable() = %q, want %q", got, want)
	}
	if got, want := err.Error(), "escpos: unencodable character in CP437: U+20B4 '₴', U+20AC '€'"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestSetCodePageSwitchesEncoder(t *testing.T) {
	b := newBuilder(t, DefaultConfig())
	b.Init()
	must(t, b.SetCodePage(EpsonCodePage(WPC1251)))
	must(t, b.Text("Ї"))
	b.Init() // back to the configured CP437
	err := b.Text("Ї")
	want := cat([]byte{0x1b, '@', 0x1c, '.', 0x1b, 't', 0}, []byte{0x1b, 't', 46, 0xaf},
		[]byte{0x1b, '@', 0x1c, '.', 0x1b, 't', 0}, []byte("?"))
	if got := b.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("got % x\nwant % x", got, want)
	}
	if !errors.Is(err, ErrUnencodable) {
		t.Errorf("after Init, Ї in CP437: error %v, want ErrUnencodable", err)
	}
	if b.CodePage() != EpsonCodePage(CP437) {
		t.Errorf("CodePage() = %v after Init", b.CodePage())
	}
}

func TestEpsonTables(t *testing.T) {
	want := map[Charset]byte{CP437: 0, CP850: 2, WPC1252: 16, CP866: 17, CP858: 19, ISO8859_15: 40, WPC1251: 46}
	for c, n := range want {
		if got := c.EpsonTable(); got != n {
			t.Errorf("%v.EpsonTable() = %d, want %d", c, got, n)
		}
	}
	if len(want) != int(numCharsets) {
		t.Errorf("test covers %d charsets of %d", len(want), numCharsets)
	}
}

func TestQRRasterMode(t *testing.T) {
	b := newBuilder(t, Config{QR: QRRaster, DotsPerLine: 384})
	must(t, b.QR("https://tillmesh.example/r/3-1042", 16, QRLevelQ))
	doc, err := Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	rs := doc.EventsOf(EventRaster)
	if len(rs) != 1 || len(doc.EventsOf(EventQR)) != 0 {
		t.Fatalf("events %v, want one raster and no native qr", doc.Events)
	}
	r := rs[0].Raster
	// Version 3 (29 modules) at level Q plus the quiet zone is 37
	// modules; 16-dot modules would be 592 dots, so they shrink to 10.
	if r.Height != 370 || r.Width != 376 {
		t.Errorf("raster %dx%d, want 376x370 (370 dots padded to whole bytes)", r.Width, r.Height)
	}
	want, err := RenderQR("https://tillmesh.example/r/3-1042", 16, QRLevelQ, 384)
	if err != nil {
		t.Fatal(err)
	}
	for y := range want.Height {
		for x := range want.Width {
			if r.Black(x, y) != want.Black(x, y) {
				t.Fatalf("dot %d,%d differs from RenderQR", x, y)
			}
		}
	}
	// The quiet zone is white; the finder pattern's corner is black.
	if r.Black(39, 39) || !r.Black(40, 40) {
		t.Errorf("quiet zone or finder pattern misplaced")
	}
}

func TestRenderQRTooWide(t *testing.T) {
	_, err := RenderQR(strings.Repeat("x", 1000), 1, QRLevelH, 100)
	if !errors.Is(err, ErrTooWide) {
		t.Errorf("error %v, want ErrTooWide", err)
	}
	_, err = RenderQR(strings.Repeat("x", 3000), 1, QRLevelH, 4096)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("data over capacity: error %v, want ErrInvalidArgument", err)
	}
}

// TestQRRasterScans renders QR codes through the Builder and the decoder
// and reads them back with zbarimg, when it is installed.
func TestQRRasterScans(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed (apt-get install zbar-tools)")
	}
	for i, data := range []string{"https://tillmesh.example/r/3-1042", "Café 12,40 € — Їжак", "0123456789"} {
		b := newBuilder(t, Config{QR: QRRaster})
		must(t, b.QR(data, 4, QRLevel(i)))
		doc, err := Parse(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		r := doc.Events[0].Raster
		img := image.NewGray(image.Rect(0, 0, r.Width, r.Height))
		for y := range r.Height {
			for x := range r.Width {
				c := color.Gray{Y: 255}
				if r.Black(x, y) {
					c = color.Gray{}
				}
				img.SetGray(x, y, c)
			}
		}
		path := filepath.Join(t.TempDir(), "qr.png")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out, err := exec.CommandContext(t.Context(), zbar, "-q", "--raw", path).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != data {
			t.Errorf("scanned %q, want %q", got, data)
		}
	}
}

func TestRaster(t *testing.T) {
	r := NewRaster(10, 3)
	if r.Stride() != 2 || len(r.Pix) != 6 {
		t.Fatalf("stride %d, %d bytes", r.Stride(), len(r.Pix))
	}
	r.Set(0, 0, true)
	r.Set(9, 2, true)
	r.Set(10, 0, true) // outside: ignored
	r.Set(-1, 0, true)
	if want := []byte{0x80, 0, 0, 0, 0, 0x40}; !bytes.Equal(r.Pix, want) {
		t.Errorf("pix % x, want % x", r.Pix, want)
	}
	if !r.Black(9, 2) || r.Black(8, 2) || r.Black(10, 0) || r.Black(0, -1) {
		t.Errorf("Black disagrees with Set")
	}
	r.Set(9, 2, false)
	if r.Black(9, 2) {
		t.Errorf("Set(false) left the dot black")
	}
	if n := NewRaster(-3, -1); n.Width != 0 || len(n.Pix) != 0 {
		t.Errorf("NewRaster(-3, -1) = %+v", n)
	}
}

func TestParseCharset(t *testing.T) {
	for c := range numCharsets {
		got, err := ParseCharset(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCharset(%q) = %v, %v", c.String(), got, err)
		}
		if c.Charmap() == nil {
			t.Errorf("%v has no charmap", c)
		}
	}
	for name, want := range map[string]Charset{"windows-1252": WPC1252, "ISO-8859-15": ISO8859_15, "cp1251": WPC1251, "PC858": CP858} {
		if got, err := ParseCharset(name); err != nil || got != want {
			t.Errorf("ParseCharset(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseCharset("utf-8"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("ParseCharset(utf-8) = %v", err)
	}
}

// Missing names the characters Text would print as '?', and appends
// nothing: Russian is whole in CP866 and WPC1251, ʻ in neither, « only
// in WPC1251.
func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		cs   Charset
		text string
		want string
	}{
		{CP866, "Съешь же ещё этих мягких булок, ЁЖ", ""},
		{WPC1251, "Съешь же ещё этих мягких булок «ЁЖ»", ""},
		{CP866, "«Oʻzbek» soʻm\x07", "«ʻ»\x07"},
		{CP437, "Café €", "€"},
		{WPC1251, "line\n", ""},
	} {
		b, err := NewBuilder(Config{CodePage: EpsonCodePage(tc.cs)})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b.Missing(tc.text)); got != tc.want || b.Len() != 0 {
			t.Errorf("%v: Missing(%q) = %q (%d bytes appended), want %q", tc.cs, tc.text, got, b.Len(), tc.want)
		}
		if err := b.Text(tc.text); (err != nil) != (tc.want != "") {
			t.Errorf("%v: Text(%q) = %v, Missing says %q", tc.cs, tc.text, err, tc.want)
		}
	}
}
