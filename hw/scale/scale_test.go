package scale

import (
	"errors"
	"slices"
	"testing"
)

func cas(state, mode, weight, unit string) []byte {
	return []byte(state + "," + mode + ",1\xc0," + weight + " " + unit + "\r\n")
}

func TestParseCAS(t *testing.T) {
	for _, tc := range []struct {
		frame []byte
		want  Reading
		err   error
	}{
		{cas("ST", "GS", "0001.234", "kg"), Reading{Stable: true, HasWeight: true, Milli: 1234, Unit: "kg"}, nil},
		{cas("ST", "NT", "000013.5", "kg"), Reading{Stable: true, Net: true, HasWeight: true, Milli: 13500, Unit: "kg"}, nil},
		{cas("US", "GS", "+000.250", "kg"), Reading{HasWeight: true, Milli: 250, Unit: "kg"}, nil},
		{cas("ST", "GS", "-000.020", "kg"), Reading{Stable: true, HasWeight: true, Milli: -20, UnderZero: true, Unit: "kg"}, nil},
		{cas("ST", "GS", "   125.5", " g"), Reading{Stable: true, HasWeight: true, Milli: 125500, Unit: "g"}, nil},
		{cas("OL", "GS", "--------", "kg"), Reading{Overload: true, Unit: "kg"}, nil},
		{cas("XX", "GS", "0001.234", "kg"), Reading{}, ErrFrame},
		{cas("ST", "GS", "0001.2a4", "kg"), Reading{}, ErrFrame},
		{cas("ST", "GS", "01.23456", "kg"), Reading{}, ErrFrame}, // four decimals
		{cas("ST", "GS", "0001.234", "oz"), Reading{}, ErrFrame},
		{[]byte("ST,GS,1\xc0,0001.234 kg\n\n"), Reading{}, ErrFrame},
		{[]byte("short\r\n"), Reading{}, ErrFrame},
	} {
		got, err := ParseCAS(tc.frame)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || got != tc.want {
			t.Errorf("ParseCAS(%q) = %+v, %v; want %+v, %v", tc.frame, got, err, tc.want, tc.err)
		}
	}
}

func TestUsableAndGrams(t *testing.T) {
	for _, tc := range []struct {
		r     Reading
		err   error
		grams int64
	}{
		{Reading{Stable: true, HasWeight: true, Milli: 1234, Unit: "kg"}, nil, 1234},
		{Reading{HasWeight: true, Milli: 1234, Unit: "kg"}, ErrUnstable, 1234},
		{Reading{Stable: true, Overload: true, Unit: "kg"}, ErrOverload, 0},
		{Reading{Stable: true, HasWeight: true, Milli: -5, UnderZero: true, Unit: "kg"}, ErrUnderZero, -5},
		{Reading{Stable: true, Unit: "kg"}, ErrNoWeight, 0},
		{Reading{Stable: true, HasWeight: true, Milli: 1000, Unit: "lb"}, nil, 454},
		{Reading{Stable: true, HasWeight: true, Milli: 125500, Unit: "g"}, nil, 126},
	} {
		if err := tc.r.Usable(); !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%v: Usable() = %v, want %v", tc.r, err, tc.err)
		}
		if g, err := tc.r.Grams(); tc.r.HasWeight && (err != nil || g != tc.grams) {
			t.Errorf("%v: Grams() = %d, %v; want %d", tc.r, g, err, tc.grams)
		}
	}
	if _, err := (Reading{HasWeight: true, Unit: "st"}).Grams(); !errors.Is(err, ErrUnit) {
		t.Errorf("stone: %v", err)
	}
}

func TestParseToledo(t *testing.T) {
	for _, tc := range []struct {
		body string
		want Reading
		err  error
	}{
		{"01.234", Reading{Stable: true, HasWeight: true, Milli: 1234, Unit: "kg"}, nil},
		{"01.234N", Reading{Stable: true, Net: true, HasWeight: true, Milli: 1234, Unit: "kg"}, nil},
		{"?\x41", Reading{Unit: "kg"}, nil}, // in motion
		{"?\xc1", Reading{Unit: "kg"}, nil}, // parity bit set
		{"?\x42", Reading{Stable: true, Overload: true, Unit: "kg"}, nil},
		{"?\x44", Reading{Stable: true, UnderZero: true, Unit: "kg"}, nil},
		{"?\x01", Reading{}, ErrFrame}, // bit 6 missing
		{"?", Reading{}, ErrFrame},
		{"1.2.3", Reading{}, ErrFrame},
		{"", Reading{}, ErrFrame},
	} {
		got, err := ParseToledo([]byte(tc.body), "kg")
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || got != tc.want {
			t.Errorf("ParseToledo(%q) = %+v, %v; want %+v, %v", tc.body, got, err, tc.want, tc.err)
		}
	}
}

