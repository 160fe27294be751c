package display

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tillmesh/tillmesh/hw/escpos"
)

func TestTransliterate(t *testing.T) {
	cp437 := escpos.CP437.Charmap()
	cp858 := escpos.CP858.Charmap()
	for _, tc := range []struct {
		in   string
		cm   bool
		cp   int // 0 ascii, 437, 858
		want string
		bad  string
	}{
		{"Total 12.40", false, 0, "Total 12.40", ""},
		{"Café", false, 0, "Cafe", ""},
		{"Café", true, 437, "Café", ""},            // é is in CP437
		{"2,50 €", true, 437, "2,50 EUR", ""},      // the euro sign is not
		{"2,50 €", true, 858, "2,50 €", ""},        // CP858 has it
		{"Straße", true, 437, "Straße", ""},        // ß is in CP437
		{"Straße", false, 0, "Strasse", ""},        //
		{"Їжак", true, 437, "Yizhak", ""},          // Ukrainian to Latin
		{"Łódź", true, 437, "Lódz", ""},            // ó is in CP437, ź is stripped
		{"Cafe\u0301", false, 0, "Cafe", ""},       // combining accent: NFC then stripped
		{"tab\there\n", false, 0, "tab here ", ""}, // controls become spaces
		{"中文", true, 437, "??", "中文"},
		{"\xff", false, 0, "?", "\ufffd"},
	} {
		var got string
		var bad []rune
		switch tc.cp {
		case 437:
			got, bad = Transliterate(tc.in, cp437)
		case 858:
			got, bad = Transliterate(tc.in, cp858)
		default:
			got, bad = Transliterate(tc.in, nil)
		}
		if got != tc.want || string(bad) != tc.bad {
			t.Errorf("Transliterate(%q, %d) = %q, %q; want %q, %q", tc.in, tc.cp, got, string(bad), tc.want, tc.bad)
		}
	}
}

func TestFrameEpson(t *testing.T) {
	cfg := Config{Protocol: Epson, CodePage: escpos.EpsonCodePage(escpos.CP858)}
	got, bad := Frame(cfg, "Espresso", "TOTAL 5,00 €")
	want := slices.Concat([]byte{0x1f, '$', 1, 1}, []byte("Espresso            "),
		[]byte{0x1f, '$', 1, 2}, []byte("TOTAL 5,00 "), []byte{0xd5}, []byte("        "))
	if !bytes.Equal(got, want) || len(bad) != 0 {
		t.Errorf("Frame = % x %q\nwant    % x", got, string(bad), want)
	}
	if init := Init(cfg); !bytes.Equal(init, []byte{0x1b, '@', 0x1f, 0x01, 0x1f, 'C', 0, 0x1b, 't', 19, 0x0c}) {
		t.Errorf("Init = % x", init)
	}
}

func TestFrameCD5220(t *testing.T) {
	cfg := Config{Protocol: CD5220, ASCII: true}
	got, _ := Frame(cfg, "A very long product name here", "€ 1")
	want := slices.Concat([]byte{0x1b, 'Q', 'A'}, []byte("A very long product "), []byte{0x0d},
		[]byte{0x1b, 'Q', 'B'}, []byte("EUR 1               "), []byte{0x0d})
	if !bytes.Equal(got, want) {
		t.Errorf("Frame = %q\nwant    %q", got, want)
	}
}

