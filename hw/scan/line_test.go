package scan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLineAssembler(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		chunks  []string
		want    []string
		dropped int // calls that returned ErrLineTooLong
	}{
		{"CR", 0, []string{"123\r456\r"}, []string{"123", "456"}, 0},
		{"LF", 0, []string{"123\n456\n"}, []string{"123", "456"}, 0},
		{"CRLF", 0, []string{"123\r\n456\r\n"}, []string{"123", "456"}, 0},
		{"CRLF split between reads", 0, []string{"123\r", "\n456\r", "\n"}, []string{"123", "456"}, 0},
		{"line split between reads", 0, []string{"40063", "81333", "931", "\r\n"}, []string{"4006381333931"}, 0},
		{"byte by byte", 0, []string{"a", "b", "\r", "\n", "c", "\n"}, []string{"ab", "c"}, 0},
		{"empty lines dropped", 0, []string{"\r\n\r\n\n\rx\n\n"}, []string{"x"}, 0},
		{"LF CR is two terminators", 0, []string{"a\n\rb\n"}, []string{"a", "b"}, 0},
		{"no terminator yet", 0, []string{"12345"}, nil, 0},
		{"exactly the limit", 4, []string{"1234\n"}, []string{"1234"}, 0},
		{"over the limit", 4, []string{"12345\n6789\n"}, []string{"6789"}, 1},
		{"overlong across reads", 4, []string{"123", "45", "678", "\r\nok\r\n"}, []string{"ok"}, 1},
		{"garbage without end", 4, []string{"123456789", "abcdef"}, nil, 1},
		{"two overlong in one read", 2, []string{"abc\ndef\ngh\n"}, []string{"gh"}, 1},
		{"GS separators kept", 0, []string{"]C1\x1d0104\n"}, []string{"]C1\x1d0104"}, 0},
	}
	for _, tc := range tests {
		a := &LineAssembler{MaxLen: tc.max}
		var got []string
		dropped := 0
		for _, c := range tc.chunks {
			lines, err := a.Feed([]byte(c))
			got = append(got, lines...)
			if err != nil {
				if !errors.Is(err, ErrLineTooLong) {
					t.Errorf("%s: error %v", tc.name, err)
				}
				dropped++
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: lines %q, want %q", tc.name, got, tc.want)
		}
		if dropped != tc.dropped {
			t.Errorf("%s: %d errors, want %d", tc.name, dropped, tc.dropped)
		}
	}
}

func TestLineAssemblerError(t *testing.T) {
	var a LineAssembler
	_, err := a.Feed([]byte(strings.Repeat("x", DefaultMaxLine+1) + "\n" + strings.Repeat("y", DefaultMaxLine+1) + "\n"))
	if got, want := err.Error(), "2 line(s) over 512 bytes dropped: scan: line too long"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestLineAssemblerMemory(t *testing.T) {
	a := &LineAssembler{MaxLen: 16}
	for range 1000 {
		_, _ = a.Feed([]byte(strings.Repeat("z", 1000)))
	}
	if a.Pending() != 0 || cap(a.buf) > 64 {
		t.Errorf("pending %d, buffer capacity %d after garbage", a.Pending(), cap(a.buf))
	}
}

func TestLineAssemblerReset(t *testing.T) {
	var a LineAssembler
	_, _ = a.Feed([]byte("half\r"))
	a.Reset()
	lines, _ := a.Feed([]byte("\nnext\n"))
	if !slices.Equal(lines, []string{"next"}) {
		t.Errorf("after Reset: %q", lines)
	}
	_, _ = a.Feed([]byte("abc"))
	if a.Pending() != 3 {
		t.Errorf("Pending() = %d, want 3", a.Pending())
	}
	a.Reset()
	if a.Pending() != 0 {
		t.Errorf("Pending() = %d after Reset", a.Pending())
	}
}