func TestCASDecoderSplit(t *testing.T) {
	stream := slices.Concat([]byte("garbage"), cas("US", "GS", "0001.200", "kg"), cas("ST", "GS", "0001.234", "kg"), []byte("ST,GS"))
	var d CASDecoder
	var got []Reading
	for _, c := range stream {
		r, _ := d.Feed([]byte{c})
		got = append(got, r...)
	}
	if len(got) != 2 || got[0].Stable || got[1].Milli != 1234 || !got[1].Stable {
		t.Errorf("readings %+v", got)
	}
	if len(d.buf) > CASFrameLen {
		t.Errorf("%d bytes held", len(d.buf))
	}
}

func TestToledoDecoder(t *testing.T) {
	d := ToledoDecoder{Unit: "kg"}
	got, err := d.Feed([]byte("\x02?\x41\r\x0201.2"))
	if err != nil || len(got) != 1 || got[0].Stable {
		t.Fatalf("first feed: %+v, %v", got, err)
	}
	got, err = d.Feed([]byte("34\r"))
	if err != nil || len(got) != 1 || got[0].Milli != 1234 {
		t.Fatalf("second feed: %+v, %v", got, err)
	}
	got, err = d.Feed([]byte("\x0201.\x0202.000\r"))
	var de *DropError
	if !errors.As(err, &de) || len(got) != 1 || got[0].Milli != 2000 {
		t.Errorf("cut short: %+v, %v", got, err)
	}
}

// FuzzCASDecoder splits arbitrary input at the cut points and checks the
// readings do not depend on the split, and that each parses on its own.
func FuzzCASDecoder(f *testing.F) {
	f.Add(slices.Concat(cas("ST", "GS", "0001.234", "kg"), cas("US", "NT", "-000.100", "kg")), []byte{5, 30})
	f.Add([]byte("xx\r\nST,GS,1\r\n\r\n"), []byte{1, 1, 1})
	f.Add(slices.Concat([]byte("0123456789012345678901234567890"), cas("OL", "GS", "--------", "kg")), []byte{22})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var whole CASDecoder
		want, _ := whole.Feed(data)
		var d CASDecoder
		var got []Reading
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			r, err := d.Feed(rest[:n])
			if err != nil && !errors.Is(err, ErrFrame) {
				t.Fatalf("error %v", err)
			}
			got = append(got, r...)
			rest = rest[n:]
			if len(d.buf) > CASFrameLen {
				t.Fatalf("%d bytes held", len(d.buf))
			}
		}
		r, _ := d.Feed(rest)
		got = append(got, r...)
		if !slices.Equal(got, want) {
			t.Fatalf("split readings %+v, whole %+v", got, want)
		}
		for _, r := range got {
			if r.HasWeight && (r.Milli > 999_999_999_999 || r.Milli < -999_999_999_999) {
				t.Fatalf("reading %+v", r)
			}
		}
	})
}

// FuzzToledoDecoder checks the Toledo decoder against arbitrary input.
func FuzzToledoDecoder(f *testing.F) {
	f.Add([]byte("\x0201.234\r\x02?\x41\r"), []byte{3})
	f.Add([]byte("\x02\x02\x02\r\r"), []byte{1, 1})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var whole ToledoDecoder
		want, _ := whole.Feed(data)
		var d ToledoDecoder
		var got []Reading
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			r, _ := d.Feed(rest[:n])
			got = append(got, r...)
			rest = rest[n:]
			if len(d.buf) > maxToledo {
				t.Fatalf("%d bytes held", len(d.buf))
			}
		}
		r, _ := d.Feed(rest)
		got = append(got, r...)
		if !slices.Equal(got, want) {
			t.Fatalf("split readings %+v, whole %+v", got, want)
		}
	})
}
