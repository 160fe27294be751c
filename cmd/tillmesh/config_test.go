package main

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		in      string
		want    []configLine
		wantErr string
	}{
		{in: "# c\n\n data = /x \nhttp=127.0.0.1:1\npeer = \"/ip4/1.2.3.4/tcp/1 \"\nhq =\n", want: []configLine{
			{3, "data", "/x"}, {4, "http", "127.0.0.1:1"}, {5, "peer", "/ip4/1.2.3.4/tcp/1 "}, {6, "hq", ""},
		}},
		{in: "data = a=b\n", want: []configLine{{1, "data", "a=b"}}},
		{in: "data\n", wantErr: `f line 1: "data" is not "key = value"`},
		{in: "= x\n", wantErr: `f line 1: "= x" is not "key = value"`},
		{in: "a = \"x\n", wantErr: `f line 1: a = "x: unbalanced quotes`},
		{in: "a = " + strings.Repeat("x", 70_000) + "\n", wantErr: "f line 1: bufio.Scanner: token too long"},
	}
	for _, tc := range tests {
		got, err := parseConfig(strings.NewReader(tc.in), "f")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parse %.30q: got error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse %q: %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("parse %q: got %+v, want %+v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parse %q: line %d: got %+v, want %+v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// FuzzParseConfig: any file either parses into keys without "=" or
// newlines, or is refused with an error naming it.
func FuzzParseConfig(f *testing.F) {
	f.Add("data = /var/lib/tillmesh/till\n# c\npeer = \"a b\"\n")
	f.Add("x\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := parseConfig(strings.NewReader(in), "fuzz.conf")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "configuration fuzz.conf line ") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		for _, l := range lines {
			if l.key == "" || strings.ContainsAny(l.key, "=\n") || l.line < 1 {
				t.Fatalf("bad line %+v", l)
			}
		}
	})
}