// TestScreenRoundTrip sends Init and Frames through a Screen for both
// protocols, in pieces, and reads the lines back.
func TestScreenRoundTrip(t *testing.T) {
	for _, cfg := range []Config{
		{Protocol: Epson, CodePage: escpos.EpsonCodePage(escpos.CP858)},
		{Protocol: CD5220, CodePage: escpos.CodePage{Charset: escpos.CP858}},
		{Protocol: Epson, Columns: 16, ASCII: true},
	} {
		s := NewScreen(cfg)
		stream := Init(cfg)
		f1, _ := Frame(cfg, "first", "line")
		f2, _ := Frame(cfg, "Crème brûlée", Pair(cfg, "TOTAL", "12,40 €"))
		stream = slices.Concat(stream, f1, f2)
		for i := 0; i < len(stream); i += 3 {
			if _, err := s.Write(stream[i:min(i+3, len(stream))]); err != nil {
				t.Fatalf("%v: %v", cfg.Protocol, err)
			}
		}
		n := cfg.columns()
		wantTotal := "12,40 €"
		if cfg.ASCII {
			wantTotal = "12,40 EUR"
		}
		lines := s.Lines()
		wantTop := "Crème brûlée"
		if cfg.ASCII {
			wantTop = "Creme brulee"
		}
		if lines[0] != wantTop+strings.Repeat(" ", n-utf8.RuneCountInString(wantTop)) {
			t.Errorf("%v: top %q", cfg.Protocol, lines[0])
		}
		if !strings.HasPrefix(lines[1], "TOTAL") || !strings.HasSuffix(lines[1], wantTotal) || utf8.RuneCountInString(lines[1]) != n {
			t.Errorf("%v: bottom %q", cfg.Protocol, lines[1])
		}
		if s.Errors != 0 {
			t.Errorf("%v: %d errors", cfg.Protocol, s.Errors)
		}
	}
}

func TestScreenUnknown(t *testing.T) {
	s := NewScreen(Config{Protocol: Epson})
	_, err := s.Write([]byte{0x1b, 'Z', 'o', 'k'})
	if !errors.Is(err, ErrUnknownCommand) || s.Errors != 1 {
		t.Errorf("error %v, %d errors", err, s.Errors)
	}
	if got := s.Lines()[0]; !strings.HasPrefix(got, "ok ") { // ESC Z skipped, then text
		t.Errorf("after a bad command: %q", got)
	}
}

func TestParseProtocol(t *testing.T) {
	for in, want := range map[string]Protocol{"epson": Epson, "CD5220": CD5220, "": Epson} {
		if got, err := ParseProtocol(in); err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseProtocol("vt100"); !errors.Is(err, ErrInvalid) {
		t.Errorf("vt100: %v", err)
	}
}

// FuzzScreen feeds arbitrary bytes, in pieces, to a Screen of each
// protocol: no panic, the cursor stays on the screen, every line keeps
// its width, and pending input stays bounded.
func FuzzScreen(f *testing.F) {
	f1, _ := Frame(Config{Protocol: CD5220}, "abc", "def")
	f.Add(slices.Concat(Init(Config{Protocol: CD5220}), f1), uint8(1), uint8(5))
	f2, _ := Frame(Config{}, "abc", "def")
	f.Add(slices.Concat(Init(Config{}), f2), uint8(0), uint8(2))
	f.Add([]byte{0x1b, 'Q', 'A', 'x'}, uint8(1), uint8(1))
	f.Add([]byte{0x1f, '$', 30, 9, 0x1b, 'l', 0, 0}, uint8(0), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, proto, chunk uint8) {
		cfg := Config{Protocol: Protocol(proto % 2), CodePage: escpos.EpsonCodePage(escpos.CP858)}
		s := NewScreen(cfg)
		step := int(chunk%16) + 1
		for i := 0; i < len(data); i += step {
			s.Write(data[i:min(i+step, len(data))])
			if len(s.pending) > maxString+8 {
				t.Fatalf("%d bytes pending", len(s.pending))
			}
		}
		r, c := s.Cursor()
		if r < 0 || r >= Rows || c < 0 || c >= cfg.columns() {
			t.Fatalf("cursor %d,%d", r, c)
		}
		for _, l := range s.Lines() {
			if utf8.RuneCountInString(l) != cfg.columns() {
				t.Fatalf("line %q", l)
			}
		}
	})
}

// FuzzEncode checks that any text encodes to exactly Columns bytes with
// no control byte.
func FuzzEncode(f *testing.F) {
	f.Add("Café € Їжак 中", false, uint8(20))
	f.Add("\x00\x1b\r\n", true, uint8(0))
	f.Fuzz(func(t *testing.T, s string, ascii bool, cols uint8) {
		cfg := Config{Columns: int(cols % 41), ASCII: ascii, CodePage: escpos.EpsonCodePage(escpos.CP858)}
		b, _ := Encode(cfg, s)
		if len(b) != cfg.columns() {
			t.Fatalf("%d bytes for %d columns", len(b), cfg.columns())
		}
		for _, c := range b {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("control byte 0x%02x in % x", c, b)
			}
		}
	})
}
