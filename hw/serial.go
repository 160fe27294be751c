package hw

import (
	"context"
	"fmt"
	"strings"

	"go.bug.st/serial"
)

// SerialConfig is a serial line's settings. The zero value is 9600 8N1.
// There is no flow control: most till devices do not wire it.
type SerialConfig struct {
	Baud     int    `json:"baud,omitempty"`
	DataBits int    `json:"data_bits,omitempty"` // 7 or 8
	Parity   string `json:"parity,omitempty"`    // none, odd or even
	StopBits int    `json:"stop_bits,omitempty"` // 1 or 2
}

func (c SerialConfig) withDefaults() SerialConfig {
	if c.Baud == 0 {
		c.Baud = 9600
	}
	if c.DataBits == 0 {
		c.DataBits = 8
	}
	if c.Parity == "" {
		c.Parity = "none"
	}
	if c.StopBits == 0 {
		c.StopBits = 1
	}
	return c
}

// Validate reports the first setting that is out of range.
func (c SerialConfig) Validate() error {
	_, err := c.mode()
	return err
}

// BytesPerSecond is how fast the line carries data: a byte takes a start
// bit, its data bits, a parity bit if any, and its stop bits.
func (c SerialConfig) BytesPerSecond() int {
	c = c.withDefaults()
	bits := 1 + c.DataBits + c.StopBits
	if c.Parity != "none" {
		bits++
	}
	return max(1, c.Baud/bits)
}

func (c SerialConfig) mode() (*serial.Mode, error) {
	c = c.withDefaults()
	m := &serial.Mode{BaudRate: c.Baud, DataBits: c.DataBits}
	if c.Baud < 50 || c.Baud > 4_000_000 {
		return nil, fmt.Errorf("baud rate %d: %w", c.Baud, ErrConfig)
	}
	if c.DataBits != 7 && c.DataBits != 8 {
		return nil, fmt.Errorf("%d data bits, want 7 or 8: %w", c.DataBits, ErrConfig)
	}
	switch strings.ToLower(c.Parity) {
	case "none", "n":
		m.Parity = serial.NoParity
	case "odd", "o":
		m.Parity = serial.OddParity
	case "even", "e":
		m.Parity = serial.EvenParity
	default:
		return nil, fmt.Errorf("parity %q, want none, odd or even: %w", c.Parity, ErrConfig)
	}
	switch c.StopBits {
	case 1:
		m.StopBits = serial.OneStopBit
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("%d stop bits, want 1 or 2: %w", c.StopBits, ErrConfig)
	}
	return m, nil
}

// SerialOpener opens the serial port that path() names at the time of
// each call. Reads and writes get deadlines here, since go.bug.st/serial
// has no write timeout; a write that times out discards the port's
// pending output. Modem lines are left alone: pseudo-terminals and many
// adapters do not have them.
func SerialOpener(path func() (string, error), c SerialConfig) Opener {
	return func(ctx context.Context) (Link, error) {
		mode, err := c.mode()
		if err != nil {
			return nil, err
		}
		p, err := path()
		if err != nil {
			return nil, err
		}
		port, err := serial.Open(p, mode)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		return newBlockingLink(port, port.ResetOutputBuffer, port.Drain), nil
	}
}
