package display

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// maxString bounds the text of one ESC Q command; a longer run without CR
// is a broken command.
const maxString = 64

// A Screen decodes display commands into what the display shows. It
// reads the Config's protocol; bytes it does not understand are skipped
// one at a time and reported. The zero value is not usable: NewScreen.
type Screen struct {
	cfg     Config
	cells   [Rows][]byte
	row     int
	col     int
	cm      *charmap.Charmap
	pending []byte
	off     int64
	Errors  int // commands skipped as unknown or malformed
}

// NewScreen returns a blank screen for the display cfg describes.
func NewScreen(cfg Config) *Screen {
	s := &Screen{cfg: cfg}
	s.reset()
	return s
}

func (s *Screen) reset() {
	for r := range s.cells {
		s.cells[r] = []byte(strings.Repeat(" ", s.cfg.columns()))
	}
	s.row, s.col = 0, 0
	s.cm = s.cfg.CodePage.Charset.Charmap()
}

// Lines returns what the display shows, one string per row, each exactly
// Columns characters.
func (s *Screen) Lines() []string {
	out := make([]string, Rows)
	for r, cells := range s.cells {
		var b strings.Builder
		for _, c := range cells {
			switch {
			case c < 0x80:
				b.WriteByte(c)
			case s.cm != nil:
				b.WriteRune(s.cm.DecodeByte(c))
			default:
				b.WriteRune(utf8.RuneError)
			}
		}
		out[r] = b.String()
	}
	return out
}

// Cursor returns the cursor's row and column, from 0.
func (s *Screen) Cursor() (row, col int) { return s.row, s.col }

// Write decodes p; a command cut short waits for the next Write. It
// always consumes p and returns the first error it met, if any.
func (s *Screen) Write(p []byte) (int, error) {
	s.pending = append(s.pending, p...)
	var first error
	i := 0
	for i < len(s.pending) {
		n, err := s.step(s.pending[i:])
		if n == 0 && err == nil { // needs more bytes
			break
		}
		if err != nil {
			s.Errors++
			if first == nil {
				first = fmt.Errorf("offset %d: %w", s.off+int64(i), err)
			}
			n = max(n, 1)
		}
		i += n
	}
	s.off += int64(i)
	s.pending = append(s.pending[:0], s.pending[i:]...)
	if len(s.pending) > maxString+8 { // cannot happen: step bounds commands
		s.pending = s.pending[:0]
	}
	return len(p), first
}

func (s *Screen) put(c byte) {
	n := s.cfg.columns()
	s.cells[s.row][s.col] = c
	s.col++
	if s.col == n {
		s.col = 0
		s.row = (s.row + 1) % Rows
	}
}

func (s *Screen) clearRow(r int) {
	for i := range s.cells[r] {
		s.cells[r][i] = ' '
	}
}

func (s *Screen) move(row, col int) error {
	if row < 0 || row >= Rows || col < 0 || col >= s.cfg.columns() {
		return fmt.Errorf("cursor %d,%d off the screen: %w", col+1, row+1, ErrUnknownCommand)
	}
	s.row, s.col = row, col
	return nil
}

// step decodes the byte or command at the start of b. It returns 0, nil
// when the command is incomplete.
func (s *Screen) step(b []byte) (int, error) {
	c := b[0]
	n := s.cfg.columns()
	switch c {
	case esc:
		return s.esc(b)
	case us:
		if s.cfg.Protocol != Epson {
			return 1, fmt.Errorf("US: %w", ErrUnknownCommand)
		}
		return s.us(b)
	case clr:
		s.reset()
		return 1, nil
	case can:
		s.clearRow(s.row)
		s.col = 0
		return 1, nil
	case hom:
		s.row, s.col = 0, 0
		return 1, nil
	case cr:
		s.col = 0
		return 1, nil
	case lf:
		s.row = (s.row + 1) % Rows
		return 1, nil
	case bs:
		if s.col > 0 {
			s.col--
		} else if s.row > 0 {
			s.row, s.col = s.row-1, n-1
		}
		return 1, nil
	case ht:
		s.col++
		if s.col == n {
			s.col, s.row = 0, (s.row+1)%Rows
		}
		return 1, nil
	}
	if c < 0x20 {
		return 1, fmt.Errorf("0x%02x: %w", c, ErrUnknownCommand)
	}
	s.put(c)
	return 1, nil
}

