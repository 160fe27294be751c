package glyph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unicode"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

func face(t testing.TB) *Face {
	t.Helper()
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// What Draw draws, Read reads back: Uzbek Latin with its modifier
// letters, Russian, English, bold and double size, on both widths.
func TestDrawReadsBack(t *testing.T) {
	f := face(t)
	for _, tc := range []struct {
		text string
		st   Style
		dots int
		want string
	}{
		{"Jami toʻlov: 12 000 soʻm", Style{}, 576, ""},
		{"Sovgʻa kartasi: qoldiq", Style{}, 384, ""},
		{"taʼmir, Oʻzbekiston", Style{Bold: true}, 384, ""},
		{"ИТОГО 15 880 сум", Style{Bold: true, Height: 2}, 576, ""},
		{"Кассир Анна, чек 3-41", Style{}, 384, ""},
		{"Café € 2,50", Style{}, 576, ""},
		{"JAMI", Style{Width: 2, Height: 2}, 384, ""},
		{"Oʻzbek", Style{Align: escpos.Center, Width: 2, Height: 2}, 384, "     Oʻzbek"},
		{"  Chegirma       -1 000  ", Style{}, 384, "  Chegirma       -1 000"},
	} {
		img, missing := f.Draw(tc.text, tc.st, tc.dots)
		if len(missing) != 0 {
			t.Errorf("%q: missing %q", tc.text, string(missing))
		}
		if img.Width != tc.dots || img.Height != CellHeight*size(tc.st.Height) {
			t.Errorf("%q: image %dx%d", tc.text, img.Width, img.Height)
		}
		l, ok := f.Read(img)
		want := tc.want
		if want == "" {
			want = tc.text
		}
		if !ok || l.Text != want || l.Bold != tc.st.Bold || l.Width != size(tc.st.Width) || l.Height != size(tc.st.Height) {
			t.Errorf("Read(Draw(%q)) = %q bold=%v %dx%d ok=%v, want %q", tc.text, l.Text, l.Bold, l.Width, l.Height, ok, want)
		}
	}
}

// A character no font has is drawn as "?" and reported.
func TestDrawReportsMissing(t *testing.T) {
	f := face(t)
	img, missing := f.Draw("Ok ☃ 漢", Style{}, 384)
	if !slices.Equal(missing, []rune{'☃', '漢'}) {
		t.Errorf("missing %q, want ☃ and 漢", string(missing))
	}
	if l, ok := f.Read(img); !ok || l.Text != "Ok ? ?" {
		t.Errorf("read %q %v, want \"Ok ? ?\"", l.Text, ok)
	}
	if !f.Has('ʻ') || !f.Has('Ж') || !f.Has(' ') || f.Has('☃') {
		t.Error("Has is wrong about ʻ, Ж, space or ☃")
	}
}

// An image that is no text (a QR code, noise, a blank) does not read.
func TestReadRefusesOtherImages(t *testing.T) {
	f := face(t)
	qr, err := escpos.RenderQR("tillmesh:receipt?e=00", 4, escpos.QRLevelM, 384)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*escpos.Raster{
		"qr": qr, "blank": escpos.NewRaster(384, 24), "nil": nil, "short": escpos.NewRaster(384, 10),
		"bad pix": {Width: 384, Height: 24, Pix: []byte{1}},
	} {
		if l, ok := f.Read(r); ok {
			t.Errorf("%s reads as %q", name, l.Text)
		}
	}
}

// Transcribe turns banded raster lines back into text lines in their
// place, and leaves other images as events.
func TestTranscribe(t *testing.T) {
	f := face(t)
	b, err := escpos.NewBuilder(escpos.Config{DotsPerLine: 384})
	if err != nil {
		t.Fatal(err)
	}
	b.Init()
	b.Line("plain")
	for _, s := range []string{"soʻm bir", "soʻm ikki"} {
		img, _ := f.Draw(s, Style{}, 384)
		for y := 0; y < img.Height; y += 14 { // bands, as hw/receipt sends them
			h := min(14, img.Height-y)
			if err := b.Image(&escpos.Raster{Width: img.Width, Height: h, Pix: img.Pix[y*img.Stride() : (y+h)*img.Stride()]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	qr, _ := escpos.RenderQR("x", 4, escpos.QRLevelM, 384)
	b.Image(qr)
	b.Line("end")
	doc, err := escpos.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got := f.Transcribe(doc).String()
	want := fmt.Sprintf("init\ncodepage 0\ntext \"plain\"\ntext raster \"soʻm bir\"\ntext raster \"soʻm ikki\"\nraster %dx%d\ntext \"end\"\n",
		qr.Stride()*8, qr.Height) // the command carries whole bytes
	if got != want {
		t.Errorf("transcribed:\n%s\nwant:\n%s", got, want)
	}
}

// Random text from the fonts' letters reads back, seeded.
func TestRandomLinesReadBack(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	f := face(t)
	alphabets := []string{"abcdefghijklmnopqrstuvwxyzoʻgʻ ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,:-",
		"абвгдеёжзийклмнопрстуфхцчшщъыьэюя АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ 0123456789.,:-"}
	for range 200 {
		a := rng.IntN(len(alphabets))
		al := []rune(alphabets[a])
		n := 1 + rng.IntN(32)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = al[rng.IntN(len(al))]
		}
		rs[0] = []rune("WЖ")[a] // a letter of one script only
		for i := 1; i < n; i++ {
			if rs[i] == 'ʻ' && !unicode.IsLetter(rs[i-1]) {
				rs[i] = 'x' // after a space it reads as the quote ‘, by design
			}
		}
		text := string(rs)
		st := Style{Bold: rng.IntN(2) == 0}
		img, _ := f.Draw(text, st, 384)
		l, ok := f.Read(img)
		if want := trimRight(text); !ok || l.Text != want {
			t.Fatalf("seed %d: %q reads as %q (ok %v)", seed, want, l.Text, ok)
		}
	}
}

func trimRight(s string) string {
	rs := []rune(s)
	for len(rs) > 0 && rs[len(rs)-1] == ' ' {
		rs = rs[:len(rs)-1]
	}
	return string(rs)
}

// FuzzRead: any image, read or transcribed, never panics, and a line
// read redraws as the same image.
func FuzzRead(f *testing.F) {
	fc := face(f)
	img, _ := fc.Draw("Jami soʻm", Style{}, 96)
	f.Add(96, 24, img.Pix)
	f.Add(24, 48, make([]byte, 3*48))
	f.Add(8, 24, []byte{0xff})
	f.Fuzz(func(t *testing.T, w, h int, pix []byte) {
		if w < 0 || h < 0 || w > 1024 || h > 256 {
			return
		}
		r := &escpos.Raster{Width: w, Height: h, Pix: pix}
		if l, ok := fc.Read(r); ok {
			redrawn, _ := fc.Draw(l.Text, Style{Bold: l.Bold, Width: l.Width, Height: l.Height}, w)
			if redrawn.Height != h {
				t.Fatalf("read %q from %dx%d, redrawn %dx%d", l.Text, w, h, redrawn.Width, redrawn.Height)
			}
		}
		doc := &escpos.Document{Events: []escpos.Event{{Kind: escpos.EventRaster, Raster: r}, {Kind: escpos.EventRaster, Raster: r}}}
		fc.Transcribe(doc)
	})
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDrawRead: any text drawn in any style reads back as text that
// draws the same dots (look-alikes may swap), and never panics.
func FuzzDrawRead(f *testing.F) {
	fc := face(f)
	f.Add("Jami toʻlov: 12 000 soʻm", uint8(0), uint16(384))
	f.Add("ИТОГО  €15.88", uint8(0x13), uint16(576))
	f.Add("\x00\xff漢 ", uint8(0xff), uint16(8))
	f.Fuzz(func(t *testing.T, text string, style uint8, dots uint16) {
		st := Style{Align: escpos.Align(style % 3), Bold: style&4 != 0, Width: 1 + int(style>>3&1), Height: 1 + int(style>>4&1)}
		d := int(dots%1024) / 8 * 8
		img, _ := fc.Draw(text, st, d)
		l, ok := fc.Read(img)
		if !ok {
			return // a blank line (or no room for one cell) reads as nothing
		}
		again, _ := fc.Draw(l.Text, Style{Bold: l.Bold, Width: l.Width, Height: l.Height}, d)
		if !slices.Equal(again.Pix, img.Pix) {
			t.Fatalf("%q drawn in %+v reads as %q, which draws other dots", text, st, l.Text)
		}
	})
}
