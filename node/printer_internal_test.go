package node

import (
	"testing"

	"github.com/tillmesh/tillmesh/hw"
)

// The receipt screen's printer line comes from the devices and the queue,
// so it cannot say "not configured" while receipts print.
func TestPrinterText(t *testing.T) {
	printer := func(h hw.Health, connected bool, problem string) hw.DeviceState {
		return hw.DeviceState{Name: "p", Kind: hw.KindPrinter, Health: h, Connected: connected, Problem: problem}
	}
	for _, tc := range []struct {
		name string
		st   hw.Status
		want string
	}{
		{"no printer", hw.Status{Devices: []hw.DeviceState{{Kind: hw.KindScanner, Health: hw.HealthOK, Connected: true}}}, "none"},
		{"ready", hw.Status{Devices: []hw.DeviceState{printer(hw.HealthOK, true, "")}, Queue: &hw.QueueState{}}, "ready"},
		{"paper out", hw.Status{Devices: []hw.DeviceState{printer(hw.HealthError, true, "paper out")}, Queue: &hw.QueueState{Pending: 2, Held: true, Reason: "paper out"}},
			"paper out, 2 receipt(s) waiting"},
		{"queue held", hw.Status{Devices: []hw.DeviceState{printer(hw.HealthWarn, true, "")}, Queue: &hw.QueueState{Pending: 1, Held: true, Reason: "no reply"}},
			"no reply, 1 receipt(s) waiting"},
		{"not connected yet", hw.Status{Devices: []hw.DeviceState{printer(hw.HealthUnknown, false, "")}}, "connecting"},
	} {
		if got := printerText(tc.st); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