func (s *Screen) esc(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	need := func(k int) (int, bool) { return k, len(b) >= k }
	switch b[1] {
	case '@':
		s.reset()
		return 2, nil
	case 't': // Epson: code table; CD5220 does not have it
		k, ok := need(3)
		if !ok {
			return 0, nil
		}
		if s.cfg.Protocol == Epson {
			s.cm = nil // a table the configuration does not name shows as U+FFFD
			if b[2] == s.cfg.CodePage.Table {
				s.cm = s.cfg.CodePage.Charset.Charmap()
			}
			return k, nil
		}
	case 'R', '=': // international set, peripheral select
		k, ok := need(3)
		if !ok {
			return 0, nil
		}
		return k, nil
	}
	if s.cfg.Protocol != CD5220 {
		return 2, fmt.Errorf("ESC %q: %w", b[1], ErrUnknownCommand)
	}
	switch b[1] {
	case dc1, dc2, dc3:
		return 2, nil
	case 'Q':
		return s.stringMode(b)
	case '[':
		if len(b) < 3 {
			return 0, nil
		}
		switch b[2] {
		case 'D':
			_, _ = s.step([]byte{bs})
		case 'C':
			_, _ = s.step([]byte{ht})
		case 'A', 'B':
			s.row = (s.row + 1) % Rows
		case 'H':
			s.row, s.col = 0, 0
		case 'L':
			s.col = 0
		case 'R':
			s.col = s.cfg.columns() - 1
		case 'K':
			s.row = Rows - 1
		default:
			return 3, fmt.Errorf("ESC [ %q: %w", b[2], ErrUnknownCommand)
		}
		return 3, nil
	case 'l':
		if len(b) < 4 {
			return 0, nil
		}
		return 4, s.move(int(b[3])-1, int(b[2])-1)
	case '*', '_', 'f', 'c', '?', '%':
		if len(b) < 3 {
			return 0, nil
		}
		return 3, nil
	case 'W':
		if len(b) < 6 {
			return 0, nil
		}
		return 6, nil
	}
	return 2, fmt.Errorf("ESC %q: %w", b[1], ErrUnknownCommand)
}

// stringMode decodes ESC Q A|B|D text CR: the text replaces the line.
func (s *Screen) stringMode(b []byte) (int, error) {
	if len(b) < 3 {
		return 0, nil
	}
	row := 0
	switch b[2] {
	case 'A', 'D':
	case 'B':
		row = 1
	default:
		return 3, fmt.Errorf("ESC Q %q: %w", b[2], ErrUnknownCommand)
	}
	end := -1
	for i := 3; i < len(b) && i < 3+maxString; i++ {
		if b[i] == cr {
			end = i
			break
		}
	}
	if end < 0 {
		if len(b) >= 3+maxString {
			return 3, fmt.Errorf("ESC Q without CR in %d bytes: %w", maxString, ErrUnknownCommand)
		}
		return 0, nil
	}
	s.clearRow(row)
	for i, c := range b[3:end] {
		if i == s.cfg.columns() {
			break
		}
		if c < 0x20 {
			c = ' '
		}
		s.cells[row][i] = c
	}
	s.row, s.col = row, 0
	return end + 1, nil
}

func (s *Screen) us(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	switch b[1] {
	case 0x01, 0x02, 0x03, '@': // modes, self-test
		return 2, nil
	case 'B':
		s.row = Rows - 1
		return 2, nil
	case cr:
		s.col = s.cfg.columns() - 1
		return 2, nil
	case lf:
		s.row = (s.row + Rows - 1) % Rows
		return 2, nil
	case 'C', 'E', 'X', 'r', 'c':
		if len(b) < 3 {
			return 0, nil
		}
		return 3, nil
	case '$':
		if len(b) < 4 {
			return 0, nil
		}
		return 4, s.move(int(b[3])-1, int(b[2])-1)
	}
	return 2, fmt.Errorf("US %q: %w", b[1], ErrUnknownCommand)
}
