package scale

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Errors.
var (
	// ErrFrame means bytes from the scale are not a well-formed frame.
	ErrFrame = errors.New("scale: malformed frame")
	// ErrUnstable means the weight is still moving.
	ErrUnstable = errors.New("scale: weight not stable")
	// ErrOverload means the load is over the scale's capacity.
	ErrOverload = errors.New("scale: over capacity")
	// ErrUnderZero means the weight is below zero.
	ErrUnderZero = errors.New("scale: under zero")
	// ErrNoWeight means a reply carried a status but no weight.
	ErrNoWeight = errors.New("scale: no weight")
	// ErrUnit means a weight is in a unit that cannot be converted.
	ErrUnit = errors.New("scale: unknown unit")
)

// A Reading is one weight report.
type Reading struct {
	Stable    bool
	Overload  bool
	UnderZero bool
	Net       bool  // net weight (tare taken), else gross
	HasWeight bool  // Milli is a weight; false for a status-only reply
	Milli     int64 // thousandths of Unit; negative under zero
	Unit      string
}

// Usable returns nil if the reading is a weight the till may act on:
// stable, in range, not negative.
func (r Reading) Usable() error {
	switch {
	case r.Overload:
		return ErrOverload
	case r.UnderZero || (r.HasWeight && r.Milli < 0):
		return ErrUnderZero
	case !r.Stable:
		return ErrUnstable
	case !r.HasWeight:
		return ErrNoWeight
	}
	return nil
}

// Grams returns the weight in grams, rounded half away from zero.
func (r Reading) Grams() (int64, error) {
	if !r.HasWeight {
		return 0, ErrNoWeight
	}
	switch r.Unit {
	case "kg":
		return r.Milli, nil
	case "g":
		return roundDiv(r.Milli, 1000), nil
	case "t":
		return r.Milli * 1000, nil
	case "lb":
		return roundDiv(r.Milli*45359237, 100_000_000), nil // 1 lb = 453.59237 g
	}
	return 0, fmt.Errorf("%q: %w", r.Unit, ErrUnit)
}

func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -roundDiv(-a, b)
	}
	return (a + b/2) / b
}

func (r Reading) String() string {
	var state []string
	if r.Stable {
		state = append(state, "stable")
	} else {
		state = append(state, "unstable")
	}
	if r.Overload {
		state = append(state, "overload")
	}
	if r.UnderZero {
		state = append(state, "under-zero")
	}
	if r.Net {
		state = append(state, "net")
	}
	if !r.HasWeight {
		return strings.Join(state, " ")
	}
	return fmt.Sprintf("%s %s %s", strings.Join(state, " "), milliString(r.Milli), r.Unit)
}

func milliString(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%03d", sign, m/1000, m%1000)
}

// parseDecimal reads an optionally signed decimal with at most three
// decimals, allowing leading spaces, into thousandths.
func parseDecimal(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = strings.TrimLeft(s[1:], " ")
	}
	intPart, frac, dot := strings.Cut(s, ".")
	if intPart == "" && frac == "" || len(intPart) > 9 || len(frac) > 3 || (dot && frac == "" && intPart == "") {
		return 0, fmt.Errorf("weight %q: %w", s, ErrFrame)
	}
	var v int64
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("weight %q: %w", s, ErrFrame)
		}
		v = v*10 + int64(c-'0')
	}
	for range 3 - len(frac) {
		v *= 10
	}
	if neg {
		v = -v
	}
	return v, nil
}

// CASFrameLen is the length of a CAS frame, CR LF included.
const CASFrameLen = 22

// ParseCAS decodes one CAS 22-byte frame:
//
//	ST,GS,<id><lamp>,<8 bytes of weight> kg<CR><LF>
//
// ST, US or OL says stable, unstable or overload; GS or NT gross or net;
// the weight is right-aligned ASCII with an optional sign and decimal
// point; the unit is "kg", " g", "lb" or " t" after a space.
func ParseCAS(frame []byte) (Reading, error) {
	if len(frame) != CASFrameLen || frame[2] != ',' || frame[5] != ',' || frame[8] != ',' ||
		frame[20] != '\r' || frame[21] != '\n' {
		return Reading{}, fmt.Errorf("cas frame %q: %w", frame, ErrFrame)
	}
	var r Reading
	switch string(frame[0:2]) {
	case "ST":
		r.Stable = true
	case "US":
	case "OL":
		r.Overload = true
	default:
		return Reading{}, fmt.Errorf("cas frame %q: state %q: %w", frame, frame[0:2], ErrFrame)
	}
	switch string(frame[3:5]) {
	case "GS":
	case "NT":
		r.Net = true
	default:
		return Reading{}, fmt.Errorf("cas frame %q: mode %q: %w", frame, frame[3:5], ErrFrame)
	}
	r.Unit = strings.TrimSpace(string(frame[17:20]))
	switch r.Unit {
	case "kg", "g", "lb", "t":
	default:
		return Reading{}, fmt.Errorf("cas frame %q: unit %q: %w", frame, r.Unit, ErrFrame)
	}
	if r.Overload {
		return r, nil // the weight field of an overload frame is not a weight
	}
	v, err := parseDecimal(string(frame[9:17]))
	if err != nil {
		return Reading{}, err
	}
	r.Milli, r.HasWeight = v, true
	r.UnderZero = v < 0
	return r, nil
}

// A CASDecoder splits a stream of CAS frames. The zero value is ready.
type CASDecoder struct {
	buf []byte
}

