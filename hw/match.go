package hw

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.bug.st/serial/enumerator"
)

// USBID identifies a USB device: vendor and product IDs in hex, and the
// serial number when the device has one. Matching on it survives a
// replug, which /dev/ttyUSB0 does not.
type USBID struct {
	VID    string `json:"vid"`
	PID    string `json:"pid"`
	Serial string `json:"serial,omitempty"`
}

func (u USBID) String() string {
	s := strings.ToLower(u.VID) + ":" + strings.ToLower(u.PID)
	if u.Serial != "" {
		s += " serial " + u.Serial
	}
	return s
}

var hex4 = regexp.MustCompile(`^[0-9a-fA-F]{4}$`)

// Validate checks that the IDs are four hex digits.
func (u USBID) Validate() error {
	if !hex4.MatchString(u.VID) || !hex4.MatchString(u.PID) {
		return fmt.Errorf("usb id %q:%q: want four hex digits each: %w", u.VID, u.PID, ErrConfig)
	}
	return nil
}

// Match reports whether a device with these IDs is u.
func (u USBID) Match(vid, pid, serial string) bool {
	return strings.EqualFold(u.VID, vid) && strings.EqualFold(u.PID, pid) && (u.Serial == "" || u.Serial == serial)
}

// A PortLister lists serial ports with their USB details.
type PortLister func() ([]*enumerator.PortDetails, error)

// ListPorts lists the serial ports through go.bug.st/serial's enumerator
// (sysfs on Linux). It does not list /dev/pts, /dev/serial/by-id or
// USB printer files.
func ListPorts() ([]*enumerator.PortDetails, error) { return enumerator.GetDetailedPortsList() }

// FindSerial returns the serial port whose USB IDs match id. Several
// matches without a serial number to tell them apart is an error: the
// configuration must name the serial number.
func FindSerial(list PortLister, id USBID) (string, error) {
	ports, err := list()
	if err != nil {
		return "", fmt.Errorf("list serial ports: %w", err)
	}
	var names []string
	for _, p := range ports {
		if p.IsUSB && id.Match(p.VID, p.PID, p.SerialNumber) {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return "", fmt.Errorf("serial port usb %v: %w", id, ErrNotFound)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("serial port usb %v: %s: name the serial number: %w", id, strings.Join(names, ", "), ErrAmbiguous)
}

// LPDevice is a USB printer-class device file and its USB details.
type LPDevice struct {
	Path         string
	VID, PID     string
	Serial       string
	Manufacturer string
	Product      string
}

// ListLP lists the USB printer-class devices (/dev/usb/lp*) with the IDs
// sysfs (under sysRoot, normally /sys) gives them.
func ListLP(sysRoot string) ([]LPDevice, error) {
	links, err := filepath.Glob(filepath.Join(sysRoot, "class", "usbmisc", "lp*"))
	if err != nil {
		return nil, err
	}
	var out []LPDevice
	for _, l := range links {
		name := filepath.Base(l)
		iface, err := filepath.EvalSymlinks(filepath.Join(l, "device"))
		if err != nil {
			continue
		}
		dev := filepath.Dir(iface) // the USB device above the printer interface
		read := func(f string) string {
			b, _ := os.ReadFile(filepath.Join(dev, f))
			return strings.TrimSpace(string(b))
		}
		out = append(out, LPDevice{Path: "/dev/usb/" + name, VID: read("idVendor"), PID: read("idProduct"),
			Serial: read("serial"), Manufacturer: read("manufacturer"), Product: read("product")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// FindLP returns the USB printer file whose IDs match id.
func FindLP(sysRoot string, id USBID) (string, error) {
	devs, err := ListLP(sysRoot)
	if err != nil {
		return "", err
	}
	var names []string
	for _, d := range devs {
		if id.Match(d.VID, d.PID, d.Serial) {
			names = append(names, d.Path)
		}
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("usb printer %v: %w", id, ErrNotFound)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("usb printer %v: %s: name the serial number: %w", id, strings.Join(names, ", "), ErrAmbiguous)
}

// unstablePath matches device names the kernel hands out in plug order.
var unstablePath = regexp.MustCompile(`^/dev/(ttyUSB|ttyACM)[0-9]+$|^/dev/usb/lp[0-9]+$`)
