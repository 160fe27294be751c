package scan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// referenceLines is a deliberately simple line splitter to compare the
// LineAssembler with: it sees the whole input at once.
func referenceLines(data []byte, limit int) (lines []string, dropped int) {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		if len(p) > limit {
			dropped++
			continue
		}
		if i == len(parts)-1 { // not terminated
			break
		}
		if p != "" {
			lines = append(lines, p)
		}
	}
	return lines, dropped
}

// FuzzLineAssembler splits the input into reads at the cut points and
// compares the lines with the reference splitter.
func FuzzLineAssembler(f *testing.F) {
	f.Add([]byte("4006381333931\r\n96385074\r036000291452\n"), []byte{3, 14, 15})
	f.Add([]byte("a\r\nb\r\n"), []byte{2})
	f.Add([]byte("\r\r\n\n\r"), []byte{1, 1, 1})
	f.Add([]byte(strings.Repeat("x", 40)+"\nok\n"), []byte{20})
	f.Fuzz(func(t *testing.T, data []byte, cuts []byte) {
		const limit = 16
		a := &LineAssembler{MaxLen: limit}
		var got []string
		errs := 0
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			lines, err := a.Feed(rest[:n])
			got = append(got, lines...)
			if err != nil {
				errs += countDropped(t, err)
			}
			rest = rest[n:]
		}
		lines, err := a.Feed(rest)
		got = append(got, lines...)
		if err != nil {
			errs += countDropped(t, err)
		}
		want, dropped := referenceLines(data, limit)
		if !slices.Equal(got, want) || errs != dropped {
			t.Fatalf("lines %q with %d dropped, want %q with %d dropped", got, errs, want, dropped)
		}
		for _, l := range got {
			if l == "" || len(l) > limit || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("bad line %q", l)
			}
		}
		if a.Pending() > limit {
			t.Fatalf("%d bytes pending over the limit %d", a.Pending(), limit)
		}
	})
}

func countDropped(t *testing.T, err error) int {
	t.Helper()
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("error %v", err)
	}
	var le *LineTooLongError
	if !errors.As(err, &le) || le.Lines < 1 {
		t.Fatalf("error %v is not a *LineTooLongError", err)
	}
	return le.Lines
}