// Feed consumes p and returns the frames it completed. Bytes that do not
// form a frame are dropped; the error says how many stretches were.
func (d *CASDecoder) Feed(p []byte) ([]Reading, error) {
	d.buf = append(d.buf, p...)
	var out []Reading
	bad := 0
	var first error
	for {
		i := bytes.Index(d.buf, []byte("\r\n"))
		if i < 0 {
			break
		}
		end := i + 2
		if end >= CASFrameLen {
			r, err := ParseCAS(d.buf[end-CASFrameLen : end])
			if err == nil {
				out = append(out, r)
				if end > CASFrameLen {
					bad++ // garbage before the frame
				}
			} else {
				bad++
				first = cmpErr(first, err)
			}
		} else {
			bad++
			first = cmpErr(first, fmt.Errorf("%d bytes before CR LF: %w", end, ErrFrame))
		}
		d.buf = d.buf[end:]
	}
	if len(d.buf) > CASFrameLen {
		bad++
		d.buf = append(d.buf[:0], d.buf[len(d.buf)-(CASFrameLen-1):]...)
	}
	d.buf = append([]byte(nil), d.buf...) // do not pin a large p
	if bad > 0 {
		if first == nil {
			first = ErrFrame
		}
		return out, &DropError{Dropped: bad, Err: first}
	}
	return out, nil
}

func cmpErr(first, err error) error {
	if first == nil {
		return err
	}
	return first
}

// DropError says how many stretches of input a decoder dropped, and why
// the first was dropped. It wraps ErrFrame.
type DropError struct {
	Dropped int
	Err     error
}

func (e *DropError) Error() string {
	return fmt.Sprintf("%d stretch(es) of scale input dropped: %v", e.Dropped, e.Err)
}

func (e *DropError) Unwrap() error { return ErrFrame }

// Toledo 8217 bytes.
const (
	stx = 0x02
	cr  = 0x0d
)

// ToledoRequest asks a Toledo 8217 scale for the weight.
var ToledoRequest = []byte{'W'}

// Toledo status byte bits, sent after '?' when there is no weight.
const (
	toledoMotion    = 0x01
	toledoOver      = 0x02
	toledoUnderZero = 0x04
	toledoNet       = 0x20
)

// ParseToledo decodes the body of a Toledo 8217 reply, the bytes between
// STX and CR: a weight such as "01.234" (unit says which; "N" after it
// means net), or '?' and a status byte when the weight is moving, over
// capacity or under zero.
func ParseToledo(body []byte, unit string) (Reading, error) {
	if len(body) == 0 || len(body) > 16 {
		return Reading{}, fmt.Errorf("toledo reply %q: %w", body, ErrFrame)
	}
	if body[0] == '?' {
		if len(body) != 2 {
			return Reading{}, fmt.Errorf("toledo status %q: %w", body, ErrFrame)
		}
		s := body[1] & 0x7f // the top bit is parity when the port reads 8 bits
		if s&0x40 == 0 {
			return Reading{}, fmt.Errorf("toledo status 0x%02x without bit 6: %w", s, ErrFrame)
		}
		return Reading{Stable: s&toledoMotion == 0, Overload: s&toledoOver != 0, UnderZero: s&toledoUnderZero != 0,
			Net: s&toledoNet != 0, Unit: unit}, nil
	}
	w := string(body)
	net := strings.HasSuffix(w, "N")
	w = strings.TrimSuffix(w, "N")
	v, err := parseDecimal(w)
	if err != nil {
		return Reading{}, err
	}
	return Reading{Stable: true, Net: net, HasWeight: true, Milli: v, Unit: unit, UnderZero: v < 0}, nil
}

// A ToledoDecoder splits a stream of Toledo replies (STX body CR). The
// zero value is ready; Unit names the unit the scale is set to ("kg").
type ToledoDecoder struct {
	Unit string
	buf  []byte
}

// maxToledo bounds a reply, STX and CR included.
const maxToledo = 18

// Feed consumes p and returns the replies it completed.
func (d *ToledoDecoder) Feed(p []byte) ([]Reading, error) {
	d.buf = append(d.buf, p...)
	var out []Reading
	bad := 0
	var first error
	for {
		s := bytes.IndexByte(d.buf, stx)
		if s < 0 {
			if len(d.buf) > 0 {
				bad++
			}
			d.buf = d.buf[:0]
			break
		}
		if s > 0 {
			bad++
			d.buf = d.buf[s:]
		}
		e := bytes.IndexByte(d.buf, cr)
		if next := bytes.IndexByte(d.buf[1:], stx); next >= 0 && (e < 0 || next+1 < e) {
			bad++ // a reply cut short by the next one
			first = cmpErr(first, fmt.Errorf("toledo reply cut short: %w", ErrFrame))
			d.buf = d.buf[next+1:]
			continue
		}
		if e < 0 {
			if len(d.buf) >= maxToledo {
				bad++
				first = cmpErr(first, fmt.Errorf("toledo reply without CR: %w", ErrFrame))
				d.buf = d.buf[1:]
				continue
			}
			break
		}
		r, err := ParseToledo(d.buf[1:e], d.Unit)
		if err != nil {
			bad++
			first = cmpErr(first, err)
		} else {
			out = append(out, r)
		}
		d.buf = d.buf[e+1:]
	}
	d.buf = append([]byte(nil), d.buf...)
	if bad > 0 {
		if first == nil {
			first = ErrFrame
		}
		return out, &DropError{Dropped: bad, Err: first}
	}
	return out, nil
}
