package sim

import (
	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/display"
	"github.com/tillmesh/tillmesh/hw/escpos"
)

// Set is a till's worth of simulated devices, reached in-process: an 80
// mm printer in CP858 with native QR codes and a drawer, a scanner, an
// Epson-style display and a CAS scale.
type Set struct {
	Printer *Printer
	Scanner *Scanner
	Display *Display
	Scale   *Scale

	PrinterPort, ScannerPort, DisplayPort, ScalePort *Port

	// PrinterCodePage is the printer's code page in Devices: "cp866" or
	// "wpc1251" prints Russian as text (a line a page lacks prints as an
	// image either way). Empty means cp858.
	PrinterCodePage string
}

// NewSet builds the devices.
func NewSet() *Set {
	dc := display.Config{Protocol: display.Epson, CodePage: escpos.EpsonCodePage(escpos.CP858)}
	s := &Set{
		Printer: NewPrinter(PrinterConfig{}),
		Scanner: NewScanner(),
		Display: NewDisplay(dc),
		Scale:   NewScale(hw.ScaleCAS),
	}
	s.PrinterPort = NewPort(s.Printer)
	s.ScannerPort = NewPort(s.Scanner)
	s.DisplayPort = NewPort(s.Display)
	s.ScalePort = NewPort(s.Scale)
	return s
}

// Devices is the hw configuration that reaches the simulated devices.
func (s *Set) Devices() []hw.DeviceConfig {
	yes := true
	page := s.PrinterCodePage
	if page == "" {
		page = "cp858"
	}
	return []hw.DeviceConfig{
		{Name: "sim-printer", Kind: hw.KindPrinter, Transport: hw.TransportSim, Open: s.PrinterPort.Open,
			Printer: &hw.PrinterOptions{Paper: 80, CodePage: page},
			Drawer:  &hw.DrawerOptions{Realtime: &yes}},
		{Name: "sim-scanner", Kind: hw.KindScanner, Transport: hw.TransportSim, Open: s.ScannerPort.Open},
		{Name: "sim-display", Kind: hw.KindDisplay, Transport: hw.TransportSim, Open: s.DisplayPort.Open,
			Display: &hw.DisplayOptions{Protocol: "epson", CodePage: "cp858"}},
		{Name: "sim-scale", Kind: hw.KindScale, Transport: hw.TransportSim, Open: s.ScalePort.Open,
			Scale: &hw.ScaleOptions{Protocol: "cas"}},
	}
}

// Close disconnects every device.
func (s *Set) Close() {
	for _, p := range []*Port{s.PrinterPort, s.ScannerPort, s.DisplayPort, s.ScalePort} {
		p.Close()
	}
}
